"""Text for PostgreSQL `text` columns, which cannot hold U+0000, and back again.

A value with U+0000, or one that starts with the mark itself, is stored as the mark
(U+0001) followed by its JSON string body; every other value is stored as it is, so the
escaped form is rare and reading a plain value costs one comparison. Migration 0009
escaped the stored values that started with the mark.
"""

from __future__ import annotations

import json

MARK = "\x01"


def escape(value: str | None) -> str | None:
    if value is None or ("\x00" not in value and not value.startswith(MARK)):
        return value
    return MARK + json.dumps(value, ensure_ascii=False)[1:-1]


def unescape(value: str | None) -> str | None:
    if value is None or not value.startswith(MARK):
        return value
    decoded: str = json.loads(f'"{value[1:]}"')
    return decoded
