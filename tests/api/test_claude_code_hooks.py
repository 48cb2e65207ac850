"""POST /api/recording/hooks/claude-code/: Claude Code's `http` hook, input by input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Producer
from tests.factories import unique

HOOKS = json.loads((Path(__file__).parents[1] / "fixtures/claude_code/hooks.json").read_text())
PATH = "/api/recording/hooks/claude-code/"


def hook(name: str, session: str, **changes: Any) -> dict[str, Any]:
    """A documented hook input, moved to `session` (sessions are per user)."""
    value = copy.deepcopy(HOOKS[name])
    value["session_id"] = session
    value.update(changes)
    return value


async def post(producer: Producer, body: Any, **kwargs: Any) -> Any:
    return await producer.client.post(PATH, json=body, headers=producer.headers, **kwargs)


async def stored(producer: Producer, session: str) -> list[dict[str, Any]]:
    """The session's events with their payloads, oldest first."""
    page = await producer.get(f"/api/recording/sessions/{session}/events/")
    if page.status_code == 404:
        return []
    assert page.status_code == 200, page.text
    details = [await producer.get(f"/api/recording/events/{e['id']}/") for e in page.json()]
    return [detail.json()["payload"] for detail in details]


ENVELOPE = {"source": "agent", "source_detail": "claude-code"}
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "SessionStart": [
        {
            "type": "session.started",
            "cwd": "/home/dev/app",
            "attributes": {"source": "startup", "model": "claude-sonnet-4-6"},
        }
    ],
    "SessionEnd": [{"type": "session.stopped", "reason": "prompt_input_exit"}],
    "UserPromptSubmit": [
        {
            "type": "agent.prompt",
            "agent": "Claude Code",
            "prompt": "Write a function to calculate the factorial of a number",
            "attributes": {"prompt_id": "5f0e4a4c-7f52-4d38-9f0a-2d2b7c1f9e10"},
        }
    ],
    "PreToolUse": [
        {
            "type": "agent.tool_call",
            "agent": "Claude Code",
            "tool": "Bash",
            "call_id": "toolu_01ABC123",
            "input": {"command": "npm test", "description": "Run test suite"},
        }
    ],
    "PostToolUse_Bash": [
        {
            "type": "agent.tool_result",
            "tool": "Bash",
            "call_id": "toolu_01ABC123",
            "output": "42 passing",
            "is_error": False,
        },
        {
            "type": "command.executed",
            "command": "npm test",
            "cwd": "/home/dev/app",
            "exit_code": 0,
            "output": "42 passing",
        },
    ],
    "PostToolUse_Write": [
        {
            "type": "agent.tool_result",
            "tool": "Write",
            "call_id": "toolu_01DEF456",
            "is_error": False,
        },
        {"type": "file.changed", "path": "/home/dev/app/factorial.js", "change": "created"},
    ],
    "PostToolUse_Edit": [
        {"type": "agent.tool_result", "tool": "Edit", "call_id": "toolu_01GHI789"},
        {
            "type": "file.changed",
            "path": "/home/dev/app/factorial.js",
            "change": "modified",
            "diff": "--- /home/dev/app/factorial.js\n+++ /home/dev/app/factorial.js\n"
            "@@ -1 +1 @@\n-n <= 1 ? 1\n+n < 2 ? 1\n",
        },
    ],
    "PostToolUseFailure": [
        {
            "type": "agent.tool_result",
            "tool": "Bash",
            "call_id": "toolu_01JKL012",
            "is_error": True,
            "output": "Command exited with non-zero status code 1",
            "attributes": {"is_interrupt": False},
        },
        {"type": "command.executed", "command": "npm run lint", "exit_code": 1},
    ],
    "Stop": [
        {
            "type": "agent.response",
            "agent": "Claude Code",
            "response": "I added factorial.js; the tests pass.",
        }
    ],
    "SubagentStop": [
        {
            "type": "agent.response",
            "response": "Found 3 call sites of factorial.",
            "attributes": {"agent_id": "a748733", "agent_type": "Explore"},
        }
    ],
    "Notification": [
        {"type": "note", "text": "Notification: Claude needs your permission to use Bash"}
    ],
    "PreCompact": [{"type": "note", "text": "PreCompact"}],
}


def contains(actual: Any, expected: Any) -> bool:
    """Every key of `expected` is in `actual` with that value (recursively for objects)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in expected.items()
        )
    return bool(actual == expected)


@pytest.mark.parametrize("name", EXPECTED, ids=EXPECTED)
async def test_each_documented_hook_input_becomes_its_events(alice: Producer, name: str) -> None:
    session = unique("cc")
    answer = await post(alice, hook(name, session))
    assert (answer.status_code, answer.json()) == (200, {})
    events = await stored(alice, session)
    assert len(events) == len(EXPECTED[name])
    for event, expected in zip(events, EXPECTED[name], strict=True):
        assert contains(event, {**ENVELOPE, "session_id": session, **expected}), event
        assert event["id"].startswith("ev-")


async def test_other_hooks_keep_their_whole_input_in_attributes(alice: Producer) -> None:
    session = unique("cc")
    sent = hook("Notification", session)
    assert (await post(alice, sent)).status_code == 200
    [event] = await stored(alice, session)
    assert event["attributes"] == {"hook": sent}


@pytest.mark.parametrize("name", ["UserPromptSubmit", "PreToolUse", "PostToolUse_Bash", "Stop"])
async def test_the_same_input_posted_twice_is_stored_once(alice: Producer, name: str) -> None:
    session = unique("cc")
    for _ in range(2):
        assert (await post(alice, hook(name, session))).status_code == 200
    assert len(await stored(alice, session)) == len(EXPECTED[name])


async def test_identical_looking_events_with_their_own_keys_stay_apart(alice: Producer) -> None:
    session = unique("cc")
    await post(alice, hook("PreToolUse", session))
    await post(alice, hook("PreToolUse", session, tool_use_id="toolu_01OTHER"))
    await post(alice, hook("UserPromptSubmit", session, prompt_id="another-prompt"))
    await post(alice, hook("UserPromptSubmit", session))
    await post(alice, hook("Stop", session))
    await post(alice, hook("Stop", session, last_assistant_message="A second answer."))
    types = [event["type"] for event in await stored(alice, session)]
    assert sorted(types) == ["agent.prompt"] * 2 + ["agent.response"] * 2 + ["agent.tool_call"] * 2


async def test_a_session_recorded_hook_by_hook_reads_back_in_order(alice: Producer) -> None:
    session = unique("cc")
    order = [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse_Bash",
        "Stop",
        "SessionEnd",
    ]
    for name in order:
        assert (await post(alice, hook(name, session))).status_code == 200
    types = [event["type"] for event in await stored(alice, session)]
    assert types == [
        "session.started",
        "agent.prompt",
        "agent.tool_call",
        "agent.tool_result",
        "command.executed",
        "agent.response",
        "session.stopped",
    ]
    sessions = (await alice.get("/api/recording/sessions/")).json()
    [ours] = [s for s in sessions if s["id"] == session]
    assert ours["ended_at"] is not None and ours["source_detail"] == "claude-code"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{oops", "request body is not valid JSON: "),
        (b"[]", "request body must be a JSON object, not an array"),
        (b'{"hook_event_name": "Stop"}', "a Claude Code hook input has a string 'session_id'"),
        (b'{"session_id": "s"}', "a Claude Code hook input has a string 'hook_event_name'"),
    ],
    ids=["not-json", "array", "no-session", "no-event-name"],
)
async def test_a_body_that_is_not_a_hook_input_is_a_400(
    alice: Producer, body: bytes, detail: str
) -> None:
    answer = await alice.client.post(
        PATH, content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)


async def test_an_input_whose_events_would_be_invalid_stores_nothing(alice: Producer) -> None:
    session = unique("cc")
    answer = await post(alice, hook("PostToolUse_Bash", session, tool_name="B" * 300))
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(
        "the hook input makes invalid events, none was stored: agent.tool_result: tool: "
    )
    assert await stored(alice, session) == []


async def test_a_wrong_or_missing_key_is_a_401(alice: Producer) -> None:
    body = hook("Stop", unique("cc"))
    assert (await alice.client.post(PATH, json=body)).status_code == 401
    wrong = await alice.client.post(PATH, json=body, headers={"X-Clone-API-Key": "rec_nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "invalid or revoked API key"})


async def test_another_users_session_is_refused(alice: Producer, bob: Producer) -> None:
    session = unique("cc")
    assert (await post(alice, hook("SessionStart", session))).status_code == 200
    answer = await post(bob, hook("UserPromptSubmit", session))
    assert answer.status_code == 400
    assert "session belongs to another user" in answer.json()["detail"]


async def test_gzip_and_the_bearer_scheme_work_as_for_ingest(alice: Producer) -> None:
    import gzip

    session = unique("cc")
    answer = await alice.client.post(
        PATH.rstrip("/"),
        content=gzip.compress(json.dumps(hook("Stop", session)).encode()),
        headers={
            "Authorization": f"Bearer {alice.key}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert (answer.status_code, answer.json()) == (200, {})
    assert [e["type"] for e in await stored(alice, session)] == ["agent.response"]


async def test_the_openapi_document_describes_the_hook_endpoint(alice: Producer) -> None:
    document = (await alice.client.get("/openapi.json")).json()
    operation = document["paths"][PATH]["post"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "413", "415", "429", "503"}
    assert "PostToolUse" in operation["requestBody"]["content"]["application/json"]["examples"]
    assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerKey": []}]
