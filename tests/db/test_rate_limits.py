"""Rate limits per key: the bucket in PostgreSQL, 429s, workers sharing it, the SDK backing off."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import httpx
import pytest

from app import auth
from app.repository import api_keys
from recording_client import Recorder, events
from tests.conftest import make_user
from tests.factories import event, unique
from tests.faults.test_process_faults import new_key
from tests.live import Service
from tests.served import serve

pytestmark = pytest.mark.in_process


async def test_the_bucket_holds_a_burst_and_refills_at_the_rate(app: Any, db: Any) -> None:
    _, key = await make_user(app)
    given = auth.credential(key)

    async def take(n: int) -> tuple[bool, Any, Any, Any]:
        return await api_keys.take_tokens(db, given.prefix, given.digest, n, 10.0, 20.0)

    assert (await take(15))[0] and (await take(5))[0]  # the burst: 20
    allowed, tokens, rate, burst = await take(5)
    assert not allowed and tokens < 1 and (rate, burst) == (10.0, 20.0)
    await asyncio.sleep(0.6)  # ~6 tokens back
    assert (await take(5))[0]
    assert not (await take(5))[0]
    assert (await take(500))[0] is False  # larger than the burst: waits for a full bucket
    off = await api_keys.take_tokens(db, given.prefix, given.digest, 1, None, None)
    assert off == (True, None, None, None)  # no limit anywhere: always allowed


async def test_over_the_limit_is_a_429_with_headers_and_nothing_stored(
    database_url: str, db: Any
) -> None:
    key = new_key(database_url)
    service = serve(database_url, rate_limit_per_s=5, rate_limit_burst=10)
    try:
        session = unique("rl")
        headers = {"X-Clone-API-Key": key}
        async with httpx.AsyncClient(base_url=service.base, headers=headers) as client:
            first = [event(session) for _ in range(10)]
            assert (await client.post("/api/recording/events/", json=first)).status_code == 201
            more = [event(session) for _ in range(3)]
            refused = await client.post("/api/recording/events/", json=more)
    finally:
        service.server.stop()
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("rate limit: 5 events/s, bursts of 10")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == "10"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE session_id = $1",
                             session) == 10  # fmt: skip


def test_two_workers_together_honour_the_limit(database_url: str) -> None:
    """Several clients at ~3x the limit for 4 s through `serve --workers 2`: what is stored
    is the burst plus the rate over the time, within 10%."""
    rate, burst, seconds = 100, 100, 4.0
    env = {**os.environ, "DATABASE_URL": database_url, "RATE_LIMIT_PER_S": str(rate),
           "RATE_LIMIT_BURST": str(burst)}  # fmt: skip
    service = Service(env, "--workers", "2")
    key = new_key(database_url)
    accepted = [0]
    lock = threading.Lock()
    started = time.monotonic()

    def client() -> None:
        with httpx.Client(base_url=service.base, headers={"X-Clone-API-Key": key}) as http:
            while time.monotonic() - started < seconds:
                answer = http.post("/api/recording/events/", json=[event(unique("rl"))])
                if answer.status_code == 201:
                    with lock:
                        accepted[0] += 1
                time.sleep(0.02)  # each of the 6 clients at ~40/s: ~3x the limit

    try:
        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        service.stop()
    expected = burst + rate * elapsed
    assert abs(accepted[0] - expected) <= 0.10 * expected, (accepted[0], expected)


async def test_the_sdk_backs_off_on_429_and_stores_everything_once(
    database_url: str, stored: Any
) -> None:
    key = new_key(database_url)
    service = serve(database_url, rate_limit_per_s=200, rate_limit_burst=100)
    session = unique("rl")
    try:
        with Recorder(service.base, key, max_batch_events=50, flush_interval=0.05,
                      backoff_base=0.05) as recorder:  # fmt: skip
            recorder.record_many(events.note(session, text=str(n)) for n in range(600))
            assert recorder.flush(timeout=60)
            stats = recorder.stats
    finally:
        service.server.stop()
    assert service.faults.answered.count(429) > 0 and stats.retried > 0
    assert (stats.accepted, stats.dropped) == (600, 0)
    assert await stored(session) == 600


def test_a_keys_own_limit_from_the_command_line_wins_over_the_default(database_url: str) -> None:
    import asyncio as aio

    from app import repository
    from tests.conftest import off_loop
    from tests.live import run

    env = {**os.environ, "DATABASE_URL": database_url}
    key = new_key(database_url)
    done = run(env, "keys", "limit", key[:12], "--rate", "3", "--burst", "4")
    assert done.stdout.strip() == f"{key[:12]}… now limited to 3 events/s, bursts of 4"
    given = auth.credential(key)

    async def take() -> tuple[bool, Any, Any, Any]:
        conn = await repository.connect(database_url)
        try:
            return await api_keys.take_tokens(conn, given.prefix, given.digest, 4, 100.0, 200.0)
        finally:
            await conn.close()

    allowed, _, rate, burst = off_loop(aio.run, take())
    assert (allowed, rate, burst) == (True, 3.0, 4.0)
    assert off_loop(aio.run, take())[0] is False  # its own burst of 4 is spent
    run(env, "keys", "limit", key[:12])  # back to the default
    assert off_loop(aio.run, take())[2:] == (100.0, 200.0)
    assert '"audit":"key.limited"' in done.stderr
