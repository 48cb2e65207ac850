"""Recorder against a real service over TCP: batching, retries, reports, bounds, exit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from recording_client import InvalidEvent, Recorder, Rejection, event_id, events
from tests.factories import unique
from tests.live import free_port
from tests.served import Served, serve

pytestmark = pytest.mark.in_process
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "flush_interval": 0.05}


def notes(session: str, count: int, text: str = "hello") -> list[dict[str, Any]]:
    return [events.note(session, text=f"{text} {n}") for n in range(count)]


async def test_batches_are_cut_by_count_and_every_event_is_stored_once(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("sdk")
    with Recorder(served.base, key, max_batch_events=100, **FAST) as recorder:
        assert recorder.record_many(notes(session, 350)) == 350
        assert recorder.flush(timeout=30)
        stats = recorder.stats
    assert await stored(session) == 350
    assert sorted(served.faults.batches, reverse=True) == [100, 100, 100, 50]
    assert (stats.recorded, stats.sent, stats.accepted, stats.duplicates) == (350, 350, 350, 0)
    assert (stats.batches, stats.retried, stats.dropped, stats.pending) == (4, 0, 0, 0)


async def test_batches_are_cut_by_bytes(served: Served, key: str, stored: Any) -> None:
    session = unique("sdk")
    with Recorder(served.base, key, max_batch_bytes=10_000, **FAST) as recorder:
        recorder.record_many(notes(session, 40, text="x" * 1000))
        assert recorder.flush(timeout=30)
    assert await stored(session) == 40
    assert sum(served.faults.batches) == 40
    assert max(served.faults.sizes) <= 10_000
    # Greedy: one more event (~1.1 KB) would have gone over the budget in every batch but the last.
    assert all(size + 1_100 > 10_000 for size in served.faults.sizes[:-1])


async def test_a_partial_batch_goes_after_the_flush_interval(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("sdk")
    with Recorder(served.base, key, flush_interval=0.2) as recorder:
        recorder.record_many(notes(session, 3))
        deadline = time.monotonic() + 10
        while recorder.stats.sent < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert recorder.stats.sent == 3  # no flush() asked for it
    assert await stored(session) == 3
    assert served.faults.batches == [3]


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (408, {}),
        (429, {"retry_after": "0"}),
        (500, {}),
        (502, {}),
        (503, {"retry_after": "0"}),
        (504, {}),
    ],
    ids=["408", "429-retry-after", "500", "502", "503-retry-after", "504"],
)
async def test_retryable_statuses_are_retried_until_stored_exactly_once(
    served: Served, key: str, stored: Any, status: int, headers: dict[str, str]
) -> None:
    session = unique("sdk")
    served.faults.fail_next(3, status, **headers)
    with Recorder(served.base, key, **FAST) as recorder:
        recorder.record_many(notes(session, 10))
        assert recorder.flush(timeout=30)
        stats = recorder.stats
    assert await stored(session) == 10
    assert served.faults.answered == [status, status, status, 201]
    assert (stats.retried, stats.accepted, stats.rejected) == (3, 10, 0)


async def test_retry_after_is_honoured(served: Served, key: str) -> None:
    served.faults.fail_next(1, 503, retry_after="1")
    with Recorder(served.base, key, **FAST) as recorder:
        recorder.record_many(notes(unique("sdk"), 2))
        started = time.monotonic()
        assert recorder.flush(timeout=30)
        waited = time.monotonic() - started
    assert waited >= 1.0  # the jittered backoff alone would be at most 0.05 s


async def test_a_refused_body_is_split_until_each_event_is_alone(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("sdk")
    served.faults.fail_next(1, 413)
    served.faults.fail_next(1, 400)
    with Recorder(served.base, key, **FAST) as recorder:
        recorder.record_many(notes(session, 8))
        assert recorder.flush(timeout=30)
        stats = recorder.stats
    assert await stored(session) == 8
    # 8 → 413, then the halves: 4 → 400, then its halves 2 and 2, then the other 4.
    assert served.faults.batches == [8, 4, 2, 2, 4]
    assert (stats.retried, stats.accepted) == (0, 8)


async def test_a_batch_over_the_services_body_limit_is_split(
    database_url: str, key: str, stored: Any
) -> None:
    session = unique("sdk")
    service = serve(database_url, max_body_bytes=60_000)
    try:
        with Recorder(service.base, key, compress=False, **FAST) as recorder:
            recorder.record_many(notes(session, 100, text="y" * 1000))  # ~113 KB
            assert recorder.flush(timeout=30)
    finally:
        service.server.stop()
    assert await stored(session) == 100
    # ~113 KB is refused; its halves (~57 KB each) fit.
    assert service.faults.batches == [100, 50, 50]
    assert service.faults.answered == [413, 201, 201]


async def test_4xx_is_not_retried_and_is_reported(served: Served, key: str) -> None:
    served.faults.fail_next(3, 400)
    errors: list[Rejection] = []
    with Recorder(served.base, key, on_error=errors.append, **FAST) as recorder:
        recorder.record_many(notes(unique("sdk"), 2))
        assert recorder.flush(timeout=30)  # answered for: refused, not waiting
        stats = recorder.stats
    assert served.faults.answered == [400, 400, 400]  # the pair, then each alone; no retry
    assert [(e.status, e.events, e.halted) for e in errors] == [(400, 1, False), (400, 1, False)]
    assert (stats.rejected, stats.retried, stats.accepted, stats.pending) == (2, 0, 0, 0)


async def test_a_wrong_key_is_not_retried_and_stops_sending(served: Served, tmp_path: Path) -> None:
    errors: list[Rejection] = []
    recorder = Recorder(
        served.base, "rec_wrong", spool_dir=tmp_path, on_error=errors.append, **FAST
    )
    recorder.record_many(notes(unique("sdk"), 5))
    assert not recorder.flush(timeout=10)
    recorder.record_many(notes(unique("sdk"), 2))
    assert not recorder.flush(timeout=10)
    stats = recorder.stats
    recorder.close(timeout=0)
    assert served.faults.answered == [401]
    assert recorder.halted is not None and recorder.halted.status == 401
    assert [(e.status, e.halted) for e in errors] == [(401, True)]
    assert (stats.retried, stats.pending, stats.rejected) == (0, 7, 0)  # kept in the spool


async def test_invalid_events_are_reported_with_their_errors_and_not_retried(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("sdk")
    bad = [
        {
            "id": unique("bad"),
            "session_id": session,
            "occurred_at": "2026-05-05T12:00:00Z",
            "type": "note",
            "text": "no source",
        },
        {**events.note(session, text="x"), "type": "agent.prompt"},
    ]
    reported: list[InvalidEvent] = []
    with Recorder(served.base, key, on_invalid=reported.append, **FAST) as recorder:
        recorder.record_many(
            [*notes(session, 2), bad[0], *notes(session, 1), bad[1]],
            origins=["a", "b", "c", "d", "e"],
        )
        assert recorder.flush(timeout=30)
        stats = recorder.stats
    assert await stored(session) == 3
    assert served.faults.batches == [5]
    assert [(r.event, r.origin) for r in reported] == [(bad[0], "c"), (bad[1], "e")]
    assert reported[0].errors == ["'source' is a required property"]
    assert "'agent' is a required property" in reported[1].errors
    assert (stats.invalid, stats.accepted, stats.retried) == (2, 3, 0)


async def test_deterministic_ids_make_a_re_recorded_event_a_duplicate(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("sdk")

    def batch() -> list[dict[str, Any]]:
        return [
            events.note(
                session,
                text=f"n{n}",
                id=event_id(session, "note", n),
                occurred_at="2026-05-05T12:00:00Z",
            )
            for n in range(20)
        ]

    for expected in ((20, 0), (0, 20)):  # a producer that lost its state records again
        with Recorder(served.base, key, **FAST) as recorder:
            recorder.record_many(batch())
            assert recorder.flush(timeout=30)
            assert (recorder.stats.accepted, recorder.stats.duplicates) == expected
    assert await stored(session) == 20


async def test_a_full_queue_drops_new_events_and_counts_them() -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    recorder = Recorder(unreachable, "rec_x", max_queue_events=10, **FAST)
    queued = [recorder.record(event) for event in notes("s", 15)]
    stats = recorder.stats
    recorder.close(timeout=0)
    assert queued == [True] * 10 + [False] * 5
    assert (stats.recorded, stats.dropped, stats.pending) == (15, 5, 10)
    assert recorder.stats.dropped == 15  # the 10 still queued at close were lost too


@pytest.mark.parametrize("spooled", [False, True], ids=["in-memory", "spool"])
async def test_service_down_while_recording_then_up_loses_nothing(
    database_url: str, key: str, stored: Any, tmp_path: Path, spooled: bool
) -> None:
    session, port = unique("sdk"), free_port()
    recorder = Recorder(
        f"http://127.0.0.1:{port}", key, spool_dir=tmp_path if spooled else None, **FAST
    )
    recorder.record_many(notes(session, 50))
    assert not recorder.flush(timeout=0.5)  # nothing listens on the port yet
    assert recorder.stats.retried > 0 and recorder.stats.pending == 50
    service = serve(database_url, port=port)
    try:
        recorder.record_many(notes(session, 5))
        assert recorder.flush(timeout=30)
        stats = recorder.stats
        recorder.close()
    finally:
        service.server.stop()
    assert await stored(session) == 55
    assert (stats.accepted, stats.pending, stats.dropped) == (55, 0, 0)


async def test_a_full_spool_drops_its_oldest_events(
    database_url: str, key: str, tmp_path: Path, db: Any
) -> None:
    session, port = unique("sdk"), free_port()
    base = f"http://127.0.0.1:{port}"
    offline = Recorder(base, key, spool_dir=tmp_path, max_spool_bytes=20_000, **FAST)
    offline.record_many(notes(session, 100, text="z" * 300))  # ~40 KB
    dropped, kept = offline.stats.dropped, offline.stats.pending
    offline.close(timeout=0)
    assert dropped + kept == 100 and 40 <= dropped <= 60
    service = serve(database_url, port=port)
    try:
        with Recorder(base, key, spool_dir=tmp_path, **FAST) as online:
            assert online.flush(timeout=30)
    finally:
        service.server.stop()
    texts = await db.fetch(
        "SELECT payload::jsonb->>'text' AS text FROM recording_event WHERE session_id = $1",
        session,
    )
    numbers = sorted(int(row["text"].split()[-1]) for row in texts)
    assert numbers == list(range(100 - kept, 100))  # the newest were kept


async def test_an_unflushed_recorder_sends_at_interpreter_exit(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("sdk")
    script = (
        "import sys\n"
        "from recording_client import Recorder, events\n"
        "recorder = Recorder(sys.argv[1], sys.argv[2], flush_interval=60)\n"
        "recorder.record_many(events.note(sys.argv[3], text=str(n)) for n in range(25))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, served.base, key, session], check=True, timeout=60
    )
    assert await stored(session) == 25
