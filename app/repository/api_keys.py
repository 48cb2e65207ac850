"""SQL for users and their API keys (stored as a prefix and a SHA-256 digest, never in clear)."""

from __future__ import annotations

from typing import Any


async def create_user(conn: Any, name: str) -> int | None:
    """The new user's id, or None when the name is taken."""
    user_id = await conn.fetchval(
        "INSERT INTO app_user (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", name
    )
    return int(user_id) if user_id is not None else None


async def find_user(conn: Any, name: str) -> int | None:
    user_id = await conn.fetchval("SELECT id FROM app_user WHERE name = $1", name)
    return int(user_id) if user_id is not None else None


async def insert_key(conn: Any, user_id: int, prefix: str, digest: bytes) -> None:
    await conn.execute(
        "INSERT INTO api_key (user_id, prefix, digest) VALUES ($1, $2, $3)",
        user_id,
        prefix,
        digest,
    )


def active_key_user_sql(prefix: str, digest: str) -> str:
    """The user of the live key with this prefix and digest (SQL expressions); the batch
    store embeds it once per batch."""
    return (
        f"SELECT user_id FROM api_key WHERE prefix = {prefix} AND digest = {digest} "
        "AND revoked_at IS NULL"
    )


ACTIVE_KEY_USER_SQL = active_key_user_sql("$1", "$2")


async def find_active_user(conn: Any, prefix: str, digest: bytes) -> int | None:
    user_id = await conn.fetchval(ACTIVE_KEY_USER_SQL, prefix, digest)
    return int(user_id) if user_id is not None else None


async def list_keys(conn: Any, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT prefix, created_at, revoked_at FROM api_key WHERE user_id = $1 ORDER BY id",
        user_id,
    )
    return [dict(row) for row in rows]


async def revoke_key(conn: Any, prefix: str, digest: bytes | None = None) -> bool:
    """Revoke the live key with this prefix (and digest, when given); False when none."""
    status: str = await conn.execute(
        "UPDATE api_key SET revoked_at = now() "
        "WHERE prefix = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR digest = $2)",
        prefix,
        digest,
    )
    return status.endswith(" 1")
