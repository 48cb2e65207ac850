"""Retention: old sessions go, in small statements; new ones, and new arrivals, stay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app import retention
from tests.conftest import Producer
from tests.factories import event, unique
from tests.live import run

pytestmark = pytest.mark.in_process
# Long before the other tests' events (2026): a purge here touches only this module's.
CUTOFF = datetime(2001, 1, 1, 0, 30, tzinfo=UTC)


async def seed(producer: Producer, minute: int, count: int) -> str:
    session = unique("ret")
    batch = [event(session, occurred_at=f"2001-01-01T00:{minute:02d}:{s:02d}Z")
             for s in range(count)]  # fmt: skip
    assert (await producer.post(batch)).status_code == 201
    return session


async def events_in(db: Any, session: str) -> int:
    return int(await db.fetchval(
        "SELECT count(*) FROM recording_event WHERE session_id = $1", session))  # fmt: skip


async def test_old_sessions_go_whole_in_small_chunks_and_new_ones_stay(
    alice: Producer, db: Any
) -> None:
    old = [await seed(alice, 1, 7), await seed(alice, 2, 3)]
    new = await seed(alice, 45, 4)
    dry = await retention.purge(db, CUTOFF, dry_run=True)
    assert (dry.dry_run, dry.sessions, dry.events) == (True, 2, 10)
    assert await events_in(db, old[0]) == 7  # a dry run deletes nothing
    done = await retention.purge(db, CUTOFF, events_per_chunk=2, sessions_per_round=1)
    assert (done.sessions, done.events) == (2, 10)
    for session in old:
        assert await events_in(db, session) == 0
        assert await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1",
                                 session) == 0  # fmt: skip
    assert await events_in(db, new) == 4


async def test_events_that_arrive_during_a_purge_are_kept(alice: Producer, db: Any) -> None:
    session = await seed(alice, 3, 2)
    # A purge that began earlier than these events arrived deletes none of them, and the
    # session, revived by a later event, stays.
    await alice.post([event(session, occurred_at="2001-01-01T01:00:00Z")])
    started_long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    from app.repository import retention as repo

    ids = await repo.old_sessions(db, datetime(2001, 1, 1, 0, 59, tzinfo=UTC), "", 1000)
    assert session not in ids  # its last event is now after that cutoff
    assert await repo.delete_events_chunk(db, [session], started_long_ago, 100) == 0
    assert await events_in(db, session) == 3


def test_the_cutoff_comes_from_before_or_retention_days() -> None:
    assert retention.cutoff_of(datetime(2026, 1, 2), None) == datetime(2026, 1, 2, tzinfo=UTC)
    recent = retention.cutoff_of(None, 30)
    assert 29.9 < (datetime.now(UTC) - recent).total_seconds() / 86400 < 30.1
    with pytest.raises(ValueError, match="set RETENTION_DAYS or give --before"):
        retention.cutoff_of(None, None)


def test_purge_from_the_command_line(cli_env: dict[str, str]) -> None:
    dry = run(cli_env, "purge", "--before", "2000-01-01", "--dry-run")
    assert dry.stdout.startswith("would delete 0 sessions and 0 events idle since before 2000")
    done = run(cli_env, "purge", "--before", "2000-01-01")
    assert done.stdout.startswith("deleted 0 sessions")
    assert '"audit":"purge"' in done.stderr
    refused = run({k: v for k, v in cli_env.items() if k != "RETENTION_DAYS"}, "purge", ok=False)
    assert "set RETENTION_DAYS or give --before" in refused.stderr + refused.stdout
