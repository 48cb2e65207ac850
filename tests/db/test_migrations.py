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
    expected = {
        "app_user",
        "api_key",
        "recording_session",
        "recording_event",
        "rate_bucket",
        "alembic_version",
    }
    migrate.upgrade(scratch_url)
    assert asyncio.run(tables(scratch_url)) == expected
    migrate.downgrade(scratch_url, "base")
    assert asyncio.run(tables(scratch_url)) == {"alembic_version"}
    migrate.upgrade(scratch_url)
    assert asyncio.run(tables(scratch_url)) == expected


def test_migrations_match_the_table_metadata(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    assert schema_diff(scratch_url) == []


def test_0009_backfills_digests_and_escapes_marked_source_details(scratch_url: str) -> None:
    """Rows stored before 0009 get the digest the service computes, and a source_detail
    that starts with the escape mark reads back as it was stored."""
    import hashlib

    from app.escaped import unescape

    migrate.upgrade(scratch_url, "0008")
    payload = '{"id":"e-1","text":"h\\u00e9llo \\u0000 😀"}'

    async def seed() -> None:
        conn = await repository.connect(scratch_url)
        try:
            user = await conn.fetchval("INSERT INTO app_user (name) VALUES ('u') RETURNING id")
            await conn.execute(
                "INSERT INTO recording_session (id, user_id, source, source_detail, started_at) "
                "VALUES ('s', $1, 'cli', E'\\x01odd', now())",
                user,
            )
            await conn.execute(
                "INSERT INTO recording_event (id, session_id, type, source, source_detail, "
                "occurred_at, payload) VALUES ('e-1', 's', 'note', 'cli', E'\\x01odd', now(), $1)",
                payload,
            )
        finally:
            await conn.close()

    async def read() -> tuple[Any, ...]:
        conn = await repository.connect(scratch_url)
        try:
            row = await conn.fetchrow(
                "SELECT e.digest, e.source_detail, s.source_detail AS session_detail "
                "FROM recording_event e JOIN recording_session s ON s.id = e.session_id"
            )
            return tuple(row)
        finally:
            await conn.close()

    asyncio.run(seed())
    migrate.upgrade(scratch_url)
    digest, event_detail, session_detail = asyncio.run(read())
    assert digest == hashlib.sha256(payload.encode()).digest()
    assert unescape(event_detail) == unescape(session_detail) == "\x01odd"
    assert event_detail != "\x01odd"  # stored escaped
