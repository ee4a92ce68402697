"""动态巡查: patrol records (audited, never edited) and their photos (append-only, outside the history).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from hggis.db.audit import audit_triggers_sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

STAGES = "('not_started', 'foundation', 'structure', 'production', 'halted')"

APPEND_ONLY = """
CREATE FUNCTION hggis_patrols_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused (a correction is a new patrol record)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parcel_id", sa.Integer(), sa.ForeignKey("parcels.id", name="fk_patrols_parcel_id_parcels"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("idle_cases.id", name="fk_patrols_case_id_idle_cases"), nullable=True),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("observer", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("device_lon", sa.Float(), nullable=True),
        sa.Column("device_lat", sa.Float(), nullable=True),
        sa.CheckConstraint(f"stage IN {STAGES}", name="ck_patrols_stage"),
        sa.CheckConstraint("(device_lon IS NULL) = (device_lat IS NULL)", name="ck_patrols_device_position_pair"),
        sa.PrimaryKeyConstraint("id", name="pk_patrols"),
    )
    op.create_index("ix_patrols_parcel_id", "patrols", ["parcel_id"])
    op.create_index("ix_patrols_case_id", "patrols", ["case_id"])
    op.create_table(
        "patrol_photos",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("patrol_id", sa.Integer(), sa.ForeignKey("patrols.id", name="fk_patrol_photos_patrol_id_patrols"),
                  nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("mime", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("mime IN ('image/jpeg')", name="ck_patrol_photos_mime"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="ck_patrol_photos_sha256_format"),
        sa.CheckConstraint("(lon IS NULL) = (lat IS NULL)", name="ck_patrol_photos_position_pair"),
        sa.PrimaryKeyConstraint("id", name="pk_patrol_photos"),
    )
    op.create_index("ix_patrol_photos_patrol_id", "patrol_photos", ["patrol_id"])
    for statement in audit_triggers_sql("patrols", ("id",)):
        op.execute(statement)
    op.execute(APPEND_ONLY)
    op.execute("REVOKE EXECUTE ON FUNCTION hggis_patrols_append_only() FROM PUBLIC")
    for table in ("patrols", "patrol_photos"):
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION hggis_patrols_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION hggis_patrols_append_only()")


def downgrade() -> None:
    op.drop_table("patrol_photos")
    op.drop_table("patrols")
    op.execute("DROP FUNCTION hggis_patrols_append_only()")
