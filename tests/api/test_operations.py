"""Health, readiness, metrics and the OpenAPI document integrators learn the API from."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from tests.conftest import Producer
from tests.factories import event, unique


async def test_healthz(client: Any) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz(client: Any) -> None:
    response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.removeprefix(name + " "))


@pytest.mark.in_process
async def test_concurrent_batches_share_store_statements(
    alice: Producer, bob: Producer, client: Any
) -> None:
    """In-process, nothing else posts meanwhile: the counters move by these batches only."""
    before = (await client.get("/metrics")).text
    producers = [alice, bob] * 6
    responses = await asyncio.gather(*(p.post([event(unique("s"))]) for p in producers))
    assert [(r.status_code, r.json()["accepted"]) for r in responses] == [(201, 1)] * 12
    after = (await client.get("/metrics")).text
    batches = metric(after, "recording_store_batches_total") - metric(
        before, "recording_store_batches_total"
    )
    statements = metric(after, "recording_store_statements_total") - metric(
        before, "recording_store_statements_total"
    )
    assert batches == 12
    assert 1 <= statements < batches


async def test_metrics_count_ingest_outcomes_and_latency(alice: Producer, client: Any) -> None:
    def counter(text: str, outcome: str) -> float:
        prefix = f'recording_ingest_events_total{{outcome="{outcome}"}} '
        line = next(line for line in text.splitlines() if line.startswith(prefix))
        return float(line.removeprefix(prefix))

    before = (await client.get("/metrics")).text
    item = event(unique("s"))
    await alice.post([item, item, {"bad": 1}])
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert counter(after, "accepted") - counter(before, "accepted") >= 1
    assert counter(after, "duplicate") - counter(before, "duplicate") >= 1
    assert counter(after, "invalid") - counter(before, "invalid") >= 1
    assert 'recording_request_duration_seconds_bucket{le="0.1",method="POST",' in after
    assert 'route="/api/recording/events/"' in after


async def test_openapi_documents_the_contract(client: Any) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths) >= {
        "/api/recording/events/",
        "/api/recording/events/{event_id}/",
        "/api/recording/sessions/",
        "/api/recording/sessions/{session_id}/events/",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    post = paths["/api/recording/events/"]["post"]
    body = post["requestBody"]["content"]["application/json"]
    assert body["schema"]["items"] == {"$ref": "#/components/schemas/CloneEvent"}
    assert body["example"][1]["prompt"] == "Run the test suite."
    assert set(post["responses"]) == {"200", "201", "400", "401", "403", "413", "415", "429", "503"}
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Clone-API-Key",
        "description": "An API key from `clone-recording keys create USER`.",
    }
    assert schemes["BearerKey"]["scheme"] == "bearer"
    assert {"ApiKeyHeader": []} in post["security"]
    assert {"BearerKey": []} in paths["/api/recording/sessions/"]["get"]["security"]
    assert "security" not in paths["/healthz"]["get"]
    event_schema = document["components"]["schemas"]["CloneEvent"]
    assert event_schema["properties"]["id"]["$ref"] == (
        "#/components/schemas/CloneEvent_identifier"
    )
    assert len(event_schema["allOf"]) == 9
    assert "422" not in str(document)
    assert "400" in paths["/api/recording/sessions/{session_id}/events/"]["get"]["responses"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_are_served(client: Any, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert "/openapi.json" in response.text


@pytest.mark.in_process
async def test_database_unreachable_is_503_with_retry_after(settings: Settings) -> None:
    import httpx

    down = settings.model_copy(
        update={"database_url": "postgresql://postgres@127.0.0.1:1/none", "pool_acquire_timeout": 2}
    )
    application: FastAPI = create_app(down)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/api/recording/events/", json=[event("s")], headers={"X-Clone-API-Key": "k"}
            )
            ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"detail": "database unavailable; retry the same request later"}
    assert ready.status_code == 503
