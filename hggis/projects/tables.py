"""Tables of the project pipeline and of the chain lists (SQLAlchemy Core, in the shared metadata).

Money is in 万元 (the column names say so: ``_wan``), as everywhere in hggis. A project's
funds in place are a dated series of *cumulative* amounts (累计到位资金 as reported on a
date), so the figure at the end of any year can be read back later. A change of list
(谋划 → 前期 → 新建 → 续建) is a row in ``project_list_moves`` with its date and who
made it. Every table here is audited (history triggers, migration 0021d).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY

from hggis.db.models import CREDIT_CODE_PATTERN, Base, _in

#: the plan's four lists (三、(三) 健全项目调度机制), in the order a project goes through them
LIST_KINDS: dict[str, str] = {"planning": "谋划类", "preparatory": "前期类", "new": "新建类", "continuing": "续建类"}
#: a link's place in its chain
CHAIN_POSITIONS: dict[str, str] = {"upstream": "上游", "midstream": "中游", "downstream": "下游"}
#: 锻长板 (a strength to build on) or 补短板 (a gap to fill)
CHAIN_STANDINGS: dict[str, str] = {"strength": "长板", "gap": "短板"}
#: where the courting of a target firm stands
TARGET_STATUSES: dict[str, str] = {
    "listed": "待对接", "contacted": "已接洽", "negotiating": "洽谈中", "signed": "已签约", "landed": "已落地",
    "dropped": "已放弃",
}
BATCH_PATTERN = "^[0-9]{4}Q[1-4]$"  # 集中开工 batch: the quarter, e.g. 2025Q2

metadata = Base.metadata

projects = Table(
    "projects", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("adcode", String(6), ForeignKey("counties.adcode"), nullable=False, index=True),
    Column("investor_name", Text),
    Column("investor_credit_code", String(18)),
    Column("enterprise_id", Integer, ForeignKey("enterprises.id"), index=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id")),
    Column("industry_code", String(32), ForeignKey("industries.code")),
    Column("signed_investment_wan", Numeric(14, 2)),
    Column("list_kind", Text, nullable=False, server_default="planning"),
    Column("leader_name", Text),
    Column("leader_office", Text),
    Column("signed_on", Date),
    Column("land_supplied_on", Date),
    Column("started_on", Date),
    Column("producing_on", Date),
    Column("planned_start_on", Date),  # the contract's node: start by
    Column("planned_production_on", Date),  # the contract's node: in production by
    Column("is_key", Boolean, nullable=False, server_default=false()),
    Column("batch", String(6)),
    Column("note", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("adcode", "name", name="uq_projects_adcode_name"),
    CheckConstraint(_in("list_kind", list(LIST_KINDS)), name="list_kind"),
    CheckConstraint(f"investor_credit_code ~ '{CREDIT_CODE_PATTERN}'", name="investor_credit_code_format"),
    CheckConstraint(f"batch ~ '{BATCH_PATTERN}'", name="batch_format"),
    CheckConstraint("signed_investment_wan >= 0", name="signed_investment_not_negative"),
    CheckConstraint("producing_on IS NULL OR started_on IS NULL OR producing_on >= started_on",
                    name="production_after_start"),
)

project_funds = Table(
    "project_funds", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("on_date", Date, primary_key=True),
    Column("amount_wan", Numeric(14, 2), nullable=False),  # cumulative funds in place on that date
    CheckConstraint("amount_wan >= 0", name="amount_not_negative"),
)

project_list_moves = Table(
    "project_list_moves", metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("from_kind", Text),  # NULL: the project entered its first list
    Column("to_kind", Text, nullable=False),
    Column("moved_on", Date, nullable=False),
    Column("moved_by", Text, nullable=False),
    Column("reason", Text),
    CheckConstraint(_in("to_kind", list(LIST_KINDS)), name="to_kind"),
)

project_parcels = Table(
    "project_parcels", metadata,
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("parcel_id", Integer, ForeignKey("parcels.id"), primary_key=True),
    Index("ix_project_parcels_parcel_id", "parcel_id"),
)

chain_links = Table(
    "chain_links", metadata,
    Column("id", Integer, primary_key=True),
    Column("cluster_id", Integer, ForeignKey("clusters.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("position", Text, nullable=False),
    Column("standing", Text, nullable=False),
    Column("industry_code", String(32), ForeignKey("industries.code")),  # default: the cluster's
    Column("gbt4754_codes", ARRAY(Text), nullable=False, server_default="{}"),  # GB/T 4754 classes of the link
    Column("notes", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    UniqueConstraint("cluster_id", "name", name="uq_chain_links_cluster_id"),
    CheckConstraint(_in("position", list(CHAIN_POSITIONS)), name="position"),
    CheckConstraint(_in("standing", list(CHAIN_STANDINGS)), name="standing"),
)

chain_targets = Table(
    "chain_targets", metadata,
    Column("id", Integer, primary_key=True),
    Column("link_id", Integer, ForeignKey("chain_links.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="listed"),
    Column("notes", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    UniqueConstraint("link_id", "name", name="uq_chain_targets_link_id"),
    CheckConstraint(_in("status", list(TARGET_STATUSES)), name="status"),
)
