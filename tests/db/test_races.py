"""Real concurrency against the real database: exactly-once, one owner, no deadlock."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from tests.conftest import Producer, make_user
from tests.factories import at, event, unique

pytestmark = pytest.mark.in_process


async def orphan_events(db: Any) -> int:
    """Events without their session: the invariant the missing foreign key leaves to ingest."""
    return int(
        await db.fetchval(
            "SELECT count(*) FROM recording_event e "
            "WHERE NOT EXISTS (SELECT 1 FROM recording_session s WHERE s.id = e.session_id)"
        )
    )


async def test_same_batch_from_many_clients_is_stored_once(alice: Producer, db: Any) -> None:
    sid = unique("s")
    batch = [event(sid, occurred_at=at(i % 60)) for i in range(100)]
    responses = await asyncio.gather(*(alice.post(batch) for _ in range(12)))
    assert all(r.status_code in (200, 201) for r in responses)
    assert sum(r.json()["accepted"] for r in responses) == 100
    assert sum(r.json()["duplicates"] for r in responses) == 100 * 11
    ids = [e["id"] for e in batch]
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE id = ANY($1)", ids) == 100
    assert await db.fetchval("SELECT event_count FROM recording_session WHERE id = $1", sid) == 100


async def test_two_users_racing_for_a_session_one_owner(app: FastAPI, client: Any, db: Any) -> None:
    for _ in range(10):
        producers = []
        for _ in range(4):
            user_id, key = await make_user(app)
            producers.append(Producer(key=key, client=client, user_id=user_id))
        sid = unique("s")
        responses = await asyncio.gather(*(p.post([event(sid)]) for p in producers))
        bodies = [r.json() for r in responses]
        winners = [p for p, b in zip(producers, bodies, strict=True) if b["accepted"] == 1]
        assert len(winners) == 1
        losers = [b for b in bodies if b["accepted"] == 0]
        assert all(
            b["invalid"] == [{"index": 0, "errors": ["session belongs to another user"]}]
            for b in losers
        )
        owner = await db.fetchval("SELECT user_id FROM recording_session WHERE id = $1", sid)
        assert owner == winners[0].user_id
        assert (
            await db.fetchval("SELECT count(*) FROM recording_event WHERE session_id = $1", sid)
            == 1
        )


async def test_opposite_orders_over_the_same_sessions_never_deadlock(
    alice: Producer, db: Any
) -> None:
    sessions = [unique("s") for _ in range(8)]
    batches = []
    for round_ in range(16):
        order = sessions if round_ % 2 else list(reversed(sessions))
        batches.append([event(sid, occurred_at=at(round_)) for sid in order for _ in range(3)])
    responses = await asyncio.gather(*(alice.post(b) for b in batches))
    assert [r.status_code for r in responses] == [201] * 16
    counts = await db.fetch(
        "SELECT event_count FROM recording_session WHERE id = ANY($1)", sessions
    )
    assert sorted(r["event_count"] for r in counts) == [48] * 8
    assert await orphan_events(db) == 0


async def test_overlapping_batches_count_every_event_once(alice: Producer, db: Any) -> None:
    sid = unique("s")
    pool = [event(sid, occurred_at=at(i % 60)) for i in range(60)]
    rng = random.Random(7)
    batches = [rng.sample(pool, 25) for _ in range(20)]
    responses = await asyncio.gather(*(alice.post(b) for b in batches))
    sent = {e["id"] for b in batches for e in b}
    assert sum(r.json()["accepted"] for r in responses) == len(sent)
    assert await db.fetchval("SELECT event_count FROM recording_session WHERE id = $1", sid) == len(
        sent
    )
    assert await db.fetchval(
        "SELECT count(*) FROM recording_event WHERE session_id = $1", sid
    ) == len(sent)


async def test_event_id_already_stored_in_another_session_creates_nothing(
    alice: Producer, db: Any
) -> None:
    first = event(unique("s"))
    await alice.post([first])
    elsewhere = unique("s")
    response = await alice.post([{**first, "session_id": elsewhere}])
    # Another session is other content: a conflict since issue 13 (an added field).
    assert response.json() == {"accepted": 0, "duplicates": 1, "invalid": [], "conflicts": 1}
    assert await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", elsewhere) == 0
    assert await orphan_events(db) == 0


@pytest.mark.skipif(os.environ.get("TEST_VIA_PGBOUNCER") != "1", reason="only in the PgBouncer run")
async def test_this_run_goes_through_pgbouncer(app: Any, db: Any, database_url: str) -> None:
    settings = app.state.resources.settings
    assert settings.statement_cache_size == 0
    assert settings.database_url.endswith("/recording") and settings.database_url != database_url
    expected = urlsplit(database_url).path.lstrip("/")
    assert await db.fetchval("SELECT current_database()") == expected


async def test_two_services_racing_one_id_with_other_content_accept_one_and_conflict_one(
    database_url: str, key: str, db: Any
) -> None:
    """Two service instances (each its own group committer and pool), one id, two contents,
    sent at the same moment: exactly one is stored, the other is answered `conflict`."""
    import threading

    import httpx

    from tests.served import serve

    first, second = serve(database_url), serve(database_url)
    try:
        for round_ in range(12):
            session = unique("race")
            item = event(session, text="A")
            versions = [(first.base, item), (second.base, {**item, "text": "B"})]
            statuses: list[str] = []
            barrier = threading.Barrier(2)

            def send(
                base: str, body: dict[str, Any], barrier: threading.Barrier, found: list[str]
            ) -> None:
                with httpx.Client(base_url=base, headers={"X-Clone-API-Key": key}) as client:
                    barrier.wait()
                    answer = client.post("/api/recording/events/?results=items", json=[body])
                    found.append(answer.json()["results"][0]["status"])

            threads = [
                threading.Thread(target=send, args=(*v, barrier, statuses)) for v in versions
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert sorted(statuses) == ["accepted", "conflict"], (round_, statuses)
            rows = await db.fetch("SELECT payload::text FROM recording_event WHERE id = $1",
                                  item["id"])  # fmt: skip
            assert len(rows) == 1
    finally:
        first.server.stop()
        second.server.stop()
