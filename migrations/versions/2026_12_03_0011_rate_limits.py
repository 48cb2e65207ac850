"""Rate limits: a token bucket per key, kept in PostgreSQL so that every worker (and every
instance) draws from the same one; and optional per-key limits over the settings' default.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE api_key ADD COLUMN rate_per_s double precision")
    op.execute("ALTER TABLE api_key ADD COLUMN rate_burst double precision")
    op.execute(
        """
        CREATE TABLE rate_bucket (
            key_id bigint NOT NULL,
            tokens double precision NOT NULL,
            updated_at timestamptz NOT NULL,
            CONSTRAINT rate_bucket_pkey PRIMARY KEY (key_id),
            CONSTRAINT rate_bucket_key_id_fkey FOREIGN KEY (key_id) REFERENCES api_key (id)
        )
        """
    )
    # Take n tokens from the key's bucket, refilled for the time since its last use. The
    # row lock queues a key's concurrent requests; the clock is read after the lock, so a
    # wait never counts as refill twice. A batch larger than the burst passes once the
    # bucket is full and leaves it in debt: the average rate holds either way.
    op.execute(
        """
        CREATE FUNCTION recording_take_tokens(
            key_prefix text, key_digest bytea, wanted double precision,
            default_rate double precision, default_burst double precision
        ) RETURNS TABLE (allowed boolean, tokens double precision,
                         rate double precision, burst double precision)
        LANGUAGE plpgsql AS $$
        DECLARE
            k_id bigint; k_rate double precision; k_burst double precision;
            now_ts timestamptz; current double precision;
        BEGIN
            SELECT a.id, coalesce(a.rate_per_s, default_rate),
                   coalesce(a.rate_burst, 2 * a.rate_per_s, default_burst)
              INTO k_id, k_rate, k_burst
              FROM api_key a
             WHERE a.prefix = key_prefix AND a.digest = key_digest AND a.revoked_at IS NULL;
            IF k_id IS NULL OR k_rate IS NULL THEN
                RETURN QUERY SELECT true, NULL::float8, NULL::float8, NULL::float8;
                RETURN;
            END IF;
            k_burst := coalesce(k_burst, 2 * k_rate);
            INSERT INTO rate_bucket (key_id, tokens, updated_at)
                 VALUES (k_id, k_burst, clock_timestamp()) ON CONFLICT (key_id) DO NOTHING;
            SELECT b.tokens, b.updated_at INTO current, now_ts
              FROM rate_bucket b WHERE b.key_id = k_id FOR UPDATE;
            current := least(k_burst, current
                + k_rate * greatest(0, extract(epoch FROM clock_timestamp() - now_ts)));
            IF current >= least(wanted, k_burst) THEN
                UPDATE rate_bucket SET tokens = current - wanted, updated_at = clock_timestamp()
                 WHERE key_id = k_id;
                RETURN QUERY SELECT true, current - wanted, k_rate, k_burst;
            ELSE
                UPDATE rate_bucket SET tokens = current, updated_at = clock_timestamp()
                 WHERE key_id = k_id;
                RETURN QUERY SELECT false, current, k_rate, k_burst;
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION recording_take_tokens(text, bytea, double precision, double precision, "
        "double precision)"
    )
    op.execute("DROP TABLE rate_bucket")
    op.execute("ALTER TABLE api_key DROP COLUMN rate_burst")
    op.execute("ALTER TABLE api_key DROP COLUMN rate_per_s")
