"""SQL for events: the set-based insert that decides duplicates, and the reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.repository import rows_param
from app.validation import Event

# Rows go in batch order, so `seq` (arrival order) follows the batch. Envelope columns come
# as one jsonb array of rows; payloads as text (jsonb cannot hold U+0000), zipped by ROWS FROM.
INSERT_EVENTS_SQL = """
INSERT INTO recording_event (id, session_id, type, source, source_detail, occurred_at, payload)
SELECT e.r->>0, e.r->>1, e.r->>2, e.r->>3, e.r->>4, (e.r->>5)::timestamptz, e.payload::json
FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest($2::text[])) AS e(r, payload)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

_SUMMARY_COLUMNS = (
    "e.id, e.session_id, e.type, e.source, e.source_detail, e.occurred_at, e.received_at"
)


async def insert_events(conn: Any, events: Sequence[Event]) -> set[str]:
    """Insert what is new; return the ids actually stored (the rest were duplicates)."""
    if not events:
        return set()
    envelope = rows_param(
        [(e.id, e.session_id, e.type, e.source, e.source_detail, e.occurred_at) for e in events]
    )
    rows = await conn.fetch(INSERT_EVENTS_SQL, envelope, [e.payload for e in events])
    return {row[0] for row in rows}


async def get_event(conn: Any, event_id: str, user_id: int) -> dict[str, Any] | None:
    """One event with its payload text, only if its session belongs to `user_id`."""
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS}, e.payload::text AS payload FROM recording_event e "
        "JOIN recording_session s ON s.id = e.session_id "
        "WHERE e.id = $1 AND s.user_id = $2",
        event_id,
        user_id,
    )
    return dict(row) if row else None


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
    return [dict(row) for row in rows]
