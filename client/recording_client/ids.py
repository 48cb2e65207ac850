"""Event ids: deterministic ones from natural keys, random ones, and the current instant.

Imports only what the hook command can afford (it runs on every hook of an agent): the
UUIDv5 is computed with hashlib as RFC 4122 defines it, and `datetime` is imported only
when a caller passes one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

# Not typing.TYPE_CHECKING: the hook command's path must not import typing (~5 ms).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from datetime import datetime

# Fixed forever: changing it would change every deterministic id and defeat deduplication.
NAMESPACE = bytes.fromhex("5b8f1c3e2d4a5e6f9a0b7c1d2e3f4a5b")
PREFIX = "ev-"


def _uuid_hex(raw: bytes, version: int) -> str:
    """`raw` (16 bytes) as a UUID of `version`, in hex (RFC 4122 §4.1.3 and §4.3)."""
    value = int.from_bytes(raw[:16], "big")
    value &= ~(0xF000 << 64)
    value |= version << 76
    value &= ~(0xC000 << 48)
    value |= 0x8000 << 48
    return f"{value:032x}"


def event_id(session_id: str, *parts: str | int) -> str:
    """The same session and parts always give the same id, so a re-sent event is a duplicate.

    The parts are encoded as a JSON array, so ("a:b",) and ("a", "b") never collide. The id
    is `ev-` and the hex of uuid.uuid5(NAMESPACE, key).
    """
    key = json.dumps([session_id, *parts], separators=(",", ":"), ensure_ascii=False)
    return PREFIX + _uuid_hex(hashlib.sha1(NAMESPACE + key.encode()).digest(), 5)


def new_id() -> str:
    """A random id (a UUIDv4), for events that have no natural key."""
    return PREFIX + _uuid_hex(os.urandom(16), 4)


def instant(moment: datetime | str | None = None) -> str:
    """RFC 3339 in UTC with `Z`: `moment` (naive means UTC), or now when None."""
    if isinstance(moment, str):
        return moment
    if moment is None:
        now = time.time_ns()
        seconds, nanos = divmod(now, 1_000_000_000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos // 1000:06d}Z"
    from datetime import UTC

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
