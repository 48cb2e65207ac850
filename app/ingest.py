"""The batch use case: validate, drop repeated ids, store the rest, say what became of each.

The rest goes to the group committer, whose statement also checks the key (one round trip
for the whole request), so a request with a wrong key is validated before it is refused; a
missing key never gets here. A dry run asks the same questions with reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from app import auth
from app.auth import Credential
from app.errors import Unauthorized
from app.group_commit import GroupCommitter
from app.repository import batches
from app.repository.batches import Batch, Stored
from app.validation import Event, EventValidator, Invalid, invalid, let_go

FOREIGN_SESSION = "session belongs to another user"
ACCEPTED, DUPLICATE, CONFLICT, INVALID = "accepted", "duplicate", "conflict", "invalid"


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0  # conflicts included: the v1 answer counts them here
    invalid: list[Invalid] = field(default_factory=list)
    conflicts: int = 0
    statuses: dict[int, str] = field(default_factory=dict)  # index -> status, valid items
    ids: dict[int, str] = field(default_factory=dict)  # index -> id, items with a string id

    def as_dict(self, *, items: bool = False) -> dict[str, Any]:
        """The v1 answer, byte for byte unless something conflicted; with `items`, the
        per-item results and each invalid item's details too."""
        answer: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "invalid": [
                {"index": i.index, "errors": i.errors, **({"details": i.details} if items else {})}
                for i in self.invalid
            ],
        }
        if self.conflicts:
            answer["conflicts"] = self.conflicts
        if items:
            answer["results"] = self.results()
        return answer

    def results(self) -> list[dict[str, Any]]:
        reasons = {item.index: item for item in self.invalid}
        found = []
        for index in range(len(self.statuses) + len(reasons)):
            result: dict[str, Any] = {"index": index}
            if index in self.ids:
                result["id"] = self.ids[index]
            if index in reasons:
                result["status"] = INVALID
                result["errors"] = reasons[index].errors
                result["details"] = reasons[index].details
            else:
                result["status"] = self.statuses[index]
            found.append(result)
        return found


def first_occurrences(events: list[Event]) -> list[Event]:
    """Keep the first event of each id; later ones in the same batch are duplicates."""
    seen: set[str] = set()
    firsts: list[Event] = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            firsts.append(event)
    return firsts


def _noting_ids(items: Iterable[Any], ids: dict[int, str]) -> Iterator[Any]:
    """Pass the items through, noting each string id by index: validation still lets
    each item go once its payload is made, as it does without per-item results."""
    for index, item in let_go(items):
        if isinstance(item, dict):
            given = item.get("id")
            if isinstance(given, str):
                ids[index] = given
        yield item


async def ingest_batch(
    committer: GroupCommitter,
    caller: Credential,
    items: Iterable[Any],
    validator: EventValidator,
    *,
    with_ids: bool = False,
) -> IngestResult:
    """Validate, then store the first occurrences (with other requests' batches, maybe).

    Consumes `items` (validation lets each go once its payload is made); `with_ids`
    (per-item results want the ids) notes them on the way. A batch with nothing to store
    still goes to the statement: the key decides 401 there.
    """
    ids: dict[int, str] = {}
    if with_ids:
        items = _noting_ids(items, ids)
    events, invalid_items = validator.classify(items)
    result = await _store(committer, caller, events, invalid_items, detailed=with_ids)
    result.ids = ids
    return result


async def ingest_all(
    committer: GroupCommitter, caller: Credential, items: list[Any], validator: EventValidator
) -> IngestResult:
    """All or nothing, for adapters that turn one input into a few events (a hook input):
    when any of them is invalid, none is stored and the result lists why."""
    events, invalid_items = validator.classify(list(items))
    if invalid_items:
        return IngestResult(invalid=invalid_items)
    return await _store(committer, caller, events, invalid_items, detailed=False)


async def _store(
    committer: GroupCommitter,
    caller: Credential,
    events: list[Event],
    invalid_items: list[Invalid],
    *,
    detailed: bool,
) -> IngestResult:
    firsts = first_occurrences(events)
    stored = await committer.store(Batch(caller, firsts))
    if not stored.authorized:
        raise (
            auth.out_of_scope(stored.scope, "ingest")
            if stored.scope
            else Unauthorized(auth.INVALID)
        )
    return _outcome(events, firsts, stored, invalid_items, detailed=detailed)


def _outcome(
    events: list[Event],
    firsts: list[Event],
    stored: Stored,
    invalid_items: list[Invalid],
    *,
    detailed: bool = True,
) -> IngestResult:
    """Each valid item's status from the statement's positions (over `firsts`).

    Without `detailed` (the default answer), statuses are worked out only when the batch
    repeats an id (to find conflicts inside it): a 100-event batch saves ~30 µs."""
    foreign = [firsts[p] for p in stored.foreign]
    invalid_items.extend(
        invalid(e.index, "foreign_session", "/session_id", FOREIGN_SESSION) for e in foreign
    )
    result = IngestResult(
        accepted=stored.count,
        # repeated within the batch, or stored before
        duplicates=len(events) - stored.count - len(stored.foreign),
        invalid=sorted(invalid_items, key=lambda i: i.index),
        conflicts=len(stored.conflicts),
    )
    if not detailed and len(firsts) == len(events):
        return result
    statuses: dict[int, str] = {}
    repeated, conflicts = set(stored.repeated), set(stored.conflicts)
    for position, event in enumerate(firsts):
        if position in conflicts:
            statuses[event.index] = CONFLICT
        elif position in repeated:
            statuses[event.index] = DUPLICATE
        else:
            statuses[event.index] = ACCEPTED
    for event in foreign:
        del statuses[event.index]
    _repeats_in_batch(events, statuses)
    result.statuses = statuses
    result.conflicts = sum(1 for status in statuses.values() if status == CONFLICT)
    return result


def _repeats_in_batch(events: Sequence[Event], statuses: dict[int, str]) -> None:
    """A later item with an id seen earlier in the batch: a duplicate of that first one, or
    a conflict when its content differs (or the first one was itself a conflict)."""
    first: dict[str, Event] = {}
    for event in events:
        if event.id not in first:
            first[event.id] = event
            continue
        leader = first[event.id]
        if leader.index not in statuses:  # the first went to another user's session
            statuses[event.index] = DUPLICATE
        elif event.digest != leader.digest or statuses[leader.index] == CONFLICT:
            statuses[event.index] = CONFLICT
        else:
            statuses[event.index] = DUPLICATE


async def preview_batch(
    conn: Any, caller: Credential, items: Iterable[Any], validator: EventValidator
) -> IngestResult:
    """A dry run: validation, the key, ownership and which ids are stored, writing nothing.

    It answers as ingest_batch would have at this moment; `accepted` counts what would be
    new (a concurrent writer may change that before a real send)."""
    ids: dict[int, str] = {}
    events, invalid_items = validator.classify(_noting_ids(items, ids))
    user_id = await auth.verify(conn, caller, need="ingest")
    firsts = first_occurrences(events)
    owners, digests = await batches.preview(
        conn, sorted({e.session_id for e in firsts}), [e.id for e in firsts]
    )
    foreign = [p for p, e in enumerate(firsts) if owners.get(e.session_id, user_id) != user_id]
    lost = set(foreign)
    repeated = [p for p, e in enumerate(firsts) if e.id in digests and p not in lost]
    conflicts = [p for p in repeated if digests[firsts[p].id] != firsts[p].digest]
    new = len(firsts) - len(foreign) - len(repeated)
    stored = Stored(True, new, foreign, repeated, conflicts)
    result = _outcome(events, firsts, stored, invalid_items)
    result.ids = ids
    return result
