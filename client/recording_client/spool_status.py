"""What waits in the spools of a folder, for `clone-recording spool status`."""

from __future__ import annotations

import os
import sqlite3
from typing import NamedTuple

from recording_client.spool import SUFFIX, _warn


class SpoolStatus(NamedTuple):
    path: str
    base_url: str
    key_prefix: str
    events: int
    bytes: int
    oldest: float | None  # when the oldest waiting event was recorded (epoch seconds)


def spools_in(directory: str | os.PathLike[str]) -> list[SpoolStatus]:
    """What waits in each spool of a folder (a spool in use may change meanwhile)."""
    folder = os.path.expanduser(os.fspath(directory))
    names = (
        sorted(n for n in os.listdir(folder) if n.endswith(SUFFIX)) if os.path.isdir(folder) else []
    )
    found = []
    for path in (os.path.join(folder, name) for name in names):
        conn = sqlite3.connect(path, timeout=30)
        try:
            target = conn.execute("SELECT base_url, key_prefix FROM target").fetchone()
            count, size, oldest = conn.execute(
                "SELECT count(*), total(size), min(recorded_at) FROM event"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            _warn("%s is not a readable spool: %s", path, exc)
            continue
        finally:
            conn.close()
        if target is not None:
            found.append(SpoolStatus(path, target[0], target[1], count, int(size), oldest))
    return found
