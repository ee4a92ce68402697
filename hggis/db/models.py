"""The relational model of hggis.

Conventions that every table follows, because later rules depend on them:

- geometries are EPSG:4490 (CGCS2000 lon/lat) with GiST indexes;
- areas in 亩 are generated from geometry (ellipsoidal, ``ST_Area(geography)``), never typed in;
- money is in 万元, energy in 吨标准煤 (tce), electricity in 万kWh, emissions in 吨;
- editable objects carry ``version`` for optimistic concurrency;
- every change of the audited tables is written to ``history`` by database triggers
  (see ``hggis.db.audit``), so no code path can forget it.

The schema itself is created by Alembic migrations; this module is the ORM's view of it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false as sa_false,
    func,
    true as sa_true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.schema import Table

SRID = 4490
M2_PER_MU_SQL = "(2000.0 / 3.0)"
# Ellipsoidal area in 亩; PostGIS uses the spheroid of the geometry's SRID (CGCS2000 here).
AREA_MU_SQL = f"(ST_Area(geom::geography) / {M2_PER_MU_SQL})"

CREDIT_CODE_PATTERN = "^[0-9A-HJ-NP-RTUW-Y]{18}$"
PARCEL_CODE_PATTERN = "^[0-9]{12}[GJZ][A-Z][0-9]{5}$"

PARCEL_STATUSES: dict[str, str] = {
    "reserve": "标准地储备",
    "on_offer": "挂牌出让中",
    "supplied": "已供地未开工",
    "under_construction": "在建",
    "producing": "已投产",
    "idle_candidate": "疑似闲置",
    "recovered": "已收回",
}
PARK_LEVELS = ("国家级", "省级", "市级", "未定级")
CLUSTER_TIERS = ("千亿", "百亿", "十亿")
CONTRACT_KINDS = ("出让", "划拨")
OCCUPANCY_ROLES = ("holder", "lessee")
# 供地方式 of land on offer (how it is sold), distinct from CONTRACT_KINDS (出让 vs 划拨)
SUPPLY_METHODS = ("挂牌", "拍卖", "招标", "协议", "先租后让", "弹性年期出让")
ENQUIRY_STATUSES: dict[str, str] = {"open": "待答复", "answered": "已答复", "closed": "已关闭"}


def _in(column: str, values: tuple[str, ...] | list[str]) -> str:
    quoted = ", ".join("'" + v + "'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def table_of(model: type[Base]) -> Table:
    """The Core table of a declared model, typed as a Table so inserts and updates type-check.

    SQLAlchemy types ``Model.__table__`` as the wider FromClause; every declared model maps one Table.
    """
    table = model.__table__
    assert isinstance(table, Table)
    return table


class County(Base):
    """A county-level unit; 龙感湖管理区 (421171) exists without a polygon of its own."""

    __tablename__ = "counties"

    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=True)
    has_boundary: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("adcode ~ '^4211[0-9]{2}$'", name="adcode_in_huanggang"),)


class Industry(Base):
    """One of the plan's five advantageous industries (五大优势产业)."""

    __tablename__ = "industries"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")
    is_thousand_yi_target: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())


class Cluster(Base):
    """An industrial cluster of the plan: 千亿 优势, 百亿 特色, or 十亿 块状经济."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    tier: Mapped[str] = mapped_column(String(4))
    industry_code: Mapped[str | None] = mapped_column(ForeignKey("industries.code"))
    description: Mapped[str | None] = mapped_column(Text)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())

    __table_args__ = (CheckConstraint(_in("tier", CLUSTER_TIERS), name="tier"),)


class ClusterCounty(Base):
    __tablename__ = "cluster_counties"

    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"), primary_key=True)


class ClusterYear(Base):
    """Target and actual output of a cluster for one year, in 亿元."""

    __tablename__ = "cluster_years"

    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_output_yi: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    actual_output_yi: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))


class Park(Base):
    __tablename__ = "parks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"))
    level: Mapped[str] = mapped_column(Text, server_default="未定级")
    industry_code: Mapped[str | None] = mapped_column(ForeignKey("industries.code"))
    leading_industries: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=True)
    contact_office: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    contact_person: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_address: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (CheckConstraint(_in("level", PARK_LEVELS), name="level"),)


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(Text)
    gbt4754_code: Mapped[str | None] = mapped_column(String(4))
    industry_code: Mapped[str | None] = mapped_column(ForeignKey("industries.code"))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id"))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"), index=True)
    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"), index=True)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint(f"credit_code ~ '{CREDIT_CODE_PATTERN}'", name="credit_code_format"),
        CheckConstraint("hggis_credit_code_ok(credit_code)", name="credit_code_check_char"),
        CheckConstraint("gbt4754_code IS NULL OR gbt4754_code ~ '^[0-9]{2,4}$'", name="gbt4754_format"),
    )


class EnterpriseYear(Base):
    """An enterprise's figures for one year (money 万元, energy tce, electricity 万kWh)."""

    __tablename__ = "enterprise_years"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    tax_paid: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    value_added: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    output: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    energy_tce: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    electricity_10k_kwh: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    emissions_t: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    rnd_spending: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    employees: Mapped[int | None] = mapped_column(Integer)
    accident: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    utility: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    production_start_year: Mapped[int | None] = mapped_column(Integer)
    # on the statistics bureau's 规上 list of the year (TRUE/FALSE); NULL: decided by revenue
    above_size: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),)


class Parcel(Base):
    """A 宗地: geometry, status, holder, contract terms and the facts on the ground."""

    __tablename__ = "parcels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(19), unique=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)
    area_mu: Mapped[float] = mapped_column(Float, Computed(AREA_MU_SQL, persisted=True))
    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"), index=True)
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"), index=True)
    land_use: Mapped[str] = mapped_column(String(4), server_default="0601")
    status: Mapped[str] = mapped_column(Text, index=True)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    intended_industry: Mapped[str | None] = mapped_column(ForeignKey("industries.code"))
    # contract (出让合同) or allocation decision (划拨决定书)
    contract_kind: Mapped[str | None] = mapped_column(Text)
    contract_no: Mapped[str | None] = mapped_column(Text)
    contract_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    land_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    agreed_start_date: Mapped[dt.date | None] = mapped_column(Date)
    agreed_completion_date: Mapped[dt.date | None] = mapped_column(Date)
    planned_investment: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # what happened on the ground
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    built_footprint_m2: Mapped[float | None] = mapped_column(Float)
    investment_to_date: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    halted_since: Mapped[dt.date | None] = mapped_column(Date)
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    production_stopped_since: Mapped[dt.date | None] = mapped_column(Date)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)  # 总建筑面积, for 容积率
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)  # 交地确认书
    supervision_no: Mapped[str | None] = mapped_column(Text)  # 合同电子监管号
    # lineage and retirement (parcels are never deleted)
    parent_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"code ~ '{PARCEL_CODE_PATTERN}'", name="code_format"),
        CheckConstraint("substr(code, 1, 6) = adcode", name="code_matches_county"),
        CheckConstraint(_in("status", list(PARCEL_STATUSES)), name="status"),
        CheckConstraint("contract_kind IS NULL OR " + _in("contract_kind", CONTRACT_KINDS), name="contract_kind"),
        CheckConstraint("land_use ~ '^[0-9]{4}$'", name="land_use_format"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        CheckConstraint("built_footprint_m2 IS NULL OR built_footprint_m2 >= 0", name="footprint_nonneg"),
    )


class ControlIndicators(Base):
    """标准地 control indicators published for a parcel before sale."""

    __tablename__ = "control_indicators"

    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), primary_key=True)
    investment_intensity: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # 万元/亩
    far_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    far_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    tax_per_mu: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # 万元/亩
    output_intensity: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # 万元/亩
    energy_per_output: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))  # tce/万元
    environment_standard: Mapped[str | None] = mapped_column(Text)
    building_coverage_min: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # 建筑系数 %
    green_ratio_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # 绿地率 %
    admin_ratio_max: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # 行政办公 %
    construction_months: Mapped[int | None] = mapped_column(Integer)
    production_months: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class ParcelOffer(Base):
    """The published terms of a parcel on offer: 起始价, 供地方式, listing dates (not the deal price)."""

    __tablename__ = "parcel_offers"

    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), primary_key=True)
    start_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # 万元
    supply_method: Mapped[str | None] = mapped_column(Text)
    listing_start: Mapped[dt.date | None] = mapped_column(Date)
    listing_end: Mapped[dt.date | None] = mapped_column(Date)
    term_years: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("supply_method IS NULL OR " + _in("supply_method", SUPPLY_METHODS), name="supply_method"),
        CheckConstraint("start_price IS NULL OR start_price >= 0", name="start_price_nonneg"),
        CheckConstraint("listing_end IS NULL OR listing_start IS NULL OR listing_end >= listing_start",
                        name="listing_order"),
        CheckConstraint("term_years IS NULL OR term_years BETWEEN 1 AND 70", name="term_years"),
    )


class Enquiry(Base):
    """An investor's enquiry about a parcel, for the park's 招商 office (never public)."""

    __tablename__ = "enquiries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"))
    name: Mapped[str] = mapped_column(Text)
    firm: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(Text)
    project: Mapped[str] = mapped_column(Text)
    land_need_mu: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    sender_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(Text, server_default="open")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint(_in("status", list(ENQUIRY_STATUSES)), name="status"),
        CheckConstraint("land_need_mu IS NULL OR land_need_mu > 0", name="land_need_positive"),
        CheckConstraint("status = 'open' OR answer IS NOT NULL OR closed_at IS NOT NULL", name="answered"),
        Index("ix_enquiries_park_status", "park_id", "status"),
        Index("ix_enquiries_sender_created", "sender_hash", "created_at"),
        Index("ix_enquiries_content_created", "content_hash", "created_at"),
    )


class Occupancy(Base):
    """Who uses a parcel, and what share of it: kept apart from the parcel (宗地) itself."""

    __tablename__ = "occupancies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    share: Mapped[Decimal] = mapped_column(Numeric(6, 5))
    role: Mapped[str] = mapped_column(Text, server_default="holder")
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)  # NULL: since ever
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # NULL: open-ended; inclusive
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        UniqueConstraint("parcel_id", "enterprise_id", name="uq_occupancies_parcel_enterprise"),
        CheckConstraint("share > 0 AND share <= 1", name="share_range"),
        CheckConstraint(_in("role", OCCUPANCY_ROLES), name="role"),
    )


class History(Base):
    """Append-only record of every change (written by triggers; never updated or deleted)."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    table_name: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action"),
        Index("ix_history_object", "table_name", "object_id", "id"),
        {"comment": "append-only audit trail; UPDATE/DELETE/TRUNCATE are refused by triggers"},
    )


class DatasetMeta(Base):
    """Facts about the loaded data set (e.g. that it is the synthetic demo, its seed and date)."""

    __tablename__ = "dataset_meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


AUDITED_TABLES: dict[str, tuple[str, ...]] = {
    "counties": ("adcode",),
    "clusters": ("id",),
    "parks": ("id",),
    "enterprises": ("id",),
    "enterprise_years": ("enterprise_id", "year"),
    "parcels": ("id",),
    "control_indicators": ("parcel_id",),
    "occupancies": ("id",),
    "users": ("id",),
    "api_tokens": ("id",),
    "evaluation_models": ("id",),
    "evaluation_policies": ("id",),
    "import_field_mappings": ("id",),
    "idle_rule_sets": ("id",),
    "idle_rules": ("rule_set_id", "code"),
    "idle_banned_industries": ("id",),
    "idle_delay_reasons": ("code",),
    "idle_delay_causes": ("id",),
    "idle_extensions": ("id",),
    "idle_cases": ("id",),
    "idle_flags": ("id",),
    "idle_document_offices": ("adcode",),
    "idle_documents": ("id",),
    "dems": ("id",),
    "reserve_targets": ("id",),
    "reserve_settings": ("key",),
    "national_land_norms": ("edition",),
    "national_far_minimums": ("edition", "gbt_prefix"),
    "industry_indicator_defaults": ("edition", "industry_code"),
    "control_indicator_classes": ("parcel_id",),
    "constraint_layers": ("id",),
    "plan_targets": ("id",),
    "patrols": ("id",),
    "projects": ("id",),
    "project_funds": ("project_id", "on_date"),
    "project_list_moves": ("id",),
    "project_parcels": ("project_id", "parcel_id"),
    "chain_links": ("id",),
    "chain_targets": ("id",),
    "intensity_models": ("id",),
    "parcel_offers": ("parcel_id",),
    "enquiries": ("id",),
    "evaluation_land_lists": ("id",),
    "evaluation_land_corrections": ("id",),
    "evaluation_notices": ("id",),
    "evaluation_objections": ("id",),
    "industrial_bases": ("id",),
    "industrial_base_members": ("enterprise_id",),
    "industrial_base_recognitions": ("id",),
}
