"""A content digest per stored event (to tell a conflict from a duplicate), and source_detail
that may hold U+0000.

`digest` is the SHA-256 of the payload's UTF-8 text: the service computes it in Python from
the bytes it stores, and PostgreSQL's sha256() of the stored json text gives the same value
for the rows already there (json keeps its text as sent).

`source_detail` columns are text, which cannot hold U+0000, so such a value is stored
escaped (app/escaped.py): U+0001 and the value's JSON string body. A value that already
starts with U+0001 is escaped the same way here, so that every stored value reads back as
it was sent. Downgrading keeps the escaped values as they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ESCAPE = r"""E'\x01' || substr(to_json({column})::text, 2, length(to_json({column})::text) - 2)"""


def upgrade() -> None:
    op.execute("ALTER TABLE recording_event ADD COLUMN digest bytea")
    op.execute(
        "UPDATE recording_event SET digest = sha256(convert_to(payload::text, 'UTF8')) "
        "WHERE digest IS NULL"
    )
    op.execute("ALTER TABLE recording_event ALTER COLUMN digest SET NOT NULL")
    for table in ("recording_event", "recording_session"):
        op.execute(
            f"UPDATE {table} SET source_detail = {ESCAPE.format(column='source_detail')} "
            r"WHERE starts_with(source_detail, E'\x01')"
        )


def downgrade() -> None:
    op.execute("ALTER TABLE recording_event DROP COLUMN digest")
