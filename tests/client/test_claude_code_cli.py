"""The command hook, `hook install|uninstall` and `import claude-code`, run as a user runs them."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from recording_client import claude_code, claude_settings
from tests.factories import unique
from tests.live import free_port
from tests.served import Served, serve

pytestmark = pytest.mark.in_process
SCRIPT = str(Path(sys.executable).with_name("clone-recording"))
FIXTURES = Path(__file__).parents[1] / "fixtures/claude_code"
HOOKS = json.loads((FIXTURES / "hooks.json").read_text())


def hook_input(name: str, session: str, **changes: Any) -> bytes:
    value = copy.deepcopy(HOOKS[name])
    value.update(session_id=session, **changes)
    return json.dumps(value).encode()


def run_hook(
    stdin: bytes, base: str, key: str | None, spool: Path
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "CLONE_API_KEY"}
    env.update({"CLONE_RECORDING_URL": base} | ({"CLONE_API_KEY": key} if key else {}))
    return subprocess.run(
        [SCRIPT, "hook", "claude-code", "--spool", str(spool)],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=30,
    )


async def wait_for(stored: Any, session: str, count: int, seconds: float = 20) -> int:
    deadline = time.monotonic() + seconds
    while (found := await stored(session)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(found)


async def test_the_command_hook_spools_and_a_detached_sender_delivers(
    served: Served, key: str, stored: Any, tmp_path: Path
) -> None:
    session = unique("cc")
    done = run_hook(hook_input("PostToolUse_Bash", session), served.base, key, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert await wait_for(stored, session, 2) == 2  # the tool result and the command
    assert not (tmp_path / "hook-errors.log").exists()


async def test_the_command_hook_exits_0_offline_and_the_next_one_sends_both(
    database_url: str, key: str, stored: Any, tmp_path: Path
) -> None:
    session, port = unique("cc"), free_port()
    base = f"http://127.0.0.1:{port}"
    first = run_hook(hook_input("UserPromptSubmit", session), base, key, tmp_path)
    assert (first.returncode, first.stdout) == (0, b"")
    service = serve(database_url, port=port)
    try:
        second = run_hook(hook_input("Stop", session), base, key, tmp_path)
        assert second.returncode == 0
        assert await wait_for(stored, session, 2) == 2
    finally:
        service.server.stop()


@pytest.mark.parametrize(
    ("stdin", "key", "logged"),
    [
        (b"{not json", "rec_x", "JSONDecodeError"),
        (b'{"hook_event_name": "Stop"}', "rec_x", "NotAHookInput"),
        (b'{"session_id": "s", "hook_event_name": "Stop"}', None, "CLONE_API_KEY is not set"),
    ],
    ids=["garbage", "not-a-hook", "no-key"],
)
def test_the_command_hook_never_fails_the_agent_and_logs_why(
    tmp_path: Path, stdin: bytes, key: str | None, logged: str
) -> None:
    done = run_hook(stdin, f"http://127.0.0.1:{free_port()}", key, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert logged in (tmp_path / "hook-errors.log").read_text()


def test_the_command_hook_keeps_its_capture_time_through_retries(tmp_path: Path) -> None:
    """A note's id includes the capture instant, stamped once and kept in the spool."""
    from recording_client.spool import Spool

    base = f"http://127.0.0.1:{free_port()}"
    run_hook(hook_input("Notification", "s-1"), base, "rec_x", tmp_path)
    spool = Spool(tmp_path, base, "rec_x")
    try:
        [entry] = spool.take(10, 10**6)
    finally:
        spool.close()
    event = json.loads(entry.data)
    expected = claude_code.from_hook(
        HOOKS["Notification"] | {"session_id": "s-1"}, event["occurred_at"]
    )
    assert event == expected[0]


USER_SETTINGS = {
    "model": "opus",
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


def test_install_merges_into_the_users_settings_and_uninstall_restores_them(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(USER_SETTINGS))
    added = claude_settings.install(path)
    assert added == list(claude_settings.TOOL_EVENTS + claude_settings.OTHER_EVENTS)
    settings = json.loads(path.read_text())
    assert settings["model"] == "opus"
    assert settings["hooks"]["PreToolUse"] == [
        USER_SETTINGS["hooks"]["PreToolUse"][0],  # the user's own, untouched and first
        {
            "matcher": "*",
            "hooks": [
                {
                    "type": "command",
                    "command": claude_settings.HOOK_COMMAND,
                    "timeout": claude_settings.TIMEOUT_SECONDS,
                }
            ],
        },
    ]
    assert settings["hooks"]["SessionEnd"] == [
        {
            "hooks": [
                {
                    "type": "command",
                    "command": claude_settings.HOOK_COMMAND,
                    "timeout": claude_settings.TIMEOUT_SECONDS,
                }
            ]
        }
    ]
    assert claude_settings.install(path) == []  # twice: nothing new
    assert json.loads(path.read_text()) == settings
    removed = claude_settings.uninstall(path)
    assert set(removed) == set(added)
    assert json.loads(path.read_text()) == USER_SETTINGS
    assert claude_settings.uninstall(path) == []


def test_uninstall_leaves_a_users_hook_that_shares_our_group(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    claude_settings.install(path)
    settings = json.loads(path.read_text())
    settings["hooks"]["Stop"][0]["hooks"].append({"type": "command", "command": "say done"})
    path.write_text(json.dumps(settings))
    claude_settings.uninstall(path)
    assert json.loads(path.read_text()) == {
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}
    }


def test_install_refuses_a_settings_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{broken")
    with pytest.raises(claude_settings.SettingsError, match="is not valid JSON"):
        claude_settings.install(path)
    assert path.read_text() == "{broken"


def test_hook_install_and_uninstall_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(tmp_path / "user")}
    project = tmp_path / "project"
    project.mkdir()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SCRIPT, "hook", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = cli("install", "claude-code", "--url", "http://recording.example:8000")
    assert done.returncode == 0, done.stderr
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    command = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert command.endswith("clone-recording hook claude-code --url http://recording.example:8000")
    assert cli("install", "claude-code", "--user").returncode == 0
    assert (tmp_path / "user" / "settings.json").exists()
    assert cli("uninstall", "claude-code").returncode == 0
    assert json.loads((project / ".claude" / "settings.json").read_text()) == {}
    unknown = cli("install", "cursor")
    assert unknown.returncode == 2 and "only claude-code" in unknown.stderr


def test_a_transcript_maps_to_prompts_responses_tool_calls_and_results() -> None:
    lines = claude_code.read_transcript((FIXTURES / "transcript.jsonl").read_bytes().splitlines())
    found = list(claude_code.from_transcript(lines))
    assert [(e["type"], e["occurred_at"]) for e in found] == [
        ("session.started", "2026-05-05T12:00:00.000Z"),
        ("agent.prompt", "2026-05-05T12:00:00.000Z"),
        ("agent.response", "2026-05-05T12:00:04.500Z"),
        ("agent.tool_call", "2026-05-05T12:00:04.500Z"),
        ("agent.tool_result", "2026-05-05T12:00:05.100Z"),
        ("agent.tool_call", "2026-05-05T12:00:06.000Z"),
        ("agent.tool_result", "2026-05-05T12:00:09.250Z"),
        ("agent.response", "2026-05-05T12:00:12.000Z"),
    ]
    response, result = found[2], found[6]
    assert (response["model"], response["usage"]) == (
        "claude-sonnet-4-6",
        {"input_tokens": 1200, "output_tokens": 85},
    )
    assert (result["tool"], result["output"], result["is_error"]) == ("Bash", "1 failing", True)
    assert len({e["id"] for e in found}) == len(found)


async def test_import_records_a_transcript_once_with_its_own_timestamps(
    served: Served, key: str, db: Any, tmp_path: Path
) -> None:
    session = unique("cc")
    text = (
        (FIXTURES / "transcript.jsonl")
        .read_text()
        .replace("8c35adc1-3f4e-4b8a-9d2c-6e1f0a7b5c3d", session)
    )
    transcript = tmp_path / f"{session}.jsonl"
    transcript.write_text(text)
    command = [
        SCRIPT,
        "import",
        "claude-code",
        str(transcript),
        "--url",
        served.base,
        "--key",
        key,
        "--spool",
        str(tmp_path / "spool"),
        "--json",
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["accepted"] == 8
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    summary = json.loads(again.stdout)
    assert (again.returncode, summary["accepted"], summary["duplicates"]) == (0, 0, 8)
    rows = await db.fetch(
        "SELECT type, occurred_at FROM recording_event WHERE session_id = $1",
        session,
    )
    assert len(rows) == 8
    assert min(r["occurred_at"] for r in rows).isoformat() == "2026-05-05T12:00:00+00:00"
