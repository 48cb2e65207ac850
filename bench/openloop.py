"""Latency at a constant request rate (open loop), against the rate the service saturates at.

The closed-loop p99s of `make bench` (16 connections pushing as fast as they can) measure
queue length at saturation. Here requests are sent on a fixed schedule, the i-th at
t0 + i/rate, whatever the answers do, and each latency is measured from that intended
moment: a stall delays every request scheduled during it, and all of that delay is counted
(no coordinated omission, as wrk2 does it). A connection pool grows as needed, so a slow
answer never holds back the next send.

For 100-event and 1-event batches: the saturation rate (closed loop, 16 connections, the
same client; the median of three readings), then 25%, 50% and 75% of it, each
`--repeats` times for `--seconds`, the loads taking turns; a load's figures are the
medians of its runs, each run's kept beside them with the host's idle and steal time and
the disk's freezes during it (bench/disk.py), and PostgreSQL alone at the same rate beside
each (bench/floor.py). The load comes from
bench/openloop.c (built with the system's C compiler), as it would from wrk2; the Python
client below is the fallback (`--generator python`). Run by `make bench-openloop`
against `serve --workers 2` on a fresh database; writes JSON and a latency-vs-load plot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import floor
from bench.disk import DiskWatch, device_of
from bench.run import (
    admin,
    create_user,
    fetchval,
    free_port,
    fresh_database,
    measure_ceiling,
    percentiles,
    settle,
    start_service,
)

PATH = "/api/recording/events/"
TEXT = "Refactor the parser: quoted names, café naïve 日本語, paths like C:/tmp/x. " * 8
LOADS = (0.25, 0.50, 0.75)
MAX_CONNECTIONS = 256


@dataclass
class Client:
    """HTTP/1.1 keep-alive connections to one service, opened as needed and reused."""

    port: int
    key: str
    query: str = ""
    idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=deque)
    opened: int = 0

    async def post(self, body: bytes) -> int:
        """Send on the connection idle the longest, or a new one; a connection the service
        closed while it was idle (keep-alive timeout) is dropped and the request sent on a
        new one. Oldest first spreads the requests over every open connection, and so over
        the workers, as wrk2's connections each sending at their share of the rate do; the
        newest first sent nearly all of them down a few connections to one worker."""
        while self.idle:
            reader, writer = self.idle.popleft()
            try:
                return await self._exchange(reader, writer, body)
            except (ConnectionError, RuntimeError, IndexError, asyncio.IncompleteReadError):
                writer.close()
                self.opened -= 1
        if self.opened >= MAX_CONNECTIONS:
            raise RuntimeError("connection pool exhausted: the rate is far past saturation")
        self.opened += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return await self._exchange(reader, writer, body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes
    ) -> int:
        head = (
            f"POST {PATH}{self.query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Clone-API-Key: {self.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        status = int(status_line.split()[1])  # IndexError: closed before answering
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


class Batches:
    """Fresh events, `size` a batch, spread over many sessions (as many producers are)."""

    def __init__(self, run: str, size: int) -> None:
        self.run, self.size, self.count = run, size, 0

    def next(self) -> bytes:
        self.count += 1
        n = self.count
        session = f"{self.run}-s{n % 512}"
        events = ",".join(
            f'{{"id":"{self.run}-{n}-{k}","session_id":"{session}",'
            f'"occurred_at":"2026-05-05T12:00:00Z","source":"agent","type":"note",'
            f'"text":"{TEXT}"}}'
            for k in range(self.size)
        )
        return f"[{events}]".encode()


async def saturation(client: Client, batches: Batches, seconds: float, connections: int) -> float:
    """Requests per second with `connections` senders that never wait for a schedule."""
    deadline = time.monotonic() + seconds
    done = 0

    async def sender() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            status = await client.post(batches.next())
            assert status in (200, 201), status
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(connections)))
    return done / (time.monotonic() - started)


async def open_loop(
    client: Client, batches: Batches, rate: float, seconds: float
) -> dict[str, Any]:
    """Send at `rate` for `seconds`; latencies from each request's intended start.

    The client's garbage collector is off meanwhile: a full collection of its heap paused
    it for ~50-100 ms, and the requests it then sent late all at once counted that pause
    as the service's latency (wrk2, in C, has no such pause). Its objects are freed by
    reference counting; nothing it makes per request lives in a cycle."""
    gc.collect()
    gc.disable()
    try:
        return await _open_loop(client, batches, rate, seconds)
    finally:
        gc.enable()


async def _open_loop(
    client: Client, batches: Batches, rate: float, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    tasks = set()
    total = int(rate * seconds)
    start = time.monotonic() + 0.05

    async def fire(intended: float) -> None:
        nonlocal failures
        status = await client.post(batches.next())
        latencies.append(time.monotonic() - intended)
        if status not in (200, 201):
            failures += 1

    for i in range(total):
        intended = start + i / rate
        delay = intended - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif i % 16 == 0:
            await asyncio.sleep(0)  # behind schedule: let the started requests run too
        task = asyncio.create_task(fire(intended))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return {
        "rate": round(rate, 1),
        "requests": total,
        "achieved_rate": round(total / (time.monotonic() - start), 1),
        **percentiles([latency * 1000 for latency in latencies]),
        "failures": failures,
        "connections": client.opened,
    }


class CLoad:
    """bench/openloop.c: the same schedule and bodies, from a C process.

    The load generator shares the host's two cores with the service: the Python client
    took ~160 us of CPU per 1-event request (~15% of everything at half load), and its
    event loop's delays counted as latency. Built here with the system's C compiler.
    """

    def __init__(self, binary: Path, port: int, key: str) -> None:
        self.binary, self.port, self.key = binary, port, key

    @staticmethod
    def build() -> Path | None:
        source = Path(__file__).with_suffix(".c")
        binary = Path(__file__).parent / "build" / "openloop"
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            return None
        if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
            binary.parent.mkdir(exist_ok=True)
            subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
        return binary

    def _run(self, mode: str, run: str, size: int, amount: float, seconds: float) -> Any:
        command = [str(self.binary), mode, str(self.port), self.key, PATH, run, str(size),
                   str(amount), str(seconds)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"openloop {mode}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    async def saturation(self, run: str, size: int, seconds: float, connections: int) -> float:
        return float(self._run("sat", run, size, connections, seconds)["rps"])

    async def open_loop(self, run: str, size: int, rate: float, seconds: float) -> Any:
        return self._run("open", run, size, rate, seconds)

    def close(self) -> None:
        """Each run's process closed its own connections."""


class PythonLoad:
    """The Python client above, where no C compiler is found."""

    def __init__(self, port: int, key: str) -> None:
        self.client = Client(port, key)

    async def saturation(self, run: str, size: int, seconds: float, connections: int) -> float:
        return await saturation(self.client, Batches(run, size), seconds, connections)

    async def open_loop(self, run: str, size: int, rate: float, seconds: float) -> Any:
        return await open_loop(self.client, Batches(run, size), rate, seconds)

    def close(self) -> None:
        self.client.close()


async def measure(port: int, key: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    ceiling = await measure_ceiling(url, 16, 100, args.saturation_seconds)
    binary = CLoad.build() if args.generator == "c" else None
    results: dict[str, Any] = {
        "ceiling_rows_per_s": round(ceiling["rows_per_s"]),
        "load_generator": "c" if binary else "python",
    }
    print(f"database ceiling: {ceiling['rows_per_s']:,.0f} rows/s", flush=True)
    # The watch is a thread of this process: beside the Python load generator it would
    # take the GIL from the client's event loop, so it watches the C generator's runs only.
    disk = await database_device(url) if binary else None
    pgbench = floor.pgbench() if args.floor else None
    alone = floor.Floor(pgbench, url, TEXT) if pgbench else None
    if alone:
        await admin(url, *floor.CREATE)
    for size in args.batches:
        # Ids like producers' (UUIDs, counters): a run of 19 digits, as time_ns() gives,
        # would send every body through the exact-integer check (app/body.py).
        run = f"ol{size}-{uuid.uuid4().hex[:12]}"
        load: CLoad | PythonLoad = CLoad(binary, port, key) if binary else PythonLoad(port, key)
        # Each batch size starts from tables vacuumed and analyzed after the last one's
        # writes, as pgbench vacuums before each run.
        await admin(url, "VACUUM ANALYZE recording_event, recording_session")
        await load.saturation(run + "w", size, 2, 16)  # warm up
        # One 8 s reading of the saturation rate was off by a third on this host (3,765 and
        # 5,374 1-event req/s, same code, 15 minutes apart), and every load is a share of
        # it: the median of `--saturation-runs` readings.
        rates = []
        for reading in range(args.saturation_runs):
            await settle(url)
            rates.append(
                await load.saturation(f"{run}-sat{reading}", size, args.saturation_seconds, 16)
            )
        rate = statistics.median(rates)
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"{size}-event saturation: {rate:,.0f} req/s (median of {shown})", flush=True)
        # The host's speed swings within a minute: each load is measured `--repeats` times,
        # the loads taking turns, and its figures are the medians of those runs.
        runs: dict[float, list[dict[str, Any]]] = {share: [] for share in LOADS}
        for repeat in range(args.repeats):
            for share in LOADS:
                await settle(url)
                busy = HostTime()
                with DiskWatch(disk) as watch:
                    point = await load.open_loop(
                        f"{run}-{share}-{repeat}", size, rate * share, args.seconds
                    )
                point.update(busy.shares(), **watch.report())
                runs[share].append(point)
                print(
                    f"{size}-event batches at {share:.0%} of {rate:,.0f} req/s: "
                    f"p50 {point['p50_ms']} ms, p99 {point['p99_ms']} ms, "
                    f"max {point['max_ms']} ms, {point['failures']} failures, "
                    f"host idle {point['idle_pct']}%, steal {point['steal_pct']}%"
                    + waits(point)
                    + freezes(point),
                    flush=True,
                )
                if alone:  # the database alone, at the same rate, right after
                    await settle(url)
                    with DiskWatch(disk) as watch:
                        point["database"] = alone.run(size, rate * share, args.seconds)
                    point["database"].update(watch.report())
                    print(
                        f"  PostgreSQL alone (pgbench, one transaction a batch): "
                        f"p50 {point['database']['p50_ms']} ms, "
                        f"p99 {point['database']['p99_ms']} ms, "
                        f"max {point['database']['max_ms']} ms" + freezes(point["database"]),
                        flush=True,
                    )
        points = [summary(share, runs[share]) for share in LOADS]
        load.close()
        results[f"{size}-event"] = {
            "saturation_rps": round(rate, 1),
            "saturation_readings_rps": [round(r, 1) for r in rates],
            "saturation_events_per_s": round(rate * size),
            "points": points,
        }
    if alone:
        await admin(url, floor.DROP)
    return results


async def database_device(url: str) -> tuple[int, int] | None:
    """The block device under the database's data directory, when it is on this host and
    the role may read the setting."""
    try:
        return device_of(Path(await fetchval(url, "SHOW data_directory")))
    except Exception:  # another host's server, or a role without pg_read_all_settings
        return None


def freezes(point: dict[str, Any]) -> str:
    """The disk's freezes during a run (bench/disk.py): spans of 20 ms or more in which it
    had a request in flight and completed none. Each holds every commit back."""
    if not point.get("disk_freezes"):
        return ""
    return (
        f", disk froze {point['disk_freezes']} times (longest {point['disk_freeze_max_ms']:.0f} ms)"
    )


def waits(point: dict[str, Any]) -> str:
    """Requests that found all of the C generator's connections busy (far past saturation)
    and were sent as answers freed them; their latency counts from their due time."""
    waited = point.get("waits_for_a_connection", 0)
    return f", {waited} waited for a connection" if waited else ""


class HostTime:
    """The host's CPU time from now on, by kind (/proc/stat): how idle the two cores were
    during a point, and how much time the hypervisor took from them (steal)."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> list[int]:
        with open("/proc/stat") as stat:
            return [int(x) for x in stat.readline().split()[1:9]]

    def shares(self) -> dict[str, float]:
        spent = [b - a for a, b in zip(self.start, self._read(), strict=True)]
        total = sum(spent) or 1
        return {
            "idle_pct": round(100 * spent[3] / total, 1),
            "steal_pct": round(100 * spent[7] / total, 1),
        }


def summary(share: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One load's figures: the medians of its runs (the worst for `max_ms`), and the runs."""
    point: dict[str, Any] = {"load": share}
    for key in ("p50_ms", "p90_ms", "p99_ms", "idle_pct", "steal_pct"):
        point[key] = round(statistics.median(r[key] for r in runs), 2)
    point["max_ms"] = max(r["max_ms"] for r in runs)
    alone = [r["database"] for r in runs if "database" in r]
    if alone:
        for key in ("p50_ms", "p99_ms"):
            point[f"database_{key}"] = round(statistics.median(a[key] for a in alone), 2)
    point["failures"] = sum(r["failures"] for r in runs)
    if any("disk_freezes" in r for r in runs):
        # A freeze of the disk holds back every commit, whatever runs above it: the runs
        # without one show what the service itself does at this load.
        point["disk_freezes"] = sum(r.get("disk_freezes", 0) for r in runs)
        clear = [r["p99_ms"] for r in runs if not r.get("disk_freezes")]
        point["p99_ms_runs_without_disk_freeze"] = clear
    point["runs"] = runs
    return point


def plot(results: dict[str, Any], image: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = {name: r for name, r in results.items() if isinstance(r, dict)}
    figure, axes = plt.subplots(1, len(scenarios), figsize=(5 * len(scenarios), 4), squeeze=False)
    for axis, (name, result) in zip(axes[0], scenarios.items(), strict=True):
        loads = [p["load"] * 100 for p in result["points"]]
        for key, style, label in (
            ("p50_ms", "o-", "p50"),
            ("p99_ms", "s-", "p99"),
            ("max_ms", "x--", "max (worst run)"),
        ):
            axis.plot(loads, [p[key] for p in result["points"]], style, label=label)
        if all("database_p99_ms" in p for p in result["points"]):
            alone = [p["database_p99_ms"] for p in result["points"]]
            axis.plot(loads, alone, "^:", color="black", label="p99, PostgreSQL alone (pgbench)")
        for frozen, style, label in (
            (False, ".", "p99 of each run"),
            (True, "+", "p99 of a run in which the disk froze"),
        ):
            each = [
                (p["load"] * 100, r["p99_ms"])
                for p in result["points"]
                for r in p["runs"]
                if bool(r.get("disk_freezes")) == frozen
            ]
            if each:
                axis.plot(*zip(*each, strict=True), style, color="grey", label=label)
        axis.set_title(f"{name} batches (saturation {result['saturation_rps']:,.0f} req/s)")
        axis.set_xlabel("load, % of saturation (open loop)")
        axis.set_ylabel("latency from intended start, ms (medians of runs)")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(image, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 1])
    parser.add_argument("--seconds", type=float, default=10.0, help="per run of a load")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each load, in turn")
    parser.add_argument("--saturation-seconds", type=float, default=8.0)
    parser.add_argument(
        "--saturation-runs", type=int, default=3, help="closed-loop readings; their median"
    )
    parser.add_argument("--workers", type=int, default=2, help="serve --workers N")
    parser.add_argument(
        "--generator",
        choices=["c", "python"],
        default="c",
        help="the load generator: bench/openloop.c (built with cc), or the Python client",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the service (e.g. STORE_CONCURRENCY=2)",
    )
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip PostgreSQL alone (pgbench) at each point's rate (bench/floor.py)",
    )
    parser.add_argument("--output", type=Path, default=Path("bench/results/openloop.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/performance-openloop.png"))
    args = parser.parse_args()
    try:  # the client's own overhead counts in every latency: keep it small
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with fresh_database() as url:
        port = free_port()
        log = args.output.with_suffix(".log")
        extra = dict(pair.split("=", 1) for pair in args.env)
        service = start_service(url, args.workers, port, log, extra)
        try:
            _, key = asyncio.run(create_user(url, "openloop"))
            results = asyncio.run(measure(port, key, url, args))
        finally:
            service.terminate()
            service.wait(timeout=60)
            log.unlink(missing_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
