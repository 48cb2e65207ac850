"""`clone-recording send` and `spool status|flush` as a user runs them, against a real service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from recording_client import event_id, events
from tests.factories import unique
from tests.live import free_port
from tests.served import Served, serve

pytestmark = pytest.mark.in_process
SCRIPT = str(Path(sys.executable).with_name("clone-recording"))


def run(*args: str, key: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLONE_API_KEY": key}
    return subprocess.run(
        [SCRIPT, *args],
        env=env,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=300,
    )


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(done.stdout.splitlines()[-1]))


def event_line(session: str, n: int) -> str:
    return json.dumps(
        events.note(
            session, text=f"n{n}", id=event_id(session, n), occurred_at="2026-05-05T12:00:00Z"
        )
    )


async def test_send_100k_lines_reports_invalid_ones_by_line_and_stores_the_rest(
    served: Served, key: str, stored: Any, tmp_path: Path
) -> None:
    session, total = unique("cli"), 100_000
    bad = {
        17: "{not json",
        5_000: json.dumps(
            {
                "id": "x-5000",
                "session_id": session,
                "occurred_at": "2026-05-05T12:00:00Z",
                "type": "note",
                "text": "",
            }
        ),
        77_777: "[1, 2, 3]",
        99_999: json.dumps({**events.note(session, text=""), "type": "party"}),
    }
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(bad.get(n, event_line(session, n)) for n in range(1, total + 1)))
    url = ("--url", served.base, "--spool", str(tmp_path / "spool"), "--json")

    first = run("send", str(path), *url, key=key)
    assert first.returncode == 2, first.stderr
    report = summary(first)
    assert (report["accepted"], report["duplicates"], report["waiting"]) == (total - 4, 0, 0)
    assert [item["where"] for item in report["invalid"]] == [
        "line 17",
        "line 5000",
        "line 77777",
        "line 99999",
    ]
    assert report["invalid"][0]["errors"][0].startswith("not valid JSON: ")
    assert report["invalid"][1]["errors"] == ["'source' is a required property"]
    assert report["invalid"][2]["errors"] == ["not a JSON object but list"]
    assert report["invalid"][3]["errors"][0].startswith("type: 'party' is not one of")
    assert await stored(session) == total - 4
    print(f"send: {total:,} lines in {report['seconds']} s")

    again = run("send", str(path), *url, key=key)
    assert again.returncode == 2
    assert (summary(again)["accepted"], summary(again)["duplicates"]) == (0, total - 4)
    assert await stored(session) == total - 4


async def test_send_reads_a_json_array_from_stdin_and_exits_0_when_all_is_stored(
    served: Served, key: str, stored: Any, tmp_path: Path
) -> None:
    session = unique("cli")
    batch = [events.note(session, text=str(n)) for n in range(25)]
    done = run(
        "send",
        "-",
        "--url",
        served.base,
        "--no-spool",
        key=key,
        stdin=json.dumps(batch, indent=2).encode(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("accepted 25 · duplicates 0 · invalid 0 in ")
    assert await stored(session) == 25


async def test_send_to_an_unreachable_service_exits_1_and_the_spool_sends_later(
    database_url: str, key: str, stored: Any, tmp_path: Path
) -> None:
    session, port = unique("cli"), free_port()
    base, spool = f"http://127.0.0.1:{port}", str(tmp_path / "spool")
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(event_line(session, n) for n in range(40)))

    offline = run("send", str(path), "--url", base, "--spool", spool, "--retries", "1", key=key)
    assert offline.returncode == 1
    assert "not delivered: " in offline.stderr and "ConnectError" in offline.stderr
    assert f"40 events wait in {spool}" in offline.stderr

    status = run("spool", "status", "--spool", spool, key=key)
    assert status.returncode == 0
    assert f"{base}  key {key[:12]}…  40 events" in status.stdout

    service = serve(database_url, port=port)
    try:
        flushed = run("spool", "flush", "--url", base, "--spool", spool, "--json", key=key)
    finally:
        service.server.stop()
    assert flushed.returncode == 0, flushed.stderr
    assert (summary(flushed)["accepted"], summary(flushed)["waiting"]) == (40, 0)
    assert await stored(session) == 40
    assert "nothing waits in" in run("spool", "status", "--spool", spool, key=key).stdout


async def test_send_with_a_wrong_key_exits_1_and_keeps_the_events(
    served: Served, tmp_path: Path
) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(event_line(unique("cli"), 1))
    done = run("send", str(path), "--url", served.base, "--spool", str(tmp_path), key="rec_no")
    assert done.returncode == 1
    assert "not delivered: HTTP 401" in done.stderr and "1 events wait in" in done.stderr


def test_the_producer_commands_do_not_import_the_service() -> None:
    probe = (
        "import sys\n"
        "from recording_client import cli\n"
        "sys.argv = ['clone-recording', 'send', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "assert 'app' not in sys.modules and 'fastapi' not in sys.modules, 'server imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Send events from FILE" in done.stdout


async def test_sessions_delete_removes_a_session_and_says_so(
    served: Served, key: str, stored: Any
) -> None:
    session = unique("cli")
    batch = [events.note(session, text=str(n)) for n in range(4)]
    assert run("send", "-", "--url", served.base, "--no-spool", key=key,
               stdin=json.dumps(batch).encode()).returncode == 0  # fmt: skip
    done = run("sessions", "delete", session, "--url", served.base, "--yes", key=key)
    assert (done.returncode, done.stdout.strip()) == (
        0,
        f"deleted session '{session}' and its 4 events",
    )
    assert await stored(session) == 0
    missing = run("sessions", "delete", session, "--url", served.base, "--yes", key=key)
    assert missing.returncode == 2 and "HTTP 404: session not found" in missing.stderr


def user_in(database_url: str) -> str:
    """A new user's key in the database at `database_url` (one connection of its own)."""
    import asyncio

    from app import auth, repository
    from tests.conftest import off_loop

    async def create() -> str:
        conn = await repository.connect(database_url)
        try:
            created = await auth.create_user_with_key(conn, f"rt-{uuid.uuid4().hex[:8]}")
            assert created is not None
            return created[1]
        finally:
            await conn.close()

    return off_loop(asyncio.run, create())


async def test_export_then_send_into_an_empty_database_reproduces_the_session(
    served: Served, key: str, database_url: str, tmp_path: Path
) -> None:
    from app import migrate
    from tests.conftest import admin_sql, off_loop, with_database

    session = unique("cli")
    batch = [events.session_started(session, occurred_at="2026-05-05T12:00:00Z"),
             *[events.note(session, text=f"n{n} \u0000 😀", occurred_at=f"2026-05-05T12:0{n}:30Z")
               for n in range(5)],
             events.session_stopped(session, occurred_at="2026-05-05T12:09:00Z")]  # fmt: skip
    assert run("send", "-", "--url", served.base, "--no-spool", key=key,
               stdin=json.dumps(batch).encode()).returncode == 0  # fmt: skip
    exported = tmp_path / "export.ndjson"
    done = run("export", session, "--url", served.base, "-o", str(exported), key=key)
    assert done.returncode == 0, done.stderr
    lines = exported.read_text().splitlines()
    assert [json.loads(line) for line in lines] == batch  # full payloads, oldest first

    name = f"roundtrip_{uuid.uuid4().hex[:8]}"
    admin_sql(database_url, f'CREATE DATABASE "{name}"')
    empty = with_database(database_url, name)
    try:
        off_loop(migrate.upgrade, empty)
        other = serve(empty)
        try:
            fresh_key = user_in(empty)
            sent = run("send", str(exported), "--url", other.base, "--no-spool", "--json",
                       key=fresh_key)  # fmt: skip
            assert sent.returncode == 0 and json.loads(sent.stdout)["accepted"] == len(batch)
            again = tmp_path / "again.ndjson"
            run("export", session, "--url", other.base, "-o", str(again), key=fresh_key)
            assert again.read_bytes() == exported.read_bytes()
        finally:
            other.server.stop()
    finally:
        admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_export_of_another_users_or_an_unknown_session_is_refused(
    served: Served, key: str
) -> None:
    done = run("export", unique("nope"), "--url", served.base, key=key)
    assert done.returncode == 2 and "HTTP 404" in done.stderr
