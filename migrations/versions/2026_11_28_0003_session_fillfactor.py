"""Leave room in session pages so per-batch updates stay HOT (no index writes).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE recording_session SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE recording_session RESET (fillfactor)")
