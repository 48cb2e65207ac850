"""DELETE /api/recording/sessions/{id}/: the owner's `all` key removes a session whole."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI

from app import auth
from tests.conftest import Producer
from tests.factories import event, unique

pytestmark = pytest.mark.in_process


async def seeded(producer: Producer, count: int = 3) -> tuple[str, list[dict[str, Any]]]:
    session = unique("del")
    batch = [event(session) for _ in range(count)]
    assert (await producer.post(batch)).status_code == 201
    return session, batch


async def test_the_owner_deletes_a_session_and_its_events_and_the_ids_are_free_again(
    alice: Producer, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session, batch = await seeded(alice)
    with caplog.at_level(logging.INFO, logger="recording.audit"):
        answer = await alice.client.delete(f"/api/recording/sessions/{session}/",
                                           headers=alice.headers)  # fmt: skip
    assert (answer.status_code, answer.json()) == (
        200,
        {"session_id": session, "deleted_events": 3},
    )
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE session_id = $1",
                             session) == 0  # fmt: skip
    assert (await alice.get(f"/api/recording/sessions/{session}/")).status_code == 404
    [line] = [r for r in caplog.records if r.name == "recording.audit"]
    assert (line.audit, line.session_id, line.events) == ("session.deleted", session, 3)
    again = await alice.post(batch)  # the same ids: stored anew
    assert again.json() == {"accepted": 3, "duplicates": 0, "invalid": []}


async def test_nobody_else_deletes_it(alice: Producer, bob: Producer, db: Any) -> None:
    session, _ = await seeded(alice)
    for path in (f"/api/recording/sessions/{session}/", "/api/recording/sessions/nope/",
                 "/api/recording/sessions/%00/"):  # fmt: skip
        answer = await bob.client.delete(path, headers=bob.headers)
        assert (answer.status_code, answer.json()) == (404, {"detail": "session not found"})
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE session_id = $1",
                             session) == 3  # fmt: skip


@pytest.mark.parametrize("scope", ["ingest", "read"])
async def test_only_an_all_key_deletes(app: FastAPI, alice: Producer, db: Any, scope: str) -> None:
    session, _ = await seeded(alice)
    async with app.state.resources.pool.acquire() as conn:
        assert alice.user_id is not None
        key = await auth.issue_key(conn, alice.user_id, scope)
    answer = await alice.client.delete(f"/api/recording/sessions/{session}/",
                                       headers={"X-Clone-API-Key": key})  # fmt: skip
    assert answer.status_code == 403
    assert answer.json() == {
        "detail": f"this key's scope is {scope!r}; this operation needs a 'all' key"
    }
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE session_id = $1",
                             session) == 3  # fmt: skip
