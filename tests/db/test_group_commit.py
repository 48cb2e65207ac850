"""Group commit against the real database: which batches share a statement, and what each
request is told. A gate holds the first statement open while the others queue."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from app import auth
from app.group_commit import SOLO_BYTES, GroupCommitter
from app.pool import connection
from app.repository import api_keys as keys_repo
from app.repository.batches import STORE_BATCHES_SQL, STORE_NEW_SQL, Batch, Stored
from app.validation import Event
from tests.conftest import make_user
from tests.factories import unique

pytestmark = pytest.mark.in_process

WHEN = datetime(2026, 5, 5, 12, tzinfo=UTC)


def ev(session: str, event_id: str | None = None, payload: bytes = b"{}", minute: int = 0) -> Event:
    when = WHEN.replace(minute=minute)
    digest = hashlib.sha256(payload).digest()
    return Event(0, event_id or unique("e"), session, "note", "cli", None, when, payload, digest)


class Gate:
    """The app's pool behind a gate, counting the connections taken and the store
    statements sent on them: each store begins with the lean statement (`statements`);
    a group that was not all new then takes the full one (`fallbacks`)."""

    def __init__(self, app: FastAPI) -> None:
        self.resources = app.state.resources
        self.open = asyncio.Event()
        self.taken = 0
        self.statements = 0
        self.fallbacks = 0
        self.lose_at = 0  # the store statement (1, 2, ...) whose connection is lost

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        self.taken += 1
        await self.open.wait()
        async with connection(self.resources.pool, self.resources.settings) as conn:
            yield Counted(conn, self)


class Counted:
    """A pooled connection that counts the store statements sent on it."""

    def __init__(self, conn: Any, gate: Gate) -> None:
        self._conn, self._gate = conn, gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def fetch(self, query: str, *args: Any) -> Any:
        if query == STORE_BATCHES_SQL:
            self._gate.fallbacks += 1
        if query == STORE_NEW_SQL:
            self._gate.statements += 1
            if self._gate.statements == self._gate.lose_at:
                raise asyncpg.ConnectionDoesNotExistError("connection lost (injected)")
        return await self._conn.fetch(query, *args)


@pytest.fixture
def gate(app: FastAPI) -> Gate:
    return Gate(app)


async def credential(app: FastAPI) -> tuple[int, auth.Credential]:
    user_id, key = await make_user(app)
    return user_id, auth.credential(key)


def committer(gate: Gate, max_group_events: int = 1000) -> GroupCommitter:
    return GroupCommitter(gate.connect, concurrency=1, max_group_events=max_group_events)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def occupy(store: GroupCommitter, caller: auth.Credential) -> asyncio.Task[Stored]:
    """A first 1-event batch, sent at once: it holds the only slot, waiting at the gate."""
    first = asyncio.create_task(store.store(Batch(caller, [ev(unique("s"))])))
    await settle()
    return first


async def test_batches_that_arrive_meanwhile_share_the_next_statement(
    app: FastAPI, gate: Gate, db: Any
) -> None:
    (alice_id, alice), (bob_id, bob) = await credential(app), await credential(app)
    store = committer(gate)
    first = await occupy(store, alice)
    sessions = [unique("s") for _ in range(3)]
    queued = [
        asyncio.create_task(store.store(Batch(alice, [ev(sessions[0]), ev(sessions[0])]))),
        asyncio.create_task(store.store(Batch(bob, [ev(sessions[1])]))),
        asyncio.create_task(store.store(Batch(alice, []))),  # nothing to store: the key only
    ]
    await settle()
    gate.open.set()
    outcomes = [await first, *await asyncio.gather(*queued)]
    assert [(o.authorized, o.count, o.foreign) for o in outcomes] == [
        (True, 1, []),
        (True, 2, []),
        (True, 1, []),
        (True, 0, []),
    ]
    assert gate.statements == 2
    assert gate.taken == 1  # the second statement went on the first one's connection
    owners = await db.fetch(
        "SELECT id, user_id, event_count FROM recording_session WHERE id = ANY($1)", sessions
    )
    assert {(r["id"], r["user_id"], r["event_count"]) for r in owners} == {
        (sessions[0], alice_id, 2),
        (sessions[1], bob_id, 1),
    }


async def test_each_batch_of_a_group_gets_its_own_outcome(
    app: FastAPI, gate: Gate, db: Any
) -> None:
    """A revoked key and another user's session spoil only their own batch."""
    (_, alice), (_, bob), (_, revoked) = [await credential(app) for _ in range(3)]
    async with app.state.resources.pool.acquire() as conn:
        assert await keys_repo.revoke_key(conn, revoked.prefix)
    theirs = unique("s")
    store = committer(gate)
    gate.open.set()
    await store.store(Batch(bob, [ev(theirs)]))
    gate.open.clear()
    first = await occupy(store, alice)
    mine, lost = unique("s"), unique("s")
    queued = [
        asyncio.create_task(store.store(Batch(alice, [ev(mine), ev(theirs), ev(mine)]))),
        asyncio.create_task(store.store(Batch(revoked, [ev(lost)]))),
    ]
    await settle()
    gate.open.set()
    await first
    mixed, refused = await asyncio.gather(*queued)
    assert gate.statements == 3  # bob's, the first, then one for both queued batches
    assert gate.fallbacks == 1  # the last group was not all new: the full statement took it
    assert (mixed.authorized, mixed.count, mixed.foreign) == (True, 2, [1])
    assert (refused.authorized, refused.count) == (False, 0)
    assert await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", lost) == 0
    assert await db.fetchval("SELECT event_count FROM recording_session WHERE id = $1", theirs) == 1


async def test_batches_sharing_an_id_or_a_session_go_in_separate_statements(
    app: FastAPI, gate: Gate, db: Any
) -> None:
    _, alice = await credential(app)
    store = committer(gate)
    first = await occupy(store, alice)
    x, y, z = unique("s"), unique("s"), unique("s")
    shared = unique("e")
    batches = [
        Batch(alice, [ev(x, shared, minute=5)]),
        Batch(alice, [ev(y, shared), ev(y)]),  # shares an id with the first: waits
        # Shares a session with the first: waits. Stored together, its earlier event would
        # have anchored the new session, which one batch after the other never does.
        Batch(alice, [ev(x, minute=2)]),
        Batch(alice, [ev(z)]),  # overlaps nothing: joins the first
    ]
    queued = [asyncio.create_task(store.store(batch)) for batch in batches]
    await settle()
    gate.open.set()
    await first
    outcomes = await asyncio.gather(*queued)
    assert [o.count for o in outcomes] == [1, 1, 1, 1]  # the shared id is a duplicate once
    assert gate.statements == 3
    assert gate.fallbacks == 1  # the group with the shared id
    counts = await db.fetch(
        "SELECT id, event_count FROM recording_session WHERE id = ANY($1)", [x, y, z]
    )
    assert {(r["id"], r["event_count"]) for r in counts} == {(x, 2), (y, 1), (z, 1)}
    started = await db.fetchval("SELECT started_at FROM recording_session WHERE id = $1", x)
    assert started == WHEN.replace(minute=5)


async def test_a_group_stays_within_the_event_budget(app: FastAPI, gate: Gate) -> None:
    _, alice = await credential(app)
    store = committer(gate, max_group_events=2)
    first = await occupy(store, alice)
    queued = [asyncio.create_task(store.store(Batch(alice, [ev(unique("s"))]))) for _ in range(3)]
    await settle()
    gate.open.set()
    await first
    assert [o.count for o in await asyncio.gather(*queued)] == [1, 1, 1]
    assert gate.statements == 3


async def test_a_request_cancelled_before_its_statement_stores_nothing(
    app: FastAPI, gate: Gate, db: Any
) -> None:
    _, alice = await credential(app)
    store = committer(gate)
    first = await occupy(store, alice)
    dropped = ev(unique("s"))
    cancelled = asyncio.create_task(store.store(Batch(alice, [dropped])))
    await settle()
    cancelled.cancel()
    gate.open.set()
    assert (await first).count == 1
    await settle()
    assert gate.statements == 1
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE id = $1", dropped.id) == 0


async def test_a_batch_the_database_rejects_fails_alone(app: FastAPI, gate: Gate, db: Any) -> None:
    """Validation never lets such an id through; here it stands for any statement error."""
    _, alice = await credential(app)
    store = committer(gate)
    first = await occupy(store, alice)
    good = ev(unique("s"))
    queued = [
        asyncio.create_task(store.store(Batch(alice, [good]))),
        asyncio.create_task(store.store(Batch(alice, [ev(unique("s"), "nul\x00id")]))),
    ]
    await settle()
    gate.open.set()
    await first
    fine, failed = await asyncio.gather(*queued, return_exceptions=True)
    assert not isinstance(fine, BaseException) and fine.count == 1
    assert isinstance(failed, asyncpg.PostgresError)
    assert gate.statements == 4  # the first, the group, then each batch alone
    assert await db.fetchval("SELECT count(*) FROM recording_event WHERE id = $1", good.id) == 1


async def test_a_connection_lost_while_batches_go_alone_fails_only_the_one_on_it(
    app: FastAPI, gate: Gate, db: Any
) -> None:
    """The batches after it are stored on a new connection; no request is left waiting."""
    _, alice = await credential(app)
    store = committer(gate)
    first = await occupy(store, alice)
    bad, lost, later = ev(unique("s"), "nul\x00id"), ev(unique("s")), ev(unique("s"))
    queued = [asyncio.create_task(store.store(Batch(alice, [e]))) for e in (bad, lost, later)]
    await settle()
    gate.lose_at = 4  # the first, the group, the bad batch alone, then the next one's
    gate.open.set()
    await first
    outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 10)
    failed, dropped, stored = outcomes
    assert isinstance(failed, asyncpg.PostgresError)
    assert isinstance(dropped, asyncpg.ConnectionDoesNotExistError)
    assert not isinstance(stored, BaseException) and stored.count == 1
    assert (gate.statements, gate.taken) == (5, 2)
    found = await db.fetch("SELECT id FROM recording_event WHERE id = ANY($1)", [lost.id, later.id])
    assert [r["id"] for r in found] == [later.id]


async def test_a_large_batch_does_not_wait_for_a_free_slot(app: FastAPI, gate: Gate) -> None:
    _, alice = await credential(app)
    store = committer(gate)
    first = await occupy(store, alice)
    text = b'{"text":"' + b"x" * (SOLO_BYTES // 2) + b'"}'
    session = unique("s")
    batch = Batch(alice, [ev(session, payload=text), ev(session, payload=text)])
    large = asyncio.create_task(store.store(batch))
    await settle()
    assert gate.taken == 2  # taken its own connection while the first statement is in flight
    gate.open.set()
    assert (await first).count == 1
    assert (await large).count == 2
