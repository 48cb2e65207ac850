"""The service's commands of `clone-recording`: serve, migrate, users and keys.

The console script itself belongs to the producer package (recording_client.cli); these
commands join it through the `clone_recording.commands` entry point (`register`).
"""

from __future__ import annotations

import asyncio
import atexit
import logging.config
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from app import audit, auth, migrate, repository, retention
from app.embedded import embedded_url
from app.logs import log_config
from app.metrics import MULTIPROCESS_ENV
from app.repository import api_keys as keys_repo
from app.settings import Settings, get_settings

T = TypeVar("T")
DEMO_USER = "demo"

cli = typer.Typer(
    help="Recording: the ingest service for coding-session events.",
    no_args_is_help=True,
    add_completion=False,
)
users_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
cli.add_typer(keys_cli, name="keys")


def _database_url(settings: Settings) -> tuple[str, bool]:
    """(URL, embedded?): the embedded server is started or joined when DATABASE_URL is unset."""
    if settings.database_url:
        return settings.database_url, False
    return embedded_url(settings.data_dir), True


def _with_connection(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        conn = await repository.connect(url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def _run_with_connection(work: Callable[[Any], Awaitable[T]]) -> T:
    url, embedded = _database_url(get_settings())
    if embedded:
        migrate.upgrade(url)  # the embedded database is ours: keep it at head
    return _with_connection(url, work)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@cli.command("migrate")
def migrate_database() -> None:
    """Apply pending migrations (alembic upgrade head)."""
    url, _ = _database_url(get_settings())
    migrate.upgrade(url)
    typer.echo("database is at the latest migration")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes sharing the port.")] = 1,
) -> None:
    """Apply pending migrations, then serve the API."""
    import uvicorn

    settings = get_settings()
    url, embedded = _database_url(settings)
    migrate.upgrade(url)
    if embedded:
        # Workers join the server this process started instead of starting their own.
        os.environ["DATABASE_URL"] = url
        _announce_demo_key(url, settings)
    # uvicorn drains in-flight requests on SIGTERM/SIGINT, then re-raises the signal; exiting
    # through SystemExit(0) then lets atexit stop the embedded PostgreSQL.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    if workers > 1:
        # Each worker writes its metrics under this directory; /metrics adds them up.
        metrics_dir = tempfile.mkdtemp(prefix="recording-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ[MULTIPROCESS_ENV] = metrics_dir
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        access_log=False,  # ObserveMiddleware writes the structured access log
        log_config=log_config(),
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _announce_demo_key(url: str, settings: Settings) -> None:
    created = _with_connection(url, lambda conn: auth.create_user_with_key(conn, DEMO_USER))
    key_file = settings.data_dir / "demo-api-key"
    if created is not None:
        key = created[1]
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        typer.echo(f"Created user '{DEMO_USER}'. Its API key (also in {key_file}):\n{key}")
    elif key_file.exists():
        typer.echo(f"Demo API key: {key_file.read_text().strip()}")


@users_cli.command("create")
def users_create(name: str) -> None:
    """Create a user and its first API key; the key alone is the last line."""

    created = _run_with_connection(lambda conn: auth.create_user_with_key(conn, name))
    if created is None:
        _fail(f"user {name!r} already exists; use `keys create {name}` for another key")
        return
    _audit("key.created", user=name, prefix=auth.key_prefix(created[1]), scope="all")
    typer.echo(f"Created user {name!r}. Its API key is shown once:")
    typer.echo(created[1])


class Scope(StrEnum):
    ingest = "ingest"
    read = "read"
    all = "all"


@keys_cli.command("create")
def keys_create(
    user: str,
    scope: Annotated[
        Scope,
        typer.Option(
            help="ingest: may only send (events, hooks, OTLP) and look up what it sent; "
            "read: may only read; all: both."
        ),
    ] = Scope.all,
) -> None:
    """Create another API key for USER; the key alone is the last line."""

    async def work(conn: Any) -> str | None:
        user_id = await keys_repo.find_user(conn, user)
        if user_id is None:
            return None
        return await auth.issue_key(conn, user_id, scope.value)

    key = _run_with_connection(work)
    if key is None:
        _fail(f"no user named {user!r}")
        return
    _audit("key.created", user=user, prefix=auth.key_prefix(key), scope=scope.value)
    typer.echo(f"New {scope.value!r} API key for {user!r}, shown once:")
    typer.echo(key)


@keys_cli.command("list")
def keys_list(user: str) -> None:
    """List USER's keys by prefix (the keys themselves are never stored)."""

    async def work(conn: Any) -> list[dict[str, Any]] | None:
        user_id = await keys_repo.find_user(conn, user)
        return await keys_repo.list_keys(conn, user_id) if user_id is not None else None

    keys = _run_with_connection(work)
    if keys is None:
        _fail(f"no user named {user!r}")
        return
    for key in keys:
        state = f"revoked {key['revoked_at']:%Y-%m-%dT%H:%M:%SZ}" if key["revoked_at"] else "active"
        limit = f"  {key['rate_per_s']:g}/s" if key["rate_per_s"] else ""
        typer.echo(
            f"{key['prefix']}…  {key['scope']:<6}  created "
            f"{key['created_at']:%Y-%m-%dT%H:%M:%SZ}  {state}{limit}"
        )


@keys_cli.command("limit")
def keys_limit(
    key_or_prefix: str,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="Events a second (omit: the default).")
    ] = None,
    burst: Annotated[
        float | None, typer.Option(min=1, help="Events at once (default: 2 s' worth).")
    ] = None,
) -> None:
    """Give a key its own rate limit over RATE_LIMIT_PER_S (no options: the default again)."""
    prefix = auth.key_prefix(key_or_prefix.strip().rstrip("…"))
    if not _run_with_connection(lambda conn: keys_repo.set_limit(conn, prefix, rate, burst)):
        _fail(f"no active key matches {prefix!r}")
    _audit("key.limited", prefix=prefix, rate_per_s=rate, burst=burst)
    shown = f"{rate:g} events/s, bursts of {burst or 2 * rate:g}" if rate else "the default"
    typer.echo(f"{prefix}… now limited to {shown}")


@keys_cli.command("revoke")
def keys_revoke(key_or_prefix: str) -> None:
    """Revoke a key, given whole or by the prefix `keys list` shows."""
    given = key_or_prefix.strip().rstrip("…")
    prefix = auth.key_prefix(given)
    # A whole key must match its digest, so a mistyped key never revokes a neighbour.
    whole_key_digest = auth.digest(given) if len(given) > auth.PREFIX_LENGTH else None

    async def work(conn: Any) -> bool:
        return await keys_repo.revoke_key(conn, prefix, whole_key_digest)

    if not _run_with_connection(work):
        _fail(f"no active key matches {prefix!r}")
    _audit("key.revoked", prefix=prefix)
    typer.echo(f"revoked {prefix}…")


@cli.command()
def purge(
    before: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="Delete sessions idle since before this (UTC); default: now - RETENTION_DAYS.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
    chunk: Annotated[int, typer.Option(min=1, help="Events deleted per statement.")] = 2000,
    pause: Annotated[
        float, typer.Option(min=0, help="Seconds between two statements (room for ingest).")
    ] = 0.05,
) -> None:
    """Delete old sessions and their events, in small statements (schedule it: cron, a
    systemd timer or a Kubernetes CronJob running `clone-recording purge` daily)."""
    settings = get_settings()
    try:
        cutoff = retention.cutoff_of(before, settings.retention_days)
    except ValueError as exc:
        _fail(str(exc))
        return
    if not dry_run:
        logging.config.dictConfig(log_config())  # its audit line
    done = _run_with_connection(
        lambda conn: retention.purge(
            conn, cutoff, dry_run=dry_run, events_per_chunk=chunk, pause=pause
        )
    )
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {done.sessions:,} sessions and {done.events:,} events idle since before "
        f"{cutoff.isoformat()}"
    )


def _audit(action: str, **facts: Any) -> None:
    """An audit line on stderr (JSON, as the service writes its own)."""
    logging.config.dictConfig(log_config())
    audit.record(action, **facts)


def register(root: typer.Typer) -> None:
    """Add the service's commands to the `clone-recording` command line."""
    for command in cli.registered_commands:
        root.registered_commands.append(command)
    for group in cli.registered_groups:
        root.registered_groups.append(group)


def main() -> None:
    cli()
