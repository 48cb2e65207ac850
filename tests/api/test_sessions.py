"""Sessions: ownership, bookends, the recent list, and a session's events page by page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Producer
from tests.factories import at, event, unique


async def session_of(producer: Producer, session_id: str) -> dict[str, Any]:
    response = await producer.get("/api/recording/sessions/")
    assert response.status_code == 200
    matches = [s for s in response.json() if s["id"] == session_id]
    assert len(matches) == 1, f"{session_id} not in the recent list"
    return matches[0]


async def test_first_event_creates_the_session_anchored_on_the_batch_start(
    alice: Producer,
) -> None:
    sid = unique("s")
    batch = [
        event(sid, "note", occurred_at=at(1), source="desktop"),
        event(sid, "session.started", occurred_at=at(2), source="agent", source_detail="codex"),
        event(sid, "command.executed", occurred_at=at(5)),
    ]
    assert (await alice.post(batch)).status_code == 201
    session = await session_of(alice, sid)
    assert session["source"] == "agent"
    assert session["source_detail"] == "codex"
    assert session["started_at"] == "2026-05-05T12:02:00Z"
    assert session["ended_at"] is None
    assert session["event_count"] == 3
    assert session["last_event_at"] == "2026-05-05T12:05:00Z"
    assert set(session) == {
        "id",
        "source",
        "source_detail",
        "started_at",
        "ended_at",
        "event_count",
        "last_event_at",
        "created_at",
    }
    assert session["created_at"].endswith("Z")


async def test_without_a_start_the_earliest_event_anchors(alice: Producer) -> None:
    sid = unique("s")
    await alice.post(
        [
            event(sid, "note", occurred_at=at(7), source="desktop"),
            event(
                sid, "agent.prompt", occurred_at=at(3), source="agent", source_detail="claude-code"
            ),
        ]
    )
    session = await session_of(alice, sid)
    assert (session["started_at"], session["source"], session["source_detail"]) == (
        "2026-05-05T12:03:00Z",
        "agent",
        "claude-code",
    )


async def test_a_late_start_reanchors_the_session(alice: Producer) -> None:
    sid = unique("s")
    await alice.post([event(sid, "note", occurred_at=at(10), source="desktop")])
    await alice.post(
        [event(sid, "session.started", occurred_at=at(30), source="ide", source_detail="vscode")]
    )
    session = await session_of(alice, sid)
    assert (session["started_at"], session["source"], session["source_detail"]) == (
        "2026-05-05T12:30:00Z",
        "ide",
        "vscode",
    )
    assert session["event_count"] == 2


async def test_stop_sets_ended_at_only_when_later(alice: Producer) -> None:
    sid = unique("s")
    await alice.post([event(sid, "session.started", occurred_at=at(0))])
    await alice.post([event(sid, "session.stopped", occurred_at=at(40))])
    assert (await session_of(alice, sid))["ended_at"] == "2026-05-05T12:40:00Z"
    await alice.post([event(sid, "session.stopped", occurred_at=at(20))])
    session = await session_of(alice, sid)
    assert session["ended_at"] == "2026-05-05T12:40:00Z"
    assert session["event_count"] == 3
    await alice.post([event(sid, "session.stopped", occurred_at=at(50))])
    assert (await session_of(alice, sid))["ended_at"] == "2026-05-05T12:50:00Z"


async def test_stop_arriving_before_start_is_kept(alice: Producer) -> None:
    sid = unique("s")
    await alice.post([event(sid, "session.stopped", occurred_at=at(45))])
    await alice.post([event(sid, "session.started", occurred_at=at(1), source="sdk")])
    session = await session_of(alice, sid)
    assert (session["started_at"], session["ended_at"], session["source"]) == (
        "2026-05-05T12:01:00Z",
        "2026-05-05T12:45:00Z",
        "sdk",
    )


async def test_duplicates_change_nothing(alice: Producer) -> None:
    sid = unique("s")
    start = event(sid, "session.started", occurred_at=at(5), source="cli")
    stop = event(sid, "session.stopped", occurred_at=at(9))
    await alice.post([start, stop])
    before = await session_of(alice, sid)
    resent = [{**start, "occurred_at": at(1), "source": "ide"}, {**stop, "occurred_at": at(59)}]
    assert (await alice.post(resent)).json()["duplicates"] == 2
    assert await session_of(alice, sid) == before


async def test_last_event_at_is_the_latest_occurred_at(alice: Producer) -> None:
    sid = unique("s")
    await alice.post([event(sid, occurred_at=at(20))])
    await alice.post([event(sid, occurred_at=at(10))])
    session = await session_of(alice, sid)
    assert (session["last_event_at"], session["event_count"]) == ("2026-05-05T12:20:00Z", 2)


async def test_recent_list_is_newest_start_first_and_only_mine(
    alice: Producer, bob: Producer
) -> None:
    older, newer = unique("s"), unique("s")
    await alice.post([event(older, "session.started", occurred_at="2099-01-01T00:00:00Z")])
    await alice.post([event(newer, "session.started", occurred_at="2099-01-02T00:00:00Z")])
    bobs = unique("s")
    await bob.post([event(bobs, "session.started", occurred_at="2099-01-03T00:00:00Z")])
    ids = [s["id"] for s in (await alice.get("/api/recording/sessions/")).json()]
    assert ids.index(newer) < ids.index(older)
    assert bobs not in ids


async def test_recent_list_holds_at_most_50(alice: Producer) -> None:
    batch = [event(unique("s"), occurred_at=f"2098-01-01T00:{m:02d}:00Z") for m in range(55)]
    assert (await alice.post(batch)).json()["accepted"] == 55
    sessions = (await alice.get("/api/recording/sessions")).json()
    assert len(sessions) == 50
    starts = [s["started_at"] for s in sessions]
    assert starts == sorted(starts, reverse=True)


async def test_event_detail(alice: Producer) -> None:
    sid = unique("s")
    item = event(
        sid,
        "agent.response",
        occurred_at="2026-05-05T14:00:00.250+02:00",
        source_detail="claude-code",
        usage={"input_tokens": 3, "output_tokens": 4},
    )
    await alice.post([item])
    response = await alice.get(f"/api/recording/events/{item['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("received_at").endswith("Z")
    assert body == {
        "id": item["id"],
        "session_id": sid,
        "type": "agent.response",
        "source": "agent",
        "source_detail": "claude-code",
        "occurred_at": "2026-05-05T12:00:00.250000Z",
        "payload": item,
    }


async def test_nobody_reads_another_users_data(alice: Producer, bob: Producer) -> None:
    sid = unique("s")
    item = event(sid)
    await alice.post([item])
    for path in (f"/api/recording/events/{item['id']}/", f"/api/recording/sessions/{sid}/events/"):
        response = await bob.get(path)
        assert response.status_code == 404, path
        assert set(response.json()) == {"detail"}
    assert (await alice.get(f"/api/recording/events/{item['id']}/")).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/recording/events/nope-x/", "/api/recording/sessions/nope-x/events/"]
)
async def test_unknown_ids_are_404(alice: Producer, path: str) -> None:
    response = await alice.get(path)
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


async def test_session_events_oldest_first_ties_in_arrival_order(alice: Producer) -> None:
    sid = unique("s")
    first_tie, second_tie = event(sid, occurred_at=at(5)), event(sid, occurred_at=at(5))
    late, early = event(sid, occurred_at=at(9)), event(sid, occurred_at=at(1))
    await alice.post([late, first_tie])
    await alice.post([second_tie, early])
    response = await alice.get(f"/api/recording/sessions/{sid}/events/")
    assert response.status_code == 200
    assert "link" not in response.headers
    summaries = response.json()
    assert [s["id"] for s in summaries] == [
        early["id"],
        first_tie["id"],
        second_tie["id"],
        late["id"],
    ]
    assert set(summaries[0]) == {
        "id",
        "session_id",
        "type",
        "source",
        "source_detail",
        "occurred_at",
        "received_at",
    }


async def test_pages_follow_the_link_header(alice: Producer) -> None:
    sid = unique("s")
    batch = [event(sid, occurred_at=at(m % 3, m)) for m in range(7)]
    await alice.post(batch)
    expected = [e["id"] for e in sorted(batch, key=lambda e: e["occurred_at"])]
    seen: list[str] = []
    url: str | None = f"/api/recording/sessions/{sid}/events/?limit=3"
    pages = 0
    while url:
        response = await alice.get(url)
        assert response.status_code == 200
        seen += [s["id"] for s in response.json()]
        pages += 1
        link = response.headers.get("link")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
        if link:
            assert link.endswith('>; rel="next"')
    assert (seen, pages) == (expected, 3)


async def test_limit_is_clamped_at_2000(alice: Producer) -> None:
    sid = unique("s")
    for _ in range(3):
        assert (await alice.post([event(sid) for _ in range(700)])).json()["accepted"] == 700
    response = await alice.get(f"/api/recording/sessions/{sid}/events/?limit=5000")
    assert len(response.json()) == 2000
    assert "limit=2000" in response.headers["link"]
    default = await alice.get(f"/api/recording/sessions/{sid}/events/")
    assert len(default.json()) == 500


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
async def test_bad_limit_is_400(alice: Producer, limit: str) -> None:
    sid = unique("s")
    await alice.post([event(sid)])
    response = await alice.get(f"/api/recording/sessions/{sid}/events/?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


async def test_bad_cursor_is_400(alice: Producer) -> None:
    sid = unique("s")
    await alice.post([event(sid)])
    response = await alice.get(f"/api/recording/sessions/{sid}/events/?after=garbage")
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


async def test_every_read_path_answers_without_its_trailing_slash(alice: Producer) -> None:
    sid = unique("s")
    item = event(sid)
    await alice.post([item])
    for path in (
        f"/api/recording/events/{item['id']}",
        "/api/recording/sessions",
        f"/api/recording/sessions/{sid}/events",
    ):
        response = await alice.get(path)
        assert response.status_code == 200, path
        assert response.json()
