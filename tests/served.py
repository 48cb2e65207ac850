"""The real app on a real port (uvicorn in a thread), for clients that speak plain HTTP.

`FaultyIngest` sits in front of the app and answers the ingest requests it is told to with
an error status (503, 429, …) before the app sees them; everything else, and every request
once its plan is used up, reaches the real app and the real database.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.live import free_port

INGEST = "/api/recording/events"


@dataclass
class FaultyIngest:
    """An ASGI wrapper: the next ingest requests get `plan`'s statuses; all are logged."""

    app: Any
    plan: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    batches: list[int] = field(default_factory=list)  # items per ingest request, in order
    sizes: list[int] = field(default_factory=list)  # uncompressed body bytes per request
    answered: list[int] = field(default_factory=list)  # status per ingest request

    def fail_next(self, count: int, status: int, **headers: str) -> None:
        self.plan.extend([(status, headers)] * count)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INGEST):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        encoded = dict(scope["headers"]).get(b"content-encoding") == b"gzip"
        plain = gzip.decompress(body) if encoded else body
        self.sizes.append(len(plain))
        try:
            self.batches.append(len(orjson.loads(plain)))
        except (orjson.JSONDecodeError, OSError, TypeError):
            self.batches.append(-1)
        if self.plan:
            status, headers = self.plan.popleft()
            self.answered.append(status)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json")]
                    + [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": b'{"detail": "injected"}'})
            return

        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.answered.append(message["status"])
            await send(message)

        await self.app(scope, replay, recording_send)


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 in a thread (its own loop, lifespan and pool)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class Served:
    base: str
    faults: FaultyIngest
    server: ServerThread


def serve(database_url: str, port: int | None = None, **settings: Any) -> Served:
    """A fresh app (with `settings`) behind FaultyIngest, served over real TCP."""
    faults = FaultyIngest(create_app(Settings(database_url=database_url, **settings)))
    server = ServerThread(faults, port).start()
    return Served(server.base, faults, server)
