"""Authentication: both headers, 401 for missing, unknown and revoked keys."""

from __future__ import annotations

from typing import Any

import pytest

from app import auth
from app.repository import api_keys as keys_repo
from tests.conftest import LIVE_URL, Producer
from tests.factories import event, unique

ENDPOINTS = [
    ("POST", "/api/recording/events/"),
    ("GET", "/api/recording/events/some-id/"),
    ("GET", "/api/recording/sessions/"),
    ("GET", "/api/recording/sessions/some-id/events/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Clone-API-Key": "rec_not-a-real-key"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "unknown", "unknown-bearer", "basic"],
)
async def test_every_endpoint_needs_a_valid_key(
    client: Any, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers, json=[event("s")])
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


async def test_bearer_works_like_the_header(alice: Producer) -> None:
    response = await alice.client.post(
        "/api/recording/events/",
        json=[event(unique("s"))],
        headers={"Authorization": f"Bearer {alice.key}"},
    )
    assert response.status_code == 201


ROUTES_OK = [("POST", "/api/recording/events/", 201), ("GET", "/api/recording/sessions/", 200)]


@pytest.mark.parametrize(("method", "path", "ok"), ROUTES_OK, ids=["ingest", "sessions"])
async def test_of_two_key_headers_the_first_counts(
    alice: Producer, method: str, path: str, ok: int
) -> None:
    """The key is read in one pass over the raw headers (deps.headers_of); like Starlette's
    Headers, it takes the first of a repeated header."""
    wrong = "rec_not-a-real-key"
    body = [event(unique("s"))] if method == "POST" else None
    for keys, status in (((alice.key, wrong), ok), ((wrong, alice.key), 401)):
        headers = [("X-Clone-API-Key", key) for key in keys]
        response = await alice.client.request(method, path, json=body, headers=headers)
        assert response.status_code == status


@pytest.mark.skipif(bool(LIVE_URL), reason="issues and revokes keys in the database")
async def test_revoking_one_key_leaves_the_others_working(alice: Producer, db: Any) -> None:
    assert alice.user_id is not None
    second = await auth.issue_key(db, alice.user_id)
    assert await keys_repo.revoke_key(db, auth.key_prefix(alice.key))
    revoked = await alice.post([event(unique("s"))])
    assert revoked.status_code == 401
    assert revoked.json() == {"detail": "invalid or revoked API key"}
    working = await alice.client.post(
        "/api/recording/events/", json=[event(unique("s"))], headers={"X-Clone-API-Key": second}
    )
    assert working.status_code == 201


@pytest.mark.skipif(bool(LIVE_URL), reason="reads the key table")
async def test_keys_are_stored_only_as_digests(alice: Producer, db: Any) -> None:
    row = await db.fetchrow("SELECT prefix, digest FROM api_key WHERE user_id = $1", alice.user_id)
    assert row["prefix"] == alice.key[:12]
    assert bytes(row["digest"]) == auth.digest(alice.key)
    assert alice.key.encode() not in bytes(row["digest"])


async def test_a_key_with_the_right_prefix_but_wrong_rest_is_401(alice: Producer) -> None:
    forged = alice.key[:12] + "x" * (len(alice.key) - 12)
    response = await alice.client.get(
        "/api/recording/sessions/", headers={"X-Clone-API-Key": forged}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "batch",
    [
        lambda sid: [event(sid)],
        lambda sid: [{"id": "no-type"}],
        lambda sid: [{"type": "note"}, event(sid)],
    ],
    ids=["valid", "only-invalid", "mixed"],
)
async def test_ingest_with_a_forged_key_is_401_and_stores_nothing(
    alice: Producer, batch: Any
) -> None:
    """The key is checked by the statement that stores the batch, whatever the batch holds."""
    sid = unique("s")
    forged = alice.key[:12] + "x" * (len(alice.key) - 12)
    response = await alice.post(batch(sid), headers={"X-Clone-API-Key": forged})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or revoked API key"}
    assert (await alice.get(f"/api/recording/sessions/{sid}/events/")).status_code == 404


async def test_ingest_of_stored_duplicates_with_a_revoked_key_is_401(
    alice: Producer, db: Any
) -> None:
    batch = [event(unique("s"))]
    assert (await alice.post(batch)).status_code == 201
    assert await keys_repo.revoke_key(db, auth.key_prefix(alice.key))
    assert (await alice.post(batch)).status_code == 401
