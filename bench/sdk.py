"""The producers' side: the SDK's own cost, its throughput, and the Claude Code adapters.

Run by `make bench-sdk`. record() is timed with the sender idle (nothing to send to), so
the figure is the caller's cost alone; then, against `serve --workers 2` on a fresh
database (DATABASE_URL's server, else an embedded one): one Recorder's sustained rate,
`clone-recording send` of a 100,000-line NDJSON file, the latency of Claude Code's http hook
(one request at a time, as Claude Code sends them and blocks on each), the wall time of the
command hook (`clone-recording hook claude-code`, process start to exit), and OTLP/HTTP log
records per second. The rows stored are counted against what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (
    SCRIPT,
    create_user,
    fetchval,
    free_port,
    fresh_database,
    percentiles,
    start_service,
)
from recording_client import Recorder, event_id, events

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens, nothing is sent


def notes(session: str, count: int, text: str = "a short note, as most events are") -> list[Any]:
    return [
        events.note(session, text=text, id=event_id(session, n), occurred_at="2026-05-05T12:00:00Z")
        for n in range(count)
    ]


def per_event_us(
    make: Callable[[], Recorder], batch: list[Any], chunk: int, repeats: int = 5
) -> dict[str, float]:
    """Microseconds per event to hand `batch` over in chunks of `chunk` (1: record())."""
    runs = []
    for _ in range(repeats):
        recorder = make()
        started = time.perf_counter()
        if chunk == 1:
            record = recorder.record
            for event in batch:
                record(event)
        else:
            for start in range(0, len(batch), chunk):
                recorder.record_many(batch[start : start + chunk])
        runs.append((time.perf_counter() - started) / len(batch) * 1e6)
        recorder.close(timeout=0)
    return {"median_us": round(statistics.median(runs), 2), "min_us": round(min(runs), 2)}


def caller_costs(spool_root: Path) -> dict[str, Any]:
    memory = notes("bench-memory", 200_000)
    spooled = notes("bench-spool", 20_000)
    idle = {"flush_interval": 3600.0, "max_queue_events": 10**7}

    def in_memory() -> Recorder:
        return Recorder(UNREACHABLE, "rec_bench", **idle)

    def on_disk(sync: str) -> Callable[[], Recorder]:
        def make() -> Recorder:
            folder = tempfile.mkdtemp(dir=spool_root)
            return Recorder(
                UNREACHABLE,
                "rec_bench",
                spool_dir=folder,
                spool_sync=sync,  # type: ignore[arg-type]
                **idle,
            )

        return make

    return {
        "record, in memory": per_event_us(in_memory, memory, 1),
        "record_many of 1000, in memory": per_event_us(in_memory, memory, 1000),
        "record, spool (synchronous=FULL)": per_event_us(on_disk("full"), spooled[:2000], 1, 3),
        "record, spool (synchronous=NORMAL)": per_event_us(on_disk("normal"), spooled, 1, 3),
        "record_many of 1000, spool (FULL)": per_event_us(on_disk("full"), spooled, 1000, 3),
    }


def throughput(base: str, key: str, url: str, count: int, spool: Path | None) -> dict[str, Any]:
    session = f"bench-sdk-{'spool' if spool else 'memory'}-{time.time_ns()}"
    batch = notes(session, count)
    recorder = Recorder(base, key, spool_dir=spool, max_queue_events=count)
    started = time.perf_counter()
    for start in range(0, count, 1000):
        recorder.record_many(batch[start : start + 1000])
    assert recorder.flush(timeout=600), recorder.last_error
    seconds = time.perf_counter() - started
    stats = recorder.stats
    recorder.close()
    stored = asyncio.run(
        fetchval(url, "SELECT count(*) FROM recording_event WHERE session_id = $1", session)
    )
    return {
        "events": count,
        "seconds": round(seconds, 2),
        "events_per_s": round(count / seconds),
        "accepted": stats.accepted,
        "stored": stored,
        "batches": stats.batches,
    }


def send_file(base: str, key: str, url: str, folder: Path, lines: int) -> dict[str, Any]:
    session = f"bench-send-{time.time_ns()}"
    path = folder / "events.ndjson"
    path.write_text("\n".join(json.dumps(e) for e in notes(session, lines)))
    started = time.perf_counter()
    done = subprocess.run(
        [
            SCRIPT,
            "send",
            str(path),
            "--url",
            base,
            "--key",
            key,
            "--json",
            "--spool",
            str(folder / "spool"),
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    stored = asyncio.run(
        fetchval(url, "SELECT count(*) FROM recording_event WHERE session_id = $1", session)
    )
    return {
        "lines": lines,
        "exit_code": done.returncode,
        "seconds": round(seconds, 2),
        "lines_per_s": round(lines / seconds),
        "stored": stored,
    }


def stored_in(url: str, session: str) -> int:
    sql = "SELECT count(*) FROM recording_event WHERE session_id = $1"
    return int(asyncio.run(fetchval(url, sql, session)))


def http_hook(base: str, key: str, url: str, count: int) -> dict[str, Any]:
    """PostToolUse inputs for Bash (two events each), posted one after the other."""
    session = f"bench-hook-{time.time_ns()}"
    samples = []
    with httpx.Client(base_url=base, headers={"X-Clone-API-Key": key}, timeout=30) as client:
        for n in range(count):
            body = {
                "session_id": session, "hook_event_name": "PostToolUse", "cwd": "/w",
                "transcript_path": "/t.jsonl", "tool_name": "Bash", "tool_use_id": f"toolu_{n}",
                "tool_input": {"command": "make test"}, "tool_response": {"stdout": "ok"},
            }  # fmt: skip
            started = time.perf_counter()
            answer = client.post("/api/recording/hooks/claude-code/", json=body)
            samples.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
    return {"requests": count, **percentiles(samples), "stored": stored_in(url, session),
            "expected": 2 * count}  # fmt: skip


def producer_install(folder: Path) -> str:
    """A virtualenv with `pip install ./client` alone, as on a producer's machine: the dev
    environment's editable installs add ~10 ms to every interpreter start."""
    venv = folder / "producer-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    client = Path(__file__).resolve().parent.parent / "client"
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(client)], check=True)
    return str(venv / "bin" / "clone-recording")


def command_hook(
    script: str, base: str, key: str, url: str, folder: Path, count: int
) -> dict[str, Any]:
    """`clone-recording hook claude-code` from process start to exit, with its sender."""
    session = f"bench-cmd-{time.time_ns()}"
    env = {**os.environ, "CLONE_API_KEY": key, "CLONE_RECORDING_URL": base}
    samples = []
    for n in range(count):
        stdin = json.dumps({"session_id": session, "hook_event_name": "UserPromptSubmit",
                            "prompt_id": f"p-{n}", "prompt": "hello"}).encode()  # fmt: skip
        started = time.perf_counter()
        subprocess.run([script, "hook", "claude-code", "--spool", str(folder / "hook-spool")],
                       input=stdin, env=env, check=True)  # fmt: skip
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(0.3)  # hooks come seconds apart; the last one's sender runs meanwhile
    deadline = time.monotonic() + 30
    while stored_in(url, session) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"runs": count, **percentiles(samples), "stored": stored_in(url, session),
            "expected": count}  # fmt: skip


def otlp_logs(base: str, key: str, url: str, requests: int, per_request: int) -> dict[str, Any]:
    """Protobuf ExportLogsServiceRequests of Claude Code user_prompt records."""
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.logs.v1 import logs_pb2

    session = f"bench-otlp-{time.time_ns()}"

    def kv(key: str, value: str) -> common_pb2.KeyValue:
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))

    bodies = []
    for r in range(requests):
        records = [
            logs_pb2.LogRecord(
                time_unix_nano=1_778_068_800_000_000_000 + r * per_request + n,
                body=common_pb2.AnyValue(string_value="claude_code.user_prompt"),
                attributes=[kv("session.id", session), kv("event.name", "user_prompt"),
                            kv("event.sequence", str(r * per_request + n)),
                            kv("prompt", "Run the test suite.")],
            )
            for n in range(per_request)
        ]  # fmt: skip
        request = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[
            logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=records)])
        ])  # fmt: skip
        bodies.append(request.SerializeToString())
    headers = {"X-Clone-API-Key": key, "Content-Type": "application/x-protobuf"}
    samples = []
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for body in bodies:
            begun = time.perf_counter()
            assert client.post("/v1/logs", content=body).status_code == 200
            samples.append((time.perf_counter() - begun) * 1000)
    seconds = time.perf_counter() - started
    total = requests * per_request
    rate = round(total / seconds)
    found = stored_in(url, session)
    return {"records": total, "per_request": per_request, "records_per_s": rate,
            **percentiles(samples), "stored": found, "expected": total}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="sent through one Recorder")
    parser.add_argument("--output", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    # The idle recorders drop what they hold at close, by design; that warning is noise here.
    logging.getLogger("recording_client").setLevel(logging.ERROR)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="recording-sdk-bench-") as tmp:
        folder = Path(tmp)
        results["caller"] = caller_costs(folder)
        with fresh_database() as url:
            port = free_port()
            service = start_service(url, 2, port, folder / "service.log")
            base = f"http://127.0.0.1:{port}"
            try:
                _, key = asyncio.run(create_user(url, "bench-sdk"))
                results["one Recorder, in memory"] = throughput(base, key, url, args.events, None)
                results["one Recorder, spool"] = throughput(
                    base, key, url, args.events, folder / "spool"
                )
                results["clone-recording send"] = send_file(base, key, url, folder, 100_000)
                results["http hook"] = http_hook(base, key, url, 2000)
                script = producer_install(folder)
                results["command hook"] = command_hook(script, base, key, url, folder, 40)
                results["otlp logs"] = otlp_logs(base, key, url, 200, 100)
            finally:
                service.terminate()
                service.wait(timeout=60)
    for name, figures in results["caller"].items():
        print(f"{name:40} {figures['median_us']:8.2f} µs/event (best {figures['min_us']:.2f})")
    for name in ("one Recorder, in memory", "one Recorder, spool"):
        r = results[name]
        print(
            f"{name:40} {r['events_per_s']:8,} events/s ({r['events']:,} in {r['seconds']} s, "
            f"{r['stored']:,} stored)"
        )
    s = results["clone-recording send"]
    print(
        f"{'clone-recording send, 100,000 lines':40} {s['seconds']:8.2f} s "
        f"({s['lines_per_s']:,} lines/s, {s['stored']:,} stored, exit {s['exit_code']})"
    )
    for name in ("http hook", "command hook", "otlp logs"):
        r = results[name]
        rate = f", {r['records_per_s']:,} records/s" if "records_per_s" in r else ""
        print(
            f"{name:40} p50 {r['p50_ms']:6.2f} ms, p99 {r['p99_ms']:6.2f} ms, "
            f"max {r['max_ms']:6.2f} ms{rate} ({r['stored']:,} of {r['expected']:,} stored)"
        )
    ok = all(
        results[n]["stored"] == results[n]["expected"]
        for n in ("http hook", "command hook", "otlp logs")
    ) and all(
        results[n]["stored"] == results[n]["events"]
        for n in ("one Recorder, in memory", "one Recorder, spool")
    )
    ok = ok and s["stored"] == s["lines"] and s["exit_code"] == 0
    print("check:", "every recorded event stored once -> OK" if ok else "MISMATCH")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
