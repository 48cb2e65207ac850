"""The database goes away, comes back, hangs: 503s, never 500s, never a half batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from app import repository
from app.main import create_app
from app.settings import Settings
from tests.conftest import Producer
from tests.factories import event, unique
from tests.faults.conftest import OwnPostgres, count_rows

pytestmark = pytest.mark.in_process


async def test_down_then_back_without_restarting_the_service(
    own_postgres: OwnPostgres, fault_app: FastAPI, producer: Producer
) -> None:
    sid = unique("s")
    assert (await producer.post([event(sid)])).status_code == 201
    batch = [event(sid) for _ in range(5)]
    await asyncio.to_thread(own_postgres.stop)
    down = await producer.post(batch)
    assert down.status_code == 503
    assert down.headers["retry-after"] == "1"
    assert down.json() == {"detail": "database unavailable; retry the same request later"}
    assert (await producer.client.get("/readyz")).status_code == 503
    await asyncio.to_thread(own_postgres.start)
    back = await producer.post(batch)
    assert (back.status_code, back.json()) == (201, {"accepted": 5, "duplicates": 0, "invalid": []})
    assert (
        await count_rows(fault_app, "SELECT event_count FROM recording_session WHERE id = $1", sid)
        == 6
    )


async def test_restart_under_load_loses_and_repeats_nothing(
    own_postgres: OwnPostgres, fault_app: FastAPI, producer: Producer
) -> None:
    answered: dict[str, int] = {}  # event id -> status of the answer that carried it
    statuses: list[int] = []
    stop_at = time.monotonic() + 6

    async def post_until_done(worker: int) -> None:
        sid = unique(f"load{worker}")
        while time.monotonic() < stop_at:
            batch = [event(sid) for _ in range(20)]
            response = await producer.post(batch)
            statuses.append(response.status_code)
            for item in batch:
                answered[item["id"]] = response.status_code

    async def restart() -> None:
        await asyncio.sleep(1.5)
        await asyncio.to_thread(own_postgres.stop, "immediate")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_postgres.start)

    await asyncio.gather(restart(), *(post_until_done(n) for n in range(8)))
    assert set(statuses) <= {200, 201, 503}, statuses
    assert 503 in statuses and 201 in statuses
    accepted_ids = [i for i, status in answered.items() if status in (200, 201)]
    stored = await count_rows(
        fault_app, "SELECT count(*) FROM recording_event WHERE id = ANY($1)", accepted_ids
    )
    assert stored == len(accepted_ids)
    total = await count_rows(fault_app, "SELECT count(*) FROM recording_event")
    counted = await count_rows(fault_app, "SELECT sum(event_count) FROM recording_session")
    assert total == counted  # every stored event counted once, none twice


@asynccontextmanager
async def locked_session(
    settings: Settings, url: str, session_id: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Callable[[], Awaitable[None]]]]:
    """An app on `settings` while another connection holds the session's row lock.

    Yields a client and a function that lets the lock go.
    """
    application = create_app(settings)
    blocker = await repository.connect(url)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
                tx = blocker.transaction()
                await tx.start()
                await blocker.execute(
                    "SELECT 1 FROM recording_session WHERE id = $1 FOR UPDATE", session_id
                )
                yield client, tx.rollback
    finally:
        await blocker.close()


async def test_a_stuck_database_gives_a_timely_503(
    fault_settings: Settings, producer: Producer, own_postgres: OwnPostgres
) -> None:
    sid = unique("s")
    await producer.post([event(sid)])
    quick = fault_settings.model_copy(update={"statement_timeout_ms": 500})
    async with locked_session(quick, own_postgres.url, sid) as (client, release):
        started = time.monotonic()
        response = await client.post(
            "/api/recording/events/", json=[event(sid)], headers=producer.headers
        )
        elapsed = time.monotonic() - started
        await release()
    assert response.status_code == 503
    assert elapsed < 3


async def test_an_exhausted_pool_gives_a_timely_503(
    fault_settings: Settings, producer: Producer, own_postgres: OwnPostgres
) -> None:
    sid = unique("s")
    await producer.post([event(sid)])
    tiny = fault_settings.model_copy(
        update={"pool_max_size": 1, "pool_acquire_timeout": 0.5, "statement_timeout_ms": 5000}
    )
    async with locked_session(tiny, own_postgres.url, sid) as (client, release):
        stuck = asyncio.create_task(
            client.post("/api/recording/events/", json=[event(sid)], headers=producer.headers)
        )
        await asyncio.sleep(0.3)  # the first request now holds the only connection
        started = time.monotonic()
        second = await client.get("/api/recording/sessions/", headers=producer.headers)
        elapsed = time.monotonic() - started
        await release()
        first = await stuck
    assert second.status_code == 503 and elapsed < 2
    assert first.status_code == 201


async def test_otlp_export_while_the_database_is_down_is_a_retryable_503(
    own_postgres: OwnPostgres, fault_app: FastAPI, producer: Producer
) -> None:
    """The OTLP exporter retries a 503 after Retry-After; the answer is a Status, as OTLP says."""
    from google.rpc import status_pb2
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.logs.v1 import logs_pb2

    record = logs_pb2.LogRecord(
        time_unix_nano=1,
        body=common_pb2.AnyValue(string_value="claude_code.user_prompt"),
        attributes=[
            common_pb2.KeyValue(
                key="session.id", value=common_pb2.AnyValue(string_value=unique("s"))
            )
        ],
    )
    request = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=[record])])]
    ).SerializeToString()
    headers = {**producer.headers, "Content-Type": "application/x-protobuf"}
    await asyncio.to_thread(own_postgres.stop)
    down = await producer.client.post("/v1/logs", content=request, headers=headers)
    assert (down.status_code, down.headers["retry-after"]) == (503, "1")
    status = status_pb2.Status.FromString(down.content)
    assert (status.code, status.message) == (
        14,
        "database unavailable; retry the same request later",
    )
    await asyncio.to_thread(own_postgres.start)
    back = await producer.client.post("/v1/logs", content=request, headers=headers)
    assert back.status_code == 200
    assert logs_service_pb2.ExportLogsServiceResponse.FromString(back.content) == (
        logs_service_pb2.ExportLogsServiceResponse()
    )
