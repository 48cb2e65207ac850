"""The one-statement batch store against the real database: bookends, ownership, the race."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from app import auth, ingest
from app.auth import Credential
from app.repository import api_keys as keys_repo
from app.repository import batches
from app.validation import Event
from tests.conftest import make_user
from tests.factories import unique

pytestmark = pytest.mark.in_process


def t(minute: int) -> datetime:
    return datetime(2026, 5, 5, 12, minute, tzinfo=UTC)


EMPTY = hashlib.sha256(b"{}").digest()


def ev(
    session: str,
    type_: str = "note",
    minute: int = 0,
    source: str = "cli",
    detail: str | None = None,
    index: int = 0,
) -> Event:
    return Event(index, unique("e"), session, type_, source, detail, t(minute), b"{}", EMPTY)


async def store(conn: Any, key: Credential, events: list[Event]) -> batches.Stored:
    [stored] = await batches.store_batches(conn, batches.pack([batches.Batch(key, events)]))
    return stored


async def store_full(conn: Any, key: Credential, events: list[Event]) -> batches.Stored:
    """The full statement alone, without the lean one before it."""
    [stored] = await batches.store_all(conn, batches.pack([batches.Batch(key, events)]))
    return stored


async def session_row(db: Any, sid: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM recording_session WHERE id = $1", sid)
    assert row is not None
    return dict(row)


@dataclass
class User:
    id: int
    key: Credential


async def new_user(app: FastAPI) -> User:
    user_id, key = await make_user(app)
    return User(user_id, auth.credential(key))


@pytest.fixture
async def user(app: FastAPI) -> User:
    return await new_user(app)


async def test_first_occurrence_of_an_id_wins() -> None:
    a, b = ev("s", index=0), ev("s", index=1)
    again = Event(2, a.id, "s", "note", "ide", None, t(5), b"{}", EMPTY)
    assert [e.index for e in ingest.first_occurrences([a, b, again])] == [0, 1]


async def test_new_session_without_start_is_anchored_on_its_earliest_event(
    db: Any, user: User
) -> None:
    sid = unique("s")
    stored = await store(
        db,
        user.key,
        [ev(sid, minute=5, source="ide"), ev(sid, minute=2, source="agent", detail="x")],
    )
    assert (stored.authorized, stored.count, stored.foreign) == (True, 2, [])
    row = await session_row(db, sid)
    assert (row["started_at"], row["source"], row["source_detail"]) == (t(2), "agent", "x")
    assert (row["event_count"], row["last_event_at"], row["ended_at"]) == (2, t(5), None)
    assert row["user_id"] == user.id
    assert row["started_by_event"] is False


async def test_earliest_ties_go_to_the_first_in_batch_order(db: Any, user: User) -> None:
    sid = unique("s")
    await store(db, user.key, [ev(sid, minute=2, source="ide"), ev(sid, minute=2)])
    assert (await session_row(db, sid))["source"] == "ide"


async def test_started_anchors_even_when_not_earliest(db: Any, user: User) -> None:
    sid = unique("s")
    await store(
        db, user.key, [ev(sid, minute=1, source="ide"), ev(sid, "session.started", 3, "sdk")]
    )
    row = await session_row(db, sid)
    assert (row["started_at"], row["source"]) == (t(3), "sdk")


async def test_last_started_in_batch_order_wins(db: Any, user: User) -> None:
    sid = unique("s")
    await store(db, user.key, [ev(sid, minute=0)])
    await store(
        db,
        user.key,
        [ev(sid, "session.started", 4, "ide"), ev(sid, "session.started", 1, "sdk", "d")],
    )
    row = await session_row(db, sid)
    assert (row["started_at"], row["source"], row["source_detail"]) == (t(1), "sdk", "d")


async def test_existing_session_without_start_keeps_its_anchor(db: Any, user: User) -> None:
    sid = unique("s")
    await store(db, user.key, [ev(sid, "session.started", 3, "ide", "x")])
    await store(db, user.key, [ev(sid, minute=1, source="agent", detail="y")])
    row = await session_row(db, sid)
    assert (row["started_at"], row["source"], row["source_detail"]) == (t(3), "ide", "x")
    assert (row["event_count"], row["last_event_at"]) == (2, t(3))
    assert row["started_by_event"] is True


async def test_the_latest_stop_ends_and_an_earlier_one_never_moves_it_back(
    db: Any, user: User
) -> None:
    sid = unique("s")
    await store(db, user.key, [ev(sid, "session.stopped", 9), ev(sid, "session.stopped", 7)])
    assert (await session_row(db, sid))["ended_at"] == t(9)
    await store(db, user.key, [ev(sid, "session.stopped", 8)])
    assert (await session_row(db, sid))["ended_at"] == t(9)


async def test_stored_ids_are_not_counted_again(db: Any, user: User) -> None:
    sid = unique("s")
    first = [ev(sid, minute=1), ev(sid, minute=2)]
    await store(db, user.key, first)
    stored = await store(db, user.key, [first[1], ev(sid, minute=3)])
    assert stored.count == 1
    row = await session_row(db, sid)
    assert (row["event_count"], row["last_event_at"]) == (3, t(3))


async def test_events_of_another_users_session_are_reported_not_stored(
    app: FastAPI, db: Any, user: User
) -> None:
    other = await new_user(app)
    theirs, mine = unique("s"), unique("s")
    await store(db, other.key, [ev(theirs)])
    batch = [ev(mine, index=0), ev(theirs, index=1), ev(mine, index=2)]
    stored = await store(db, user.key, batch)
    assert stored.count == 2
    assert stored.foreign == [1]
    assert (await session_row(db, theirs))["event_count"] == 1
    assert (await session_row(db, mine))["user_id"] == user.id


@dataclass
class Race:
    """`user`'s batch, with an event in a session that `other` creates meanwhile."""

    other: User
    mine: str
    contested: str
    batch: list[Event]


async def race(app: FastAPI, db: Any, user: User, store_with: Any) -> tuple[Race, Any]:
    """`store_with` stores the batch while the other user's transaction holds the new
    session's row; that commits once the store waits on it. The store's outcome, or its
    error."""
    other = await new_user(app)
    contested, mine = unique("s"), unique("s")
    found = Race(other, mine, contested, [ev(mine, index=0), ev(contested, index=1)])
    pool = app.state.resources.pool
    async with pool.acquire() as rival, pool.acquire() as racer:
        tx = rival.transaction()
        await tx.start()
        await store(rival, other.key, [ev(contested)])
        racing = asyncio.create_task(store_with(racer, user.key, found.batch))
        await asyncio.sleep(0.3)  # the store now waits on the rival's session row
        assert not racing.done()
        assert await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", mine) == 0
        await tx.commit()
        [outcome] = await asyncio.gather(racing, return_exceptions=True)
    return found, outcome


async def test_a_session_created_by_another_user_meanwhile_undoes_the_whole_statement(
    app: FastAPI, db: Any, user: User
) -> None:
    """The other user's uncommitted session is not in the snapshot; the upsert finds it."""
    found, outcome = await race(app, db, user, store_full)
    assert isinstance(outcome, asyncpg.SerializationError)
    assert (
        await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", found.mine) == 0
    )
    ids = [e.id for e in found.batch]
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE id = ANY($1)", ids) == 0
    # The service retries: the new snapshot sees the owner, and stores the rest.
    stored = await store(db, user.key, found.batch)
    assert (stored.count, stored.foreign) == (1, [1])


async def test_the_lean_statement_undoes_itself_in_that_race_and_the_full_one_decides(
    app: FastAPI, db: Any, user: User
) -> None:
    """Its upsert skips the other user's session: its counts tell, it rolls back, and the
    full statement, with a snapshot that sees the owner, stores the rest."""
    found, stored = await race(app, db, user, store)
    assert (stored.count, stored.foreign, stored.repeated) == (1, [1], [])
    assert (await session_row(db, found.mine))["event_count"] == 1
    contested = await session_row(db, found.contested)
    assert (contested["user_id"], contested["event_count"]) == (found.other.id, 1)
    assert (
        await db.fetchval("SELECT count(*) FROM recording_event WHERE id = $1", found.batch[1].id)
        == 0
    )


async def test_a_revoked_key_stores_nothing(db: Any, user: User) -> None:
    assert await keys_repo.revoke_key(db, user.key.prefix)
    sid = unique("s")
    stored = await store(db, user.key, [ev(sid)])
    assert (stored.authorized, stored.count) == (False, 0)
    assert await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", sid) == 0


async def test_both_statements_keep_a_generic_plan(db: Any, user: User) -> None:
    """A statement planned at every execution cost ~0.9 ms more per batch in PostgreSQL;
    the planner keeps a custom plan when it sizes a parameter by its value (arrays did).
    New events take the lean statement; re-sent ones, after it, the full one."""
    sent = [[ev(unique("s"))] for _ in range(8)]
    for events in sent:
        await store(db, user.key, events)
    for events in sent:
        assert (await store(db, user.key, events)).repeated == [0]
    for sql in (batches.STORE_NEW_SQL, batches.STORE_BATCHES_SQL):
        plans = await db.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            sql,
        )
        assert plans is not None
        assert plans["generic_plans"] >= 3
