"""Event ids: deterministic ones from natural keys, random ones, and the current instant."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

# Fixed forever: changing it would change every deterministic id and defeat deduplication.
NAMESPACE = uuid.UUID("5b8f1c3e-2d4a-5e6f-9a0b-7c1d2e3f4a5b")
PREFIX = "ev-"


def event_id(session_id: str, *parts: str | int) -> str:
    """The same session and parts always give the same id, so a re-sent event is a duplicate.

    The parts are encoded as a JSON array, so ("a:b",) and ("a", "b") never collide.
    """
    key = json.dumps([session_id, *parts], separators=(",", ":"), ensure_ascii=False)
    return PREFIX + uuid.uuid5(NAMESPACE, key).hex


def new_id() -> str:
    """A random id, for events that have no natural key."""
    return PREFIX + uuid.uuid4().hex


def instant(moment: datetime | str | None = None) -> str:
    """RFC 3339 in UTC with `Z`: `moment` (naive means UTC), or now when None."""
    if isinstance(moment, str):
        return moment
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
