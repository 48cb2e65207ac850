"""Export memory: a 200,000-event session streamed as NDJSON, the worker's RSS watched.

Run by `make bench-export`: `serve --workers 1` on a fresh database, one Recorder stores
the session, the service is restarted (so that the ingest's heap does not hide anything),
then the export is read (and thrown away) while a thread samples the worker's resident
memory every 10 ms. The export must hold every event, oldest first; the figure is
the peak RSS during the export minus the RSS just before it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import create_user, free_port, fresh_database, start_service, worker_pids
from recording_client import Recorder, event_id, events

TEXT = "Refactor the parser: quoted names, café naïve 日本語, paths like C:/tmp/x. " * 6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--output", type=Path, default=Path("bench/results/export.json"))
    args = parser.parse_args()
    with fresh_database() as url:
        port = free_port()
        log = args.output.with_suffix(".log")
        service = start_service(url, 1, port, log)
        base = f"http://127.0.0.1:{port}"
        try:
            _, key = asyncio.run(create_user(url, "export"))
            session = f"export-{time.time_ns()}"
            with Recorder(base, key, max_queue_events=args.events) as recorder:
                for start in range(0, args.events, 1000):
                    recorder.record_many(
                        events.note(session, text=TEXT, id=event_id(session, n),
                                    occurred_at=f"2026-05-05T12:{n // 60000 % 60:02d}:00Z")
                        for n in range(start, min(start + 1000, args.events))
                    )  # fmt: skip
                assert recorder.flush(timeout=600), recorder.last_error
            # A fresh service for the export: the ingest's heap would hide its growth.
            service.terminate()
            service.wait(timeout=60)
            service = start_service(url, 1, port, log)
            [pid] = worker_pids(service)
            worker = psutil.Process(pid)
            before = worker.memory_info().rss
            peak, stop = [before], threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], worker.memory_info().rss)
                    time.sleep(0.01)

            watcher = threading.Thread(target=sample, daemon=True)
            watcher.start()
            lines, size, previous = 0, 0, ""
            started = time.perf_counter()
            target = f"{base}/api/recording/sessions/{session}/export"
            with httpx.stream("GET", target, headers={"X-Clone-API-Key": key}, timeout=600) as r:
                assert r.status_code == 200, r.status_code
                for line in r.iter_lines():
                    lines += 1
                    size += len(line) + 1
                    if lines % 50_000 == 1:  # spot-check the order
                        stamp = json.loads(line)["occurred_at"]
                        assert stamp >= previous
                        previous = stamp
            seconds = time.perf_counter() - started
            stop.set()
            watcher.join()
        finally:
            service.terminate()
            service.wait(timeout=60)
            log.unlink(missing_ok=True)
    growth = (peak[0] - before) / 2**20
    results = {
        "events": args.events, "exported_lines": lines, "bytes": size,
        "seconds": round(seconds, 2), "events_per_s": round(lines / seconds),
        "rss_before_mib": round(before / 2**20, 1), "rss_growth_mib": round(growth, 1),
    }  # fmt: skip
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"export of {lines:,} events ({size / 2**20:,.0f} MiB) in {seconds:.1f} s; worker RSS "
        f"{before / 2**20:.0f} MiB before, growth {growth:.1f} MiB at the peak"
    )
    ok = lines == args.events and growth < 50
    print("check:", "every event exported, RSS growth < 50 MiB -> OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
