"""The `clone-recording` command line: the producer's commands, and the server's as a plugin.

`send` and `spool` need only this package (with its `cli` extra). When the service is
installed too, its commands (serve, migrate, users, keys) join from the entry-point group
`clone_recording.commands`; they are loaded only when asked for, so a producer's command
never pays for importing the server.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

try:
    import typer
except ImportError:  # the SDK alone was installed
    raise SystemExit(
        "clone-recording needs the command line's extra: pip install 'recording-client[cli]'"
    ) from None

from recording_client import hook
from recording_client.delivery import InvalidEvent, Rejection
from recording_client.reading import Line, read_events
from recording_client.recorder import Recorder
from recording_client.spool_status import spools_in

PLUGIN_GROUP = "clone_recording.commands"
PRODUCER_COMMANDS = {"send", "spool", "hook", "import", "sessions", "export"}
CHUNK = 1000  # events read, then recorded in one spool transaction
BACKLOG = 50_000  # events waiting before reading pauses (bounded memory and spool)
DEFAULT_URL = "http://127.0.0.1:8000"

cli = typer.Typer(
    help="Recording: the ingest service for coding-session events, and its producers' tools.",
    no_args_is_help=True,
    add_completion=False,
)
spool_cli = typer.Typer(help="What waits in the spool, and sending it now.", no_args_is_help=True)
cli.add_typer(spool_cli, name="spool")
hook_cli = typer.Typer(help="Record an agent through its own hooks.", no_args_is_help=True)
cli.add_typer(hook_cli, name="hook")
sessions_cli = typer.Typer(help="Your recorded sessions.", no_args_is_help=True)
cli.add_typer(sessions_cli, name="sessions")
import_cli = typer.Typer(
    help="Record past sessions from an agent's own files.", no_args_is_help=True
)
cli.add_typer(import_cli, name="import")


def default_spool_dir() -> Path:
    return Path(hook.default_spool_dir())


UrlOption = Annotated[
    str, typer.Option("--url", envvar="CLONE_RECORDING_URL", help="The service's base URL.")
]
KeyOption = Annotated[
    str,
    typer.Option("--key", envvar="CLONE_API_KEY", help="An API key of the user to record as."),
]
SpoolOption = Annotated[
    Path | None,
    typer.Option(
        "--spool",
        envvar="CLONE_RECORDING_SPOOL",
        help="Spool folder (default: $XDG_STATE_HOME/clone-recording/spool).",
        show_default=False,
    ),
]
NoSpoolOption = Annotated[bool, typer.Option("--no-spool", help="Keep events in memory only.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
RetriesOption = Annotated[
    int, typer.Option(min=0, help="Retries of a batch before giving up (exit code 1).")
]


@dataclass
class Report:
    """What one run saw: the service's verdicts and the input's own faults, by line."""

    invalid: list[tuple[str, list[str]]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def on_invalid(self, item: InvalidEvent) -> None:
        self.invalid.append((item.origin or f"id {item.event.get('id')!r}", item.errors))

    def on_error(self, rejection: Rejection) -> None:
        self.rejected.append(rejection)


def _recorder(url: str, key: str, spool: Path | None, retries: int, report: Report) -> Recorder:
    return Recorder(
        url,
        key,
        spool_dir=spool,
        max_retries=retries,
        backoff_cap=10.0,
        flush_interval=0.2,
        on_invalid=report.on_invalid,
        on_error=report.on_error,
    )


def _chunks(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _open_input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        typer.echo(f"cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def send(
    file: Annotated[
        str, typer.Argument(help="NDJSON (one event a line) or a JSON array; - for stdin.")
    ] = "-",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = ...,  # type: ignore[assignment]
    spool: SpoolOption = None,
    no_spool: NoSpoolOption = False,
    retries: RetriesOption = 8,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Send events from FILE in batches; exit 0 if all were stored, 2 if some were invalid,
    1 if the service could not be reached (what was not sent stays in the spool)."""
    stream = _open_input(file)
    try:
        _transmit(read_events(stream), url, key, spool, no_spool, retries, as_json, quiet)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _transmit(
    lines: Iterator[Line],
    url: str,
    key: str,
    spool: Path | None,
    no_spool: bool,
    retries: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Record `lines` in chunks with back-pressure, flush, then summarize (and exit)."""
    spool_dir = None if no_spool else (spool or default_spool_dir())
    report = Report()
    recorder = _recorder(url, key, spool_dir, retries, report)
    waiting_before = recorder.stats.pending
    local: list[tuple[str, list[str]]] = []
    started = time.monotonic()
    delivered = True
    with _progress(quiet) as progress:
        try:
            for chunk in _chunks(lines, CHUNK):
                good = [line for line in chunk if line.event is not None]
                local += [(line.where, [line.error or ""]) for line in chunk if line.event is None]
                recorder.record_many(
                    [line.event for line in good if line.event is not None],
                    origins=[line.where for line in good],
                )
                progress(recorder, chunk[-1].number)
                if not recorder.flush(backlog=BACKLOG):
                    delivered = False
                    break
            delivered = delivered and _flush(recorder, progress)
        finally:
            recorder.close(timeout=0)
    _summarize(recorder, report, local, delivered, waiting_before, started, spool_dir, as_json)


def _flush(recorder: Recorder, progress: Any) -> bool:
    """Flush until done, showing progress; False once a batch ran out of retries."""
    give_ups = recorder.give_ups
    while True:
        if recorder.flush(timeout=0.2):
            return True
        if recorder.give_ups != give_ups or recorder.halted:
            return False
        progress(recorder, None)


class _NoProgress:
    def __enter__(self) -> Any:
        return lambda recorder, line: None

    def __exit__(self, *exc: object) -> None:
        pass


def _progress(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return _NoProgress()
    return _RichProgress()


class _RichProgress:
    """A live line on stderr: lines read, events answered for."""

    def __enter__(self) -> Any:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("starting")
        self._line = 0

        def update(recorder: Recorder, line: int | None) -> None:
            self._line = line or self._line
            stats = recorder.stats
            self._progress.update(
                self._task,
                description=f"read {self._line:,} lines · sent {stats.sent:,} · "
                f"waiting {stats.pending:,}",
            )

        return update

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def _summarize(
    recorder: Recorder,
    report: Report,
    local: list[tuple[str, list[str]]],
    delivered: bool,
    waiting_before: int,
    started: float,
    spool_dir: Path | None,
    as_json: bool,
) -> None:
    stats = recorder.stats
    invalid = sorted(local + report.invalid, key=lambda item: _place(item[0]))
    rejected = sum(r.events for r in report.rejected if not r.halted)
    waiting = stats.pending if spool_dir is not None else 0
    if as_json:
        import json

        typer.echo(
            json.dumps(
                {
                    "accepted": stats.accepted,
                    "duplicates": stats.duplicates,
                    "invalid": [{"where": where, "errors": errors} for where, errors in invalid],
                    "rejected": rejected,
                    "dropped": stats.dropped,
                    "waiting": waiting,
                    "delivered": delivered,
                    "seconds": round(time.monotonic() - started, 3),
                }
            )
        )
    else:
        for where, errors in invalid:
            typer.echo(f"{where}: {'; '.join(errors)}")
        for rejection in report.rejected:
            typer.echo(
                f"refused: {rejection.events} events, HTTP {rejection.status}: {rejection.detail}",
                err=True,
            )
        typer.echo(
            f"accepted {stats.accepted:,} · duplicates {stats.duplicates:,} · "
            f"invalid {len(invalid):,}"
            + (f" · refused {rejected:,}" if rejected else "")
            + f" in {time.monotonic() - started:.1f} s"
        )
        if waiting_before:
            typer.echo(f"(including {waiting_before:,} events that were waiting in the spool)")
    if not delivered:
        where = f"; {waiting:,} events wait in {spool_dir}" if spool_dir else ""
        typer.echo(f"not delivered: {recorder.last_error}{where}", err=True)
        raise typer.Exit(1)
    if invalid or rejected:
        raise typer.Exit(2)


def _place(where: str) -> tuple[str, int]:
    """'[FILE ]line N' as (FILE, N), to list invalid events in input order."""
    label, _, number = where.rpartition("line ")
    return label, int(number) if number.isdigit() else 0


@spool_cli.command("status")
def spool_status(
    spool: SpoolOption = None,
) -> None:
    """What waits in each spool of the folder: service, key, events, bytes, oldest (empty
    spools are not listed)."""
    folder = spool or default_spool_dir()
    found = [status for status in spools_in(folder) if status.events]
    if not found:
        typer.echo(f"nothing waits in {folder}")
        return
    for status in found:
        age = f", oldest {time.time() - status.oldest:,.0f} s ago" if status.oldest else ""
        typer.echo(
            f"{status.base_url}  key {status.key_prefix}…  {status.events:,} events, "
            f"{status.bytes:,} bytes{age}  ({os.path.basename(status.path)})"
        )


@spool_cli.command("flush")
def spool_flush(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = ...,  # type: ignore[assignment]
    spool: SpoolOption = None,
    retries: RetriesOption = 8,
    as_json: JsonOption = False,
) -> None:
    """Send what waits in the spool for this service and key; exit codes as for `send`."""
    folder = spool or default_spool_dir()
    report = Report()
    recorder = _recorder(url, key, folder, retries, report)
    started = time.monotonic()
    if recorder.stats.pending == 0 and not as_json:
        recorder.close(timeout=0)
        typer.echo(f"nothing waits for {url} with that key in {folder}")
        return
    try:
        delivered = _flush(recorder, lambda recorder, line: None)
    finally:
        recorder.close(timeout=0)
    _summarize(recorder, report, [], delivered, 0, started, folder, as_json)


@hook_cli.command("claude-code")
def hook_claude_code(
    url: Annotated[
        str | None,
        typer.Option(
            help="The service's base URL (default: $CLONE_RECORDING_URL, else http://127.0.0.1:8000).",
            show_default=False,
        ),
    ] = None,
    spool: SpoolOption = None,
) -> None:
    """Claude Code command hook: reads the hook input on stdin, spools its events and
    returns at once (a detached process sends them). Always exits 0 and prints nothing.
    The key comes from $CLONE_API_KEY; errors go to hook-errors.log in the spool folder."""
    args = (["--url", url] if url else []) + (["--spool", str(spool)] if spool else [])
    raise typer.Exit(hook.run(args))


Scope = Annotated[
    bool,
    typer.Option(
        "--user", help="~/.claude/settings.json instead of the project's .claude/settings.json."
    ),
]
Agent = Annotated[str, typer.Argument(help="The agent: claude-code.")]


def _settings_file(agent: str, user: bool) -> Path:
    from recording_client import claude_settings

    if agent != "claude-code":
        typer.echo(f"unknown agent {agent!r}: only claude-code is supported", err=True)
        raise typer.Exit(2)
    return claude_settings.settings_path("user" if user else "project")


@hook_cli.command("install")
def hook_install(
    agent: Agent,
    user: Scope = False,
    project: Annotated[
        bool, typer.Option("--project", help="The project's .claude/settings.json (the default).")
    ] = False,
    url: Annotated[
        str | None,
        typer.Option(
            help="Bake this base URL into the hook command (else $CLONE_RECORDING_URL at run time)."
        ),
    ] = None,
) -> None:
    """Add the recording hook to Claude Code's settings.json, keeping every other hook.

    The key is never written there: the hook reads $CLONE_API_KEY at run time."""
    from recording_client import claude_settings

    if user and project:
        typer.echo("choose --project or --user, not both", err=True)
        raise typer.Exit(2)
    path = _settings_file(agent, user)
    command = claude_settings.hook_command(url)
    try:
        added = claude_settings.install(path, command)
    except claude_settings.SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    events_added = ", ".join(added) if added else "nothing new (already installed)"
    typer.echo(f"{path}: {command!r} on {events_added}")


@hook_cli.command("uninstall")
def hook_uninstall(agent: Agent, user: Scope = False) -> None:
    """Remove exactly the hooks `hook install` added; the user's own hooks stay."""
    from recording_client import claude_settings

    path = _settings_file(agent, user)
    try:
        removed = claude_settings.uninstall(path)
    except claude_settings.SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{path}: removed from {', '.join(removed)}" if removed else f"{path}: not installed"
    )


@import_cli.command("claude-code")
def import_claude_code(
    transcripts: Annotated[
        list[Path],
        typer.Argument(
            help="Transcript files (~/.claude/projects/*/SESSION.jsonl).",
            exists=True,
            dir_okay=False,
        ),
    ],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = ...,  # type: ignore[assignment]
    spool: SpoolOption = None,
    no_spool: NoSpoolOption = False,
    retries: RetriesOption = 8,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Record whole past sessions from Claude Code transcripts, with their own timestamps;
    importing again is all duplicates. Exit codes as for `send`."""
    _transmit(_transcript_lines(transcripts), url, key, spool, no_spool, retries, as_json, quiet)


def _transcript_lines(paths: list[Path]) -> Iterator[Line]:
    """Each transcript line's events, numbered by line (and labelled by file when several)."""
    from recording_client import claude_code

    for path in paths:
        transcript = claude_code.Transcript()
        label = f"{path.name} " if len(paths) > 1 else ""
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                for entry in claude_code.read_transcript([raw]):
                    for event in transcript.events(entry):
                        yield Line(number, event, label=label)


@sessions_cli.command("delete")
def sessions_delete(
    session: Annotated[str, typer.Argument(help="The session's id.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = ...,  # type: ignore[assignment]
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete SESSION and all its events (needs an `all` key). Their ids are free again: an
    event re-sent afterwards (a spool still holding it) is stored anew."""
    import httpx

    if not yes:
        typer.confirm(f"Delete session {session!r} and all its events?", abort=True)
    try:
        answer = httpx.delete(
            f"{url.rstrip('/')}/api/recording/sessions/{quote(session, safe='')}/",
            headers={"X-Clone-API-Key": key},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    if answer.status_code != 200:
        detail = (
            answer.json().get("detail")
            if answer.headers.get("content-type", "").startswith("application/json")
            else answer.text[:200]
        )
        typer.echo(f"not deleted: HTTP {answer.status_code}: {detail}", err=True)
        raise typer.Exit(2 if answer.status_code in (403, 404) else 1)
    typer.echo(f"deleted session {session!r} and its {answer.json()['deleted_events']:,} events")


@cli.command("export")
def export(
    session: Annotated[str, typer.Argument(help="The session's id.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = ...,  # type: ignore[assignment]
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="A file (default: stdout).")
    ] = None,
) -> None:
    """Write SESSION as NDJSON (full payloads, oldest first); `send` takes it back."""
    import httpx

    target = f"{url.rstrip('/')}/api/recording/sessions/{quote(session, safe='')}/export"
    sink = output.open("wb") if output else sys.stdout.buffer
    try:
        with httpx.stream("GET", target, headers={"X-Clone-API-Key": key}, timeout=60) as answer:
            if answer.status_code != 200:
                answer.read()
                typer.echo(f"not exported: HTTP {answer.status_code}: {answer.text[:200]}",
                           err=True)  # fmt: skip
                raise typer.Exit(2 if answer.status_code in (403, 404) else 1)
            for chunk in answer.iter_bytes():
                sink.write(chunk)
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach {url}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if output:
            sink.close()
        else:
            sink.flush()


def _load_plugins() -> None:
    for plugin in entry_points(group=PLUGIN_GROUP):
        plugin.load()(cli)


def main() -> None:
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if command not in PRODUCER_COMMANDS:
        _load_plugins()
    cli()
