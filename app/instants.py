"""RFC 3339 instants: the one parser for occurred_at, strict about real calendar dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_instant(value: object) -> datetime | None:
    """The instant as an aware UTC datetime, or None when it is not a real RFC 3339 instant.

    Rejects what a regex lets through: Feb 30, hour 24, second 60, year 0, and instants that
    leave the representable range once moved to UTC (9999-12-31T23:00:00-01:00).
    """
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def is_instant(value: object) -> bool:
    """Format checker for `date-time`: non-strings pass, as JSON Schema formats require."""
    return not isinstance(value, str) or parse_instant(value) is not None
