"""The batch use case: validate, dedupe, claim sessions, store, apply bookends — one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app import bookends, repository
from app.repository import events as events_repo
from app.repository import sessions as sessions_repo
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


async def ingest_batch(
    conn: Any, user_id: int, items: list[Any], validator: EventValidator
) -> IngestResult:
    """Consumes `items`: they are cleared once validated, as events carry their own payload."""
    events, invalid = validator.classify(items)
    items.clear()
    firsts = bookends.first_occurrences(events)
    result = IngestResult(duplicates=len(events) - len(firsts))
    if firsts:
        for attempt in range(ATTEMPTS):
            try:
                stored, foreign = await _store(conn, user_id, firsts)
                break
            except repository.RETRYABLE_ERRORS:
                if attempt == ATTEMPTS - 1:
                    raise
        result.accepted = stored
        result.duplicates += len(firsts) - stored - len(foreign)
        invalid.extend(Invalid(e.index, [FOREIGN_SESSION]) for e in foreign)
    result.invalid = sorted(invalid, key=lambda i: i.index)
    return result


async def _store(conn: Any, user_id: int, events: list[Event]) -> tuple[int, list[Event]]:
    """Store what is new in one transaction; return (count stored, events on foreign sessions)."""
    async with repository.transaction(conn):
        owners = await sessions_repo.claim_sessions(conn, user_id, bookends.session_seeds(events))
        mine = [e for e in events if owners[e.session_id][0] == user_id]
        foreign = [e for e in events if owners[e.session_id][0] != user_id]
        stored_ids = await events_repo.insert_events(conn, mine)
        stored = [e for e in mine if e.id in stored_ids]
        created = {sid for sid, (_, was_created) in owners.items() if was_created}
        await sessions_repo.apply_changes(conn, bookends.plan_changes(stored, created))
        # A session created here whose every event turned out to be stored elsewhere.
        await sessions_repo.delete_sessions(conn, sorted(created - {e.session_id for e in stored}))
    return len(stored), foreign
