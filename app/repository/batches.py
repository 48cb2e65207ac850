"""The batch store: one statement that claims sessions, inserts events and applies bookends.

One statement in autocommit is one transaction and one round trip, where the same work as
separate statements (the key lookup, then BEGIN … COMMIT) took seven. Its parts, in order:

- `caller`: the user of the presented key, if it is live (the lookup of
  repository/api_keys.py); without one, nothing below writes, and the caller is told.
- `batch`: the batch's first occurrences, envelope columns as one jsonb array of rows,
  payloads as bytea[] of the UTF-8 JSON that orjson wrote (cast to json here: jsonb
  cannot hold U+0000), zipped by ROWS FROM, numbered in batch order and given their `seq`
  (arrival order) in that order. Bytes spare Python a decode and asyncpg a re-encode per
  payload (text[] cost 0.3 ms more per 100 events).
- `foreign_sessions`: sessions of the batch that belong to another user, as of the
  statement's snapshot; their events are not stored, and reported by position. The
  lookup is a function (migration 0006) so that it stays an index lookup even when the
  statistics last saw a small session table.
- `inserted`: the new events, ON CONFLICT DO NOTHING: an id stored before, or by a
  concurrent batch, is a duplicate. Rows go in id order: two batches sharing ids then wait
  for each other in one direction only, never in a cycle (a deadlock costs a second).
- `changes`: what the stored events do to each session. The anchor is the last
  `session.started` in batch order, else the earliest event (first in batch order on ties);
  the end candidate is the latest `session.stopped`.
- `claimed`: the session upsert, in id order so concurrent batches queue instead of
  deadlocking. A new session takes the anchor; an existing one is re-anchored only by a new
  `session.started`; `ended_at` and `last_event_at` only move later. It updates only the
  caller's sessions. A session that another user created after the snapshot is skipped by
  that condition, and `recording_session_race()` (migration 0004) then raises
  serialization_failure, which rolls the whole statement back for a retry that sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.auth import Credential
from app.repository import rows_param
from app.repository.api_keys import ACTIVE_KEY_USER_SQL
from app.validation import Event

STARTED = "session.started"
STOPPED = "session.stopped"

STORE_BATCH_SQL = f"""
WITH caller AS (
    {ACTIVE_KEY_USER_SQL}
),
batch AS MATERIALIZED (
    SELECT e.ord, e.r->>0 AS id, e.r->>1 AS session_id, e.r->>2 AS type, e.r->>3 AS source,
           e.r->>4 AS source_detail, (e.r->>5)::timestamptz AS occurred_at, e.payload,
           nextval('recording_event_seq_seq') AS seq
    FROM ROWS FROM (jsonb_array_elements($3::jsonb), unnest($4::bytea[]))
         WITH ORDINALITY AS e(r, payload, ord)
),
foreign_sessions AS (
    SELECT f.id FROM caller k,
        recording_foreign_sessions(ARRAY(SELECT DISTINCT b.session_id FROM batch b), k.user_id)
        AS f(id)
),
inserted AS (
    INSERT INTO recording_event
        (id, seq, session_id, type, source, source_detail, occurred_at, payload)
    SELECT b.id, b.seq, b.session_id, b.type, b.source, b.source_detail, b.occurred_at,
           convert_from(b.payload, 'UTF8')::json
    FROM batch b
    WHERE EXISTS (SELECT FROM caller)
      AND b.session_id NOT IN (SELECT f.id FROM foreign_sessions f)
    ORDER BY b.id
    ON CONFLICT (id) DO NOTHING
    RETURNING seq, session_id, type, source, source_detail, occurred_at
),
changes AS (
    SELECT DISTINCT ON (i.session_id)
        i.session_id,
        i.type = '{STARTED}' AS restarts,
        i.occurred_at AS anchor_at, i.source, i.source_detail,
        count(*) OVER w AS added,
        max(i.occurred_at) OVER w AS last_event_at,
        max(i.occurred_at) FILTER (WHERE i.type = '{STOPPED}') OVER w AS ended_at
    FROM inserted i
    WINDOW w AS (PARTITION BY i.session_id)
    ORDER BY i.session_id, i.type = '{STARTED}' DESC,
             CASE WHEN i.type = '{STARTED}' THEN i.seq END DESC, i.occurred_at, i.seq
),
claimed AS (
    INSERT INTO recording_session AS s
        (id, user_id, source, source_detail, started_at, started_by_event, ended_at,
         event_count, last_event_at)
    SELECT c.session_id, k.user_id, c.source, c.source_detail, c.anchor_at, c.restarts,
           c.ended_at, c.added, c.last_event_at
    FROM changes c, caller k
    ORDER BY c.session_id
    ON CONFLICT (id) DO UPDATE SET
        started_at = CASE WHEN excluded.started_by_event THEN excluded.started_at
                          ELSE s.started_at END,
        source = CASE WHEN excluded.started_by_event THEN excluded.source ELSE s.source END,
        source_detail = CASE WHEN excluded.started_by_event THEN excluded.source_detail
                             ELSE s.source_detail END,
        started_by_event = s.started_by_event OR excluded.started_by_event,
        ended_at = GREATEST(s.ended_at, excluded.ended_at),
        event_count = s.event_count + excluded.event_count,
        last_event_at = GREATEST(s.last_event_at, excluded.last_event_at)
    WHERE s.user_id = excluded.user_id
    RETURNING s.id
)
SELECT
    EXISTS (SELECT FROM caller) AS authorized,
    (SELECT count(*) FROM inserted) AS stored,
    ARRAY(
        SELECT b.ord FROM batch b JOIN foreign_sessions f ON f.id = b.session_id ORDER BY b.ord
    ) AS foreign_positions,
    CASE WHEN (SELECT count(*) FROM claimed) < (SELECT count(*) FROM changes)
         THEN recording_session_race() ELSE true END AS claimed_all
"""


@dataclass(frozen=True, slots=True)
class Rows:
    """A batch as the statement's parameters, packed once: a retry reuses them."""

    envelope: str
    payloads: list[bytes]


def pack(events: Sequence[Event]) -> Rows:
    return Rows(
        envelope=rows_param(
            [(e.id, e.session_id, e.type, e.source, e.source_detail, e.occurred_at) for e in events]
        ),
        payloads=[e.payload for e in events],
    )


@dataclass(frozen=True, slots=True)
class Stored:
    authorized: bool  # False: the key is not live, and nothing was stored
    count: int
    foreign: list[int]  # positions (from 0) of rows not stored: another user's session


async def store_batch(conn: Any, caller: Credential, rows: Rows) -> Stored:
    """Store what is new of the packed events (distinct ids) for the key's user, atomically."""
    row = await conn.fetchrow(
        STORE_BATCH_SQL, caller.prefix, caller.digest, rows.envelope, rows.payloads
    )
    return Stored(
        row["authorized"], row["stored"], [position - 1 for position in row["foreign_positions"]]
    )
