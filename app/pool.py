"""The worker's asyncpg pool: how it is made, and how a request takes a connection from it."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.errors import Unavailable
from app.repository import UNAVAILABLE_ERRORS
from app.settings import Settings


async def create_pool(settings: Settings, database_url: str) -> Any:
    server_settings = {"application_name": "clone-recording"}
    if settings.statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.statement_timeout_ms)
    return await asyncpg.create_pool(
        database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        max_queries=settings.pool_max_queries,
        statement_cache_size=settings.statement_cache_size,
        server_settings=server_settings,
        reset=_keep_session,
    )


async def _keep_session(conn: Any) -> None:
    """Skip asyncpg's reset round trip on release: no request leaves session state behind.

    asyncpg still rolls back an open transaction before calling this; requests never LISTEN,
    take advisory locks, open cursors or SET anything.
    """


def unavailable(settings: Settings) -> Unavailable:
    return Unavailable(
        "database unavailable; retry the same request later",
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )


class connection:
    """A pooled connection for the block; 503 with Retry-After when none comes in time.

    A plain context manager: FastAPI's generator dependencies cost more than the rest of a
    request, and the group committer takes connections outside any request.
    """

    __slots__ = ("_conn", "_pool", "_settings")

    def __init__(self, pool: Any, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        try:
            self._conn = await self._pool.acquire(timeout=self._settings.pool_acquire_timeout)
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(self._settings) from exc
        return self._conn

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pool.release(self._conn)
