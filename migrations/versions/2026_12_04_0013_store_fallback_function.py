"""A function the lean batch store calls to undo itself when a group is not all new.

The lean statement (app/repository/batches.py) stores a group whose keys are live, whose
sessions are new or the caller's, and whose ids were never stored, and reports nothing but
that. When its own counts show otherwise, it calls this function: the error rolls the
statement back, and the full statement stores the group and says what happened to each
event. The SQLSTATE is the service's own, so that nothing else is mistaken for it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION recording_store_fallback() RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION 'this group is not all new: the full store statement takes it'
                USING ERRCODE = 'RC001';
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION recording_store_fallback()")
