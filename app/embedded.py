"""The embedded PostgreSQL (pgserver) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded server under `data_dir/pg` and return its URL.

    pgserver counts the processes using the server and stops it when the last one exits,
    so the CLI can share it with a running service.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(  # type: ignore[attr-defined]
            data_dir / "pg", cleanup_mode="stop"
        )
    url: str = server.get_uri()
    log.info("embedded PostgreSQL at %s", data_dir / "pg")
    return url


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_url(data_dir)
