"""A/B: the working tree against a git ref, both served at once, on one database.

This host's speed drifts by tens of percent within minutes, so two runs made one after the
other cannot show a 5% change. Here both versions run side by side (one worker each, half
the connections each), under the same load at the same moment, and each one's CPU per
request is measured over several rounds. Both versions must share the schema: the database
is migrated once, and each service checks its migrations at start.

    .venv/bin/python bench/ab.py --ref HEAD --batch 1 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import repository
from bench.profile import cpu_seconds
from bench.run import (
    admin,
    create_user,
    free_port,
    fresh_database,
    settle,
    start_service,
    with_database,
    wrk,
)

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", default="HEAD", help="the git ref served as A")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--connections", type=int, default=8, help="per version")
    parser.add_argument("--duration", type=int, default=8, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--query-b", default="", help="B's query string, e.g. ?results=items")
    parser.add_argument(
        "--separate-databases",
        action="store_true",
        help="A and B each on a database of their own schema (same server): for versions "
        "whose migrations differ",
    )
    args = parser.parse_args()

    tree = Path(tempfile.mkdtemp(prefix="recording-ab-")) / "a"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), args.ref],
        check=True,
    )
    try:
        with fresh_database() as url, _second_database(args.separate_databases, url) as url_a:
            versions = {"A": {"PYTHONPATH": str(tree)}, "B": {}}
            urls = {"A": url_a, "B": url}
            ports = {name: free_port() for name in versions}
            services = {
                name: start_service(urls[name], 1, ports[name], tree.parent / f"{name}.log", env)
                for name, env in versions.items()
            }
            try:
                _, key = asyncio.run(create_user(url, "ab"))
                if url_a != url:  # A's serve made its tables: the same key works there too
                    asyncio.run(_copy_users(url, url_a))
                rows = _measure(args, url, key, ports, services)
            finally:
                for service in services.values():
                    service.terminate()
                    service.wait(timeout=30)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
        shutil.rmtree(tree.parent, ignore_errors=True)  # and the two services' logs
    for name in ("A", "B"):
        cpu = [row[name]["cpu_ms"] for row in rows]
        p99 = [row[name]["p99_ms"] for row in rows]
        rounds = ", ".join(f"{c:.3f}" for c in cpu)
        print(
            f"{name}: CPU ms/request median {statistics.median(cpu):.3f} (rounds {rounds}); "
            f"p99 median {statistics.median(p99):.1f} ms"
        )
    ratio = statistics.median(row["B"]["cpu_ms"] / row["A"]["cpu_ms"] for row in rows)
    print(f"B/A CPU per request, median of rounds: {ratio:.3f}")
    served = statistics.median(row["B"]["requests"] / row["A"]["requests"] for row in rows)
    print(f"B/A requests served side by side, median of rounds: {served:.3f}")
    return 0


@contextlib.contextmanager
def _second_database(wanted: bool, url: str) -> Iterator[str]:
    """A's database: B's own, or an empty one on the same server that A's serve migrates."""
    if not wanted:
        yield url
        return
    name = f"recording_ab_a_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(url, name)
    finally:
        asyncio.run(admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _copy_users(source: str, target: str) -> None:
    """B's users and keys into A's database (both schemas have these tables alike)."""
    conn = await repository.connect(source)
    try:
        users = await conn.fetch("SELECT id, name FROM app_user")
        keys = await conn.fetch("SELECT id, user_id, prefix, digest FROM api_key")
    finally:
        await conn.close()
    conn = await repository.connect(target)
    try:
        await conn.executemany(
            "INSERT INTO app_user (id, name) OVERRIDING SYSTEM VALUE VALUES ($1, $2)",
            [tuple(u) for u in users],
        )
        await conn.executemany(
            "INSERT INTO api_key (id, user_id, prefix, digest) OVERRIDING SYSTEM VALUE "
            "VALUES ($1, $2, $3, $4)",
            [tuple(k) for k in keys],
        )
    finally:
        await conn.close()


def _measure(
    args: argparse.Namespace,
    url: str,
    key: str,
    ports: dict[str, int],
    services: dict[str, subprocess.Popen[bytes]],
) -> list[dict[str, dict[str, float]]]:
    processes = {name: [psutil.Process(service.pid)] for name, service in services.items()}

    def load(seconds: int, tag: str) -> dict[str, Any]:
        results: dict[str, Any] = {}

        def one(name: str) -> None:
            query = args.query_b if name == "B" else ""
            target = f"http://127.0.0.1:{ports[name]}/api/recording/events/{query}"
            script = ["new", str(args.batch), f"{tag}{name}", "50", key]
            results[name] = wrk(target, "ingest.lua", script, args.connections, seconds)

        threads = [threading.Thread(target=one, args=(name,)) for name in ports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    load(2, "warm")
    rows = []
    for round_ in range(args.rounds):
        asyncio.run(settle(url))
        before = {name: cpu_seconds(p) for name, p in processes.items()}
        results = load(args.duration, f"r{round_}")
        after = {name: cpu_seconds(p) for name, p in processes.items()}
        row = {
            name: {
                "cpu_ms": (after[name] - before[name]) / results[name]["requests"] * 1000,
                "p99_ms": results[name]["p99_us"] / 1000,
                "requests": results[name]["requests"],
            }
            for name in ports
        }
        shown = (f"{n} {r['cpu_ms']:.3f} ms CPU, p99 {r['p99_ms']:.1f}" for n, r in row.items())
        print(f"round {round_ + 1}: " + "; ".join(shown), flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
