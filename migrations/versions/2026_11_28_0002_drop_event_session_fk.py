"""Drop the per-row foreign key from events to sessions (ingest claims sessions first).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("recording_event_session_id_fkey", "recording_event", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key(
        "recording_event_session_id_fkey",
        "recording_event",
        "recording_session",
        ["session_id"],
        ["id"],
    )
