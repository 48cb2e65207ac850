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


async def insert_key(
    conn: Any, user_id: int, prefix: str, digest: bytes, scope: str = "all"
) -> None:
    await conn.execute(
        "INSERT INTO api_key (user_id, prefix, digest, scope) VALUES ($1, $2, $3, $4)",
        user_id,
        prefix,
        digest,
        scope,
    )


def active_key_user_sql(prefix: str, digest: str) -> str:
    """The user of the live key with this prefix and digest (SQL expressions) that may
    ingest; the batch store embeds it once per batch. A read key is not one of them: the
    caller asks `find_active_key` which of 401 and 403 to answer."""
    return (
        f"SELECT user_id FROM api_key WHERE prefix = {prefix} AND digest = {digest} "
        "AND revoked_at IS NULL AND scope <> 'read'"
    )


async def find_active_key(conn: Any, prefix: str, digest: bytes) -> tuple[int, str] | None:
    """(user id, scope) of the live key with this prefix and digest."""
    row = await conn.fetchrow(
        "SELECT user_id, scope FROM api_key WHERE prefix = $1 AND digest = $2 "
        "AND revoked_at IS NULL",
        prefix,
        digest,
    )
    return (int(row["user_id"]), str(row["scope"])) if row is not None else None


async def list_keys(conn: Any, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT prefix, scope, rate_per_s, rate_burst, created_at, revoked_at FROM api_key "
        "WHERE user_id = $1 ORDER BY id",
        user_id,
    )
    return [dict(row) for row in rows]


async def set_limit(conn: Any, prefix: str, rate: float | None, burst: float | None) -> bool:
    """A live key's own rate limit (None: back to the default); False when no such key.
    Its bucket starts again full at the new size."""
    async with conn.transaction():
        key_id = await conn.fetchval(
            "UPDATE api_key SET rate_per_s = $2, rate_burst = $3 "
            "WHERE prefix = $1 AND revoked_at IS NULL RETURNING id",
            prefix,
            rate,
            burst,
        )
        if key_id is not None:
            await conn.execute("DELETE FROM rate_bucket WHERE key_id = $1", key_id)
    return key_id is not None


async def revoke_key(conn: Any, prefix: str, digest: bytes | None = None) -> bool:
    """Revoke the live key with this prefix (and digest, when given); False when none."""
    status: str = await conn.execute(
        "UPDATE api_key SET revoked_at = now() "
        "WHERE prefix = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR digest = $2)",
        prefix,
        digest,
    )
    return status.endswith(" 1")


async def take_tokens(
    conn: Any, prefix: str, digest: bytes, wanted: int, rate: float | None, burst: float | None
) -> tuple[bool, float | None, float | None, float | None]:
    """(allowed, tokens left, rate, burst) from the key's bucket (migration 0011); allowed
    with no figures when neither the key nor the default has a limit."""
    row = await conn.fetchrow(
        "SELECT * FROM recording_take_tokens($1, $2, $3, $4, $5)",
        prefix,
        digest,
        float(wanted),
        rate,
        burst,
    )
    return bool(row["allowed"]), row["tokens"], row["rate"], row["burst"]
