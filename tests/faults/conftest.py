"""A PostgreSQL of the test's own, which the test may stop and start at will."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pgserver import _commands

from app import migrate
from app.embedded import start_embedded
from app.main import create_app
from app.settings import Settings
from tests.conftest import Producer, admin_sql, make_user, off_loop, with_database

pytestmark = pytest.mark.in_process


@dataclass
class OwnPostgres:
    pgdata: Path
    system_user: str | None
    server_url: str
    url: str

    def stop(self, mode: str = "fast") -> None:
        _commands.pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.pgdata, user=self.system_user)

    def start(self) -> None:
        socket_dir = parse_qs(urlsplit(self.server_url).query)["host"][0]
        _commands.pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {socket_dir}",
                "-l",
                str(self.pgdata / "log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=self.system_user,
            timeout=30,
        )


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    data_dir = Path(tempfile.mkdtemp(prefix="recording-fault-"))
    server = start_embedded(data_dir, cleanup_mode=None)
    server_url = server.get_uri()
    name = f"fault_{uuid.uuid4().hex[:8]}"
    admin_sql(server_url, f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    off_loop(migrate.upgrade, url)
    own = OwnPostgres(data_dir / "pg", server.system_user, server_url, url)
    try:
        yield own
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            own.stop("immediate")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def fault_settings(own_postgres: OwnPostgres) -> Settings:
    return Settings(database_url=own_postgres.url, pool_acquire_timeout=2, retry_after_seconds=1)


@pytest.fixture
async def fault_app(fault_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(fault_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def producer(fault_app: FastAPI) -> AsyncIterator[Producer]:
    user_id, key = await make_user(fault_app)
    transport = httpx.ASGITransport(app=fault_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fault") as client:
        yield Producer(key=key, client=client, user_id=user_id)


async def count_rows(app: FastAPI, sql: str, *args: Any) -> int:
    async with app.state.resources.pool.acquire() as conn:
        return int(await conn.fetchval(sql, *args))
