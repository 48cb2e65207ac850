"""Request ids and structured access logs: useful fields, never payloads or keys."""

from __future__ import annotations

import logging

import orjson
import pytest

from app.logs import ACCESS_LOGGER, JsonFormatter
from tests.conftest import Producer
from tests.factories import event, unique


async def test_a_plain_request_id_is_echoed(alice: Producer) -> None:
    response = await alice.get("/api/recording/sessions/", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("given", [None, "has spaces", "x" * 200, "naïve"], ids=repr)
async def test_otherwise_one_is_made(alice: Producer, given: str | None) -> None:
    headers = {"X-Request-ID": given.encode("utf-8")} if given else {}
    response = await alice.client.get("/healthz", headers=headers)
    made = response.headers["x-request-id"]
    assert len(made) == 32 and int(made, 16) >= 0
    again = await alice.client.get("/healthz", headers=headers)
    assert again.headers["x-request-id"] != made


@pytest.mark.in_process
async def test_access_log_is_one_json_line_without_secrets(
    alice: Producer, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "do-not-log-this-prompt"
    item = event(unique("s"), "agent.prompt", prompt=secret_text)
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = await alice.post([item, item, {"bad": True}], headers={"X-Request-ID": "r-1"})
    assert response.status_code == 201
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    line = JsonFormatter().format(record)
    entry = orjson.loads(line)
    assert entry["time"].endswith("Z")
    del entry["time"], entry["duration_ms"]
    assert entry == {
        "level": "info",
        "logger": ACCESS_LOGGER,
        "message": "request",
        "request_id": "r-1",
        "method": "POST",
        "path": "/api/recording/events/",
        "route": "/api/recording/events/",
        "status": 201,
        "items": 3,
        "accepted": 1,
        "duplicates": 1,
        "invalid": 1,
    }
    assert secret_text not in line and alice.key not in line
