"""Every SQL statement of the service, and the database exceptions the edge must know about."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson

from app.escaped import unescape

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


def is_statement_error(exc: BaseException) -> bool:
    """Raised by the server for this statement (its data), not for want of a database."""
    return isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, UNAVAILABLE_ERRORS)


def rows_param(rows: list[tuple[Any, ...]]) -> str:
    """Many rows as one jsonb parameter (unpacked in SQL with jsonb_array_elements).

    asyncpg encodes arrays element by element with an isinstance check each; for a batch's
    six or seven columns that cost more than the rest of the request. orjson writes the
    same rows in microseconds, datetimes as RFC 3339 UTC with microseconds.
    """
    return orjson.dumps(rows, option=orjson.OPT_UTC_Z).decode()


def plain(row: Any) -> dict[str, Any]:
    """A row as a dict, its `source_detail` as it was sent (it may be stored escaped)."""
    found = dict(row)
    found["source_detail"] = unescape(found["source_detail"])
    return found


def transaction(conn: Any) -> Any:
    """The one transaction of a use case; nested calls become savepoints."""
    return conn.transaction()


async def connect(database_url: str) -> Any:
    """A single connection, for the CLI and tests (the service uses the pool in lifespan)."""
    return await asyncpg.connect(database_url)


async def ping(conn: Any) -> None:
    await conn.fetchval("SELECT 1")
