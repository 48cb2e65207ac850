"""The console script, run as a newcomer would: users, keys, migrate, and serve."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_ingest import readme_example
from tests.live import Service, run

pytestmark = pytest.mark.in_process


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_users_and_keys_lifecycle(cli_env: dict[str, str]) -> None:
    name = f"cli-{time.time_ns()}"
    first = last_line(run(cli_env, "users", "create", name))
    assert first.startswith("rec_") and len(first) > 40
    run(cli_env, "users", "create", name, ok=False)
    second = last_line(run(cli_env, "keys", "create", name))
    assert second.startswith("rec_") and second != first
    listing = run(cli_env, "keys", "list", name).stdout
    assert first[:12] in listing and second[:12] in listing
    assert first not in listing and second not in listing
    assert listing.count("active") == 2
    run(cli_env, "keys", "revoke", first)
    listing = run(cli_env, "keys", "list", name).stdout
    assert listing.count("active") == 1 and listing.count("revoked") == 1
    run(cli_env, "keys", "revoke", second[:12])
    run(cli_env, "keys", "revoke", second[:12], ok=False)
    run(cli_env, "keys", "list", "nobody-by-that-name", ok=False)


def test_revoking_with_a_mistyped_whole_key_revokes_nothing(cli_env: dict[str, str]) -> None:
    key = last_line(run(cli_env, "users", "create", f"cli-{time.time_ns()}"))
    run(cli_env, "keys", "revoke", key[:-1] + ("A" if key[-1] != "A" else "B"), ok=False)
    run(cli_env, "keys", "revoke", key)


def test_migrate_is_idempotent(cli_env: dict[str, str]) -> None:
    assert "latest migration" in run(cli_env, "migrate").stdout


@pytest.fixture
def embedded_service(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """`serve` with DATABASE_URL unset: the embedded PostgreSQL under a fresh DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATA_DIR"] = str(tmp_path / "data")
    service = Service(env)
    key = (tmp_path / "data" / "demo-api-key").read_text().strip()
    try:
        yield service.base, env, key
    finally:
        code, output = service.stop()
    assert code == 0, output
    assert "Created user 'demo'" in output and key in output


def test_newcomer_flow_on_the_embedded_database(
    embedded_service: tuple[str, dict[str, str], str],
) -> None:
    base, env, demo_key = embedded_service
    response = httpx.post(
        f"{base}/api/recording/events/",
        json=readme_example(),
        headers={"X-Clone-API-Key": demo_key, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (
        201,
        {"accepted": 2, "duplicates": 0, "invalid": []},
    )
    # The CLI shares the running service's embedded database.
    other_key = last_line(run(env, "users", "create", "second"))
    listing = httpx.get(f"{base}/api/recording/sessions/", headers={"X-Clone-API-Key": other_key})
    assert (listing.status_code, listing.json()) == (200, [])
    mine = httpx.get(f"{base}/api/recording/sessions/", headers={"X-Clone-API-Key": demo_key})
    assert [s["event_count"] for s in mine.json()] == [2]


def test_two_workers_share_the_port_and_their_metrics(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    key = last_line(run(env, "users", "create", f"workers-{time.time_ns()}"))
    service = Service(env, "--workers", "2")
    try:
        time.sleep(1)  # let the second worker finish starting
        for _ in range(6):  # a new connection each time, spread over both workers
            response = httpx.post(
                f"{service.base}/api/recording/events/",
                json=readme_example(),
                headers={"X-Clone-API-Key": key},
            )
            assert response.status_code == 201
        metrics = httpx.get(f"{service.base}/metrics").text
    finally:
        code, output = service.stop()
    assert code == 0, output
    assert sum("Started server process" in line for line in output.splitlines()) == 2
    prefix = 'recording_ingest_events_total{outcome="accepted"} '
    line = next(x for x in metrics.splitlines() if x.startswith(prefix))
    assert float(line.removeprefix(prefix)) == 12.0


def test_keys_carry_a_scope_that_list_shows(cli_env: dict[str, str]) -> None:
    name = f"cli-{time.time_ns()}"
    first = last_line(run(cli_env, "users", "create", name))
    ingest = run(cli_env, "keys", "create", name, "--scope", "ingest")
    assert "New 'ingest' API key" in ingest.stdout
    read = last_line(run(cli_env, "keys", "create", name, "--scope", "read"))
    listing = run(cli_env, "keys", "list", name).stdout.splitlines()
    scopes = {line.split("…")[0]: line.split()[1] for line in listing}
    assert scopes == {first[:12]: "all", last_line(ingest)[:12]: "ingest", read[:12]: "read"}
    refused = run(cli_env, "keys", "create", name, "--scope", "admin", ok=False)
    assert "admin" in refused.stderr


def test_key_creation_and_revocation_are_audited_without_the_key(cli_env: dict[str, str]) -> None:
    import json

    name = f"cli-{time.time_ns()}"
    created = run(cli_env, "users", "create", name)
    key = last_line(created)
    revoked = run(cli_env, "keys", "revoke", key)
    lines = [json.loads(line) for line in (created.stderr + revoked.stderr).splitlines()
             if line.startswith("{") and '"recording.audit"' in line]  # fmt: skip
    assert [(x["audit"], x["prefix"]) for x in lines] == [
        ("key.created", key[:12]),
        ("key.revoked", key[:12]),
    ]
    assert lines[0]["scope"] == "all" and lines[0]["user"] == name
    assert key not in created.stderr + revoked.stderr
