"""The opaque `after` cursor of session event pages: (occurred_at, seq) in URL-safe base64."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from app.errors import BadRequest
from app.instants import parse_instant


def encode_cursor(occurred_at: datetime, seq: int) -> str:
    raw = f"{occurred_at.isoformat()}|{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        instant, seq = raw.rsplit("|", 1)
        occurred_at = parse_instant(instant.replace("+00:00", "Z"))
        if occurred_at is None:
            raise ValueError(instant)
        return occurred_at, int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest(
            "invalid 'after' cursor; use the Link header of the previous page"
        ) from exc
