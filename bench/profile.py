"""Where one scenario's CPU goes: the service, PostgreSQL and wrk, per request; optionally
a py-spy profile of one worker. This is how each optimisation in docs/performance.md was
chosen and measured.

    .venv/bin/python bench/profile.py --batch 1 --workers 2
    .venv/bin/python bench/profile.py --batch 100 --workers 1 --py-spy   # needs py-spy

Like run.py it makes a fresh database (DATABASE_URL's server, else an embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (
    create_user,
    free_port,
    fresh_database,
    preload,
    settle,
    start_service,
    worker_pids,
    wrk,
)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def postgres_processes() -> list[psutil.Process]:
    """Every PostgreSQL process (backends and the WAL writer, checkpointer...), taken after
    the warm-up run so that the pools' backends exist. On a shared server this includes its
    other clients' work: profile on a quiet one, or on the embedded server."""
    return [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" or "postgres:" in " ".join(p.info["cmdline"] or [])
    ]


def top_frames(raw: Path, limit: int = 25) -> list[tuple[float, str]]:
    """py-spy's raw (collapsed) output as (share of samples, frame), by self time."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        own[stack.split(";")[-1]] += int(count)
    return [(n / total, frame) for frame, n in own.most_common(limit)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--preload", type=int, default=0, help="events stored before measuring")
    parser.add_argument("--py-spy", action="store_true", help="profile the first worker")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if args.py_spy and py_spy is None:
        raise SystemExit("py-spy is not installed (make install-bench installs it)")

    with fresh_database() as url:
        user_id, key = asyncio.run(create_user(url, "profile"))
        asyncio.run(preload(url, user_id, args.preload))
        port = free_port()
        work_dir = Path(tempfile.mkdtemp(prefix="recording-profile-"))
        log = work_dir / "service.log"
        service = start_service(url, args.workers, port, log)
        try:
            target = f"http://127.0.0.1:{port}/api/recording/events/"
            script_args = ["new", str(args.batch), "profile", "50", key]
            wrk(target, "ingest.lua", script_args, args.connections, 2)  # warm-up: pools fill
            workers = [psutil.Process(pid) for pid in worker_pids(service)]
            postgres = postgres_processes()
            asyncio.run(settle(url))
            spy = None
            if args.py_spy:
                raw = log.with_name("py-spy.txt")
                spy = subprocess.Popen(
                    [
                        *(str(py_spy), "record", "-f", "raw", "-o", str(raw), "-r", "200"),
                        *("-d", str(args.duration), "-p", str(workers[0].pid)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            before = (cpu_seconds(workers), cpu_seconds(postgres), _children_cpu())
            result = wrk(target, "ingest.lua", script_args, args.connections, args.duration)
            after = (cpu_seconds(workers), cpu_seconds(postgres), _children_cpu())
            requests = result["requests"]
            report: dict[str, Any] = {
                "batch": args.batch,
                "workers": args.workers,
                "requests_per_s": round(requests / (result["duration_us"] / 1e6), 1),
                "p50_ms": result["p50_us"] / 1000,
                "p99_ms": result["p99_us"] / 1000,
                "cpu_ms_per_request": {
                    name: round((end - start) / requests * 1000, 3)
                    for name, start, end in zip(
                        ("service", "postgres", "wrk"), before, after, strict=True
                    )
                },
            }
            print(json.dumps(report, indent=2))
            if spy is not None:
                spy.wait()
                print("\npy-spy, first worker, self time:")
                for share, frame in top_frames(raw):
                    print(f"{share * 100:5.1f}%  {frame[:120]}")
                print(f"(raw samples: {raw})")
        finally:
            service.terminate()
            service.wait(timeout=30)
            if not args.py_spy:  # keep the raw samples it printed the path of
                shutil.rmtree(work_dir, ignore_errors=True)
    return 0


def _children_cpu() -> float:
    """CPU of finished child processes: wrk, once its run is over."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
