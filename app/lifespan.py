"""What lives as long as the app: one asyncpg pool and the compiled validator."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import FastAPI

from app.embedded import resolve_database_url
from app.settings import Settings
from app.validation import EventValidator, load_schema


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    pool: Any
    validator: EventValidator


async def create_pool(settings: Settings, database_url: str) -> Any:
    server_settings = {"application_name": "clone-recording"}
    if settings.statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.statement_timeout_ms)
    return await asyncpg.create_pool(
        database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        statement_cache_size=settings.statement_cache_size,
        server_settings=server_settings,
        reset=_keep_session,
    )


async def _keep_session(conn: Any) -> None:
    """Skip asyncpg's reset round trip on release: no request leaves session state behind.

    asyncpg still rolls back an open transaction before calling this; requests never LISTEN,
    take advisory locks, open cursors or SET anything.
    """


def build_lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database_url = resolve_database_url(settings.database_url, settings.data_dir)
        pool = await create_pool(settings, database_url)
        validator = EventValidator(
            load_schema(),
            max_event_bytes=settings.max_event_bytes,
            max_depth=settings.max_nesting_depth,
        )
        app.state.resources = Resources(settings=settings, pool=pool, validator=validator)
        # Everything loaded so far lives as long as the process. Frozen, it is no longer
        # walked by every full collection: those walks were the slowest requests (1-event
        # batches, 2 workers: p99 64-95 ms -> 23 ms at the same p50 and throughput).
        gc.freeze()
        try:
            yield
        finally:
            await pool.close()

    return lifespan
