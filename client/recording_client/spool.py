"""The durable spool: events on disk (SQLite, WAL) before record() returns, until answered.

One file per service and key (`<digest>.sqlite3` in the spool folder), so that events
recorded for one key are never sent with another. SQLite gives atomic appends, crash
safety and safe sharing between processes without a server; in WAL mode a reader never
waits for the writer.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from recording_client.buffer import Entry, take_within

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

# Not typing.TYPE_CHECKING: the hook command's path must not import typing (~5 ms).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Literal

    Sync = Literal["full", "normal"]


def spool_path(directory: str, base_url: str, api_key: str) -> str:
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()
    return os.path.join(directory, f"{digest[:20]}{SUFFIX}")


def _warn(message: str, *args: object) -> None:
    # logging is imported only when there is something to say: the hook command skips it.
    import logging

    logging.getLogger("recording_client").warning(message, *args)


def _connect(path: str, sync: Sync = "full") -> sqlite3.Connection:
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
        directory: str | os.PathLike[str],
        base_url: str,
        api_key: str,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        sync: Sync = "full",
    ) -> None:
        folder = os.path.expanduser(os.fspath(directory))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self.path = spool_path(folder, base_url, api_key)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._left_at_close: int | None = None
        self._conn = _connect(self.path, sync)
        os.chmod(self.path, 0o600)  # events may hold prompts and code
        with self._transaction() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO target (id, base_url, key_prefix) VALUES (1, ?, ?)",
                (base_url.rstrip("/"), api_key[:KEY_SHOWN]),
            )
            self._bytes = self._total_bytes(conn)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._lock)

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
        _warn(
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


class _Transaction:
    """One write transaction, taken at once (IMMEDIATE) so writers queue, never deadlock.

    A class rather than contextlib.contextmanager: the hook command cannot afford contextlib.
    """

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn, self._lock = conn, lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._conn.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self._lock.release()
