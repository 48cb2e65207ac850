"""Retention: delete sessions idle since before a cutoff, a little at a time.

Each statement deletes at most `events_per_chunk` events in its own short transaction, so
locks and WAL come in small doses and ingest keeps its pace (an optional pause between
chunks gives it more room). Events that arrive while the purge runs are never deleted; a
session they revive stays. docs/decisions.md has the rules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app import audit
from app.repository import retention as retention_repo


@dataclass(slots=True)
class Purged:
    cutoff: datetime
    sessions: int = 0
    events: int = 0
    dry_run: bool = False


def cutoff_of(before: datetime | None, retention_days: int | None) -> datetime:
    """`before`, else now minus RETENTION_DAYS; ValueError when neither is set."""
    if before is not None:
        return before if before.tzinfo else before.replace(tzinfo=UTC)
    if retention_days is None:
        raise ValueError("nothing to purge by: set RETENTION_DAYS or give --before")
    return datetime.now(UTC) - timedelta(days=retention_days)


async def purge(
    conn: Any,
    cutoff: datetime,
    *,
    dry_run: bool = False,
    sessions_per_round: int = 200,
    events_per_chunk: int = 5000,
    pause: float = 0.0,
) -> Purged:
    if dry_run:
        sessions, events = await retention_repo.count_old(conn, cutoff)
        return Purged(cutoff, sessions, events, dry_run=True)
    started = datetime.now(UTC)
    done = Purged(cutoff)
    after = ""
    while ids := await retention_repo.old_sessions(conn, cutoff, after, sessions_per_round):
        after = ids[-1]
        while deleted := await retention_repo.delete_events_chunk(
            conn, ids, started, events_per_chunk
        ):
            done.events += deleted
            if pause:
                await asyncio.sleep(pause)
        done.sessions += await retention_repo.delete_sessions(conn, ids, cutoff)
    audit.record("purge", cutoff=cutoff.isoformat(), sessions=done.sessions, events=done.events)
    return done
