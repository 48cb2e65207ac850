"""What a key may do: `ingest` (send events, hooks, OTLP), `read` (read them back) or `all`.

Every existing key becomes `all`, which is what it could do before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE api_key ADD COLUMN scope text NOT NULL DEFAULT 'all' "
        "CONSTRAINT api_key_scope_check CHECK (scope IN ('ingest', 'read', 'all'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE api_key DROP COLUMN scope")
