"""Issue 13's answers: per-item results, conflicts, error details, dry runs, resume points,
session warnings, and U+0000 in source_detail."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.conftest import Producer
from tests.factories import at, event, unique

in_process = pytest.mark.in_process
INGEST = "/api/recording/events/"


async def post(producer: Producer, batch: Any, query: str = "") -> Any:
    return await producer.client.post(INGEST + query, json=batch, headers=producer.headers)


async def test_the_default_answer_is_v1_byte_for_byte(alice: Producer) -> None:
    session = unique("s")
    batch = [event(session), event(session), {"id": "x", "type": "note"}]
    answer = await post(alice, batch)
    assert answer.content == (
        b'{"accepted":2,"duplicates":0,"invalid":[{"index":2,"errors":["\'session_id\' is a '
        b"required property\",\"'occurred_at' is a required property\",\"'source' is a "
        b'required property"]}]}'
    )


async def test_per_item_results_give_each_items_fate_in_order(alice: Producer) -> None:
    session = unique("s")
    stored = event(session, text="first")
    assert (await post(alice, [stored])).status_code == 201
    fresh = event(session)
    batch = [
        fresh,                                   # 0 accepted
        stored,                                  # 1 duplicate: same content
        {**stored, "text": "other"},             # 2 conflict: same id, other content
        {**event(session), "source": "phone"},   # 3 invalid
        fresh,                                   # 4 duplicate within the batch
        {**fresh, "text": "changed"},            # 5 conflict within the batch
        "not an event",                          # 6 invalid, no id
    ]  # fmt: skip
    answer = await post(alice, batch, "?results=items")
    assert answer.status_code == 201
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["conflicts"]) == (1, 4, 2)
    assert [(r["index"], r.get("id"), r["status"]) for r in body["results"]] == [
        (0, fresh["id"], "accepted"),
        (1, stored["id"], "duplicate"),
        (2, stored["id"], "conflict"),
        (3, batch[3]["id"], "invalid"),
        (4, fresh["id"], "duplicate"),
        (5, fresh["id"], "conflict"),
        (6, None, "invalid"),
    ]
    [bad_source, not_object] = body["invalid"]
    assert bad_source["details"] == [
        {"code": "enum", "path": "/source", "message": bad_source["errors"][0]}
    ]
    assert body["results"][3]["details"] == bad_source["details"]
    assert not_object["details"][0]["code"] == "type" and not_object["details"][0]["path"] == ""
    # The stored event never changes.
    detail = await alice.get(f"/api/recording/events/{stored['id']}/")
    assert detail.json()["payload"]["text"] == "first"


async def test_the_default_answer_adds_conflicts_only_when_there_are_some(
    alice: Producer,
) -> None:
    item = event(unique("s"))
    await post(alice, [item])
    assert (await post(alice, [item])).json() == {"accepted": 0, "duplicates": 1, "invalid": []}
    changed = {**item, "occurred_at": at(30)}
    assert (await post(alice, [changed])).json() == {
        "accepted": 0,
        "duplicates": 1,
        "invalid": [],
        "conflicts": 1,
    }


async def test_another_users_session_is_a_foreign_session_item(
    alice: Producer, bob: Producer
) -> None:
    session = unique("s")
    await post(alice, [event(session)])
    answer = await post(bob, [event(session)], "?results=items")
    [result] = answer.json()["results"]
    assert result["status"] == "invalid"
    assert result["details"] == [
        {"code": "foreign_session", "path": "/session_id",
         "message": "session belongs to another user"}
    ]  # fmt: skip


@in_process
async def test_a_dry_run_reports_and_writes_nothing(
    alice: Producer, bob: Producer, db: Any
) -> None:
    session, theirs = unique("s"), unique("s")
    stored = event(session)
    await post(alice, [stored])
    await post(bob, [event(theirs)])
    before = await db.fetchval("SELECT count(*) FROM recording_event")
    batch = [event(session), stored, {**stored, "text": "x"}, event(theirs), {"id": "?"}]
    answer = await post(alice, batch, "?dry_run=true&results=items")
    assert answer.status_code == 200
    body = answer.json()
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "duplicate",
        "conflict",
        "invalid",
        "invalid",
    ]
    assert (body["accepted"], body["duplicates"], body["conflicts"]) == (1, 2, 1)
    assert body["results"][3]["details"][0]["code"] == "foreign_session"
    assert await db.fetchval("SELECT count(*) FROM recording_event") == before
    new_session = unique("s")
    assert (await post(alice, [event(new_session)], "?dry_run=1")).json()["accepted"] == 1
    assert (
        await db.fetchval("SELECT count(*) FROM recording_session WHERE id = $1", new_session) == 0
    )


async def test_a_dry_run_checks_the_key(alice: Producer) -> None:
    answer = await alice.client.post(
        INGEST + "?dry_run=true", json=[event(unique("s"))], headers={"X-Clone-API-Key": "rec_x"}
    )
    assert (answer.status_code, answer.json()) == (401, {"detail": "invalid or revoked API key"})


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("?results=all", "results must be 'items', not 'all'"),
        ("?dry_run=maybe", "dry_run must be true or false, not 'maybe'"),
        ("?verbose=1", "unknown query parameter 'verbose'; known: results, dry_run"),
    ],
    ids=["results", "dry-run", "unknown"],
)
async def test_bad_options_are_a_400(alice: Producer, query: str, detail: str) -> None:
    answer = await post(alice, [event(unique("s"))], query)
    assert (answer.status_code, answer.json()) == (400, {"detail": detail})


async def test_lookup_says_which_ids_are_stored_and_yours(alice: Producer, bob: Producer) -> None:
    mine, theirs = event(unique("s")), event(unique("s"))
    await post(alice, [mine])
    await post(bob, [theirs])
    answer = await alice.client.post(
        "/api/recording/events/lookup",
        json={"ids": [theirs["id"], "never-sent", mine["id"]]},
        headers=alice.headers,
    )
    assert (answer.status_code, answer.json()) == (
        200,
        {"stored": [mine["id"]], "missing": [theirs["id"], "never-sent"]},
    )


@pytest.mark.parametrize(
    "body",
    [{"ids": []}, {"ids": ["a"] * 1001}, {"ids": "a"}, [1]],
    ids=["empty", "too-many", "not-a-list", "not-an-object"],
)
async def test_lookup_refuses_a_bad_body(alice: Producer, body: Any) -> None:
    answer = await alice.client.post("/api/recording/events/lookup", json=body,
                                     headers=alice.headers)  # fmt: skip
    assert answer.status_code == 400 and answer.json()["detail"]


async def test_the_session_detail_says_where_to_resume_and_what_looks_wrong(
    alice: Producer, bob: Producer
) -> None:
    session = unique("s")
    call = event(session, "agent.tool_call", call_id="c-1", occurred_at=at(1))
    answered = event(session, "agent.tool_call", call_id="c-2", occurred_at=at(2))
    result = event(session, "agent.tool_result", call_id="c-2", occurred_at=at(3))
    orphan = event(session, "agent.tool_result", call_id="c-9", occurred_at=at(4))
    stop = event(session, "session.stopped", occurred_at=at(5))
    late = event(session, occurred_at=at(9))
    await post(alice, [call, answered, result, orphan, stop, late])
    detail = await alice.get(f"/api/recording/sessions/{session}/")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["id"], body["event_count"], body["last_event"]) == (
        session,
        6,
        {"id": late["id"], "occurred_at": "2026-05-05T12:09:00Z"},
    )
    assert body["warnings"] == [
        {"code": "event_after_stop", "count": 1, "event_ids": [late["id"]],
         "message": "1 event(s) after the session's last session.stopped"},
        {"code": "stop_without_start", "count": 1, "event_ids": [stop["id"]],
         "message": "1 session.stopped without any session.started"},
        {"code": "tool_call_without_result", "count": 1, "event_ids": [call["id"]],
         "message": "1 tool call(s) without a result (by call_id)"},
        {"code": "tool_result_without_call", "count": 1, "event_ids": [orphan["id"]],
         "message": "1 tool result(s) without a call (by call_id)"},
    ]  # fmt: skip
    assert (await bob.get(f"/api/recording/sessions/{session}/")).status_code == 404
    assert (await alice.get(f"/api/recording/sessions/{unique('s')}/")).status_code == 404


async def test_a_clean_session_has_no_warnings(alice: Producer) -> None:
    session = unique("s")
    await post(alice, [event(session, "session.started", occurred_at=at(0)),
                       event(session, "session.stopped", occurred_at=at(1))])  # fmt: skip
    assert (await alice.get(f"/api/recording/sessions/{session}/")).json()["warnings"] == []


@pytest.mark.parametrize(
    "detail",
    ["nul \u0000 inside", "\u0001 starts with the mark", "\u0000", "plain"],
    ids=["nul", "mark", "only-nul", "plain"],
)
async def test_any_unicode_in_source_detail_comes_back_everywhere(
    alice: Producer, detail: str
) -> None:
    session = unique("s")
    item = event(session, "session.started", source_detail=detail)
    assert (await post(alice, [item])).status_code == 201
    summary = (await alice.get(f"/api/recording/sessions/{session}/events/")).json()
    assert summary[0]["source_detail"] == detail
    full = (await alice.get(f"/api/recording/events/{item['id']}/")).json()
    assert full["source_detail"] == full["payload"]["source_detail"] == detail
    sessions = (await alice.get("/api/recording/sessions/")).json()
    assert [s["source_detail"] for s in sessions if s["id"] == session] == [detail]
    assert (await alice.get(f"/api/recording/sessions/{session}/")).json()[
        "source_detail"
    ] == detail


async def test_the_openapi_document_lists_the_options_and_the_codes(alice: Producer) -> None:
    document = (await alice.client.get("/openapi.json")).json()
    operation = document["paths"][INGEST]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"results", "dry_run"}
    codes = document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["description"]
    for code in ("required", "enum", "pattern", "max_length", "type", "format",
                 "additional_property", "too_large", "foreign_session"):  # fmt: skip
        assert f"`{code}`" in codes
    assert "/api/recording/sessions/{session_id}/" in document["paths"]
    assert "/api/recording/events/lookup/" in document["paths"]
    json.dumps(document)  # serializable as a whole


# The schemas this issue added or extended, and the ones whose examples show them.
NEW_SCHEMAS = ("IngestResult", "InvalidItem", "ItemResult", "ErrorDetail", "SessionDetail",
               "SessionWarning", "LookupRequest", "LookupResult")  # fmt: skip
EXAMPLED = ("IngestResult", "SessionDetail", "LookupRequest", "LookupResult")


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def test_every_new_field_and_parameter_has_a_valid_example(alice: Producer) -> None:
    """Integrators learn the answers from the document: each new field shows in an example,
    and each example is valid against its own schema."""
    document = (await alice.client.get("/openapi.json")).json()
    for parameter in document["paths"][INGEST]["post"]["parameters"]:
        assert "example" in parameter, parameter["name"]
        jsonschema.validate(parameter["example"], parameter["schema"])
    schemas = document["components"]["schemas"]
    shown: set[str] = set()
    for name in EXAMPLED:
        examples = schemas[name]["examples"]
        assert examples, name
        # The document itself is the root, so that its $refs resolve.
        validator = jsonschema.Draft202012Validator(
            {**document, "$ref": f"#/components/schemas/{name}"}
        )
        for example in examples:
            assert not list(validator.iter_errors(example)), (name, example)
            shown |= _keys(example)
    for name in NEW_SCHEMAS:
        missing = set(schemas[name]["properties"]) - shown
        assert not missing, f"{name}: no example shows {sorted(missing)}"


@pytest.mark.parametrize(
    "path",
    ["/api/recording/sessions/%00/", "/api/recording/sessions/%00/events/",
     "/api/recording/events/%00/", "/api/recording/events/a%00b/"],
    ids=["session", "session-events", "event", "event-inner-nul"],
)  # fmt: skip
async def test_an_id_that_cannot_exist_is_a_404_not_a_500(alice: Producer, path: str) -> None:
    answer = await alice.get(path)
    assert answer.status_code == 404 and answer.json()["detail"].endswith("not found")


async def test_lookup_of_ids_that_cannot_exist_says_missing(alice: Producer) -> None:
    ids = ["a\u0000b", "", "x" * 200, "_leading-underscore", "with space"]
    answer = await alice.client.post("/api/recording/events/lookup", json={"ids": ids},
                                     headers=alice.headers)  # fmt: skip
    assert (answer.status_code, answer.json()) == (200, {"stored": [], "missing": ids})


async def test_lookup_of_an_id_that_is_not_unicode_is_a_400(alice: Producer) -> None:
    answer = await alice.client.post(
        "/api/recording/events/lookup",
        content=b'{"ids": ["ok", "\\ud800"]}',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()) == (
        400,
        {"detail": "ids.1: not valid Unicode (a lone surrogate)"},
    )
