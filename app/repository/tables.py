"""The tables, defined once; alembic migrates them and a test checks the two agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    false,
    func,
)

metadata = MetaData(
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
        "uq": "%(table_name)s_%(column_0_name)s_key",
        "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    }
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

api_key = Table(
    "api_key",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("app_user.id"), nullable=False, index=True),
    Column("prefix", Text, nullable=False, unique=True),
    Column("digest", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    # ingest | read | all (migration 0010)
    Column(
        "scope",
        Text,
        CheckConstraint("scope IN ('ingest', 'read', 'all')", name="api_key_scope_check"),
        nullable=False,
        server_default="all",
    ),
    # Per-key rate limit over the settings' default (migration 0011); NULL: the default.
    Column("rate_per_s", Float),
    Column("rate_burst", Float),
)

# One token bucket per key, shared by every worker (migration 0011).
rate_bucket = Table(
    "rate_bucket",
    metadata,
    Column("key_id", BigInteger, ForeignKey("api_key.id"), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

recording_session = Table(
    "recording_session",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("app_user.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("source_detail", Text),  # escaped when it holds U+0000 (app/escaped.py)
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("event_count", Integer, nullable=False, server_default="0"),
    Column("last_event_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Whether started_at came from a session.started event (else: the earliest event).
    Column("started_by_event", Boolean, nullable=False, server_default=false()),
    Index("recording_session_user_id_started_at_id_idx", "user_id", "started_at", "id"),
    # Room for HOT updates: every batch updates its sessions' counters (migration 0003).
    postgresql_with={"fillfactor": 80},
)

recording_event = Table(
    "recording_event",
    metadata,
    Column("id", Text, primary_key=True),
    # Arrival order: breaks ties between events of equal occurred_at, and backs the cursor.
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    # No foreign key to recording_session: the ingest transaction claims (and locks) the
    # session before inserting its events, and sessions are never deleted once they hold
    # one. The per-row RI check cost ~25% of the insert (docs/performance.md).
    Column("session_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("source_detail", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # json, not jsonb: it keeps the text as sent, and jsonb cannot hold U+0000.
    Column("payload", JSON, nullable=False),
    # SHA-256 of the payload's text: a re-sent id with other content is a conflict (0009).
    Column("digest", LargeBinary, nullable=False),
    Index("recording_event_session_id_occurred_at_seq_idx", "session_id", "occurred_at", "seq"),
)
