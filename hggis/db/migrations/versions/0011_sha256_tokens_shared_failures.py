"""API tokens hashed with SHA-256; failed sign-ins counted in the database.

Tokens are 256 bits of randomness, so a slow password hash protects nothing and cost
~0.3 s per request (hence an in-process cache that every worker had to fill again).
Existing argon2 hashes cannot be converted: the tokens are not known in clear. They are
revoked here (recorded in history as done by this migration) and users get new ones with
``hggis user token NAME`` or the users page. Failed sign-ins move from per-process memory
to ``auth_failures`` so that several worker processes share one limit.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "SELECT set_config('hggis.actor', 'migration 0011', true), "
        "set_config('hggis.reason', 'argon2-hashed API tokens replaced by SHA-256: issue a new token', true)"
    )
    op.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash LIKE '$argon2%' AND revoked_at IS NULL")
    op.execute("SELECT set_config('hggis.actor', '', true), set_config('hggis.reason', '', true)")
    op.create_unique_constraint(op.f("uq_api_tokens_token_hash"), "api_tokens", ["token_hash"])
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('address', 'account')", name=op.f("ck_auth_failures_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    op.create_index("ix_auth_failures_subject", "auth_failures", ["kind", "subject", "failed_at"])
    op.create_index("ix_auth_failures_failed_at", "auth_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_failed_at", table_name="auth_failures")
    op.drop_index("ix_auth_failures_subject", table_name="auth_failures")
    op.drop_table("auth_failures")
    op.drop_constraint(op.f("uq_api_tokens_token_hash"), "api_tokens", type_="unique")
