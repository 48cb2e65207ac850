"""Record whether a session's start came from a `session.started` event.

The batch upsert needs that flag on the proposed row (`excluded`) to decide whether an
existing session is re-anchored; a sub-select per conflicting row cost ~6% of the store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: no table rewrite. Sessions stored before keep false, which only
    # means "not known to be from a session.started event".
    op.add_column(
        "recording_session",
        sa.Column("started_by_event", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("recording_session", "started_by_event")
