"""A function the one-statement batch store calls to undo itself when it loses a session race.

The store decides ownership from its snapshot; a session that another user creates after
that snapshot is only found by the upsert at the end of the statement. Raising
serialization_failure there rolls the whole statement back, and the service retries it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION recording_session_race() RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION 'a session of this batch was created by another user meanwhile'
                USING ERRCODE = 'serialization_failure';
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION recording_session_race()")
