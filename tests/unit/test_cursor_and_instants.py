"""The opaque page cursor and the RFC 3339 parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.cursor import decode_cursor, encode_cursor
from app.errors import BadRequest
from app.instants import parse_instant


def test_cursor_round_trips() -> None:
    moment = datetime(2026, 5, 5, 12, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, 42)) == (moment, 42)


@pytest.mark.parametrize("cursor", ["", "!!!", "bm9wZQ", "MjAyNnwx"], ids=repr)
def test_bad_cursor_is_400(cursor: str) -> None:
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor(cursor)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-05T12:00:00Z", datetime(2026, 5, 5, 12, tzinfo=UTC)),
        ("2026-05-05t12:00:00z", datetime(2026, 5, 5, 12, tzinfo=UTC)),
        ("2026-05-05T14:00:00+02:00", datetime(2026, 5, 5, 12, tzinfo=UTC)),
        ("2026-05-05T12:00:00.5Z", datetime(2026, 5, 5, 12, 0, 0, 500000, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-05-05T12:00:00", None),
        ("2026-05-05 12:00:00Z", None),
        ("2026-02-30T00:00:00Z", None),
        ("2026-05-05T24:00:00Z", None),
        ("2026-05-05T12:00:60Z", None),
        ("0000-01-01T00:00:00Z", None),
        ("2026-05-05T12:00:00+0200", None),
        ("tomorrow", None),
    ],
    ids=lambda value: str(value),
)
def test_parse_instant(text: str, expected: datetime | None) -> None:
    assert parse_instant(text) == expected
