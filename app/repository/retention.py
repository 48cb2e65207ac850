"""SQL for purging old sessions in bounded chunks, so that ingest keeps its pace meanwhile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# A session is old when its last event (or, without one, its start) is before the cutoff.
_OLD = "coalesce(last_event_at, started_at) < $1"


async def count_old(conn: Any, cutoff: datetime) -> tuple[int, int]:
    """(sessions, events) a purge at `cutoff` would delete now."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS sessions, coalesce(sum(event_count), 0) AS events "
        f"FROM recording_session WHERE {_OLD}",
        cutoff,
    )
    return int(row["sessions"]), int(row["events"])


async def old_sessions(conn: Any, cutoff: datetime, after: str, limit: int) -> list[str]:
    """The next `limit` old sessions by id, after `after` (keyset pagination)."""
    rows = await conn.fetch(
        f"SELECT id FROM recording_session WHERE {_OLD} AND id > $2 ORDER BY id LIMIT $3",
        cutoff,
        after,
        limit,
    )
    return [row["id"] for row in rows]


async def delete_events_chunk(
    conn: Any, session_ids: list[str], received_before: datetime, limit: int
) -> int:
    """Delete at most `limit` events of these sessions that arrived before the purge began
    (one short transaction): a batch that revives an old session meanwhile keeps its own."""
    status: str = await conn.execute(
        "DELETE FROM recording_event WHERE ctid IN ("
        "  SELECT ctid FROM recording_event WHERE session_id = ANY($1::text[]) "
        "  AND received_at < $2 LIMIT $3)",
        session_ids,
        received_before,
        limit,
    )
    return int(status.split()[-1])


async def delete_sessions(conn: Any, session_ids: list[str], cutoff: datetime) -> int:
    """Delete these sessions if still old and empty (a batch may have arrived meanwhile)."""
    status: str = await conn.execute(
        f"DELETE FROM recording_session s WHERE id = ANY($2::text[]) AND {_OLD} "
        "AND NOT EXISTS (SELECT FROM recording_event e WHERE e.session_id = s.id)",
        cutoff,
        session_ids,
    )
    return int(status.split()[-1])
