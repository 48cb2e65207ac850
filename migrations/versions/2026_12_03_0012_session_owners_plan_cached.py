"""The session owners' lookup keeps its plan: PL/pgSQL instead of SQL.

A SQL function that cannot be inlined (its SET clause prevents that) is parsed and planned
again at every call: ~0.15 ms of a lone 1-event store statement's ~0.8 ms in PostgreSQL.
PL/pgSQL keeps the plan for the connection's life. Sequential scans stay off inside it, so
the kept plan is the index lookup whatever the statistics said when it was made (0006).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION recording_session_owners(session_ids text[])
        RETURNS TABLE (id text, user_id bigint)
        LANGUAGE plpgsql STABLE
        SET enable_seqscan = off
        AS $$
        BEGIN
            RETURN QUERY
                SELECT s.id, s.user_id FROM recording_session s WHERE s.id = ANY (session_ids);
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION recording_session_owners(session_ids text[])
        RETURNS TABLE (id text, user_id bigint)
        LANGUAGE sql STABLE
        SET enable_seqscan = off
        AS $$
            SELECT s.id, s.user_id FROM recording_session s WHERE s.id = ANY (session_ids)
        $$
        """
    )
