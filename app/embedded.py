"""The embedded PostgreSQL (pgserver) used when DATABASE_URL is unset."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, *, cleanup_mode: str = "stop") -> Any:
    """Start (or join) the embedded server under `data_dir/pg`; returns pgserver's handle.

    pgserver counts the processes using the server and stops it when the last one exits,
    so the CLI can share it with a running service.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_users(pgserver, data_dir / "pg")
        server = pgserver.get_server(  # type: ignore[attr-defined]
            data_dir / "pg", cleanup_mode=cleanup_mode
        )
    log.info("embedded PostgreSQL at %s", data_dir / "pg")
    return server


def _forget_dead_users(pgserver: Any, pgdata: Path) -> None:
    """Drop pids of processes that died without cleaning up (SIGKILL, a crash).

    pgserver stops the server only when the last registered user exits; one stale pid would
    keep the server running forever after.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    with pgserver.PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text() or "[]")
        except ValueError:
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def embedded_url(data_dir: Path) -> str:
    url: str = start_embedded(data_dir).get_uri()
    return url


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_url(data_dir)
