"""开发区土地集约利用评价 (TD/T 1029): versioned models, runs and per-park results.

``intensity_models`` is audited configuration; the default version is the packaged
``hggis/intensity/default_model.json`` (indicators, weights, ideal values, each marked
verified or not with its source). Runs and results are append-only output of each run.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hggis.db.audit import audit_triggers_sql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

DEFAULT_MODEL = Path(__file__).resolve().parents[3] / "intensity" / "default_model.json"


def upgrade() -> None:
    op.create_table(
        "intensity_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Integer(), nullable=False),
        sa.Column("valid_to", sa.Integer(), nullable=True),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("valid_from BETWEEN 1990 AND 2100", name=op.f("ck_intensity_models_valid_from_range")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name=op.f("ck_intensity_models_valid_to_after_from")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intensity_models")),
    )
    op.create_table(
        "intensity_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("n_parks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_demo", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_intensity_runs_year_range")),
        sa.ForeignKeyConstraint(["model_id"], ["intensity_models.id"],
                                name=op.f("fk_intensity_runs_model_id_intensity_models")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intensity_runs")),
    )
    op.create_index(op.f("ix_intensity_runs_year"), "intensity_runs", ["year"])
    op.create_table(
        "intensity_results",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("inputs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("indicators", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("potentials", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["intensity_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_intensity_results_run_id_intensity_runs")),
        sa.PrimaryKeyConstraint("run_id", "park_id", name=op.f("pk_intensity_results")),
    )
    for statement in audit_triggers_sql("intensity_models", ("id",)):
        op.execute(statement)
    op.execute("SELECT set_config('hggis.actor', 'migration 0021f', true), "
               "set_config('hggis.reason', 'TD/T 1029 默认评价参数（权重与理想值未核实）', true)")
    model = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    table = sa.table("intensity_models", sa.column("name"), sa.column("valid_from"), sa.column("params", postgresql.JSONB),
                     sa.column("note"), sa.column("created_by"))
    op.bulk_insert(table, [{"name": model["name"], "valid_from": model["valid_from"], "params": model["params"],
                            "note": model["note"], "created_by": "migration 0021f"}])


def downgrade() -> None:
    op.drop_table("intensity_results")
    op.drop_table("intensity_runs")
    op.drop_table("intensity_models")
