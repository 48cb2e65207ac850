"""The event schema's rules, worded as jsonschema words them; fastjsonschema agrees."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import ingest
from app.validation import Event, EventValidator, Invalid, load_schema
from tests.factories import event

SCHEMA = load_schema()
validator = EventValidator(SCHEMA, max_event_bytes=1024 * 1024)


def check(item: Any) -> Event | Invalid:
    return validator.check(0, item)


def errors_of(item: Any) -> list[str]:
    outcome = check(item)
    assert isinstance(outcome, Invalid), f"expected invalid: {item!r}"
    return outcome.errors


EXAMPLES = [
    example for branch in SCHEMA["allOf"] for example in branch["then"]["examples"]
] + SCHEMA["examples"]


@pytest.mark.parametrize("item", EXAMPLES, ids=lambda item: item["type"])
def test_every_schema_example_is_valid(item: dict[str, Any]) -> None:
    outcome = check(item)
    assert isinstance(outcome, Event)
    assert outcome.id == item["id"] and outcome.type == item["type"]


def test_every_type_has_a_description_and_an_example() -> None:
    types = SCHEMA["properties"]["type"]["enum"]
    described = {b["if"]["properties"]["type"]["const"]: b["then"] for b in SCHEMA["allOf"]}
    assert set(types) == set(described)
    assert all(then["description"] and then["examples"] for then in described.values())


def test_valid_event_is_normalised_for_storage() -> None:
    item = event(
        "s-1", "agent.prompt", occurred_at="2026-05-05T14:00:00+02:00", source_detail="claude-code"
    )
    outcome = check(item)
    assert isinstance(outcome, Event)
    assert outcome.occurred_at.isoformat() == "2026-05-05T12:00:00+00:00"
    assert outcome.source_detail == "claude-code"
    assert outcome.payload.startswith(b'{"id":')


CASES = [
    ({"source": None}, ["'source' is a required property"], "missing-source"),
    (
        {"id": None, "session_id": None},
        ["'id' is a required property", "'session_id' is a required property"],
        "missing-ids",
    ),
    (
        {"source": "mainframe"},
        [
            "source: 'mainframe' is not one of ['cli', 'agent', 'ide', 'browser', "
            "'terminal', 'desktop', 'sdk', 'server']"
        ],
        "unknown-source",
    ),
    (
        {"id": "-leading-dash"},
        ["id: '-leading-dash' does not match '^[A-Za-z0-9][A-Za-z0-9._:-]*$'"],
        "id-pattern",
    ),
    ({"id": "a/b"}, ["id: 'a/b' does not match '^[A-Za-z0-9][A-Za-z0-9._:-]*$'"], "id-slash"),
    (
        {"id": "has space"},
        ["id: 'has space' does not match '^[A-Za-z0-9][A-Za-z0-9._:-]*$'"],
        "id-space",
    ),
    (
        {"session_id": ""},
        [
            "session_id: '' should be non-empty",
            "session_id: '' does not match '^[A-Za-z0-9][A-Za-z0-9._:-]*$'",
        ],
        "empty-session-id",
    ),
    (
        {"occurred_at": "2026-02-30T00:00:00Z"},
        ["occurred_at: '2026-02-30T00:00:00Z' is not a 'date-time'"],
        "feb-30",
    ),
    (
        {"occurred_at": "2026-05-05T12:00:00"},
        ["occurred_at: '2026-05-05T12:00:00' is not a 'date-time'"],
        "no-timezone",
    ),
    (
        {"occurred_at": "0000-01-01T00:00:00Z"},
        ["occurred_at: '0000-01-01T00:00:00Z' is not a 'date-time'"],
        "year-0",
    ),
    (
        {"occurred_at": "9999-12-31T23:30:00-01:00"},
        ["occurred_at: '9999-12-31T23:30:00-01:00' is not a 'date-time'"],
        "past-year-9999-in-utc",
    ),
    (
        {"occurred_at": 1714910400},
        ["occurred_at: 1714910400 is not of type 'string'"],
        "epoch-number",
    ),
    ({"type": "agent.sneeze"}, None, "unknown-type"),
    ({"type": {"a": 1}}, None, "type-object"),
    ({"type": ["note"]}, None, "type-array"),
    (
        {"colour": "blue"},
        ["Additional properties are not allowed ('colour' was unexpected)"],
        "extra-field",
    ),
    ({"source_detail": "x" * 201}, None, "long-source-detail"),
    # Any Unicode is kept (issue 13): the column holds it escaped (app/escaped.py).
    ({"source_detail": "a\u0000b"}, [], "nul-in-source-detail"),
    ({"attributes": [1, 2]}, ["attributes: [1, 2] is not of type 'object'"], "attributes-array"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for c, e, _ in CASES], ids=[i for _, _, i in CASES]
)
def test_envelope_rules(change: dict[str, Any], expected: list[str] | None) -> None:
    item = event("s-1")
    for key, value in change.items():
        if value is None:
            item.pop(key)
        else:
            item[key] = value
    if expected == []:
        assert not isinstance(check(item), Invalid)
        return
    errors = errors_of(item)
    if expected is not None:
        assert errors == expected
    else:
        assert len(errors) == 1 and item[next(iter(change))] is not None


TYPE_CASES = [
    ("agent.prompt", {"prompt": None}, ["'prompt' is a required property"]),
    ("agent.prompt", {"agent": "x" * 201}, None),
    (
        "agent.response",
        {"usage": {"input_tokens": -1}},
        ["usage.input_tokens: -1 is less than the minimum of 0"],
    ),
    (
        "agent.response",
        {"usage": {"input_tokens": 1.5}},
        ["usage.input_tokens: 1.5 is not of type 'integer'"],
    ),
    ("agent.tool_call", {"tool": None}, ["'tool' is a required property"]),
    ("agent.tool_result", {"is_error": "yes"}, ["is_error: 'yes' is not of type 'boolean'"]),
    ("agent.tool_result", {"duration_ms": -3}, ["duration_ms: -3 is less than the minimum of 0"]),
    ("command.executed", {"exit_code": "1"}, ["exit_code: '1' is not of type 'integer'"]),
    (
        "file.changed",
        {"change": "moved"},
        ["change: 'moved' is not one of ['created', 'modified', 'deleted', 'renamed']"],
    ),
    ("note", {"text": None}, ["'text' is a required property"]),
    (
        "note",
        {"prompt": "not a note field"},
        ["Additional properties are not allowed ('prompt' was unexpected)"],
    ),
    ("session.started", {"title": "t" * 501}, None),
    ("session.started", {"repository": {"url": 5}}, ["repository.url: 5 is not of type 'string'"]),
    ("session.stopped", {"exit_code": None, "reason": 3}, ["reason: 3 is not of type 'string'"]),
]


@pytest.mark.parametrize(
    ("type_", "change", "expected"),
    TYPE_CASES,
    ids=[f"{t}-{next(iter(c))}" for t, c, _ in TYPE_CASES],
)
def test_type_rules(type_: str, change: dict[str, Any], expected: list[str] | None) -> None:
    item = event("s-1", type_)
    for key, value in change.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    errors = errors_of(item)
    if expected is not None:
        assert errors == expected
    else:
        assert len(errors) == 1 and "is too long" in errors[0]


def test_type_own_fields_are_optional_where_the_schema_says() -> None:
    item = event("s-1", "agent.tool_call", input={"deep": [1, {"x": None}]}, call_id="c1")
    assert isinstance(check(item), Event)


@pytest.mark.parametrize("item", [5, "text", None, True, [1], 1.5], ids=repr)
def test_an_item_that_is_not_an_object_is_invalid(item: Any) -> None:
    assert len(errors_of(item)) == 1
    assert "is not of type 'object'" in errors_of(item)[0]


def test_at_most_three_errors_are_reported() -> None:
    assert errors_of({}) == [
        "'id' is a required property",
        "'session_id' is a required property",
        "'occurred_at' is a required property",
    ]


def test_long_values_are_elided_in_messages_but_the_reason_stays() -> None:
    errors = errors_of(event("s-1", id="a" * 10_000))
    assert errors[0] == "id: '" + "a" * 78 + "… is too long"


def test_event_over_the_size_limit_is_invalid() -> None:
    small = EventValidator(SCHEMA, max_event_bytes=200)
    outcome = small.check(4, event("s-1", text="x" * 300))
    message = "event is larger than 200 bytes"
    assert outcome == Invalid(4, [message], [{"code": "too_large", "path": "", "message": message}])


def test_classify_keeps_order_and_indexes() -> None:
    events, invalid = validator.classify([event("s-1"), 7, event("s-2"), {}])
    assert [e.index for e in events] == [0, 2]
    assert [i.index for i in invalid] == [1, 3]


def test_classify_lets_go_of_the_callers_list() -> None:
    """The route still holds the parsed batch's list; validation empties it as it goes, so
    a batch is never held twice (parsed, and serialized)."""
    items = [event("s-1"), 7, event("s-2")]
    validator.classify(items)
    assert items == [None, None, None]


def test_noting_ids_for_per_item_results_still_lets_go() -> None:
    first, second = event("s-1"), event("s-2")
    items = [first, {"id": 5}, "x", second]
    ids: dict[int, str] = {}
    events, invalid = validator.classify(ingest._noting_ids(items, ids))
    assert ids == {0: first["id"], 3: second["id"]}
    assert [e.index for e in events] == [0, 3] and [i.index for i in invalid] == [1, 2]
    assert items == [None, None, None, None]


FULL = jsonschema.Draft7Validator(SCHEMA, format_checker=validator._explainer.format_checker)
KEYS = sorted(
    {key for branch in SCHEMA["allOf"] for key in branch["then"]["properties"]} | {"colour"}
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "note",
            "agent.prompt",
            "agent.tool_call",
            "session.started",
            "cli",
            "agent",
            "x",
            "2026-05-05T12:00:00Z",
            "2026-02-30T00:00:00Z",
            "id-1",
            "",
            "modified",
            "a" * 201,
        ]
    ),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.just({"input_tokens": 1}),
    st.just({"url": "u"}),
)


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(EXAMPLES),
    changes=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3),
    drops=st.lists(st.sampled_from(KEYS), max_size=2),
)
def test_type_dispatch_agrees_with_the_whole_schema(
    base: dict[str, Any], changes: dict[str, Any], drops: list[str]
) -> None:
    item = {**base, **changes}
    for key in drops:
        item.pop(key, None)
    assert isinstance(check(item), Event) == FULL.is_valid(item)


@pytest.mark.parametrize(
    ("attributes", "ok"),
    [({"a": 1}, True), ({"a": {}}, True), ({"a": [1, [2]]}, False), ({"a": {"b": {}}}, False)],
    ids=["depth-2", "depth-3", "list-depth-4", "dict-depth-4"],
)
def test_nesting_is_capped(attributes: dict[str, Any], ok: bool) -> None:
    shallow = EventValidator(SCHEMA, max_event_bytes=1 << 20, max_depth=3)
    outcome = shallow.check(0, event("s-1", attributes=attributes))
    if ok:
        assert isinstance(outcome, Event)
    else:
        message = "attributes: nested deeper than 3 levels"
        detail = {"code": "too_deep", "path": "/attributes", "message": message}
        assert outcome == Invalid(0, [message], [detail])


def test_tool_input_nesting_is_capped_by_default() -> None:
    deep: Any = "leaf"
    for _ in range(70):
        deep = [deep]
    outcome = check(event("s-1", "agent.tool_call", input=deep))
    message = "input: nested deeper than 64 levels"
    assert outcome == Invalid(
        0, [message], [{"code": "too_deep", "path": "/input", "message": message}]
    )


def test_brackets_inside_strings_are_not_nesting() -> None:
    # Enough brackets in text to fail the cheap count, so the walk has to decide.
    shallow = EventValidator(SCHEMA, max_event_bytes=1 << 20, max_depth=3)
    outcome = shallow.check(0, event("s-1", attributes={"a": "[[[[{{{{", "b": ["]]"]}))
    assert isinstance(outcome, Event)


DETAIL_CASES = [
    ("note", {"source": None}, {"code": "required", "path": "/source"}),
    ("note", {"source": "phone"}, {"code": "enum", "path": "/source"}),
    ("note", {"id": "bad id"}, {"code": "pattern", "path": "/id"}),
    ("note", {"source_detail": "x" * 201}, {"code": "max_length", "path": "/source_detail"}),
    ("note", {"text": 3}, {"code": "type", "path": "/text"}),
    ("note", {"occurred_at": "yesterday"}, {"code": "format", "path": "/occurred_at"}),
    ("note", {"colour": "blue"}, {"code": "additional_property", "path": "/colour"}),
    (
        "agent.response",
        {"usage": {"input_tokens": -1}},
        {"code": "minimum", "path": "/usage/input_tokens"},
    ),
    (
        "note",
        {"attributes": {"a/b": {"c~d": 1}}, "text": None},
        {"code": "required", "path": "/text"},
    ),
]


@pytest.mark.parametrize(
    ("type_", "change", "expected"),
    DETAIL_CASES,
    ids=[
        "required",
        "enum",
        "pattern",
        "max-length",
        "type",
        "format",
        "additional",
        "nested-minimum",
        "required-among-others",
    ],
)
def test_each_error_has_a_code_and_a_json_pointer(
    type_: str, change: dict[str, Any], expected: dict[str, str]
) -> None:
    item = (
        event("s-1", type_)
        if type_ != "agent.response"
        else event("s-1", "agent.response", agent="A", response="r")
    )
    for key, value in change.items():
        if value is None:
            item.pop(key)
        else:
            item[key] = value
    outcome = check(item)
    assert isinstance(outcome, Invalid)
    assert [{k: d[k] for k in ("code", "path")} for d in outcome.details][:1] == [expected]
    assert [d["message"] for d in outcome.details] == outcome.errors


def test_a_pointer_escapes_slash_and_tilde() -> None:
    from app.validation import pointer

    assert pointer(["attributes", "a/b", "c~d", 0]) == "/attributes/a~1b/c~0d/0"
