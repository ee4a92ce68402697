"""People by name: a user's 单位 (unit) and phone, shown beside their account in history and cases.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("unit", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("phone", sa.Text(), nullable=True))
    op.execute("ALTER TABLE users ADD CONSTRAINT ck_users_phone_format CHECK (phone IS NULL OR phone ~ '^[0-9+() -]{5,20}$')")


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_phone_format")
    op.drop_column("users", "phone")
    op.drop_column("users", "unit")
