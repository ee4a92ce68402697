"""亩均 publication stages: land lists and corrections, 公示 notices, objections, result lists, tax definition.

- ``evaluation_land_lists`` (+ frozen ``evaluation_land_list_items``): each publication of the
  firms' land areas and figures before scoring; ``evaluation_land_corrections``: requests to
  correct a published area, answered before scoring;
- ``evaluation_notices``: the 公示 period of a year and the run on notice;
  ``evaluation_objections``: objections lodged in the period and their answers;
- ``evaluation_runs.land_list_id`` / ``supersedes_run_id``: what a run scored from and which
  run it replaced; ``evaluation_results.tenant``: the firm leases all its land (the third
  result list); ``enterprise_years.above_size``: the statistics bureau's 规上 status of the
  year (NULL: decided by revenue as before);
- the tax definition (which taxes count, one-off items excluded) becomes part of every
  stored model version that lacks one: the stored versions get the default definition
  written in explicitly, so a later change of the code's default cannot change their meaning.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hggis.db.audit import audit_triggers_sql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

AUDITED = ("evaluation_land_lists", "evaluation_land_corrections", "evaluation_notices", "evaluation_objections")

#: the default of hggis.evaluation.model.TaxDefinition, frozen here as the migration wrote it
TAX_DEFINITION = {
    "label": "评价税收（实缴税金，剔除一次性税收）",
    "included": ["增值税", "消费税", "企业所得税", "资源税", "城市维护建设税", "房产税", "城镇土地使用税",
                 "印花税", "车船税", "环境保护税", "教育费附加", "地方教育附加"],
    "excluded": ["土地增值税", "契税", "耕地占用税", "股权转让等一次性所得形成的税收", "资产处置形成的一次性税收",
                 "查补以前年度税款及滞纳金"],
    "export_rebate": "免抵调库税额计入",
    "verified": False,
    "note": "黄冈市口径未核实：默认按常见县市口径，计入企业当年实缴的主要税种，剔除一次性税收。",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("SELECT set_config('hggis.actor', 'migration 0021e', true), "
                         "set_config('hggis.reason', '亩均评价：用地公布、公示与异议、结果名单、税收口径', true)"))
    op.create_table(
        "evaluation_land_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("total_land_mu", sa.Float(), nullable=False),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_evaluation_land_lists_year_range")),
        sa.ForeignKeyConstraint(["model_id"], ["evaluation_models.id"],
                                name=op.f("fk_evaluation_land_lists_model_id_evaluation_models")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_land_lists")),
    )
    op.create_index(op.f("ix_evaluation_land_lists_year"), "evaluation_land_lists", ["year"], unique=False)
    op.create_table(
        "evaluation_land_list_items",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("result_list", sa.Text(), nullable=True),
        sa.Column("own_land_mu", sa.Float(), nullable=False),
        sa.Column("land_mu", sa.Float(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("parcel_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint("result_list IS NULL OR " + _in("result_list", ("above", "below", "tenant")),
                           name=op.f("ck_evaluation_land_list_items_result_list")),
        sa.ForeignKeyConstraint(["list_id"], ["evaluation_land_lists.id"], ondelete="CASCADE",
                                name=op.f("fk_evaluation_land_list_items_list_id_evaluation_land_lists")),
        sa.PrimaryKeyConstraint("list_id", "enterprise_id", name=op.f("pk_evaluation_land_list_items")),
    )
    op.create_table(
        "evaluation_land_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("published_land_mu", sa.Float(), nullable=False),
        sa.Column("claimed_land_mu", sa.Float(), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("lodged_by", sa.Text(), nullable=False),
        sa.Column("lodged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(_in("status", ("open", "accepted", "rejected")), name=op.f("ck_evaluation_land_corrections_status")),
        sa.CheckConstraint("(status = 'open') = (answer IS NULL)",
                           name=op.f("ck_evaluation_land_corrections_answered_has_answer")),
        sa.CheckConstraint("claimed_land_mu IS NULL OR claimed_land_mu >= 0",
                           name=op.f("ck_evaluation_land_corrections_claimed_not_negative")),
        sa.ForeignKeyConstraint(["list_id"], ["evaluation_land_lists.id"], ondelete="CASCADE",
                                name=op.f("fk_evaluation_land_corrections_list_id_evaluation_land_lists")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_land_corrections")),
    )
    op.create_index(op.f("ix_evaluation_land_corrections_list_id"), "evaluation_land_corrections", ["list_id"])
    op.create_table(
        "evaluation_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("opened_by", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("finalised_by", sa.Text(), nullable=True),
        sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(_in("status", ("open", "final")), name=op.f("ck_evaluation_notices_status")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_evaluation_notices_ends_after_start")),
        sa.CheckConstraint("(status = 'final') = (finalised_at IS NOT NULL)",
                           name=op.f("ck_evaluation_notices_final_has_time")),
        sa.ForeignKeyConstraint(["run_id"], ["evaluation_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_evaluation_notices_run_id_evaluation_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_notices")),
        sa.UniqueConstraint("year", name=op.f("uq_evaluation_notices_year")),
    )
    op.create_index(op.f("ix_evaluation_notices_run_id"), "evaluation_notices", ["run_id"])
    op.create_table(
        "evaluation_objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("firm_contact", sa.Text(), nullable=True),
        sa.Column("lodged_by", sa.Text(), nullable=False),
        sa.Column("lodged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rerun_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(_in("status", ("open", "upheld", "rejected")), name=op.f("ck_evaluation_objections_status")),
        sa.CheckConstraint(_in("channel", ("firm", "park")), name=op.f("ck_evaluation_objections_channel")),
        sa.CheckConstraint(_in("subject", ("land", "figures", "classification", "other")),
                           name=op.f("ck_evaluation_objections_subject")),
        sa.CheckConstraint("(status = 'open') = (answer IS NULL)", name=op.f("ck_evaluation_objections_answered_has_answer")),
        sa.CheckConstraint("rerun_id IS NULL OR status = 'upheld'", name=op.f("ck_evaluation_objections_rerun_only_upheld")),
        sa.ForeignKeyConstraint(["notice_id"], ["evaluation_notices.id"], ondelete="CASCADE",
                                name=op.f("fk_evaluation_objections_notice_id_evaluation_notices")),
        sa.ForeignKeyConstraint(["run_id"], ["evaluation_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_evaluation_objections_run_id_evaluation_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_objections")),
    )
    op.create_index(op.f("ix_evaluation_objections_notice_id"), "evaluation_objections", ["notice_id"])
    op.add_column("evaluation_runs", sa.Column("land_list_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_evaluation_runs_land_list_id_evaluation_land_lists"), "evaluation_runs",
                          "evaluation_land_lists", ["land_list_id"], ["id"])
    op.add_column("evaluation_runs", sa.Column("supersedes_run_id", sa.Integer(), nullable=True))
    op.add_column("evaluation_results", sa.Column("tenant", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("enterprise_years", sa.Column("above_size", sa.Boolean(), nullable=True))
    for table in AUDITED:
        for statement in audit_triggers_sql(table, ("id",)):
            op.execute(statement)
    conn.execute(
        sa.text(
            "UPDATE evaluation_models SET params = params || jsonb_build_object('tax_definition', CAST(:d AS jsonb)), "
            "version = version + 1 WHERE NOT params ? 'tax_definition'"
        ),
        {"d": json.dumps(TAX_DEFINITION, ensure_ascii=False)},
    )


def downgrade() -> None:
    op.execute("UPDATE evaluation_models SET params = params - 'tax_definition'")
    op.drop_column("enterprise_years", "above_size")
    op.drop_column("evaluation_results", "tenant")
    op.drop_column("evaluation_runs", "supersedes_run_id")
    op.drop_constraint(op.f("fk_evaluation_runs_land_list_id_evaluation_land_lists"), "evaluation_runs",
                       type_="foreignkey")
    op.drop_column("evaluation_runs", "land_list_id")
    for table in ("evaluation_objections", "evaluation_notices", "evaluation_land_corrections",
                  "evaluation_land_list_items", "evaluation_land_lists"):
        op.drop_table(table)
