"""Look up the owners of a group of batches' sessions, whatever the statistics say.

The batch store now takes several batches (of one or several users) in one statement, so
it compares each session's owner with the user whose batch holds it, rather than with one
caller. The function returns the owners; the statement compares. It is planned at each
call, with sequential scans off, for the reason given in 0006, and it stays a one-table
lookup (a join planned at each call cost 0.1 ms more per statement). The one-owner form of
0006 is dropped: nothing calls it any more.

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
        CREATE FUNCTION recording_session_owners(session_ids text[])
        RETURNS TABLE (id text, user_id bigint)
        LANGUAGE sql STABLE
        SET enable_seqscan = off
        AS $$
            SELECT s.id, s.user_id FROM recording_session s WHERE s.id = ANY (session_ids)
        $$
        """
    )
    op.execute("DROP FUNCTION recording_foreign_sessions(text[], bigint)")


def downgrade() -> None:
    op.execute("DROP FUNCTION recording_session_owners(text[])")
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
