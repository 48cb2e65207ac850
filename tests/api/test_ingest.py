"""POST /api/recording/events/: the batch contract over HTTP."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from tests.conftest import LIVE_URL, Producer
from tests.factories import at, event, unique

in_process = pytest.mark.skipif(bool(LIVE_URL), reason="counts rows in the database")


async def count_events(db: Any, ids: list[str]) -> int:
    return int(await db.fetchval("SELECT count(*) FROM recording_event WHERE id = ANY($1)", ids))


def readme_example() -> list[dict[str, Any]]:
    session, start, prompt = unique("demo"), unique("sess-start"), unique("sess-prompt")
    return [
        {
            "id": start,
            "session_id": session,
            "occurred_at": "2026-05-05T12:00:00Z",
            "source": "cli",
            "type": "session.started",
        },
        {
            "id": prompt,
            "session_id": session,
            "occurred_at": "2026-05-05T12:00:05Z",
            "source": "agent",
            "source_detail": "claude-code",
            "type": "agent.prompt",
            "agent": "Claude Code",
            "prompt": "Run the test suite.",
        },
    ]


async def test_readme_example_is_accepted(alice: Producer) -> None:
    response = await alice.post(readme_example())
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"accepted": 2, "duplicates": 0, "invalid": []}


async def test_the_same_batch_again_is_all_duplicates_with_200(alice: Producer) -> None:
    batch = readme_example()
    assert (await alice.post(batch)).status_code == 201
    again = await alice.post(batch)
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 2, "invalid": []}


async def test_repeats_within_a_batch_count_once_first_wins(alice: Producer) -> None:
    session = unique("s")
    first = event(session, text="first")
    later = {**first, "text": "second"}
    response = await alice.post([first, later, later])
    # Since issue 13 the repeats' other content is reported too: an added field, counted
    # among the duplicates as before.
    assert response.json() == {"accepted": 1, "duplicates": 2, "invalid": [], "conflicts": 2}
    stored = (await alice.get(f"/api/recording/events/{first['id']}/")).json()
    assert stored["payload"]["text"] == "first"


@in_process
async def test_a_stored_row_never_changes_on_a_duplicate(alice: Producer, db: Any) -> None:
    original = event(unique("s"), text="original")
    await alice.post([original])
    before = await db.fetchrow("SELECT * FROM recording_event WHERE id = $1", original["id"])
    changed = {**original, "text": "changed", "occurred_at": at(59)}
    response = await alice.post([changed])
    # Reported as a conflict since issue 13 (an added field); still counted a duplicate.
    assert response.json() == {"accepted": 0, "duplicates": 1, "invalid": [], "conflicts": 1}
    after = await db.fetchrow("SELECT * FROM recording_event WHERE id = $1", original["id"])
    assert dict(after) == dict(before)


async def test_invalid_items_never_fail_the_batch(alice: Producer) -> None:
    session = unique("s")
    good = [event(session), event(session)]
    missing_source = {k: v for k, v in event(session).items() if k != "source"}
    batch = [
        good[0],
        missing_source,
        42,
        good[1],
        {**event(session), "occurred_at": "2026-02-30T00:00:00Z"},
    ]
    response = await alice.post(batch)
    assert response.status_code == 201
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "invalid": [
            {"index": 1, "errors": ["'source' is a required property"]},
            {"index": 2, "errors": ["42 is not of type 'object'"]},
            {"index": 4, "errors": ["occurred_at: '2026-02-30T00:00:00Z' is not a 'date-time'"]},
        ],
    }


async def test_all_invalid_is_200_and_nothing_stored(alice: Producer) -> None:
    response = await alice.post([{"id": "x"}, "nope"])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (0, 0)
    assert [item["index"] for item in body["invalid"]] == [0, 1]


async def test_counts_add_up_to_the_batch_length(alice: Producer) -> None:
    session = unique("s")
    stored = event(session)
    await alice.post([stored])
    fresh = event(session)
    batch = [stored, fresh, fresh, {"bad": True}, event(session)]
    body = (await alice.post(batch)).json()
    assert body["accepted"] + body["duplicates"] + len(body["invalid"]) == len(batch)
    assert (body["accepted"], body["duplicates"], len(body["invalid"])) == (2, 2, 1)


@in_process
async def test_over_the_per_event_limit_is_an_invalid_item(alice: Producer, db: Any) -> None:
    big = event(unique("s"), text="x" * (1024 * 1024))
    small = event(big["session_id"])
    response = await alice.post([big, small])
    assert response.json()["invalid"] == [
        {"index": 0, "errors": ["event is larger than 1048576 bytes"]}
    ]
    assert await count_events(db, [big["id"], small["id"]]) == 1


async def test_another_users_session_is_an_invalid_item(alice: Producer, bob: Producer) -> None:
    session = unique("s")
    await alice.post([event(session)])
    response = await bob.post([event(session), event(unique("s"))])
    assert response.status_code == 201
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "invalid": [{"index": 0, "errors": ["session belongs to another user"]}],
    }


TEXTS = [
    "NUL \u0000 inside",
    "emoji 😀🧪 and ZWJ 👩‍💻",
    'quotes " and \\ backslash',
    "newlines\nand\ttabs\r\n",
    "'; DROP TABLE recording_event; --",
    "right-to-left \u202e and combining e\u0301",
]


@pytest.mark.parametrize("text", TEXTS, ids=["nul", "emoji", "quotes", "newlines", "sql", "rtl"])
async def test_any_unicode_comes_back_intact(alice: Producer, text: str) -> None:
    item = event(unique("s"), "agent.prompt", prompt=text, attributes={text: [text, {"k": text}]})
    assert (await alice.post([item])).status_code == 201
    stored = (await alice.get(f"/api/recording/events/{item['id']}/")).json()
    assert stored["payload"] == item


async def test_gzip_bodies_are_accepted(alice: Producer) -> None:
    batch = [event(unique("s"))]
    response = await alice.client.post(
        "/api/recording/events/",
        content=gzip.compress(orjson.dumps(batch)),
        headers={**alice.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 201
    assert response.json()["accepted"] == 1


async def test_no_content_type_is_accepted(alice: Producer) -> None:
    response = await alice.client.post(
        "/api/recording/events/", content=orjson.dumps([event(unique("s"))]), headers=alice.headers
    )
    assert response.status_code == 201


async def test_wrong_content_type_is_415(alice: Producer) -> None:
    response = await alice.client.post(
        "/api/recording/events/",
        content=orjson.dumps([event(unique("s"))]),
        headers={**alice.headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.json() == {"detail": "Content-Type must be application/json, not 'text/plain'"}


BAD_BODIES = [
    (b"[{", "request body is not valid JSON"),
    (b'{"id": "x"}', "request body must be a JSON array of events, not an object"),
    (b"[]", "request body is an empty array; send 1 to 1000 events"),
    (b"", "request body is empty; send a JSON array of events"),
    (orjson.dumps([{}] * 1001), "batch has 1001 items; at most 1000 are allowed"),
]


@pytest.mark.parametrize(
    ("raw", "detail"), BAD_BODIES, ids=["malformed", "object", "empty-array", "empty", "1001"]
)
async def test_bad_bodies_are_400_and_nothing_is_written(
    alice: Producer, raw: bytes, detail: str
) -> None:
    response = await alice.client.post(
        "/api/recording/events/",
        content=raw,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


@in_process
async def test_a_batch_with_a_bad_body_writes_nothing(alice: Producer, db: Any) -> None:
    item = event(unique("s"))
    raw = orjson.dumps([item])[:-1] + b", ]"
    response = await alice.client.post("/api/recording/events/", content=raw, headers=alice.headers)
    assert response.status_code == 400
    assert await count_events(db, [item["id"]]) == 0


@in_process
async def test_body_over_the_limit_is_413(alice: Producer) -> None:
    huge = b"[" + b'"' + b"x" * (32 * 1024 * 1024) + b'"]'
    response = await alice.client.post(
        "/api/recording/events/", content=huge, headers=alice.headers
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than 33554432 bytes"}


async def test_gzip_bomb_is_413(alice: Producer) -> None:
    bomb = gzip.compress(b" " * (40 * 1024 * 1024))
    response = await alice.client.post(
        "/api/recording/events/",
        content=bomb,
        headers={**alice.headers, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413


async def test_the_path_without_trailing_slash_answers_too(alice: Producer) -> None:
    response = await alice.client.post(
        "/api/recording/events", json=[event(unique("s"))], headers=alice.headers
    )
    assert response.status_code == 201


async def test_numbers_beyond_64_bits_are_invalid_items_not_silently_rounded(
    alice: Producer,
) -> None:
    session = unique("s")
    exact = event(session, attributes={"max_u64": 2**64 - 1, "min_i64": -(2**63), "pi": 3.5})
    raw = orjson.dumps([exact])[:-1] + b', {"id": "big-1", "session_id": "' + session.encode()
    raw += b'", "occurred_at": "2026-05-05T12:00:00Z", "source": "cli", "type": "note", '
    raw += b'"text": "t", "attributes": {"n": 123456789012345678901234567890}}]'
    response = await alice.client.post("/api/recording/events/", content=raw, headers=alice.headers)
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "invalid": [
            {
                "index": 1,
                "errors": ["integer 123456789012345678901234567890 does not fit in 64 bits"],
            }
        ],
    }
    stored = (await alice.get(f"/api/recording/events/{exact['id']}/")).json()
    assert stored["payload"] == exact


HOSTILE_BODIES = [
    (b"[" * 100_000 + b"]" * 100_000, 400),
    (b'[{"id": "x", "session_id": "s", "occurred_at": "2026-05-05T12:00:00Z", ' * 2, 400),
    (b"\xc3\x28", 400),
    (b'["\\ud800"]', 400),
]


@pytest.mark.parametrize(
    ("raw", "status"),
    HOSTILE_BODIES,
    ids=["nested-100k", "truncated", "invalid-utf8", "lone-surrogate"],
)
async def test_hostile_bodies_are_clear_4xx(alice: Producer, raw: bytes, status: int) -> None:
    response = await alice.client.post("/api/recording/events/", content=raw, headers=alice.headers)
    assert response.status_code == status
    assert response.json()["detail"].startswith("request body is not valid JSON")


HOSTILE_ITEMS = [
    ({"id": "../../etc/passwd"}, "id: '../../etc/passwd' does not match"),
    ({"id": " padded "}, "id: ' padded ' does not match"),
    ({"id": "x" * 10_000}, "is too long"),
    ({"occurred_at": "2026-05-05T12:00:00"}, "is not a 'date-time'"),
    ({"occurred_at": "0000-01-01T00:00:00Z"}, "is not a 'date-time'"),
    ({"session_id": "a\u0000b"}, "does not match"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    HOSTILE_ITEMS,
    ids=["path", "whitespace", "10k-id", "no-timezone", "year-0", "nul-id"],
)
async def test_hostile_items_are_invalid_items(
    alice: Producer, change: dict[str, Any], message: str
) -> None:
    response = await alice.post([{**event(unique("s")), **change}])
    (invalid,) = response.json()["invalid"]
    assert message in invalid["errors"][0]


async def test_year_9999_is_accepted(alice: Producer) -> None:
    item = event(unique("s"), occurred_at="9999-12-31T23:59:59Z")
    assert (await alice.post([item])).status_code == 201
    stored = (await alice.get(f"/api/recording/events/{item['id']}/")).json()
    assert stored["occurred_at"] == "9999-12-31T23:59:59Z"


async def test_a_100_kb_key_header_is_401(client: Any) -> None:
    response = await client.get(
        "/api/recording/sessions/", headers={"X-Clone-API-Key": "k" * 100_000}
    )
    assert response.status_code in (401, 431)


async def test_a_large_body_is_read_item_by_item_and_stored_intact(alice: Producer) -> None:
    # Over body.ITEM_BY_ITEM_BYTES, with text that looks like the gap between two items.
    text = 'café 😀 "},{" \\ }, { ' * 1500
    session = unique("s")
    batch = [event(session, "agent.prompt", prompt=f"{i} {text}") for i in range(40)]
    batch.insert(7, {"not": "an event"})
    raw = orjson.dumps(batch)
    assert len(raw) > 1 << 20
    response = await alice.client.post(
        "/api/recording/events/",
        content=raw,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert response.json()["accepted"] == 40
    assert [i["index"] for i in response.json()["invalid"]] == [7]
    stored = (await alice.get(f"/api/recording/events/{batch[30]['id']}/")).json()
    assert stored["payload"] == batch[30]
