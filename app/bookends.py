"""The session rules as plain functions: first-wins dedupe and what a batch does to a session."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.validation import Event

STARTED = "session.started"
STOPPED = "session.stopped"


@dataclass(frozen=True, slots=True)
class SessionChange:
    """What newly stored events do to one session.

    `started_at` (with `source`, `source_detail`) is None when the start stays as it is.
    """

    session_id: str
    started_at: datetime | None
    source: str | None
    source_detail: str | None
    ended_at: datetime | None
    added: int
    last_event_at: datetime


def first_occurrences(events: list[Event]) -> list[Event]:
    """Keep the first event of each id; later ones in the same batch are duplicates."""
    seen: set[str] = set()
    firsts: list[Event] = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            firsts.append(event)
    return firsts


def session_seeds(events: Iterable[Event]) -> list[SessionChange]:
    """Placeholder values for sessions the claim may create, one per session.

    Any of the session's events will do: `plan_changes` re-anchors every session the batch
    created once it knows which events were stored.
    """
    seeds: dict[str, SessionChange] = {}
    for e in events:
        if e.session_id not in seeds:
            seeds[e.session_id] = SessionChange(
                e.session_id, e.occurred_at, e.source, e.source_detail, None, 0, e.occurred_at
            )
    return list(seeds.values())


def plan_changes(new_events: Iterable[Event], created: set[str]) -> list[SessionChange]:
    """Group newly stored events by session (sorted by id) and apply the bookend rules.

    - A new `session.started` re-anchors start, source and source_detail (the last one in
      batch order wins); a session created by this batch without one is anchored on its
      earliest event (first in batch order on ties).
    - The latest new `session.stopped` is the candidate `ended_at` (kept only if later).
    """
    by_session: dict[str, list[Event]] = {}
    for event in new_events:
        by_session.setdefault(event.session_id, []).append(event)
    changes: list[SessionChange] = []
    for session_id in sorted(by_session):
        events = by_session[session_id]
        starts = [e for e in events if e.type == STARTED]
        anchor = starts[-1] if starts else None
        if anchor is None and session_id in created:
            anchor = min(events, key=lambda e: e.occurred_at)
        stops = [e.occurred_at for e in events if e.type == STOPPED]
        changes.append(
            SessionChange(
                session_id=session_id,
                started_at=anchor.occurred_at if anchor else None,
                source=anchor.source if anchor else None,
                source_detail=anchor.source_detail if anchor else None,
                ended_at=max(stops) if stops else None,
                added=len(events),
                last_event_at=max(e.occurred_at for e in events),
            )
        )
    return changes
