"""Key scopes on every endpoint: ingest keys send, read keys read, `all` keys do both."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.rpc import status_pb2

from app import auth
from tests.conftest import make_user
from tests.factories import event, unique

pytestmark = pytest.mark.in_process
HOOK = {"hook_event_name": "Stop", "last_assistant_message": "done"}


@pytest.fixture
async def keys(app: FastAPI) -> dict[str, str]:
    """One user's keys, one per scope, and a session with one event in it."""
    user_id, every = await make_user(app)
    async with app.state.resources.pool.acquire() as conn:
        found = {scope: await auth.issue_key(conn, user_id, scope) for scope in ("ingest", "read")}
    return {**found, "all": every}


async def call(client: httpx.AsyncClient, key: str, operation: str, seed: dict[str, Any]) -> Any:
    headers = {"X-Clone-API-Key": key}
    session, stored = seed["session"], seed["event"]
    if operation == "ingest":
        return await client.post("/api/recording/events/", json=[event(session)], headers=headers)
    if operation == "dry-run":
        return await client.post("/api/recording/events/?dry_run=true", json=[event(session)],
                                 headers=headers)  # fmt: skip
    if operation == "hook":
        return await client.post("/api/recording/hooks/claude-code/",
                                 json={**HOOK, "session_id": session}, headers=headers)  # fmt: skip
    if operation == "otlp":
        return await client.post("/v1/logs", content=b"", headers={
            **headers, "Content-Type": "application/x-protobuf"})  # fmt: skip
    if operation == "lookup":
        return await client.post("/api/recording/events/lookup", json={"ids": [stored]},
                                 headers=headers)  # fmt: skip
    if operation == "session":
        return await client.get(f"/api/recording/sessions/{session}/", headers=headers)
    if operation == "sessions":
        return await client.get("/api/recording/sessions/", headers=headers)
    if operation == "session-events":
        return await client.get(f"/api/recording/sessions/{session}/events/", headers=headers)
    if operation == "event":
        return await client.get(f"/api/recording/events/{stored}/", headers=headers)
    if operation == "export":
        return await client.get(f"/api/recording/sessions/{session}/export", headers=headers)
    if operation == "delete":
        return await client.delete(f"/api/recording/sessions/{session}/", headers=headers)
    raise AssertionError(operation)


# operation -> the scopes that may do it (any other live key gets a 403)
MATRIX = {
    "ingest": {"ingest", "all"},
    "dry-run": {"ingest", "all"},
    "hook": {"ingest", "all"},
    "otlp": {"ingest", "all"},
    "lookup": {"ingest", "read", "all"},
    "session": {"ingest", "read", "all"},
    "sessions": {"read", "all"},
    "session-events": {"read", "all"},
    "event": {"read", "all"},
    "export": {"read", "all"},
    "delete": {"all"},
}
CASES = [(op, scope) for op in MATRIX for scope in ("ingest", "read", "all")]


@pytest.mark.parametrize(("operation", "scope"), CASES, ids=[f"{o}-{s}" for o, s in CASES])
async def test_each_scope_on_each_endpoint(
    client: httpx.AsyncClient, keys: dict[str, str], operation: str, scope: str
) -> None:
    seed = {"session": unique("scoped"), "event": None}
    first = event(seed["session"])
    seed["event"] = first["id"]
    stored = await client.post("/api/recording/events/", json=[first],
                               headers={"X-Clone-API-Key": keys["all"]})  # fmt: skip
    assert stored.status_code == 201
    answer = await call(client, keys[scope], operation, seed)
    if scope in MATRIX[operation]:
        assert answer.status_code in (200, 201), (answer.status_code, answer.text)
        return
    assert answer.status_code == 403
    needed = "ingest" if operation in ("ingest", "dry-run", "hook", "otlp") else "read"
    needed = "all" if operation == "delete" else needed
    detail = f"this key's scope is {scope!r}; this operation needs a {needed!r} key"
    if operation == "otlp":
        status = status_pb2.Status.FromString(answer.content)
        assert (status.code, status.message) == (7, detail)
    else:
        assert answer.json() == {"detail": detail}


async def test_a_read_key_stores_nothing(
    client: httpx.AsyncClient, keys: dict[str, str], db: Any
) -> None:
    session = unique("scoped")
    answer = await client.post("/api/recording/events/", json=[event(session)],
                               headers={"X-Clone-API-Key": keys["read"]})  # fmt: skip
    assert answer.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", session) == 0


async def test_a_revoked_key_is_still_a_401_whatever_its_scope(
    app: FastAPI, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    async with app.state.resources.pool.acquire() as conn:
        from app.repository import api_keys

        assert await api_keys.revoke_key(conn, auth.key_prefix(keys["read"]))
    answer = await client.post("/api/recording/events/", json=[event(unique("s"))],
                               headers={"X-Clone-API-Key": keys["read"]})  # fmt: skip
    assert (answer.status_code, answer.json()) == (401, {"detail": "invalid or revoked API key"})
