"""Input files for `send` (NDJSON or an array, by line), event builders and ids."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.settings import Settings
from app.validation import EventValidator, Invalid, load_schema
from recording_client import event_id, events, new_id
from recording_client.core import encode
from recording_client.ids import instant
from recording_client.reading import read_events


def lines(text: bytes) -> list[tuple[int, Any, str | None]]:
    return [(line.number, line.event, line.error) for line in read_events(io.BytesIO(text))]


def test_ndjson_lines_keep_their_numbers_and_blank_lines_count() -> None:
    text = b'\n{"a": 1}\n\n{"b": 2}\r\n   \n{"c": 3}'
    assert lines(text) == [(2, {"a": 1}, None), (4, {"b": 2}, None), (6, {"c": 3}, None)]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"{oops", "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (b"[1, 2]", "not a JSON object but list"),
        (b'"text"', "not a JSON object but str"),
        (b'{"a": "\xff"}', "not valid UTF-8: invalid start byte at byte 7"),
    ],
    ids=["malformed", "array", "string", "bad-utf8"],
)
def test_a_bad_ndjson_line_is_reported_and_the_rest_is_read(line: bytes, error: str) -> None:
    assert lines(b'{"a": 1}\n' + line + b'\n{"c": 3}\n') == [
        (1, {"a": 1}, None),
        (2, None, error),
        (3, {"c": 3}, None),
    ]


def test_an_array_gives_each_item_the_line_it_starts_on() -> None:
    text = b'  \n[\n  {"a": 1},\n  {"b":\n 2}, {"c": 3},\n  7\n]\n'
    assert lines(text) == [
        (3, {"a": 1}, None),
        (4, {"b": 2}, None),
        (5, {"c": 3}, None),
        (6, None, "not a JSON object but int"),
    ]


def test_an_array_that_breaks_off_reports_where() -> None:
    assert lines(b'[{"a": 1},\n{"b": ]') == [
        (1, {"a": 1}, None),
        (2, None, "not valid JSON: Expecting value (column 7)"),
    ]
    assert lines(b"[]") == []


@pytest.fixture(scope="module")
def validator() -> EventValidator:
    return EventValidator(load_schema(), max_event_bytes=Settings().max_event_bytes)


BUILT = {
    "session_started": events.session_started(
        "s-1", title="Fix it", cwd="/w", host="h", repository={"url": "u", "branch": "main"}
    ),
    "session_stopped": events.session_stopped("s-1", reason="exit", exit_code=0),
    "prompt": events.prompt("s-1", agent="Claude Code", prompt="Run the tests", model="m"),
    "response": events.response("s-1", agent="A", response="Done", input_tokens=3, output_tokens=9),
    "tool_call": events.tool_call("s-1", agent="A", tool="Bash", call_id="c1", input={"x": [1]}),
    "tool_result": events.tool_result(
        "s-1", agent="A", tool="Bash", call_id="c1", output="ok", is_error=False, duration_ms=3.5
    ),
    "command": events.command("s-1", command="make test", cwd="/w", exit_code=2, output="..."),
    "file_changed": events.file_changed("s-1", path="b.py", change="renamed", old_path="a.py"),
    "note": events.note("s-1", text="hello", source_detail="my-tool", attributes={"k": "v"}),
    "minimal_prompt": events.prompt("s-1", agent="A", prompt=""),
}


@pytest.mark.parametrize("event", BUILT.values(), ids=BUILT.keys())
def test_every_builder_makes_an_event_the_service_accepts(
    validator: EventValidator, event: dict[str, Any]
) -> None:
    outcome = validator.check(0, json.loads(encode(event)))
    assert not isinstance(outcome, Invalid), outcome.errors


def test_builders_leave_out_unset_fields_and_fill_the_envelope() -> None:
    moment = datetime(2026, 5, 5, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    built = events.prompt("s-1", agent="A", prompt="p", id="p-1", occurred_at=moment)
    assert built == {
        "id": "p-1",
        "session_id": "s-1",
        "occurred_at": "2026-05-05T12:00:00.000000Z",
        "source": "agent",
        "type": "agent.prompt",
        "agent": "A",
        "prompt": "p",
    }


def test_event_ids_are_deterministic_distinct_and_valid(validator: EventValidator) -> None:
    assert event_id("s", "prompt", 3) == event_id("s", "prompt", 3)
    assert (
        len(
            {
                event_id("s", "a:b"),
                event_id("s", "a", "b"),
                event_id("s", "a", 3),
                event_id("s", "a", "3"),
                event_id("t", "a", 3),
            }
        )
        == 5
    )
    assert new_id() != new_id()
    event = events.note("s", text="x", id=event_id("s", "toolu_01ABC", "PostToolUse"))
    assert not isinstance(validator.check(0, event), Invalid)


def test_an_event_without_id_or_instant_gets_both_when_encoded() -> None:
    encoded = json.loads(encode({"session_id": "s", "source": "sdk", "type": "note", "text": ""}))
    assert encoded["id"].startswith("ev-") and encoded["occurred_at"].endswith("Z")


def test_instants_are_utc_with_z() -> None:
    assert instant(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000000Z"
    assert instant(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert instant("2026-01-02T03:04:05+02:00") == "2026-01-02T03:04:05+02:00"
