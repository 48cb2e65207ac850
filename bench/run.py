"""The load benchmark: the database's own ceiling, then every scenario through the service.

Run by `make bench`. It makes a fresh database (DATABASE_URL's server, else an embedded one),
starts `clone-recording serve --workers N` on it, drives it with wrk, checks that the rows
stored equal the events the service said it accepted, and writes the figures to JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import psutil

from app import auth, migrate, repository
from app.embedded import start_embedded

BENCH = Path(__file__).resolve().parent
SCRIPT = str(Path(sys.executable).with_name("clone-recording"))


@dataclass
class Run:
    name: str
    batch: int
    connections: int
    requests_per_s: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    accepted: int = 0
    duplicates: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new migrated database on DATABASE_URL's server, else on an embedded one; dropped after."""
    server_url = os.environ.get("DATABASE_URL")
    server = temp_dir = None
    if not server_url:
        temp_dir = Path(tempfile.mkdtemp(prefix="recording-bench-"))
        server = start_embedded(temp_dir, cleanup_mode="delete")
        server_url = server.get_uri()
    name = f"recording_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = with_database(server_url, name)
        migrate.upgrade(url)
        asyncio.run(warm_wal(url))
        yield url
    finally:
        asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if server is not None:
            server.cleanup()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


async def warm_wal(url: str, megabytes: int = 400) -> None:
    """Leave WAL segments for PostgreSQL to recycle, as a database in service has.

    A fresh cluster has none: each new 16 MB segment is written full of zeros and synced
    first, and every commit waiting for it stalled 50-120 ms (seen at each segment switch
    of a 1-event open-loop run; none once segments were recycled). A checkpoint keeps the
    segments before it for reuse.
    """
    await admin(
        url,
        "CREATE TABLE bench_wal_warmup AS SELECT repeat('x', 1000) AS filler "
        f"FROM generate_series(1, {megabytes * 1000})",
        "DROP TABLE bench_wal_warmup",
        "CHECKPOINT",
    )


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def admin(url: str, *statements: str) -> None:
    conn = await repository.connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def fetchval(url: str, sql: str, *args: Any) -> Any:
    conn = await repository.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def checkpoints(url: str) -> int:
    """Checkpoints so far (timed and requested): one during a run shows in its p99.

    PostgreSQL 17 moved the counters from pg_stat_bgwriter to pg_stat_checkpointer."""
    if int(await fetchval(url, "SHOW server_version_num")) >= 170000:
        sql = "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
    else:
        sql = "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
    return int(await fetchval(url, sql))


async def settle(url: str) -> int:
    """Start a run from a clean state: a checkpoint now, so that none of the previous runs'
    WAL forces one mid-run (pgbench's advice). Returns the checkpoint count."""
    await admin(url, "CHECKPOINT")
    return await checkpoints(url)


async def create_user(url: str, name: str) -> tuple[int, str]:
    conn = await repository.connect(url)
    try:
        created = await auth.create_user_with_key(conn, name)
        assert created is not None
        return created
    finally:
        await conn.close()


CEILING_SQL = """
INSERT INTO bench_ceiling
    (id, session_id, type, source, source_detail, occurred_at, payload, digest)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::json[], $8::bytea[])
ON CONFLICT (id) DO NOTHING
RETURNING id
"""


def payload(i: int, size: int = 1000) -> str:
    text = ('Refactor the parser: "quoted" café 日本語 😀\n' * (size // 40 + 1))[:size]
    return orjson.dumps(
        {
            "id": f"c-{i}",
            "session_id": "ceiling",
            "occurred_at": "2026-05-05T12:00:00Z",
            "source": "agent",
            "type": "agent.prompt",
            "agent": "Claude Code",
            "prompt": text,
        }
    ).decode()


async def measure_ceiling(url: str, connections: int, rows: int, seconds: float) -> dict[str, Any]:
    """PostgreSQL alone: 100-row unnest inserts into a copy of the event table, no HTTP."""
    sql = CEILING_SQL
    await admin(
        url,
        "DROP TABLE IF EXISTS bench_ceiling",
        "CREATE TABLE bench_ceiling (LIKE recording_event INCLUDING ALL)",
    )
    body = payload(0)
    digest = hashlib.sha256(body.encode()).digest()
    latencies: list[float] = []
    inserted = 0

    async def worker(n: int) -> None:
        nonlocal inserted
        conn = await repository.connect(url)
        try:
            deadline = time.perf_counter() + seconds
            k = 0
            while time.perf_counter() < deadline:
                ids = [f"c-{n}-{k}-{i}" for i in range(rows)]
                started = time.perf_counter()
                result = await conn.fetch(
                    sql,
                    ids,
                    ["ceiling"] * rows,
                    ["agent.prompt"] * rows,
                    ["agent"] * rows,
                    [None] * rows,
                    [ORIGIN] * rows,
                    [body] * rows,
                    [digest] * rows,  # the stored row has one since migration 0009
                )
                latencies.append(time.perf_counter() - started)
                inserted += len(result)
                k += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    elapsed = time.perf_counter() - started
    await admin(url, "DROP TABLE bench_ceiling")
    latencies.sort()
    return {
        "rows_per_s": inserted / elapsed,
        "statement_rows": rows,
        "connections": connections,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def bracket_ceiling(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The ceiling measured before and after the ingest runs, as one: their mean rate."""
    return {
        **before,
        "rows_per_s": (before["rows_per_s"] + after["rows_per_s"]) / 2,
        "before_rows_per_s": before["rows_per_s"],
        "after_rows_per_s": after["rows_per_s"],
        "after_p50_ms": after["p50_ms"],
        "after_p99_ms": after["p99_ms"],
    }


ORIGIN = datetime(2026, 5, 5, 12, tzinfo=UTC)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of latencies in ms, each one of the samples (nearest rank)."""
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": at(1.0)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(
    database_url: str,
    workers: int,
    port: int,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """The service as an operator runs it; its JSON logs go to a file, as in production."""
    env = {**os.environ, "DATABASE_URL": database_url, **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SCRIPT, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                # every worker must be up before measuring
                time.sleep(1.0)
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not become ready")


def wrk(url: str, script: str, args: list[str], connections: int, seconds: float) -> dict[str, Any]:
    threads = connections  # one connection per thread: each keeps its own sessions
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / script),
        url,
        "--",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stdout}\n{done.stderr}")
    output = done.stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    return result


def to_run(name: str, batch: int, connections: int, raw: dict[str, Any]) -> Run:
    seconds = raw["duration_us"] / 1e6
    rps = raw["requests"] / seconds
    return Run(
        name=name,
        batch=batch,
        connections=connections,
        requests_per_s=rps,
        events_per_s=rps * batch,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non_2xx=raw["non_2xx"],
        socket_errors=raw["socket_errors"],
        accepted=raw.get("accepted", 0),
        duplicates=raw.get("duplicates", 0),
        extra={"sent": raw["sent"]} if "sent" in raw else {},
    )


def ingest_run(
    base: str, key: str, name: str, batch: int, connections: int, seconds: float, mode: str = "new"
) -> Run:
    run_id = uuid.uuid4().hex[:8]
    args = [mode, str(batch), run_id, "50", key]
    url = f"{base}/api/recording/events/"
    if mode == "dup":
        wrk(url, "ingest.lua", args, connections, 2)  # store the batches that will repeat
    run = to_run(name, batch, connections, wrk(url, "ingest.lua", args, connections, seconds))
    run.extra["run_id"] = run_id
    return run


def read_run(
    base: str, key: str, name: str, path: str, connections: int, seconds: float, batch: int
) -> Run:
    return to_run(
        name, batch, connections, wrk(f"{base}{path}", "read.lua", [key], connections, seconds)
    )


def seed_page_session(base: str, key: str) -> tuple[str, int]:
    """A session of 1000 events, so the page scenario reads full pages of 500."""
    session = f"page-{uuid.uuid4().hex[:8]}"
    accepted = 0
    for part in range(2):
        batch = [
            {
                "id": f"{session}-{part}-{i}",
                "session_id": session,
                "source": "agent",
                "occurred_at": f"2026-05-05T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "type": "agent.response",
                "agent": "Claude Code",
                "response": payload(i)[:900],
            }
            for i in range(500)
        ]
        response = httpx.post(
            f"{base}/api/recording/events/",
            json=batch,
            timeout=60,
            headers={"X-Clone-API-Key": key},
        )
        response.raise_for_status()
        accepted += response.json()["accepted"]
    return session, accepted


def sched_autogroup() -> bool | None:
    """Whether the kernel shares CPU between sessions; it moves the p99s (docs/performance.md)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def worker_pids(service: subprocess.Popen[bytes]) -> list[int]:
    """The processes that serve requests: uvicorn's spawned workers, or serve itself."""
    children = psutil.Process(service.pid).children(recursive=True)
    workers = [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]
    return workers or [service.pid]


def proc_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def memory_run(
    base: str, key: str, service: subprocess.Popen[bytes], unit: str = "x"
) -> dict[str, Any]:
    """One 1000-event batch of ~32 KB events (`unit` repeated); the busiest worker's peak
    RSS growth."""
    session = f"mem-{uuid.uuid4().hex[:8]}"
    text = unit * ((32 * 1024 - 400) // len(unit.encode()))
    batch = [
        {
            "id": f"{session}-{i}",
            "session_id": session,
            "occurred_at": "2026-05-05T12:00:00Z",
            "source": "agent",
            "type": "agent.prompt",
            "agent": "Claude Code",
            "prompt": text,
        }
        for i in range(1000)
    ]
    body = orjson.dumps(batch)
    pids = worker_pids(service)
    baseline = {}
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak-RSS mark
        baseline[pid] = proc_kib(pid, "VmRSS")
    response = httpx.post(
        f"{base}/api/recording/events/",
        content=body,
        timeout=120,
        headers={"X-Clone-API-Key": key, "Content-Type": "application/json"},
    )
    response.raise_for_status()
    growth_kib = max(proc_kib(pid, "VmHWM") - baseline[pid] for pid in pids)
    return {
        "body_bytes": len(body),
        "accepted": response.json()["accepted"],
        "peak_growth_bytes": growth_kib * 1024,
        "ratio_to_body": growth_kib * 1024 / len(body),
    }


async def preload(url: str, user_id: int, events: int) -> None:
    """Fill the tables with `events` stored events (1000 per session) straight in SQL."""
    if not events:
        return
    sessions = max(1, events // 1000)
    await admin(
        url,
        f"INSERT INTO recording_session (id, user_id, source, started_at, event_count, "
        f"last_event_at) SELECT 'pre-s' || g, {user_id}, 'cli', now(), 1000, now() "
        f"FROM generate_series(1, {sessions}) g",
        f"INSERT INTO recording_event (id, session_id, type, source, occurred_at, payload) "
        f"SELECT 'pre-' || g, 'pre-s' || (1 + (g - 1) % {sessions}), 'note', 'desktop', "
        f"now() - (g || ' seconds')::interval, "
        f"json_build_object('text', repeat('x', 900), 'n', g) "
        f"FROM generate_series(1, {events}) g",
        "VACUUM ANALYZE recording_event",
        "VACUUM ANALYZE recording_session",
    )


async def verify(
    url: str, runs: list[Run], memory: dict[str, Any], seeded: int, preloaded: int
) -> dict[str, Any]:
    """Rows stored against what the service answered.

    wrk abandons the requests in flight at its deadline; the service still commits them, so
    per wrk run the rows stored lie between the events answered as accepted and the events
    sent. Across the whole database, the sessions' event counts must equal the rows.
    """
    conn = await repository.connect(url)
    try:
        per_run = []
        for run in runs:
            run_id = run.extra.get("run_id")
            if run_id is None:
                continue
            stored = await conn.fetchval(
                "SELECT count(*) FROM recording_event WHERE id LIKE $1", f"{run_id}-%"
            )
            sent = run.extra["sent"]
            fresh = run.accepted if "duplicates" not in run.name else 0
            per_run.append(
                {
                    "run": run.name,
                    "accepted": run.accepted,
                    "stored": stored,
                    "sent": sent,
                    "ok": fresh <= stored <= sent,
                }
            )
        rows = await conn.fetchval("SELECT count(*) FROM recording_event")
        counted = await conn.fetchval("SELECT sum(event_count) FROM recording_session")
        orphans = await conn.fetchval(
            "SELECT count(*) FROM recording_event e WHERE NOT EXISTS "
            "(SELECT 1 FROM recording_session s WHERE s.id = e.session_id)"
        )
        direct = memory["accepted"] + seeded
    finally:
        await conn.close()
    ok = all(r["ok"] for r in per_run) and rows == counted and orphans == 0
    return {
        "per_run": per_run,
        "rows_stored": rows,
        "session_event_counts": counted,
        "orphans": orphans,
        "direct_posts_accepted": direct,
        "preloaded": preloaded,
        "ok": ok,
    }


def print_table(results: dict[str, Any]) -> None:
    ceiling = results["ceiling"]["rows_per_s"]
    print(
        f"\nceiling (unnest insert, {results['ceiling']['statement_rows']}-row statements, "
        f"{results['ceiling']['connections']} connections): {ceiling:,.0f} rows/s "
        f"(before the runs {results['ceiling']['before_rows_per_s']:,.0f}, "
        f"after {results['ceiling']['after_rows_per_s']:,.0f})"
    )
    print(
        f"{'scenario':38} {'conns':>5} {'req/s':>9} {'events/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'ceiling':>8} {'errors':>6}"
    )
    for run in results["runs"]:
        ratio = run["events_per_s"] / ceiling if run["name"].startswith("ingest") else None
        print(
            f"{run['name']:38} {run['connections']:>5} {run['requests_per_s']:>9,.0f} "
            f"{run['events_per_s']:>10,.0f} {run['p50_ms']:>8.1f} {run['p99_ms']:>8.1f} "
            f"{(f'{ratio:.0%}' if ratio is not None else '-'):>8} "
            f"{run['non_2xx'] + run['socket_errors']:>6}"
        )
    memory = results["memory"]
    print(
        f"1000 x 32 KB batch: body {memory['body_bytes'] / 2**20:.1f} MiB, worker peak RSS "
        f"growth {memory['peak_growth_bytes'] / 2**20:.1f} MiB "
        f"({memory['ratio_to_body']:.2f}x the body)"
    )
    check = results["check"]
    for run in check["per_run"]:
        print(
            f"  stored {run['stored']:>8} of {run['sent']:>8} sent, {run['accepted']:>8} "
            f"answered accepted: {run['run']}"
        )
    print(
        f"check: {check['rows_stored']} rows, sessions count {check['session_event_counts']}, "
        f"{check['orphans']} orphans -> {'OK' if check['ok'] else 'MISMATCH'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preload", type=int, default=0, help="events stored before measuring")
    parser.add_argument("--no-sweeps", action="store_true", help="skip batch/connection sweeps")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument(
        "--memory-text", default="x", help="text repeated in the 32 KB events (default: x)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it)")

    with fresh_database() as url:
        return measure(args, url)


def measure(args: argparse.Namespace, url: str) -> int:
    service = None
    try:
        user_id, key = asyncio.run(create_user(url, "bench"))
        asyncio.run(preload(url, user_id, args.preload))
        c = args.connections
        print(f"measuring the ceiling ({c} connections, {args.duration:.0f}s)...", flush=True)
        asyncio.run(settle(url))
        ceiling = asyncio.run(measure_ceiling(url, c, 100, args.duration))
        port = free_port()
        service = start_service(url, args.workers, port, args.output.with_suffix(".log"))
        base = f"http://127.0.0.1:{port}"
        d = args.duration
        # Not measured: the workers' pools open their connections and prepare statements.
        print("warming up (2s, not measured)...", flush=True)
        warm_up = ["new", "100", f"warm-{uuid.uuid4().hex[:6]}", "50", key]
        wrk(f"{base}/api/recording/events/", "ingest.lua", warm_up, c, 2)
        plan: list[tuple[str, Any]] = [
            (
                "ingest 100-event batches, new",
                lambda: ingest_run(base, key, "ingest 100-event batches, new", 100, c, d),
            ),
            (
                "ingest 100-event batches, duplicates",
                lambda: ingest_run(
                    base, key, "ingest 100-event batches, duplicates", 100, c, d, "dup"
                ),
            ),
            (
                "ingest 1-event batches",
                lambda: ingest_run(base, key, "ingest 1-event batches", 1, c, d),
            ),
            (
                "ingest 1000-event batches",
                lambda: ingest_run(base, key, "ingest 1000-event batches", 1000, c, d),
            ),
        ]
        if not args.no_sweeps:
            plan += [
                (
                    "ingest 10-event batches",
                    lambda: ingest_run(base, key, "ingest 10-event batches", 10, c, d),
                ),
                *[
                    (
                        f"ingest 100-event batches, {n} conns",
                        (
                            lambda n=n: ingest_run(
                                base, key, f"ingest 100-event batches, {n} conns", 100, n, d
                            )
                        ),
                    )
                    for n in (1, 4, 64)
                ],
            ]
        runs = []
        for label, action in plan:
            print(f"{label}...", flush=True)
            before = asyncio.run(settle(url))
            runs.append(action())
            runs[-1].extra["checkpoints_during"] = asyncio.run(checkpoints(url)) - before
        # Once more after the ingest runs (the service idle): this host's speed drifts, and
        # the ratios use the mean of the two, measured either side of what they divide.
        print("measuring the ceiling again...", flush=True)
        asyncio.run(settle(url))
        ceiling = bracket_ceiling(ceiling, asyncio.run(measure_ceiling(url, c, 100, d)))
        page_session, seeded = seed_page_session(base, key)
        print("session page of 500...", flush=True)
        runs.append(
            read_run(
                base,
                key,
                "session page, limit=500",
                f"/api/recording/sessions/{page_session}/events/?limit=500",
                c,
                d,
                500,
            )
        )
        print("sessions list...", flush=True)
        runs.append(read_run(base, key, "sessions list", "/api/recording/sessions/", c, d, 1))
        print("1000 x 32 KB batch...", flush=True)
        memory = memory_run(base, key, service, args.memory_text)
        check = asyncio.run(verify(url, runs, memory, seeded, args.preload))
        results = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "postgres": asyncio.run(fetchval(url, "SHOW server_version")),
                "sched_autogroup": sched_autogroup(),
            },
            "settings": {
                "workers": args.workers,
                "connections": c,
                "duration_s": d,
                "preloaded_events": args.preload,
                "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
            },
            "ceiling": ceiling,
            "runs": [r.__dict__ for r in runs],
            "memory": memory,
            "check": check,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
        print_table(results)
        print(f"\nresults written to {args.output}")
        return 0 if results["check"]["ok"] else 1
    finally:
        if service is not None:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
