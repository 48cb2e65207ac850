"""SQL for reading sessions (they are written by the batch store, repository/batches.py)."""

from __future__ import annotations

from typing import Any

from app.repository import plain

_SESSION_COLUMNS = (
    "id, source, source_detail, started_at, ended_at, event_count, last_event_at, created_at"
)


_PREFIXED_COLUMNS = ", ".join(f"s.{column.strip()}" for column in _SESSION_COLUMNS.split(","))


async def list_recent(conn: Any, user_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_SESSION_COLUMNS} FROM recording_session WHERE user_id = $1 "
        "ORDER BY started_at DESC, id DESC LIMIT $2",
        user_id,
        limit,
    )
    return [plain(row) for row in rows]


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
    return plain(row) if row else None


async def get_owned(conn: Any, session_id: str, user_id: int) -> dict[str, Any] | None:
    """A session of `user_id` with its last stored event (by occurred_at, then arrival)."""
    row = await conn.fetchrow(
        f"SELECT {_PREFIXED_COLUMNS}, last.id AS last_event_id, "
        "last.occurred_at AS last_event_occurred_at "
        "FROM recording_session s LEFT JOIN LATERAL ("
        "  SELECT e.id, e.occurred_at FROM recording_event e WHERE e.session_id = s.id "
        "  ORDER BY e.occurred_at DESC, e.seq DESC LIMIT 1"
        ") last ON true WHERE s.id = $1 AND s.user_id = $2",
        session_id,
        user_id,
    )
    return plain(row) if row else None


# Integrity checks of one session, computed on read. Each row: a code and the ids involved
# (the first WARNING_IDS of them, in occurred_at order) with their count.
WARNING_IDS = 100
WARNINGS_SQL = f"""
WITH ev AS MATERIALIZED (
    SELECT e.id, e.type, e.occurred_at, e.seq,
           CASE WHEN e.type IN ('agent.tool_call', 'agent.tool_result')
                THEN e.payload->>'call_id' END AS call_id
    FROM recording_event e WHERE e.session_id = $1
),
last_stop AS (SELECT max(occurred_at) AS at FROM ev WHERE type = 'session.stopped'),
found AS (
    SELECT 'tool_call_without_result' AS code, c.id, c.occurred_at, c.seq
    FROM ev c
    WHERE c.type = 'agent.tool_call' AND c.call_id IS NOT NULL
      AND NOT EXISTS (SELECT FROM ev r WHERE r.type = 'agent.tool_result'
                      AND r.call_id = c.call_id)
    UNION ALL
    SELECT 'tool_result_without_call', r.id, r.occurred_at, r.seq
    FROM ev r
    WHERE r.type = 'agent.tool_result' AND r.call_id IS NOT NULL
      AND NOT EXISTS (SELECT FROM ev c WHERE c.type = 'agent.tool_call'
                      AND c.call_id = r.call_id)
    UNION ALL
    SELECT 'event_after_stop', e.id, e.occurred_at, e.seq
    FROM ev e, last_stop s
    WHERE e.occurred_at > s.at
    UNION ALL
    SELECT 'stop_without_start', e.id, e.occurred_at, e.seq
    FROM ev e
    WHERE e.type = 'session.stopped'
      AND NOT EXISTS (SELECT FROM ev b WHERE b.type = 'session.started')
)
SELECT code, count(*) AS count,
       (array_agg(id ORDER BY occurred_at, seq))[1:{WARNING_IDS}] AS event_ids
FROM found GROUP BY code ORDER BY code
"""


async def find_warnings(conn: Any, session_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(WARNINGS_SQL, session_id)
    return [dict(row) for row in rows]


async def delete_owned(conn: Any, session_id: str, user_id: int) -> int | None:
    """Delete a session of `user_id` and its events in one transaction; how many events
    went, or None when the user has no such session. The session row is deleted (and so
    locked) first: a batch storing into it meanwhile waits, then makes it anew."""
    async with conn.transaction():
        deleted = await conn.fetchval(
            "DELETE FROM recording_session WHERE id = $1 AND user_id = $2 RETURNING id",
            session_id,
            user_id,
        )
        if deleted is None:
            return None
        status: str = await conn.execute(
            "DELETE FROM recording_event WHERE session_id = $1", session_id
        )
    return int(status.split()[-1])
