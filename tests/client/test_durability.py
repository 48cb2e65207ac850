"""Exactly once across a SIGKILL (spool + a live `serve`), and the asyncio recorder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recording_client import AsyncRecorder, event_id, events
from tests.factories import unique
from tests.live import Service
from tests.served import Served

pytestmark = pytest.mark.in_process
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "flush_interval": 0.05}

# Records N events into a spool (small batches, so that sending takes a while), says so,
# then lets the sender work until it is killed.
PRODUCER = """
import sys, time
from recording_client import Recorder, event_id, events
base, key, spool, session, count = sys.argv[1:6]
recorder = Recorder(base, key, spool_dir=spool, max_batch_events=10, flush_interval=0.01)
for start in range(0, int(count), 500):
    recorder.record_many(
        events.note(session, text=str(n), id=event_id(session, n))
        for n in range(start, min(start + 500, int(count)))
    )
print("recorded", flush=True)
time.sleep(600)
"""

# A new process on the same spool: sends what is left, prints what the service said.
RESUMER = """
import sys
from recording_client import Recorder
base, key, spool = sys.argv[1:4]
recorder = Recorder(base, key, spool_dir=spool)
waiting = recorder.stats.pending
assert recorder.close(timeout=60)
stats = recorder.stats
print(waiting, stats.accepted, stats.duplicates, stats.pending)
"""


@pytest.fixture
def live(database_url: str) -> Iterator[Service]:
    service = Service({**os.environ, "DATABASE_URL": database_url})
    try:
        yield service
    finally:
        service.stop()


async def test_a_producer_killed_mid_way_loses_nothing_and_doubles_nothing(
    live: Service, key: str, stored: Any, tmp_path: Path
) -> None:
    session, total = unique("crash"), 3000
    child = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, live.base, key, str(tmp_path), session, str(total)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "recorded\n"
        deadline = time.monotonic() + 60
        while await stored(session) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        if child.stdout is not None:
            child.stdout.close()
    # A request in flight at the kill may still be committed by the service: wait until the
    # count holds still before reading it.
    at_kill, settled_at = await stored(session), time.monotonic()
    while time.monotonic() - settled_at < 0.5:
        time.sleep(0.05)
        if (now := await stored(session)) != at_kill:
            at_kill, settled_at = now, time.monotonic()
    assert 200 <= at_kill < total  # killed mid-way: part sent, part waiting in the spool

    resumed = subprocess.run(
        [sys.executable, "-c", RESUMER, live.base, key, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    waiting, accepted, duplicates, pending = map(int, resumed.stdout.split())
    assert await stored(session) == total  # exactly once: every id is unique in the table
    assert accepted == total - at_kill
    # Only the batch in flight at the kill can come back as duplicates.
    assert waiting == accepted + duplicates and duplicates <= 10 and pending == 0


async def test_the_async_recorder_batches_retries_and_stores_once(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("async")
    served.faults.fail_next(2, 503, retry_after="0")
    async with AsyncRecorder(served.base, key, max_batch_events=40, **FAST) as recorder:
        assert recorder.record(events.session_started(session, cwd="/w"))
        assert (
            recorder.record_many(
                events.note(session, text=str(n), id=event_id(session, n)) for n in range(99)
            )
            == 99
        )
        assert await recorder.flush(timeout=30)
        recorder.record_many(
            events.note(session, text=str(n), id=event_id(session, n)) for n in range(10)
        )  # again: duplicates
        assert await recorder.flush(timeout=30)
        stats = recorder.stats
    assert await stored(session) == 100
    assert served.faults.answered[:2] == [503, 503]
    assert sorted(served.faults.batches[2:]) == [10, 20, 40, 40]
    assert (stats.accepted, stats.duplicates, stats.retried, stats.pending) == (100, 10, 2, 0)


async def test_the_async_recorder_keeps_unsent_events_in_its_spool(
    database_url: str, key: str, stored: Any, tmp_path: Path
) -> None:
    from tests.live import free_port
    from tests.served import serve

    session, port = unique("async"), free_port()
    base = f"http://127.0.0.1:{port}"
    offline = AsyncRecorder(base, key, spool_dir=tmp_path, **FAST)
    offline.record_many(events.note(session, text=str(n)) for n in range(30))
    assert not await offline.aclose(timeout=0.3)  # nothing listens: kept on disk
    service = serve(database_url, port=port)
    try:
        async with AsyncRecorder(base, key, spool_dir=tmp_path, **FAST) as online:
            assert await online.flush(timeout=30)
            assert online.stats.accepted == 30
    finally:
        service.server.stop()
    assert await stored(session) == 30
