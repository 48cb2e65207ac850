"""Order a user's sessions list from the index alone: (user_id, started_at, id).

The list is `ORDER BY started_at DESC, id DESC LIMIT 50`; with (user_id, started_at) the
id tie-break needed a sort of all the user's sessions that share the newest instants
(5,000 sessions preloaded: 506 lists/s against 2,078 on an empty database).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "recording_session_user_id_started_at_id_idx",
        "recording_session",
        ["user_id", "started_at", "id"],
    )
    op.drop_index("recording_session_user_id_started_at_idx", "recording_session")


def downgrade() -> None:
    op.create_index(
        "recording_session_user_id_started_at_idx", "recording_session", ["user_id", "started_at"]
    )
    op.drop_index("recording_session_user_id_started_at_id_idx", "recording_session")
