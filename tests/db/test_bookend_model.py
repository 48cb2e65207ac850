"""Bookends in every order: the stored session equals a plain model of the written rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.repository import sessions as sessions_repo
from tests.conftest import Producer
from tests.factories import unique

pytestmark = pytest.mark.in_process

BASE = datetime(2026, 5, 5, 12, tzinfo=UTC)
TYPES = ["session.started", "session.stopped", "note"]


def model(batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The rules as the README states them, applied batch by batch."""
    stored: dict[str, dict[str, Any]] = {}
    session: dict[str, Any] | None = None
    for batch in batches:
        new: list[dict[str, Any]] = []
        for item in batch:  # first occurrence wins, stored ids are duplicates
            if item["id"] not in stored and all(item["id"] != n["id"] for n in new):
                new.append(item)
        if not new:
            continue
        for item in new:
            stored[item["id"]] = item
        starts = [item for item in new if item["type"] == "session.started"]
        anchor = starts[-1] if starts else None
        if session is None:
            session = {"ended_at": None}
            if anchor is None:
                earliest = min(item["at"] for item in new)
                anchor = next(item for item in new if item["at"] == earliest)
        if anchor is not None:
            session["started_at"] = anchor["at"]
            session["source"] = anchor["source"]
            session["source_detail"] = anchor.get("source_detail")
        stops = [item["at"] for item in new if item["type"] == "session.stopped"]
        if stops and (session["ended_at"] is None or max(stops) > session["ended_at"]):
            session["ended_at"] = max(stops)
    assert session is not None
    session["event_count"] = len(stored)
    session["last_event_at"] = max(item["at"] for item in stored.values())
    return session


@st.composite
def streams(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    count = draw(st.integers(1, 10))
    items = []
    for n in range(count):
        items.append(
            {
                "id": f"e{n}",
                "type": draw(st.sampled_from(TYPES)),
                "at": BASE + timedelta(minutes=draw(st.integers(0, 5))),
                "source": draw(st.sampled_from(["cli", "ide", "agent"])),
                "source_detail": draw(st.sampled_from([None, "vscode", "codex"])),
            }
        )
    # resend some events, possibly with other content: duplicates must change nothing
    resent = draw(st.lists(st.sampled_from(items), max_size=4))
    stream = draw(st.permutations(items + [{**r, "source": "sdk"} for r in resent]))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=3)))
    batches, start = [], 0
    for cut in [*cuts, len(stream)]:
        if cut > start:
            batches.append(stream[start:cut])
            start = cut
    return batches


def wire(item: dict[str, Any], session_id: str, prefix: str) -> dict[str, Any]:
    body = {
        "id": f"{prefix}-{item['id']}",
        "session_id": session_id,
        "type": item["type"],
        "source": item["source"],
        "occurred_at": item["at"].isoformat().replace("+00:00", "Z"),
    }
    if item["source_detail"] is not None:
        body["source_detail"] = item["source_detail"]
    if item["type"] == "note":
        body["text"] = "between the bookends"
    return body


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=streams())
async def test_bookends_match_the_model(
    alice: Producer, db: Any, batches: list[list[dict[str, Any]]]
) -> None:
    session_id = unique("model")
    for batch in batches:
        response = await alice.post([wire(item, session_id, session_id) for item in batch])
        assert response.status_code in (200, 201)
        assert response.json()["invalid"] == []
    stored = await sessions_repo.get_session(db, session_id)
    assert stored is not None
    expected = model(batches)
    actual = {key: stored[key] for key in expected}
    assert actual == expected
