"""块状经济 bases: the bases, their member enterprises, and the yearly recognition decisions (audited).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hggis.db.audit import audit_triggers_sql

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "industrial_bases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("park_id IS NOT NULL OR township IS NOT NULL", name=op.f("ck_industrial_bases_park_or_township")),
        sa.CheckConstraint("length(btrim(name)) > 0 AND length(btrim(industry)) > 0", name=op.f("ck_industrial_bases_named")),
        sa.ForeignKeyConstraint(["adcode"], ["counties.adcode"], name=op.f("fk_industrial_bases_adcode_counties")),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name=op.f("fk_industrial_bases_park_id_parks")),
        sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"], name=op.f("fk_industrial_bases_cluster_id_clusters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industrial_bases")),
        sa.UniqueConstraint("name", name=op.f("uq_industrial_bases_name")),
    )
    op.create_table(
        "industrial_base_members",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=False),
        sa.Column("since_year", sa.Integer(), nullable=True),
        sa.Column("until_year", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("until_year IS NULL OR since_year IS NULL OR until_year >= since_year",
                           name=op.f("ck_industrial_base_members_years_ordered")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE",
                                name=op.f("fk_industrial_base_members_enterprise_id_enterprises")),
        sa.ForeignKeyConstraint(["base_id"], ["industrial_bases.id"], ondelete="CASCADE",
                                name=op.f("fk_industrial_base_members_base_id_industrial_bases")),
        sa.PrimaryKeyConstraint("enterprise_id", name=op.f("pk_industrial_base_members")),
    )
    op.create_index(op.f("ix_industrial_base_members_base_id"), "industrial_base_members", ["base_id"])
    op.create_table(
        "industrial_base_recognitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("output_yi", sa.Numeric(14, 4), nullable=False),
        sa.Column("threshold_yi", sa.Numeric(14, 4), nullable=False),
        sa.Column("recognised", sa.Boolean(), nullable=False),
        sa.Column("n_members", sa.Integer(), nullable=False),
        sa.Column("n_reporting", sa.Integer(), nullable=False),
        sa.Column("basis", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_industrial_base_recognitions_year_range")),
        sa.CheckConstraint("recognised = (output_yi >= threshold_yi)",
                           name=op.f("ck_industrial_base_recognitions_recognised_by_threshold")),
        sa.ForeignKeyConstraint(["base_id"], ["industrial_bases.id"], ondelete="CASCADE",
                                name=op.f("fk_industrial_base_recognitions_base_id_industrial_bases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industrial_base_recognitions")),
    )
    op.create_index("ix_industrial_base_recognitions_base_year", "industrial_base_recognitions", ["base_id", "year"])
    for table, keys in (("industrial_bases", ("id",)), ("industrial_base_members", ("enterprise_id",)),
                        ("industrial_base_recognitions", ("id",))):
        for statement in audit_triggers_sql(table, keys):
            op.execute(statement)


def downgrade() -> None:
    for table in ("industrial_base_recognitions", "industrial_base_members", "industrial_bases"):
        op.drop_table(table)
