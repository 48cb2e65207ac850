"""`clone-recording serve` as a real process, for tests that need one."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

SCRIPT = str(Path(sys.executable).with_name("clone-recording"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`clone-recording ARGS` to the end; it must succeed (or, with ok=False, fail)."""
    result = subprocess.run(
        [SCRIPT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


class Service:
    """A running `serve`; its output is kept for the test to read after it stops.

    The output goes to a file, not a pipe: a pipe nobody reads fills up after ~64 KiB of
    access log, and the service then blocks on its next log line.
    """

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [SCRIPT, "serve", "--port", str(self.port), *args],
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.process.kill()
        self.process.wait()
        pytest.fail(f"service did not become ready: {self.read_output()[-2000:]}")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then (exit code, everything it printed)."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        output = self.read_output()
        self.output.close()
        return self.process.returncode, output

    def read_output(self) -> str:
        """Everything it printed so far (all of it once it has exited)."""
        if self.output.closed:
            return ""
        self.output.seek(0)
        return self.output.read()
