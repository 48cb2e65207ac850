"""Fixtures: a fresh migrated database per run, the app in-process (or a live server), users."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI

from app import auth, migrate, repository
from app.embedded import start_embedded
from app.main import create_app
from app.settings import Settings
from tests.pgbouncer import pgbouncer
from tests.served import Served, serve

LIVE_URL = os.environ.get("CONTRACT_BASE_URL")
VIA_PGBOUNCER = os.environ.get("TEST_VIA_PGBOUNCER") == "1"
T = TypeVar("T")


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run blocking setup (asyncio.run, alembic) in a thread: fixtures may sit inside a loop."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function, *args).result()


def admin_sql(server_url: str, sql: str) -> None:
    async def run() -> None:
        conn = await repository.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    off_loop(asyncio.run, run())


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The PostgreSQL server under test: DATABASE_URL, else an embedded one in a temp dir."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    data_dir = Path(tempfile.mkdtemp(prefix="recording-test-"))
    server = start_embedded(data_dir, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()  # stops the server, then deletes its files
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A database made for this run, migrated to head, dropped afterwards."""
    if LIVE_URL:
        pytest.skip("needs direct database access; not available against a live server")
    name = f"recording_test_{uuid.uuid4().hex[:12]}"
    admin_sql(server_url, f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    off_loop(migrate.upgrade, url)
    yield url
    admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Iterator[Settings]:
    """The app's settings; with TEST_VIA_PGBOUNCER=1 its pool goes through PgBouncer."""
    if not VIA_PGBOUNCER:
        yield Settings(database_url=database_url)
        return
    with pgbouncer(database_url) as pooled_url:
        yield Settings(database_url=pooled_url, statement_cache_size=0)


@pytest.fixture(scope="session")
async def app(request: pytest.FixtureRequest) -> AsyncIterator[FastAPI | None]:
    """The app in-process with its lifespan running; None when testing a live server."""
    if LIVE_URL:
        yield None
        return
    application = create_app(request.getfixturevalue("settings"))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def db(app: FastAPI | None) -> AsyncIterator[Any]:
    """A connection of its own, for asserting what is really in the database."""
    if app is None:
        pytest.skip("needs direct database access; not available against a live server")
    async with app.state.resources.pool.acquire() as conn:
        yield conn


@dataclass
class Producer:
    """A user as seen over HTTP: its key, and a client that sends it."""

    key: str
    client: httpx.AsyncClient
    user_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Clone-API-Key": self.key}

    async def post(
        self, batch: Any, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.client.post(
            "/api/recording/events/",
            json=batch,
            headers={**self.headers, **(headers or {})},
            **kwargs,
        )

    async def get(
        self, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.client.get(path, headers={**self.headers, **(headers or {})}, **kwargs)


async def make_user(app: FastAPI) -> tuple[int, str]:
    async with app.state.resources.pool.acquire() as conn:
        created = await auth.create_user_with_key(conn, f"user-{uuid.uuid4().hex[:10]}")
        assert created is not None
        return created


@pytest.fixture
async def client(app: FastAPI | None) -> AsyncIterator[httpx.AsyncClient]:
    if app is None:
        async with httpx.AsyncClient(base_url=str(LIVE_URL), timeout=30) as live:
            yield live
        return
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as local:
        yield local


async def _producer(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, env: str
) -> Producer:
    if LIVE_URL:
        key = os.environ.get(env)
        if not key:
            pytest.skip(f"{env} is not set for the live contract run")
        return Producer(key=key, client=client)
    user_id, key = await make_user(request.getfixturevalue("app"))
    return Producer(key=key, client=client, user_id=user_id)


@pytest.fixture
async def alice(request: pytest.FixtureRequest, client: httpx.AsyncClient) -> Producer:
    return await _producer(request, client, "CONTRACT_API_KEY")


@pytest.fixture
async def bob(request: pytest.FixtureRequest, client: httpx.AsyncClient) -> Producer:
    return await _producer(request, client, "CONTRACT_API_KEY_2")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if LIVE_URL and item.get_closest_marker("in_process"):
        pytest.skip("needs the in-process app or the database; not against a live server")


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """The environment for `clone-recording` commands on the test database."""
    return {**os.environ, "DATABASE_URL": database_url}


# The real app over TCP (tests/served.py), for the SDK, the CLI and OTLP exporters.


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    service = serve(database_url)
    try:
        yield service
    finally:
        service.server.stop()


@pytest.fixture
async def key(app: FastAPI) -> str:
    return (await make_user(app))[1]


@pytest.fixture
async def stored(db: Any) -> AsyncIterator[Any]:
    """stored(session_id) -> how many events the database holds for that session."""

    async def count(session_id: str) -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM recording_event WHERE session_id = $1", session_id
            )
        )

    yield count
