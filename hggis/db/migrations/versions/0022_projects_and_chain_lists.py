"""Project pipeline (项目库: four lists, nodes, funds in place, 包保 leaders) and chain lists (锻长板补短板清单).

Also the plan's targets for the pipeline that 0009 did not carry: ≥ 2000 亿元 of signed
manufacturing investment a year and ≥ 40 % of it in place (citywide), and new versions of
the start/production targets saying they are now counted from the project records.
Every table is audited.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hggis.db.audit import audit_triggers_sql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

CREDIT = "^[0-9A-HJ-NP-RTUW-Y]{18}$"
PLAN = "黄冈市制造强县聚力打造现代产业集群三年行动方案（2023—2025年）"
# indicator, subject, version, label, min, unit, note
TARGETS = [
    ("signed_manufacturing_investment", "", 1, "每年制造业项目协议投资额", 2000, "亿元",
     "全市，按签约日期所在年度计；县（市、区）显示其贡献"),
    ("funds_in_place_rate", "", 1, "制造业招商引资资金到位率", 40, "%",
     "比率，全市与各县（市、区）均适用：当年签约项目年末累计到位资金 ÷ 协议投资额"),
    ("projects_started", "", 2, "每年新开工工业项目", 400, "个", "全市，以项目库实际开工日期计"),
    ("projects_completed", "", 2, "每年新投产工业项目", 300, "个", "全市，以项目库投产日期计"),
]
AUDITED = {
    "projects": ("id",), "project_funds": ("project_id", "on_date"), "project_list_moves": ("id",),
    "project_parcels": ("project_id", "parcel_id"), "chain_links": ("id",), "chain_targets": ("id",),
}


KINDS_BEFORE = "kind IN ('parcels', 'figures', 'occupancies', 'facts')"
KINDS_AFTER = "kind IN ('parcels', 'figures', 'occupancies', 'facts', 'projects', 'chain_links')"


def _set_kinds(condition: str) -> None:
    """The import log takes the two new sheet kinds."""
    for table in ("imports", "import_field_mappings"):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_kind")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_kind CHECK ({condition})")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join("'" + v + "'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("adcode", sa.String(6), sa.ForeignKey("counties.adcode", name="fk_projects_adcode_counties"), nullable=False),
        sa.Column("investor_name", sa.Text(), nullable=True),
        sa.Column("investor_credit_code", sa.String(18), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), sa.ForeignKey("enterprises.id", name="fk_projects_enterprise_id_enterprises"), nullable=True),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id", name="fk_projects_cluster_id_clusters"), nullable=True),
        sa.Column("industry_code", sa.String(32), sa.ForeignKey("industries.code", name="fk_projects_industry_code_industries"), nullable=True),
        sa.Column("signed_investment_wan", sa.Numeric(14, 2), nullable=True),
        sa.Column("list_kind", sa.Text(), server_default="planning", nullable=False),
        sa.Column("leader_name", sa.Text(), nullable=True),
        sa.Column("leader_office", sa.Text(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("land_supplied_on", sa.Date(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("producing_on", sa.Date(), nullable=True),
        sa.Column("planned_start_on", sa.Date(), nullable=True),
        sa.Column("planned_production_on", sa.Date(), nullable=True),
        sa.Column("is_key", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("batch", sa.String(6), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("adcode", "name", name="uq_projects_adcode_name"),
        sa.CheckConstraint(_in("list_kind", ("planning", "preparatory", "new", "continuing")), name="ck_projects_list_kind"),
        sa.CheckConstraint(f"investor_credit_code ~ '{CREDIT}'", name="ck_projects_investor_credit_code_format"),
        sa.CheckConstraint("batch ~ '^[0-9]{4}Q[1-4]$'", name="ck_projects_batch_format"),
        sa.CheckConstraint("signed_investment_wan >= 0", name="ck_projects_signed_investment_not_negative"),
        sa.CheckConstraint("producing_on IS NULL OR started_on IS NULL OR producing_on >= started_on",
                           name="ck_projects_production_after_start"),
    )
    op.create_index("ix_projects_adcode", "projects", ["adcode"])
    op.create_index("ix_projects_enterprise_id", "projects", ["enterprise_id"])
    op.create_table(
        "project_funds",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE",
                                                            name="fk_project_funds_project_id_projects"), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("amount_wan", sa.Numeric(14, 2), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "on_date", name="pk_project_funds"),
        sa.CheckConstraint("amount_wan >= 0", name="ck_project_funds_amount_not_negative"),
    )
    op.create_table(
        "project_list_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE",
                                                            name="fk_project_list_moves_project_id_projects"), nullable=False),
        sa.Column("from_kind", sa.Text(), nullable=True),
        sa.Column("to_kind", sa.Text(), nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=False),
        sa.Column("moved_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_project_list_moves"),
        sa.CheckConstraint(_in("to_kind", ("planning", "preparatory", "new", "continuing")),
                           name="ck_project_list_moves_to_kind"),
    )
    op.create_index("ix_project_list_moves_project_id", "project_list_moves", ["project_id"])
    op.create_table(
        "project_parcels",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE",
                                                            name="fk_project_parcels_project_id_projects"), nullable=False),
        sa.Column("parcel_id", sa.Integer(), sa.ForeignKey("parcels.id", name="fk_project_parcels_parcel_id_parcels"),
                  nullable=False),
        sa.PrimaryKeyConstraint("project_id", "parcel_id", name="pk_project_parcels"),
    )
    op.create_index("ix_project_parcels_parcel_id", "project_parcels", ["parcel_id"])
    op.create_table(
        "chain_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id", name="fk_chain_links_cluster_id_clusters"),
                  nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("standing", sa.Text(), nullable=False),
        sa.Column("industry_code", sa.String(32), sa.ForeignKey("industries.code", name="fk_chain_links_industry_code_industries"),
                  nullable=True),
        sa.Column("gbt4754_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chain_links"),
        sa.UniqueConstraint("cluster_id", "name", name="uq_chain_links_cluster_id"),
        sa.CheckConstraint(_in("position", ("upstream", "midstream", "downstream")), name="ck_chain_links_position"),
        sa.CheckConstraint(_in("standing", ("strength", "gap")), name="ck_chain_links_standing"),
    )
    op.create_index("ix_chain_links_cluster_id", "chain_links", ["cluster_id"])
    op.create_table(
        "chain_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), sa.ForeignKey("chain_links.id", ondelete="CASCADE",
                                                         name="fk_chain_targets_link_id_chain_links"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="listed", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chain_targets"),
        sa.UniqueConstraint("link_id", "name", name="uq_chain_targets_link_id"),
        sa.CheckConstraint(_in("status", ("listed", "contacted", "negotiating", "signed", "landed", "dropped")),
                           name="ck_chain_targets_status"),
    )
    op.create_index("ix_chain_targets_link_id", "chain_targets", ["link_id"])
    _set_kinds(KINDS_AFTER)
    for table, keys in AUDITED.items():
        for statement in audit_triggers_sql(table, keys):
            op.execute(statement)
    op.execute("SELECT set_config('hggis.actor', 'migration 0021d', true), "
               "set_config('hggis.reason', '行动方案：项目库目标（协议投资额、资金到位率、开工与投产口径）', true)")
    table = sa.table("plan_targets", sa.column("plan"), sa.column("indicator"), sa.column("subject"),
                     sa.column("target_year"), sa.column("version"), sa.column("label"), sa.column("min_value"),
                     sa.column("unit"), sa.column("note"))
    op.bulk_insert(table, [
        {"plan": PLAN, "indicator": i, "subject": s, "target_year": 2025, "version": v, "label": label,
         "min_value": lo, "unit": unit, "note": note}
        for i, s, v, label, lo, unit, note in TARGETS
    ])


def downgrade() -> None:
    op.execute("DELETE FROM imports WHERE kind IN ('projects', 'chain_links')")
    _set_kinds(KINDS_BEFORE)
    op.execute("DELETE FROM plan_targets WHERE (indicator, version) IN "
               "(('signed_manufacturing_investment', 1), ('funds_in_place_rate', 1), "
               "('projects_started', 2), ('projects_completed', 2))")
    for table in ("chain_targets", "chain_links", "project_parcels", "project_list_moves", "project_funds", "projects"):
        op.drop_table(table)
