"""Users, API keys, sessions and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="app_user_pkey"),
        sa.UniqueConstraint("name", name="app_user_name_key"),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("digest", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", TZ),
        sa.PrimaryKeyConstraint("id", name="api_key_pkey"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="api_key_user_id_fkey"),
        sa.UniqueConstraint("prefix", name="api_key_prefix_key"),
    )
    op.create_index("api_key_user_id_idx", "api_key", ["user_id"])
    op.create_table(
        "recording_session",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_detail", sa.Text),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("ended_at", TZ),
        sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_event_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="recording_session_pkey"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="recording_session_user_id_fkey"
        ),
    )
    op.create_index(
        "recording_session_user_id_started_at_idx",
        "recording_session",
        ["user_id", "started_at"],
    )
    op.create_table(
        "recording_event",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_detail", sa.Text),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="recording_event_pkey"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["recording_session.id"], name="recording_event_session_id_fkey"
        ),
        sa.UniqueConstraint("seq", name="recording_event_seq_key"),
    )
    op.create_index(
        "recording_event_session_id_occurred_at_seq_idx",
        "recording_event",
        ["session_id", "occurred_at", "seq"],
    )


def downgrade() -> None:
    op.drop_table("recording_event")
    op.drop_table("recording_session")
    op.drop_table("api_key")
    op.drop_table("app_user")
