"""Migrations: up, down and up again; the migrated schema equals the table metadata."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app import migrate, repository
from app.repository.tables import metadata
from tests.conftest import admin_sql, with_database

pytestmark = pytest.mark.in_process


@pytest.fixture
def scratch_url(server_url: str) -> Iterator[str]:
    name = f"recording_migrate_{uuid.uuid4().hex[:10]}"
    admin_sql(server_url, f'CREATE DATABASE "{name}"')
    yield with_database(server_url, name)
    admin_sql(server_url, f'DROP DATABASE "{name}" WITH (FORCE)')


async def tables(url: str) -> set[str]:
    conn = await repository.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await conn.close()


def schema_diff(url: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(
            url.replace("postgresql://", "postgresql+asyncpg://", 1), poolclass=NullPool
        )
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
        await engine.dispose()
        return list(diff)

    return asyncio.run(run())


def test_up_down_up(scratch_url: str) -> None:
    expected = {"app_user", "api_key", "recording_session", "recording_event", "alembic_version"}
    migrate.upgrade(scratch_url)
    assert asyncio.run(tables(scratch_url)) == expected
    migrate.downgrade(scratch_url, "base")
    assert asyncio.run(tables(scratch_url)) == {"alembic_version"}
    migrate.upgrade(scratch_url)
    assert asyncio.run(tables(scratch_url)) == expected


def test_migrations_match_the_table_metadata(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    assert schema_diff(scratch_url) == []
