"""PostgreSQL's own latency at a request rate: the floor under the service's open-loop points.

pgbench (`--rate`, latency from each transaction's scheduled start, as ours) inserts the
same batches of ~1 KB events into a copy of the events table, with its indexes, each batch
in one durable transaction of its own: no HTTP, no Python, no group commit, and no session
row (the service upserts one per batch). What the
service adds to a p99 is what lies above this one, measured the same minutes on the same
cores. pgbench schedules each client's transactions as a Poisson process, a little harsher
than the service's even spacing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.run import percentiles

TABLE = "bench_floor_event"
CLIENTS = 16
CREATE = (
    f"DROP TABLE IF EXISTS {TABLE}",
    f"CREATE TABLE {TABLE} (LIKE recording_event INCLUDING ALL)",
)
DROP = f"DROP TABLE IF EXISTS {TABLE}"


def pgbench() -> str | None:
    """pgserver's own pgbench (a dependency, matching the embedded server), or the PATH's."""
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("pgbench")


def script(size: int, text: str) -> str:
    """One batch of `size` fresh events, as the service would store them."""
    event = {
        "id": "ol1-0123456789ab-1234-0",  # placeholders as long as the service's
        "session_id": "ol1-0123456789ab-s123",
        "occurred_at": "2026-05-05T12:00:00Z",
        "source": "agent",
        "type": "note",
        "text": text,
    }
    payload = json.dumps(event, ensure_ascii=False).replace("'", "''")
    return (
        "\\set n random(1, 1000000000000)\n"
        f"INSERT INTO {TABLE} (id, seq, session_id, type, source, occurred_at, received_at, "
        "payload, digest) "
        "SELECT 'f' || :client_id || '-' || :n || '-' || g, :n::bigint * 1000 + g, "
        "'fs-' || (:n % 512), 'note', 'agent', now(), now(), "
        f"'{payload}', '\\x{'ab' * 32}' "
        f"FROM generate_series(1, {size}) AS g ON CONFLICT DO NOTHING;\n"
    )


class Floor:
    """pgbench runs against the benchmark's database, on a table of its own."""

    def __init__(self, binary: str, url: str, text: str) -> None:
        self.binary, self.url, self.text = binary, url, text

    def run(self, size: int, rate: float, seconds: float) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="recording-floor-") as folder:
            source = Path(folder) / "batch.sql"
            source.write_text(script(size, self.text))
            command = [
                self.binary, "--no-vacuum", "--file", str(source), "--client", str(CLIENTS),
                "--jobs", "1", "--rate", f"{rate:.1f}", "--time", str(max(1, round(seconds))),
                "--log", "--log-prefix", str(Path(folder) / "log"), self.url,
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                raise RuntimeError(f"pgbench: {done.stderr.strip()[-500:]}")
            latencies = [
                int(line.split()[2]) / 1000
                for log in Path(folder).glob("log*")
                for line in log.read_text().splitlines()
            ]
        if not latencies:
            raise RuntimeError("pgbench logged no transactions")
        return {"transactions": len(latencies), **percentiles(latencies)}
