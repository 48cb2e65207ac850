"""Body handling: content type, capped gunzip, JSON shape; whole-body errors are 4xx."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import body
from app.body import Unrepresentable, batch_items, check_content_type, parse_batch, read_body
from app.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(
    "content_type",
    [None, "", "application/json", "application/json; charset=utf-8", "Application/JSON"],
    ids=["none", "empty", "json", "json-charset", "json-upper"],
)
def test_json_or_no_content_type_is_accepted(content_type: str | None) -> None:
    check_content_type(content_type)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_other_content_types_are_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        check_content_type(content_type)


async def test_plain_body_within_limit() -> None:
    assert await read_body(chunks(b"[1]" * 10), content_encoding=None, limit=30) == b"[1]" * 10


async def test_plain_body_over_limit_is_413() -> None:
    with pytest.raises(PayloadTooLarge, match="larger than 29 bytes"):
        await read_body(chunks(b"[1]" * 10), content_encoding=None, limit=29)


async def test_gzip_body_is_inflated() -> None:
    raw = b'[{"a": 1}]' * 100
    assert await read_body(chunks(gzip.compress(raw)), content_encoding="gzip", limit=10**6) == raw


async def test_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"0" * 50_000_000)  # ~50 KB that inflates to 50 MB
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge):
        await read_body(chunks(bomb, 4096), content_encoding="gzip", limit=1_000_000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip at all", "corrupt"),
        (gzip.compress(b"[1, 2, 3]")[:-10], "truncated"),
        (gzip.compress(b"[1]") + b"junk", "trailing data"),
    ],
    ids=["corrupt", "truncated", "trailing"],
)
async def test_broken_gzip_is_400(data: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        await read_body(chunks(data), content_encoding="gzip", limit=10**6)


async def test_unknown_content_encoding_is_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        await read_body(chunks(b"[]"), content_encoding="br", limit=100)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"[1, 2", "not valid JSON"),
        (b'[{"a": "b}]', "not valid JSON"),
        (b"\xff\xfe[]", "not valid JSON"),
        (b'["\\ud800"]', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"id": "x"}', "must be a JSON array of events, not an object"),
        (b'"text"', "not a string"),
        (b"42", "not a number"),
        (b"null", "not null"),
        (b"[]", "empty array"),
        (b"[" + b"1," * 1000 + b"1]", "1001 items; at most 1000"),
    ],
    ids=[
        "empty-body",
        "truncated",
        "unterminated-string",
        "invalid-utf8",
        "lone-surrogate",
        "nested-100k",
        "object",
        "string",
        "number",
        "null",
        "empty-array",
        "1001-items",
    ],
)
def test_bad_bodies_are_400(raw: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_batch(raw, max_items=1000)


def test_1000_items_are_accepted() -> None:
    assert len(parse_batch(b"[" + b"1," * 999 + b"1]", max_items=1000)) == 1000


def test_integers_beyond_64_bits_mark_their_item_unrepresentable() -> None:
    raw = b'[{"n": 18446744073709551616}, {"n": 18446744073709551615}, '
    raw += b'{"s": "123456789012345678901"}]'
    first, second, third = parse_batch(raw, max_items=10)
    assert first == Unrepresentable("integer 18446744073709551616 does not fit in 64 bits")
    assert second == {"n": 18446744073709551615}
    assert third == {"s": "123456789012345678901"}


def test_negative_integers_beyond_64_bits_too() -> None:
    (item,) = parse_batch(b'[{"a": [1, {"b": -9223372036854775809}]}]', max_items=10)
    assert isinstance(item, Unrepresentable)


def test_a_digit_run_across_scan_windows_is_found() -> None:
    from app import body

    pad = b" " * (body._SCAN_WINDOW - 10)
    raw = b"[" + pad + b'{"n": 123456789012345678901234}]'
    (item,) = parse_batch(raw, max_items=10)
    assert isinstance(item, Unrepresentable)


@pytest.mark.parametrize("raw", [b"   ", b"\n\t"], ids=["spaces", "newline-tab"])
def test_whitespace_only_body_is_empty(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="empty"):
        parse_batch(raw, max_items=10)


# Item by item (bodies of ITEM_BY_ITEM_BYTES and more) must read every body as parse_batch
# does: the same items, or the same 400.
SPLIT_BODIES = [
    b'[{"a":1},{"b":"},{"},  {"c":[1,{"d":2}]}]',
    b'[{"s":"\\"},{""},{"t":1}]',
    b'[{"a":"x\\\\"},{"b":2}]',
    b' \n[ {"a":1}\t] \r\n',
    b'[{"a":1}, 5, {"b":2}]',
    b'[{"a":1},{"b":2},{"c":3}]',
    b'[{"a":1},{"b":2',
    b'[{"a":1},]',
    b'[{"a":1}]x',
    b'{"a":1}',
    b"[]",
    b"[{}]",
    b'[{"n": 18446744073709551616}, {"b":1}]',
    b'[{"a":"\\ud800"},{"b":1}]',
    b'[{"a":1}{"b":2}]',
    b'[{"a":1},{"b":2}],{"c":3}]',
    b'[{"a":1},{"b":2}]]',
    b'[[{"a":1},{"b":2}]]',
    b'[{"a":1}\f,{"b":2}]',
    b'[{"a":1},\v{"b":2}]',
]


def _outcome(parse: Callable[[bytearray], Any], raw: bytes) -> Any:
    try:
        return list(parse(bytearray(raw)))
    except BadRequest as exc:
        return exc.detail


def _both(raw: bytes, monkeypatch: pytest.MonkeyPatch, max_items: int = 3) -> tuple[Any, Any]:
    monkeypatch.setattr(body, "ITEM_BY_ITEM_BYTES", 0)
    return (
        _outcome(lambda b: batch_items(b, max_items=max_items), raw),
        _outcome(lambda b: parse_batch(b, max_items=max_items), raw),
    )


@pytest.mark.parametrize("raw", SPLIT_BODIES)
def test_item_by_item_reads_bodies_as_a_whole_parse_does(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    split, whole = _both(raw, monkeypatch, max_items=2)
    assert split == whole


_TRICKY_TEXT = st.text(alphabet='{}[],:" \\\n😀éa0', max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY_TEXT, inner, max_size=3),
    max_leaves=8,
)


@given(
    items=st.lists(st.dictionaries(_TRICKY_TEXT, _VALUES, max_size=4), min_size=1, max_size=6),
    spacing=st.sampled_from([b",", b", ", b" ,\n ", b"\t,", b"\r\n,\r\n"]),
)
def test_item_by_item_agrees_on_any_array_of_objects(
    items: list[dict[str, Any]], spacing: bytes
) -> None:
    raw = b"[" + spacing.join(orjson.dumps(item) for item in items) + b"]"
    buffer = bytearray(raw)
    original = body.ITEM_BY_ITEM_BYTES
    body.ITEM_BY_ITEM_BYTES = 0
    try:
        assert list(batch_items(buffer, max_items=10)) == items
    finally:
        body.ITEM_BY_ITEM_BYTES = original
    assert buffer == b""  # let go once read


def test_a_small_body_is_parsed_whole_and_let_go() -> None:
    buffer = bytearray(b'[{"a":1}]')
    items = batch_items(buffer, max_items=10)
    assert items == [{"a": 1}] and buffer == b""


def test_an_item_1024_levels_deep_is_an_item_in_a_large_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # docs/decisions.md: the one place where the two paths differ (the parser stops at 1024).
    raw = b'[{"a":' + b"[" * 1023 + b"]" * 1023 + b"}]"
    split, whole = _both(raw, monkeypatch)
    assert "not valid JSON" in whole
    (item,) = split
    assert isinstance(item, dict)
