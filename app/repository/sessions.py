"""SQL for sessions: the claim (ownership + row locks), the bookend update, the reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.bookends import SessionChange
from app.repository import rows_param

_SESSION_COLUMNS = (
    "id, source, source_detail, started_at, ended_at, event_count, last_event_at, created_at"
)

# Claiming is two statements, each in id order. First the missing sessions are created for
# the requester (new rows stay locked by this transaction); then the ones that already
# existed are locked, FOR NO KEY UPDATE, and their owners read. Every transaction finishes
# its inserts before it takes any row lock, and takes both in the same order, so concurrent
# batches over the same sessions queue instead of deadlocking. A lock costs less than the
# no-op update (a whole new row version) that ON CONFLICT DO UPDATE would write.
_CREATE = """
INSERT INTO recording_session (id, user_id, source, source_detail, started_at)
SELECT c.r->>0, $1, c.r->>1, c.r->>2, (c.r->>3)::timestamptz
FROM jsonb_array_elements($2::jsonb) AS c(r)
ORDER BY c.r->>0
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

_LOCK = """
SELECT id, user_id FROM recording_session
WHERE id = ANY($1::text[])
ORDER BY id
FOR NO KEY UPDATE
"""

_APPLY = """
UPDATE recording_session AS s SET
    started_at = COALESCE(c.started_at, s.started_at),
    source = CASE WHEN c.started_at IS NULL THEN s.source ELSE c.source END,
    source_detail = CASE WHEN c.started_at IS NULL THEN s.source_detail ELSE c.source_detail END,
    ended_at = GREATEST(s.ended_at, c.ended_at),
    event_count = s.event_count + c.added,
    last_event_at = GREATEST(s.last_event_at, c.last_event_at)
FROM (
    SELECT r->>0 AS id, (r->>1)::timestamptz AS started_at, r->>2 AS source,
           r->>3 AS source_detail, (r->>4)::timestamptz AS ended_at, (r->>5)::int AS added,
           (r->>6)::timestamptz AS last_event_at
    FROM jsonb_array_elements($1::jsonb) AS r
) AS c
WHERE s.id = c.id
"""


async def claim_sessions(
    conn: Any, user_id: int, seeds: Sequence[SessionChange]
) -> dict[str, tuple[int, bool]]:
    """Create missing sessions for `user_id`, lock all; return {id: (owner id, created)}."""
    created_rows = await conn.fetch(
        _CREATE,
        user_id,
        rows_param([(s.session_id, s.source, s.source_detail, s.started_at) for s in seeds]),
    )
    claims = {row[0]: (user_id, True) for row in created_rows}
    existing = [s.session_id for s in seeds if s.session_id not in claims]
    if existing:
        for row in await conn.fetch(_LOCK, existing):
            claims[row[0]] = (row[1], False)
    return claims


async def apply_changes(conn: Any, changes: Sequence[SessionChange]) -> None:
    if not changes:
        return
    await conn.execute(
        _APPLY,
        rows_param(
            [
                (
                    c.session_id,
                    c.started_at,
                    c.source,
                    c.source_detail,
                    c.ended_at,
                    c.added,
                    c.last_event_at,
                )
                for c in changes
            ]
        ),
    )


async def delete_sessions(conn: Any, session_ids: Sequence[str]) -> None:
    """Undo sessions this transaction created but stored no event for."""
    if session_ids:
        await conn.execute(
            "DELETE FROM recording_session WHERE id = ANY($1::text[])", list(session_ids)
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
