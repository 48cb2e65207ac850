"""`clone-recording hook claude-code`: a Claude Code command hook that never slows the agent.

It reads the hook input on stdin, maps it (claude_code.from_hook), appends the events to the
spool (one fsync'd SQLite transaction) and starts a detached sender, then exits 0 without
printing anything: neither an outage nor a bug of ours may block or break the agent, and
Claude Code reads a hook's stdout as its answer. It imports neither httpx nor typer, so it
returns in a few tens of milliseconds; the sender (`python -m recording_client.hook
--flush`) is the one that pays for httpx.

One sender at a time per spool: a sender holds an flock on `<spool file>.lock`; a new one
that finds it held exits at once, and the holder looks at the spool again after letting the
lock go, so an event written while it was finishing is never stranded.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from recording_client import claude_code
from recording_client.ids import instant
from recording_client.spool import Spool, spool_path

DEFAULT_URL = "http://127.0.0.1:8000"
MAX_INPUT = 32 * 1024 * 1024  # a hook input larger than this is cut (and then not JSON)
SENDER_SECONDS = 60.0  # how long a detached sender keeps retrying before the next hook's turn
ERRORS_LOG = "hook-errors.log"
MAX_ERRORS_LOG = 1024 * 1024


def default_spool_dir() -> str:
    """$CLONE_RECORDING_SPOOL, else $XDG_STATE_HOME/clone-recording/spool."""
    if os.environ.get("CLONE_RECORDING_SPOOL"):
        return os.path.expanduser(os.environ["CLONE_RECORDING_SPOOL"])
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "clone-recording", "spool")


def _options(args: Sequence[str]) -> dict[str, str]:
    """`--spool DIR`, `--url URL` (and `--flush`); anything else is ignored, never fatal."""
    found: dict[str, str] = {}
    items = list(args)
    for index, arg in enumerate(items):
        name, _, value = arg.partition("=")
        if name in ("--spool", "--url"):
            if not value and index + 1 < len(items):
                value = items[index + 1]
            found[name[2:]] = value
        elif arg == "--flush":
            found["flush"] = "1"
    return found


def _target(options: dict[str, str]) -> tuple[str, str, str]:
    folder = os.path.expanduser(options["spool"]) if options.get("spool") else default_spool_dir()
    url = options.get("url") or os.environ.get("CLONE_RECORDING_URL") or DEFAULT_URL
    return folder, url.rstrip("/"), os.environ.get("CLONE_API_KEY", "")


def record_hook(raw: bytes, folder: str, url: str, key: str, captured_at: str) -> int:
    """Spool the events of one hook input; how many there were."""
    hook = json.loads(raw)
    if not isinstance(hook, dict):
        raise claude_code.NotAHookInput("the hook input is not a JSON object")
    found = claude_code.from_hook(hook, captured_at)
    items = [(json.dumps(e, ensure_ascii=False).encode(), None) for e in found]
    spool = Spool(folder, url, key)
    try:
        spool.put(items)
    finally:
        spool.close()
    return len(found)


def run(args: Sequence[str]) -> int:
    """The hook command: always 0, whatever happens (what went wrong goes to a log file)."""
    options = _options(args)
    folder, url, key = _target(options)
    if options.get("flush"):
        return flush(folder, url, key)
    captured_at = instant()  # kept in the spooled event, so retries keep it
    try:
        if not key:
            raise RuntimeError("CLONE_API_KEY is not set: nothing can be recorded")
        record_hook(sys.stdin.buffer.read(MAX_INPUT), folder, url, key, captured_at)
        start_sender(folder, url, key, options.get("spool"))
    except Exception as exc:  # never break the agent
        note_error(folder, f"{captured_at} {type(exc).__name__}: {exc}")
    return 0


def start_sender(folder: str, url: str, key: str, spool_option: str | None) -> None:
    """A detached `--flush` process in its own session: it outlives the hook (and its cancel).

    posix_spawn rather than subprocess, whose import alone costs the hook ~5 ms.
    """
    command = [sys.executable, "-m", "recording_client.hook", "--flush", "--url", url]
    command += ["--spool", folder] if spool_option else []
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    os.posix_spawn(
        sys.executable,
        command,
        {**os.environ, "CLONE_API_KEY": key},
        file_actions=quiet,
        setsid=True,
    )


def flush(folder: str, url: str, key: str) -> int:
    """Send what waits in this spool, unless another sender already does."""
    import fcntl

    from recording_client.recorder import Recorder

    os.makedirs(folder, mode=0o700, exist_ok=True)
    lock_path = spool_path(folder, url, key).removesuffix(".sqlite3") + ".lock"
    with open(lock_path, "a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # the holder will look again after it lets go
            try:
                recorder = Recorder(url, key, spool_dir=folder, flush_interval=0.05)
                delivered = recorder.close(timeout=SENDER_SECONDS)
                left = recorder.stats.pending
                if recorder.last_error and not delivered:
                    note_error(folder, f"{instant()} sending: {recorder.last_error}")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            if not delivered or not _waiting(folder, url, key, left):
                return 0


def _waiting(folder: str, url: str, key: str, left: int) -> bool:
    """Whether events arrived after the sender's last look (written while it finished)."""
    spool = Spool(folder, url, key)
    try:
        return spool.pending() > left
    finally:
        spool.close()


def note_error(folder: str, line: str) -> None:
    """One line in `hook-errors.log` beside the spool; the log is restarted past 1 MiB."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, ERRORS_LOG)
        too_big = os.path.exists(path) and os.path.getsize(path) > MAX_ERRORS_LOG
        with open(path, "w" if too_big else "a", encoding="utf-8") as log:
            log.write(line.replace("\n", " ") + "\n")
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
