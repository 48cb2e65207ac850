"""The bookend rules and first-wins dedupe, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime

from app.bookends import first_occurrences, plan_changes
from app.validation import Event


def ev(
    index: int,
    id_: str,
    type_: str = "note",
    minute: int = 0,
    session: str = "s",
    source: str = "cli",
    detail: str | None = None,
) -> Event:
    return Event(
        index=index,
        id=id_,
        session_id=session,
        type=type_,
        source=source,
        source_detail=detail,
        occurred_at=datetime(2026, 5, 5, 12, minute, tzinfo=UTC),
        payload="{}",
    )


def t(minute: int) -> datetime:
    return datetime(2026, 5, 5, 12, minute, tzinfo=UTC)


def test_first_occurrence_of_an_id_wins() -> None:
    events = [ev(0, "a", minute=1), ev(1, "b"), ev(2, "a", minute=2)]
    assert [e.index for e in first_occurrences(events)] == [0, 1]


def test_new_session_without_start_is_anchored_on_its_earliest_event() -> None:
    events = [ev(0, "a", minute=5, source="ide"), ev(1, "b", minute=2, source="agent", detail="x")]
    (change,) = plan_changes(events, created={"s"})
    assert (change.started_at, change.source, change.source_detail) == (t(2), "agent", "x")
    assert (change.added, change.last_event_at, change.ended_at) == (2, t(5), None)


def test_earliest_ties_go_to_the_first_in_batch_order() -> None:
    events = [ev(0, "a", minute=2, source="ide"), ev(1, "b", minute=2, source="agent")]
    (change,) = plan_changes(events, created={"s"})
    assert change.source == "ide"


def test_started_anchors_even_when_not_earliest() -> None:
    events = [ev(0, "a", minute=1, source="ide"), ev(1, "b", "session.started", minute=3)]
    (change,) = plan_changes(events, created={"s"})
    assert (change.started_at, change.source) == (t(3), "cli")


def test_last_started_in_batch_order_wins() -> None:
    events = [
        ev(0, "a", "session.started", 4, source="ide"),
        ev(1, "b", "session.started", 1, source="sdk"),
    ]
    (change,) = plan_changes(events, created=set())
    assert (change.started_at, change.source) == (t(1), "sdk")


def test_existing_session_without_start_keeps_its_anchor() -> None:
    (change,) = plan_changes([ev(0, "a", minute=1)], created=set())
    assert (change.started_at, change.source, change.source_detail) == (None, None, None)


def test_latest_stop_is_the_end_candidate() -> None:
    events = [ev(0, "a", "session.stopped", 9), ev(1, "b", "session.stopped", 7)]
    (change,) = plan_changes(events, created=set())
    assert change.ended_at == t(9)


def test_changes_come_sorted_by_session() -> None:
    events = [ev(0, "a", session="z"), ev(1, "b", session="a"), ev(2, "c", session="m")]
    assert [c.session_id for c in plan_changes(events, created=set())] == ["a", "m", "z"]
