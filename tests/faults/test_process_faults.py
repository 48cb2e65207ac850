"""The service process dies (SIGKILL) or is asked to stop (SIGTERM) in the middle of a batch."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app import auth, repository
from tests.conftest import off_loop
from tests.factories import event, unique
from tests.faults.conftest import OwnPostgres
from tests.live import Service

pytestmark = pytest.mark.in_process


def query(url: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await repository.connect(url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return off_loop(asyncio.run, run())


def new_key(url: str) -> str:
    async def run() -> str:
        conn = await repository.connect(url)
        try:
            created = await auth.create_user_with_key(conn, unique("proc"))
            assert created is not None
            return created[1]
        finally:
            await conn.close()

    result: str = off_loop(asyncio.run, run())
    return result


@pytest.fixture
def service_factory(own_postgres: OwnPostgres) -> Iterator[Any]:
    started: list[Service] = []

    def start() -> Service:
        env = {**os.environ, "DATABASE_URL": own_postgres.url, "SHUTDOWN_GRACE_SECONDS": "15"}
        service = Service(env)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
        service.stop()  # also closes its output file


def big_batch(session: str, count: int = 1000, size: int = 20_000) -> list[dict[str, Any]]:
    return [event(session, "note", text="x" * size) for _ in range(count)]


def post_in_background(
    service: Service, key: str, batch: Any
) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["response"] = httpx.post(
                f"{service.base}/api/recording/events/",
                json=batch,
                timeout=60,
                headers={"X-Clone-API-Key": key},
            )
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def wait_for_open_transaction(url: str, timeout: float = 30) -> None:
    """Until a service connection is inside a transaction (the batch is being written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = query(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'clone-recording' "
            "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()",
        )
        if busy:
            return
        time.sleep(0.005)
    pytest.fail("the batch never reached the database")


def test_sigkill_mid_batch_leaves_nothing_and_the_retry_counts_once(
    own_postgres: OwnPostgres, service_factory: Any
) -> None:
    url = own_postgres.url
    key = new_key(url)
    session = unique("killed")
    batch = big_batch(session)
    ids = [item["id"] for item in batch]
    service = service_factory()
    thread, outcome = post_in_background(service, key, batch)
    wait_for_open_transaction(url)
    service.process.send_signal(signal.SIGKILL)
    thread.join(60)
    assert "error" in outcome  # the producer saw no answer
    deadline = time.monotonic() + 20  # PostgreSQL notices the dead connection and rolls back
    while (
        query(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'clone-recording' AND pid <> pg_backend_pid()",
        )
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    stored = query(url, "SELECT count(*) FROM recording_event WHERE id = ANY($1)", ids)
    assert stored in (0, len(ids))  # all or nothing, never part of a batch
    retry = httpx.post(
        f"{service_factory().base}/api/recording/events/",
        json=batch,
        timeout=60,
        headers={"X-Clone-API-Key": key},
    )
    body = retry.json()
    assert body["accepted"] + body["duplicates"] == len(ids) and body["invalid"] == []
    assert query(url, "SELECT count(*) FROM recording_event WHERE id = ANY($1)", ids) == len(ids)
    assert query(url, "SELECT event_count FROM recording_session WHERE id = $1", session) == len(
        ids
    )


def test_sigterm_finishes_in_flight_requests_and_exits_cleanly(
    own_postgres: OwnPostgres, service_factory: Any
) -> None:
    url = own_postgres.url
    key = new_key(url)
    batch = big_batch(unique("drained"))
    service = service_factory()
    thread, outcome = post_in_background(service, key, batch)
    wait_for_open_transaction(url)
    started = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    service.process.wait(timeout=30)
    output = service.read_output()
    elapsed = time.monotonic() - started
    thread.join(60)
    assert service.process.returncode == 0, output
    assert elapsed < 15
    assert outcome["response"].status_code == 201
    assert outcome["response"].json()["accepted"] == len(batch)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{service.base}/healthz", timeout=2)
    assert (
        query(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'clone-recording' AND pid <> pg_backend_pid()",
        )
        == 0
    )
