"""The batch use case: validate, drop repeated ids, store the rest.

The rest goes to the group committer, whose statement also checks the key (one round trip
for the whole request), so a request with a wrong key is validated before it is refused; a
missing key never gets here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app import auth
from app.auth import Credential
from app.errors import Unauthorized
from app.group_commit import GroupCommitter
from app.repository.batches import Batch
from app.validation import Event, EventValidator, Invalid

FOREIGN_SESSION = "session belongs to another user"


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
    committer: GroupCommitter, caller: Credential, items: Iterable[Any], validator: EventValidator
) -> IngestResult:
    """Validate, then store the first occurrences (with other requests' batches, maybe).

    Consumes `items` (validation lets each go once its payload is made). A batch with
    nothing to store still goes to the statement: the key decides 401 there.
    """
    events, invalid = validator.classify(items)
    return await _store(committer, caller, events, invalid)


async def _store(
    committer: GroupCommitter, caller: Credential, events: list[Event], invalid: list[Invalid]
) -> IngestResult:
    firsts = first_occurrences(events)
    stored = await committer.store(Batch(caller, firsts))
    if not stored.authorized:
        raise Unauthorized(auth.INVALID)
    invalid.extend(Invalid(firsts[p].index, [FOREIGN_SESSION]) for p in stored.foreign)
    return IngestResult(
        accepted=stored.count,
        # repeated within the batch, or stored before
        duplicates=len(events) - stored.count - len(stored.foreign),
        invalid=sorted(invalid, key=lambda i: i.index),
    )


async def ingest_all(
    committer: GroupCommitter, caller: Credential, items: list[Any], validator: EventValidator
) -> IngestResult:
    """All or nothing, for adapters that turn one input into a few events (a hook input):
    when any of them is invalid, none is stored and the result lists why."""
    events, invalid = validator.classify(list(items))
    if invalid:
        return IngestResult(invalid=invalid)
    return await _store(committer, caller, events, invalid)
