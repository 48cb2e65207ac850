"""The embedded PostgreSQL stops when its last user exits, even after one was SIGKILLed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.in_process

START_AND_EXIT = (
    "import sys; from pathlib import Path; from app.embedded import embedded_url; "
    "print(embedded_url(Path(sys.argv[1])))"
)


def test_a_dead_user_does_not_keep_the_server_running(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    pgdata = tmp_path / "pg"
    first = subprocess.run(
        [sys.executable, "-c", START_AND_EXIT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "host=" in first.stdout
    assert not (pgdata / "postmaster.pid").exists()
    # A user that died without cleaning up, as after SIGKILL:
    (pgdata / ".handle_pids.json").write_text(json.dumps([dead_pid]))
    subprocess.run(
        [sys.executable, "-c", START_AND_EXIT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert not (pgdata / "postmaster.pid").exists(), "server left running"
