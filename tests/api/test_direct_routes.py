"""The ingest endpoints are served ahead of FastAPI's router (app/api/direct.py): what they
do not answer is still FastAPI's, and their errors reach the same handlers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import auth
from tests.conftest import Producer
from tests.factories import event, unique


@pytest.mark.parametrize(
    "path", ["/api/recording/events/", "/api/recording/hooks/claude-code/", "/v1/logs"]
)
async def test_other_methods_on_a_direct_path_are_still_refused_by_fastapi(
    client: Any, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert "POST" in response.headers["allow"]


async def test_a_service_error_in_a_direct_route_gets_its_handler(client: Any) -> None:
    response = await client.post("/api/recording/events", content=b"[]")
    assert response.status_code == 401
    assert response.json() == {"detail": auth.MISSING}
    assert response.headers["x-request-id"]


@pytest.mark.in_process
async def test_an_unexpected_error_in_a_direct_route_is_a_json_500(
    app: FastAPI, alice: Producer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(items: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.resources.validator, "classify", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/api/recording/events/",
            json=[event(unique("s"))],
            headers={"X-Clone-API-Key": alice.key},
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}


@pytest.mark.in_process
async def test_ingest_requests_never_reach_fastapis_router(
    app: FastAPI, alice: Producer, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of direct routes: a batch skips the router; a read still goes through it."""
    reached: list[str] = []
    router_class = type(app.router)
    route = router_class.__call__

    async def spy(self: Any, scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await route(self, scope, receive, send)

    monkeypatch.setattr(router_class, "__call__", spy)
    assert (await alice.post([event(unique("s"))])).status_code == 201
    assert reached == []
    assert (await client.get("/api/recording/sessions/", headers=alice.headers)).status_code == 200
    assert reached == ["/api/recording/sessions/"]
