"""The batch use case: validate, drop repeated ids, store the rest in one statement.

The key is checked by that same statement (one round trip for the whole request), so a
request with a wrong key is validated before it is refused; a missing key never gets here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from app import auth, repository
from app.auth import Credential
from app.errors import Unauthorized
from app.repository import batches
from app.validation import Event, EventValidator, Invalid

FOREIGN_SESSION = "session belongs to another user"
ATTEMPTS = 3


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    invalid: list[Invalid] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "invalid": [{"index": i.index, "errors": i.errors} for i in self.invalid],
        }


def first_occurrences(events: list[Event]) -> list[Event]:
    """Keep the first event of each id; later ones in the same batch are duplicates."""
    seen: set[str] = set()
    firsts: list[Event] = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            firsts.append(event)
    return firsts


async def ingest_batch(
    connect: Callable[[], AbstractAsyncContextManager[Any]],
    caller: Credential,
    items: Iterable[Any],
    validator: EventValidator,
) -> IngestResult:
    """Validate, then take a connection from `connect()` only to store.

    Consumes `items` (validation lets each go once its payload is made).
    """
    events, invalid = validator.classify(items)
    firsts = first_occurrences(events)
    result = IngestResult(duplicates=len(events) - len(firsts))
    if not firsts:
        async with connect() as conn:
            await auth.verify(conn, caller)  # nothing to store: the key still decides 401
    else:
        rows = batches.pack(firsts)
        async with connect() as conn:
            stored = await _store(conn, caller, rows)
        if not stored.authorized:
            raise Unauthorized(auth.INVALID)
        result.accepted = stored.count
        result.duplicates += len(firsts) - stored.count - len(stored.foreign)
        invalid.extend(Invalid(firsts[p].index, [FOREIGN_SESSION]) for p in stored.foreign)
    result.invalid = sorted(invalid, key=lambda i: i.index)
    return result


async def _store(conn: Any, caller: Credential, rows: batches.Rows) -> batches.Stored:
    for attempt in range(ATTEMPTS):
        try:
            return await batches.store_batch(conn, caller, rows)
        except repository.RETRYABLE_ERRORS:
            # A deadlock between overlapping batches, or a session race: nothing was kept.
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
