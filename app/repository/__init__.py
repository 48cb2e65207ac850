"""Every SQL statement of the service, and the database exceptions the edge must know about."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

# Failures that mean "the database is not there right now": the request may be retried.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,
)

# Failures that are safe to retry at once inside the same request (the transaction rolled back).
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


def transaction(conn: Any) -> Any:
    """The one transaction of a use case; nested calls become savepoints."""
    return conn.transaction()


async def connect(database_url: str) -> Any:
    """A single connection, for the CLI and tests (the service uses the pool in lifespan)."""
    return await asyncpg.connect(database_url)


async def ping(conn: Any) -> None:
    await conn.fetchval("SELECT 1")
