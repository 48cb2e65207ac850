"""Ingest while a purge runs: throughput of 100-event batches with and without a purge of
1,000,000 old events going on (`make bench-purge`; issue 14's target: at least 70%).

A fresh database gets 1 M old events (2001, in 2,000 sessions) straight from SQL; then the
same closed-loop client as bench/openloop.py measures ingest for `--seconds` alone, then
again while `clone-recording purge --before 2002-01-01` runs, then alone once more. The
check compares with the run before the purge (the one after also pays for autovacuum's
cleanup of a million dead rows); `ratio` uses the mean of both, for the host's drift.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.openloop import Batches, Client, saturation
from bench.run import SCRIPT, admin, create_user, fetchval, free_port, fresh_database, start_service

PRELOAD = """
INSERT INTO recording_session (id, user_id, source, started_at, event_count, last_event_at)
SELECT 'old-' || s, {user}, 'cli', '2001-01-01', {per}, '2001-01-01'
FROM generate_series(1, {sessions}) s;
INSERT INTO recording_event (id, session_id, type, source, occurred_at, payload, digest)
SELECT 'old-' || n, 'old-' || (n % {sessions} + 1), 'note', 'cli', '2001-01-01',
       ('{{"id":"old-' || n || '","text":"' || repeat('x', 600) || '"}}')::json,
       sha256(('old-' || n)::bytea)
FROM generate_series(1, {events}) n;
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--chunk", type=int, default=2000, help="purge --chunk (its default)")
    parser.add_argument("--pause", type=float, default=0.05, help="purge --pause (its default)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/purge.json"))
    args = parser.parse_args()
    with fresh_database() as url:
        user, key = asyncio.run(create_user(url, "purge"))
        sessions = 2000
        started = time.perf_counter()
        asyncio.run(admin(url, PRELOAD.format(user=user, per=args.events // sessions,
                                              sessions=sessions, events=args.events)))  # fmt: skip
        print(f"preloaded {args.events:,} old events in {time.perf_counter() - started:.0f} s")
        port = free_port()
        log = args.output.with_suffix(".log")
        service = start_service(url, 2, port, log)
        try:
            client = Client(port, key)

            def ingest(tag: str) -> float:
                rate = asyncio.run(saturation(client, Batches(tag, 100), args.seconds, 16))
                client.idle.clear()  # the loop is gone; its connections with it
                client.opened = 0
                return rate * 100

            asyncio.run(saturation(client, Batches("warm", 100), 2, 16))
            client.idle.clear()
            client.opened = 0
            alone_before = ingest(f"a{time.time_ns()}")
            env = {**os.environ, "DATABASE_URL": url}
            command = [SCRIPT, "purge", "--before", "2002-01-01", "--chunk", str(args.chunk),
                       "--pause", str(args.pause)]  # fmt: skip
            purge = subprocess.Popen(command, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)  # fmt: skip
            purge_started = time.perf_counter()
            during = ingest(f"d{time.time_ns()}")
            output, _ = purge.communicate(timeout=3600)
            purge_seconds = time.perf_counter() - purge_started
            alone_after = ingest(f"b{time.time_ns()}")
            left = asyncio.run(fetchval(url, "SELECT count(*) FROM recording_event "
                                             "WHERE occurred_at < '2002-01-01'"))  # fmt: skip
        finally:
            service.terminate()
            service.wait(timeout=60)
            log.unlink(missing_ok=True)
    alone = (alone_before + alone_after) / 2
    results = {
        "old_events": args.events, "events_per_s_alone": [round(alone_before), round(alone_after)],
        "events_per_s_during_purge": round(during), "ratio": round(during / alone, 3),
        "purge_seconds": round(purge_seconds, 1), "purge_output": output.strip(),
        "chunk": args.chunk, "pause": args.pause,
        "ratio_to_before": round(during / alone_before, 3),
        "old_events_left": left,
    }  # fmt: skip
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    # Judged against the run before the purge: the one after pays for autovacuum's cleanup.
    ok = left == 0 and during / alone_before >= 0.70
    print("check:", "purge complete, ingest >= 70% meanwhile -> OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
