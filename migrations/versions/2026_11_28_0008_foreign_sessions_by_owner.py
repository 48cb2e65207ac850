"""Look up other users' sessions for a group of batches, each session with its own owner.

The batch store now takes several batches (of one or several users) in one statement, so
the lookup of migration 0006 takes each session with the user whose batch holds it. It is
planned at each call, with sequential scans off, for the reason given in 0006. The
one-owner form of 0006 is dropped: nothing calls it any more.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION recording_foreign_sessions(session_ids text[], owners bigint[])
        RETURNS SETOF text
        LANGUAGE sql STABLE
        SET enable_seqscan = off
        AS $$
            SELECT s.id
            FROM unnest(session_ids, owners) AS q(id, owner)
            JOIN recording_session s ON s.id = q.id AND s.user_id <> q.owner
        $$
        """
    )
    op.execute("DROP FUNCTION recording_foreign_sessions(text[], bigint)")


def downgrade() -> None:
    op.execute("DROP FUNCTION recording_foreign_sessions(text[], bigint[])")
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
