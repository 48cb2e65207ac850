"""Look up another user's sessions by primary key, whatever the statistics say.

The batch store asks which of a batch's sessions belong to someone else. Planned inside
the statement, that lookup became a sequential scan whenever the statistics described a
small session table (a new or freshly analyzed deployment): the cached plan kept scanning
the whole table as it grew (bench/run.py --preload 10000: 1,665 scans reading 6.2 M rows
in 8 s, and 35% of the ceiling instead of 55%). Planned here, with sequential scans off,
it is an index lookup at any size.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION recording_foreign_sessions(session_ids text[], owner bigint)
        RETURNS SETOF text
        LANGUAGE sql STABLE
        SET enable_seqscan = off
        AS $$
            SELECT id FROM recording_session WHERE id = ANY (session_ids) AND user_id <> owner
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION recording_foreign_sessions(text[], bigint)")
