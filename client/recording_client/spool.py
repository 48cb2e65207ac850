"""The durable spool: events on disk (SQLite, WAL) before record() returns, until answered.

One file per service and key (`<digest>.sqlite3` in the spool folder), so that events
recorded for one key are never sent with another. SQLite gives atomic appends, crash
safety and safe sharing between processes without a server; in WAL mode a reader never
waits for the writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from recording_client.buffer import take_within
from recording_client.delivery import Entry

log = logging.getLogger("recording_client")
SUFFIX = ".sqlite3"
KEY_SHOWN = 12  # characters of the key kept in the spool, to tell spools apart

SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    data BLOB NOT NULL,
    origin TEXT,
    size INTEGER NOT NULL,
    recorded_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS target (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    base_url TEXT NOT NULL,
    key_prefix TEXT NOT NULL
);
"""

Sync = Literal["full", "normal"]


def spool_path(directory: Path, base_url: str, api_key: str) -> Path:
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()
    return directory / f"{digest[:20]}{SUFFIX}"


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    path: Path
    base_url: str
    key_prefix: str
    events: int
    bytes: int
    oldest: float | None  # when the oldest waiting event was recorded (epoch seconds)


def _connect(path: Path, sync: Sync = "full") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: each commit is fsync'd, so a recorded event survives power loss, not only a
    # crash of the process (NORMAL survives that, and is faster).
    conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
    return conn


class Spool:
    """A buffer on disk, bounded by bytes: past `max_bytes` the oldest events are dropped."""

    def __init__(
        self,
        directory: str | Path,
        base_url: str,
        api_key: str,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        sync: Sync = "full",
    ) -> None:
        folder = Path(directory).expanduser()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = spool_path(folder, base_url, api_key)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._left_at_close: int | None = None
        self._conn = _connect(self.path, sync)
        self.path.chmod(0o600)  # events may hold prompts and code
        with self._transaction() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO target (id, base_url, key_prefix) VALUES (1, ?, ?)",
                (base_url.rstrip("/"), api_key[:KEY_SHOWN]),
            )
            self._bytes = self._total_bytes(conn)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (IMMEDIATE) so writers queue, never deadlock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _total_bytes(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT total(size) FROM event").fetchone()[0])

    def put(self, items: Sequence[tuple[bytes, str | None]]) -> int:
        now = time.time()
        rows = [(data, origin, len(data), now) for data, origin in items]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO event (data, origin, size, recorded_at) VALUES (?, ?, ?, ?)", rows
            )
            self._bytes += sum(row[2] for row in rows)
            if self._bytes <= self._max_bytes:
                return 0
            # Other processes may share the file: count again before dropping anything.
            self._bytes = self._total_bytes(conn)
            return self._drop_oldest(conn)

    def _drop_oldest(self, conn: sqlite3.Connection) -> int:
        excess = self._bytes - self._max_bytes
        if excess <= 0:
            return 0
        freed, dropped, last = 0, 0, None
        for seq, size in conn.execute("SELECT seq, size FROM event ORDER BY seq"):
            freed, dropped, last = freed + size, dropped + 1, seq
            if freed >= excess:
                break
        conn.execute("DELETE FROM event WHERE seq <= ?", (last,))
        self._bytes -= freed
        log.warning(
            "spool %s is over %d bytes: dropped its %d oldest events",
            self.path,
            self._max_bytes,
            dropped,
        )
        return dropped

    def take(self, max_events: int, max_bytes: int) -> list[Entry]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, data, origin FROM event ORDER BY seq LIMIT ?", (max_events,)
            ).fetchall()
        return take_within(
            [Entry(seq, data, origin) for seq, data, origin in rows], max_events, max_bytes
        )

    def done(self, entries: Sequence[Entry]) -> None:
        with self._transaction() as conn:
            conn.executemany("DELETE FROM event WHERE seq = ?", [(e.seq,) for e in entries])
            self._bytes = max(0, self._bytes - sum(len(e.data) for e in entries))

    def pending(self) -> int:
        with self._lock:
            if self._left_at_close is not None:
                return self._left_at_close
            return int(self._conn.execute("SELECT count(*) FROM event").fetchone()[0])

    def close(self) -> None:
        """Close the file; pending() goes on answering what was left in it (for stats)."""
        with self._lock:
            if self._left_at_close is None:
                self._left_at_close = int(
                    self._conn.execute("SELECT count(*) FROM event").fetchone()[0]
                )
                self._conn.close()


def spools_in(directory: str | Path) -> list[SpoolStatus]:
    """What waits in each spool of a folder (a spool in use may change meanwhile)."""
    folder = Path(directory).expanduser()
    found = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        conn = sqlite3.connect(path, timeout=30)
        try:
            target = conn.execute("SELECT base_url, key_prefix FROM target").fetchone()
            count, size, oldest = conn.execute(
                "SELECT count(*), total(size), min(recorded_at) FROM event"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            log.warning("%s is not a readable spool: %s", path, exc)
            continue
        finally:
            conn.close()
        if target is not None:
            found.append(SpoolStatus(path, target[0], target[1], count, int(size), oldest))
    return found
