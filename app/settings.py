"""Every tunable of the service, read once from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment variables, by field name in upper case (e.g. `MAX_BODY_BYTES`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="postgresql:// URL; unset means the embedded PostgreSQL under DATA_DIR.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data", description="Where the embedded PostgreSQL keeps its files."
    )
    pool_min_size: int = Field(default=0, ge=0)
    pool_max_size: int = Field(
        default=20,
        ge=1,
        description="Connections per worker; keep it above the concurrent requests.",
    )
    store_concurrency: int = Field(
        default=1,
        ge=1,
        description="Store statements in flight per worker; batches that arrive meanwhile "
        "share the next one (group commit). Raise it when PostgreSQL has more cores than "
        "the service has workers.",
    )
    pool_max_queries: int = Field(
        default=10_000_000,
        ge=1,
        description="Statements a pooled connection runs before it is replaced. The driver's "
        "default (50,000) replaced the store connection every ~36 s under load, and each "
        "replacement stalled the batches behind it for a new backend and a re-prepare.",
    )
    pool_acquire_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a pooled connection before a 503."
    )
    statement_timeout_ms: int = Field(
        default=15_000, ge=0, description="Server-side statement timeout; 0 disables it."
    )
    statement_cache_size: int = Field(
        default=100,
        ge=0,
        description="Prepared statements cached per connection; 0 behind PgBouncer.",
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, gt=0, description="Largest request body, after gunzip."
    )
    max_event_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest single event, serialized."
    )
    max_nesting_depth: int = Field(
        default=64, ge=1, description="Deepest nesting in an event (the event itself is 1)."
    )
    max_batch_items: int = Field(default=1000, ge=1, description="Most events in one batch.")
    shutdown_grace_seconds: int = Field(
        default=20, ge=1, description="On SIGTERM, how long in-flight requests may still run."
    )
    retry_after_seconds: int = Field(
        default=2, ge=1, description="Retry-After sent with a 503 when the database is unavailable."
    )
    rate_limit_per_s: float | None = Field(
        default=None,
        gt=0,
        description="Events a second each key may send (a key's own limit wins); unset: none.",
    )
    rate_limit_burst: float | None = Field(
        default=None, gt=0, description="Events a key may send at once; default: 2 s' worth."
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="`clone-recording purge` deletes sessions idle this long; unset: keep forever.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
