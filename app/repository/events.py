"""SQL for reading events (they are written by the batch store, repository/batches.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from app.repository import plain

_SUMMARY_COLUMNS = (
    "e.id, e.session_id, e.type, e.source, e.source_detail, e.occurred_at, e.received_at"
)


async def get_event(conn: Any, event_id: str, user_id: int) -> dict[str, Any] | None:
    """One event with its payload text, only if its session belongs to `user_id`."""
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS}, e.payload::text AS payload FROM recording_event e "
        "JOIN recording_session s ON s.id = e.session_id "
        "WHERE e.id = $1 AND s.user_id = $2",
        event_id,
        user_id,
    )
    return plain(row) if row else None


async def list_session_events(
    conn: Any, session_id: str, *, after: tuple[datetime, int] | None, limit: int
) -> list[dict[str, Any]]:
    """Summaries oldest first, ties in arrival order, strictly after the (occurred_at, seq) key."""
    if after is None:
        rows = await conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS}, e.seq FROM recording_event e WHERE e.session_id = $1 "
            "ORDER BY e.occurred_at, e.seq LIMIT $2",
            session_id,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS}, e.seq FROM recording_event e WHERE e.session_id = $1 "
            "AND (e.occurred_at, e.seq) > ($2, $3) ORDER BY e.occurred_at, e.seq LIMIT $4",
            session_id,
            after[0],
            after[1],
            limit,
        )
    return [plain(row) for row in rows]


async def stored_ids(conn: Any, ids: list[str], user_id: int) -> set[str]:
    """Which of `ids` are stored in sessions of `user_id`."""
    rows = await conn.fetch(
        "SELECT e.id FROM recording_event e JOIN recording_session s ON s.id = e.session_id "
        "WHERE e.id = ANY($1::text[]) AND s.user_id = $2",
        ids,
        user_id,
    )
    return {row["id"] for row in rows}


async def stream_payloads(conn: Any, session_id: str, batch: int = 500) -> AsyncIterator[str]:
    """A session's payloads as stored (JSON text), oldest first, `batch` rows at a time
    from a server-side cursor: memory stays flat whatever the session's size. Runs in a
    read-only transaction of its own, so the export is one consistent snapshot."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        async for row in conn.cursor(
            "SELECT payload::text FROM recording_event WHERE session_id = $1 "
            "ORDER BY occurred_at, seq",
            session_id,
            prefetch=batch,
        ):
            yield row[0]
