"""Pure-ASGI middleware: path normalisation, request ids, access logs and latency metrics."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.logs import ACCESS_LOGGER

API_PREFIX = "/api/"
REQUEST_ID_HEADER = b"x-request-id"
# Accept a caller's id only if it is short and plain, so it is safe to log and echo.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger(ACCESS_LOGGER)


class TrailingSlashMiddleware:
    """Serve every API path with or without its trailing slash (no redirect round trip)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(API_PREFIX) and not path.endswith("/"):
            scope = dict(scope)
            scope["path"] = path + "/"
            raw_path = scope.get("raw_path")
            if raw_path is not None:
                scope["raw_path"] = raw_path + b"/"
        await self.app(scope, receive, send)


class ObserveMiddleware:
    """Give each request an id (X-Request-ID kept or made), time it, log it, measure it.

    The log line holds method, path, status, duration and the ingest counts; never bodies,
    query strings or headers, so neither payloads nor keys reach the logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            metrics.observe_request(scope["method"], template, status, elapsed)
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"][:200],
                "route": template,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            counts = scope["state"].get("ingest_counts")
            if counts:
                fields.update(counts)
            access_log.info("request", extra=fields)


# Made ids: a random prefix per process and a counter, unique without a syscall per request.
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            if _REQUEST_ID.fullmatch(value):
                given: str = value.decode()
                return given
            break
    return f"{_ID_PREFIX}{next(_id_counter):016x}"
