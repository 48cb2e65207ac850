"""API keys: how they are made, shown once, stored as a digest and checked in constant time."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from app import repository
from app.errors import Forbidden, Unauthorized
from app.repository import api_keys as keys_repo

KEY_PREFIX = "rec_"
PREFIX_LENGTH = 12  # "rec_" + 8 random characters: enough to find and name a key


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> bytes:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).digest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


async def issue_key(conn: Any, user_id: int, scope: str = "all") -> str:
    key = new_key()
    await keys_repo.insert_key(conn, user_id, key_prefix(key), digest(key), scope)
    return key


async def create_user_with_key(conn: Any, name: str) -> tuple[int, str] | None:
    """A new user and its first key, in one transaction; None when the name is taken."""
    async with repository.transaction(conn):
        user_id = await keys_repo.create_user(conn, name)
        return (user_id, await issue_key(conn, user_id)) if user_id is not None else None


MISSING = "missing API key: send X-Clone-API-Key: <key> or Authorization: Bearer <key>"
INVALID = "invalid or revoked API key"


@dataclass(frozen=True, slots=True)
class Credential:
    """What a presented key is looked up by: its prefix and the digest of the whole key.

    The digest is compared in SQL, not in constant time; that is safe because a timing
    leak could only reveal the stored digest, and a digest is useless without a preimage.
    """

    prefix: str
    digest: bytes


def credential(key: str | None) -> Credential:
    if not key:
        raise Unauthorized(MISSING)
    return Credential(key_prefix(key), digest(key))


# What each scope may do: `ingest` sends (events, hooks, OTLP), `read` reads them back.
SCOPES = ("ingest", "read", "all")
ALLOWED = {
    "ingest": {"ingest", "all"},
    "read": {"read", "all"},
    "all": {"all"},
    "any": set(SCOPES),
}


def out_of_scope(scope: str, need: str) -> Forbidden:
    return Forbidden(f"this key's scope is {scope!r}; this operation needs a {need!r} key")


async def verify(conn: Any, given: Credential, need: str = "read") -> int:
    """The user id behind a live key that may do `need` (ingest, read or any); else
    Unauthorized (no such live key) or Forbidden (a key of another scope)."""
    found = await keys_repo.find_active_key(conn, given.prefix, given.digest)
    if found is None:
        raise Unauthorized(INVALID)
    user_id, scope = found
    if scope not in ALLOWED[need]:
        raise out_of_scope(scope, need)
    return user_id
