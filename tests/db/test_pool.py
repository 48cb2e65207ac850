"""The worker's pool against the real database: how long a connection lives."""

from __future__ import annotations

import pytest

from app.pool import connection, create_pool
from app.settings import Settings

pytestmark = pytest.mark.in_process


async def backends(settings: Settings, database_url: str, statements: int) -> set[int]:
    """The backend pids that served `statements` statements, one a checkout, as the
    group committer's store slot takes them under load."""
    pool = await create_pool(settings, database_url)
    try:
        seen = set()
        for _ in range(statements):
            async with connection(pool, settings) as conn:
                seen.add(await conn.fetchval("SELECT pg_backend_pid()"))
        return seen
    finally:
        await pool.close()


async def test_the_store_connection_outlives_asyncpgs_default_of_50000_statements(
    settings: Settings, database_url: str
) -> None:
    # Replacing it stalled every batch queued behind the store slot (a new backend, then
    # the store statement prepared again): the slowest requests of a run ended there.
    assert settings.pool_max_queries > 50_000
    assert len(await backends(settings, database_url, 500)) == 1


async def test_a_connection_is_replaced_after_pool_max_queries(
    settings: Settings, database_url: str
) -> None:
    capped = settings.model_copy(update={"pool_max_queries": 100})
    assert len(await backends(capped, database_url, 250)) == 3
