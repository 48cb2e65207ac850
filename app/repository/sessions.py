"""SQL for reading sessions (they are written by the batch store, repository/batches.py)."""

from __future__ import annotations

from typing import Any

_SESSION_COLUMNS = (
    "id, source, source_detail, started_at, ended_at, event_count, last_event_at, created_at"
)


async def list_recent(conn: Any, user_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_SESSION_COLUMNS} FROM recording_session WHERE user_id = $1 "
        "ORDER BY started_at DESC, id DESC LIMIT $2",
        user_id,
        limit,
    )
    return [dict(row) for row in rows]


async def is_owned(conn: Any, session_id: str, user_id: int) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM recording_session WHERE id = $1 AND user_id = $2", session_id, user_id
    )
    return bool(found)


async def get_session(conn: Any, session_id: str) -> dict[str, Any] | None:
    """A session by id with its owner, for tests and tools."""
    row = await conn.fetchrow(
        f"SELECT user_id, {_SESSION_COLUMNS} FROM recording_session WHERE id = $1", session_id
    )
    return dict(row) if row else None
