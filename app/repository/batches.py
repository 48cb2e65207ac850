"""The batch store: one statement stores a group of batches, each for its key's user.

One statement in autocommit is one transaction and one round trip, where the same work as
separate statements (the key lookup, then BEGIN … COMMIT) took seven. A group of
concurrent requests' batches (app/group_commit.py) shares that statement: its fixed cost
(the commit, the executor's start) was most of a 1-event batch's cost in PostgreSQL. The
batches of a group hold distinct event ids and distinct sessions, so the group's outcome
is that of storing them one after the other.

Most groups are all new: live keys, sessions new or their callers' own, ids never stored.
Their outcome is only counts, so a lean statement (`STORE_NEW_SQL`) stores them first,
without the lookups that find foreign sessions and repeated ids; it checks its own counts
and rolls itself back when the group was not all new, and the full statement
(`STORE_BATCHES_SQL`) stores it instead. The lean one costs ~0.2 ms less in PostgreSQL
per statement (0.59 against 0.77-0.87 ms for a lone 1-event batch, serial); a group that
is not all new costs one lean statement more. The full statement's parts, in order:

- `callers`: each batch's key, and its user if the key is live (the lookup of
  repository/api_keys.py); a batch without one writes nothing, and its caller is told.
  The keys come as jsonb, not arrays: the planner sizes an array parameter by its value,
  so a custom plan looked cheaper than the generic one and the statement was planned
  again at every execution (1.6 ms instead of 1.0 for a lone 1-event batch).
- `batch`: the rows of every batch (tagged by batch and position), envelope columns as
  one jsonb array of rows, payloads as bytea[] of the UTF-8 JSON that orjson wrote (cast
  to json here: jsonb cannot hold U+0000), zipped by ROWS FROM, and given their `seq`
  (arrival order) in that order. Bytes spare Python a decode and asyncpg a re-encode per
  payload (text[] cost 0.3 ms more per 100 events).
- `owners`: each session of the group with the user whose batch holds it.
- `foreign_sessions`: those that belong to another user, as of the statement's snapshot;
  their events are not stored, and reported by position. The owners' lookup is a function
  (migrations 0006, 0008) so that it stays an index lookup even when the statistics last
  saw a small session table.
- `inserted`: the new events, ON CONFLICT DO NOTHING: an id stored before, or by a
  concurrent statement, is a duplicate. Each carries its payload's SHA-256 (`digest`).
  Rows go in id order: two statements sharing ids then wait for each other in one
  direction only, never in a cycle (a deadlock costs a second).
- `repeated`: the rows that were not inserted (their key was live, their session not
  foreign), with the digest stored under their id as of the statement's snapshot: another
  digest makes a conflict. A row stored by a concurrent statement after the snapshot is not
  seen here (`stored_digest` NULL); the group committer looks it up afterwards. Only these
  rows are looked up, so new events cost nothing more.
- `changes`: what the stored events do to each session. The anchor is the last
  `session.started` in batch order, else the earliest event (first in batch order on ties);
  the end candidate is the latest `session.stopped`.
- `claimed`: the session upsert, in id order so concurrent statements queue instead of
  deadlocking. A new session takes the anchor; an existing one is re-anchored only by a new
  `session.started`; `ended_at` and `last_event_at` only move later. It updates only the
  owner's sessions. A session that another user created after the snapshot is skipped by
  that condition, and `recording_session_race()` (migration 0004) then raises
  serialization_failure, which rolls the whole statement back for a retry that sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.auth import Credential
from app.escaped import escape
from app.repository import rows_param
from app.repository.api_keys import active_key_user_sql
from app.validation import Event

STARTED = "session.started"
STOPPED = "session.stopped"

# The parts both store statements share: the callers' users, the rows, the sessions' owners
# (`WITH` ... `owners`), and what the new events do to their sessions (`changes`, `claimed`).
_READ = f"""
WITH callers AS MATERIALIZED (
    SELECT c.job, ({active_key_user_sql("c.k->>0", "decode(c.k->>1, 'hex')")}) AS user_id
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS c(k, job)
),
batch AS MATERIALIZED (
    SELECT (e.r->>0)::int AS job, (e.r->>1)::int AS pos, e.r->>2 AS id, e.r->>3 AS session_id,
           e.r->>4 AS type, e.r->>5 AS source, e.r->>6 AS source_detail,
           (e.r->>7)::timestamptz AS occurred_at, e.payload, e.digest,
           nextval('recording_event_seq_seq') AS seq
    FROM ROWS FROM (jsonb_array_elements($2::jsonb), unnest($3::bytea[]), unnest($4::bytea[]))
        AS e(r, payload, digest)
),
owners AS MATERIALIZED (
    SELECT DISTINCT b.session_id, k.user_id
    FROM batch b JOIN callers k ON k.job = b.job
    WHERE k.user_id IS NOT NULL
),
"""
_SESSIONS = f"""\
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
    SELECT c.session_id, o.user_id, c.source, c.source_detail, c.anchor_at, c.restarts,
           c.ended_at, c.added, c.last_event_at
    FROM changes c JOIN owners o ON o.session_id = c.session_id
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
)"""


def _inserted(rows: str) -> str:
    """The CTE that inserts the events of `rows` (a FROM clause over `batch b`), in id
    order, and returns those it stored."""
    return f"""\
inserted AS (
    INSERT INTO recording_event
        (id, seq, session_id, type, source, source_detail, occurred_at, payload, digest)
    SELECT b.id, b.seq, b.session_id, b.type, b.source, b.source_detail, b.occurred_at,
           convert_from(b.payload, 'UTF8')::json, b.digest
    FROM {rows}
    ORDER BY b.id
    ON CONFLICT (id) DO NOTHING
    RETURNING id, seq, session_id, type, source, source_detail, occurred_at
),
"""


STORE_BATCHES_SQL = (
    _READ
    + """\
foreign_sessions AS (
    SELECT f.id
    FROM recording_session_owners(ARRAY(SELECT o.session_id FROM owners o)) AS f
    JOIN owners o ON o.session_id = f.id
    WHERE f.user_id <> o.user_id
),
"""
    + _inserted(
        """batch b JOIN owners o ON o.session_id = b.session_id
    WHERE b.session_id NOT IN (SELECT f.id FROM foreign_sessions f)"""
    )
    + _SESSIONS
    + """,
stored AS (
    SELECT b.job, count(*) AS n FROM inserted i JOIN batch b ON b.id = i.id GROUP BY b.job
),
repeated AS (
    SELECT b.job, b.pos, b.digest, e.digest AS stored_digest
    FROM batch b JOIN owners o ON o.session_id = b.session_id
    LEFT JOIN recording_event e ON e.id = b.id
    WHERE NOT EXISTS (SELECT FROM inserted i WHERE i.id = b.id)
      AND b.session_id NOT IN (SELECT f.id FROM foreign_sessions f)
)
SELECT
    k.user_id IS NOT NULL AS authorized,
    coalesce(s.n, 0) AS stored,
    ARRAY(
        SELECT b.pos FROM batch b JOIN foreign_sessions f ON f.id = b.session_id
        WHERE b.job = k.job ORDER BY b.pos
    ) AS foreign_positions,
    ARRAY(SELECT r.pos FROM repeated r WHERE r.job = k.job ORDER BY r.pos) AS repeated_positions,
    ARRAY(
        SELECT r.pos FROM repeated r
        WHERE r.job = k.job AND r.stored_digest <> r.digest ORDER BY r.pos
    ) AS conflict_positions,
    ARRAY(
        SELECT r.pos FROM repeated r
        WHERE r.job = k.job AND r.stored_digest IS NULL ORDER BY r.pos
    ) AS unseen_positions,
    (SELECT CASE WHEN (SELECT count(*) FROM claimed) < (SELECT count(*) FROM changes)
                 THEN recording_session_race() ELSE true END) AS claimed_all
FROM callers k LEFT JOIN stored s ON s.job = k.job
ORDER BY k.job
"""
)

# The common case, all new: every key live, every session new or its caller's, no id stored
# before. Its outcome is only counts, so this statement stores the rows without the
# foreign-session and repeated-id lookups, then checks its own counts; when the group was
# not all new, recording_store_fallback() (migration 0013) raises, which rolls it back, and
# the full statement above stores the group instead.
STORE_NEW_SQL = (
    _READ
    + _inserted("batch b")
    + _SESSIONS
    + """
SELECT CASE WHEN EXISTS (SELECT FROM callers k WHERE k.user_id IS NULL)
              OR (SELECT count(*) FROM inserted) < (SELECT count(*) FROM batch)
              OR (SELECT count(*) FROM claimed) < (SELECT count(*) FROM changes)
            THEN recording_store_fallback() ELSE true END AS all_new
"""
)
# Raised by recording_store_fallback().
NOT_ALL_NEW = "RC001"


@dataclass(frozen=True, slots=True)
class Batch:
    """One request's events, first occurrences only (distinct ids), for the key's user."""

    caller: Credential
    events: Sequence[Event]


@dataclass(frozen=True, slots=True)
class Rows:
    """A group of batches as the statement's parameters, packed once: a retry reuses them."""

    callers: str
    envelope: str
    payloads: list[bytes]
    digests: list[bytes]
    sizes: list[int]  # each batch's events


def pack(group: Sequence[Batch]) -> Rows:
    """The batches of a group: distinct event ids and distinct sessions across batches."""
    return Rows(
        callers=rows_param([(batch.caller.prefix, batch.caller.digest.hex()) for batch in group]),
        envelope=rows_param(
            [
                (
                    job,
                    pos,
                    e.id,
                    e.session_id,
                    e.type,
                    e.source,
                    escape(e.source_detail),
                    e.occurred_at,
                )
                for job, batch in enumerate(group, 1)
                for pos, e in enumerate(batch.events)
            ]
        ),
        payloads=[e.payload for batch in group for e in batch.events],
        digests=[e.digest for batch in group for e in batch.events],
        sizes=[len(batch.events) for batch in group],
    )


@dataclass(frozen=True, slots=True)
class Stored:
    """One batch's outcome; positions count from 0 in the batch's events."""

    authorized: bool  # False: the key is not live, and nothing was stored
    count: int
    foreign: list[int]  # not stored: another user's session
    repeated: list[int] = field(default_factory=list)  # not stored: the id was there
    conflicts: list[int] = field(default_factory=list)  # repeated, with another digest
    unseen: list[int] = field(default_factory=list)  # repeated, stored by a concurrent
    # statement after this one's snapshot: its digest is still to be compared
    scope: str | None = None  # when not authorized: the scope of a live key that may not ingest


async def store_batches(conn: Any, rows: Rows) -> list[Stored]:
    """Store what is new of each packed batch for its key's user, all atomically; one
    outcome per batch, in order."""
    outcomes = await store_new(conn, rows)
    return outcomes if outcomes is not None else await store_all(conn, rows)


async def store_new(conn: Any, rows: Rows) -> list[Stored] | None:
    """The lean statement: the outcomes if the group was all new, else None (and nothing
    stored)."""
    try:
        await conn.fetch(STORE_NEW_SQL, rows.callers, rows.envelope, rows.payloads, rows.digests)
    except asyncpg.PostgresError as exc:
        if exc.sqlstate != NOT_ALL_NEW:
            raise
        return None
    return [Stored(True, size, []) for size in rows.sizes]


async def store_all(conn: Any, rows: Rows) -> list[Stored]:
    """The full statement, whatever the group holds."""
    records = await conn.fetch(
        STORE_BATCHES_SQL, rows.callers, rows.envelope, rows.payloads, rows.digests
    )
    return [
        Stored(
            record["authorized"],
            record["stored"],
            record["foreign_positions"],
            record["repeated_positions"],
            record["conflict_positions"],
            record["unseen_positions"],
        )
        for record in records
    ]


async def stored_digests(conn: Any, ids: list[str]) -> dict[str, bytes]:
    """The digests stored under `ids` now (a fresh snapshot: concurrent commits included)."""
    rows = await conn.fetch("SELECT id, digest FROM recording_event WHERE id = ANY($1)", ids)
    return {row["id"]: row["digest"] for row in rows}


async def preview(
    conn: Any, session_ids: list[str], ids: list[str]
) -> tuple[dict[str, int], dict[str, bytes]]:
    """For a dry run: the owners of `session_ids` that exist, and the digests stored under
    `ids` that exist (one snapshot for both)."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        owners = await conn.fetch(
            "SELECT id, user_id FROM recording_session_owners($1::text[])", session_ids
        )
        digests = await stored_digests(conn, ids)
    return {row["id"]: row["user_id"] for row in owners}, digests
