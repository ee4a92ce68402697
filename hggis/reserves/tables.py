"""Tables of the 标准地 reserves domain: targets, settings, national norms, constraint layers.

Everything that changes by year, place or edition is a row here rather than a constant:
the 500–1000 亩 county target, the edition of the national 《工业项目建设用地控制指标》,
local default indicators per industry, the site finder's tolerance and score weights.
Migration 0006 creates the tables with their default rows; the audit triggers record
every later change of them in ``history``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true as sa_true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import SRID, Base, _in

CONSTRAINT_KINDS: dict[str, str] = {
    "永久基本农田": "constraint",
    "生态保护红线": "constraint",
    "洪涝区": "constraint",
    "道路": "reference",
    "港口": "reference",
    "河流": "reference",
    "铁路": "reference",  # the investor pages measure distances to these (hggis.investor.reference)
    "高速公路出入口": "reference",
    "机场": "reference",
    "其他": "constraint",
}
"""Layer kinds and the role each takes by default (an import may override ``其他``)."""

LAYER_ROLES = ("constraint", "reference")


class ReserveTarget(Base):
    """The county reserve target (亩 of 标准地), valid from a date; NULL adcode = every county."""

    __tablename__ = "reserve_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition: Mapped[str] = mapped_column(Text)
    adcode: Mapped[str | None] = mapped_column(ForeignKey("counties.adcode"))
    min_mu: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    max_mu: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (CheckConstraint("min_mu >= 0 AND max_mu >= min_mu", name="range"),)


class ReserveSetting(Base):
    """A named setting of the reserves domain (edition in use, tolerance, score weights)."""

    __tablename__ = "reserve_settings"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[dict] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NationalLandNorm(Base):
    """Site-wide limits of one edition of 《工业项目建设用地控制指标》 (percentages)."""

    __tablename__ = "national_land_norms"

    edition: Mapped[str] = mapped_column(String(8), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    building_coverage_min: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    admin_ratio_max: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    green_ratio_max: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    verified: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    note: Mapped[str | None] = mapped_column(Text)


class NationalFarMinimum(Base):
    """Minimum 容积率 of an edition for a GB/T 4754-2017 division (2 digits) or group (3)."""

    __tablename__ = "national_far_minimums"

    edition: Mapped[str] = mapped_column(
        ForeignKey("national_land_norms.edition", ondelete="CASCADE"), primary_key=True
    )
    gbt_prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    category: Mapped[str] = mapped_column(Text)
    far_min: Mapped[Decimal] = mapped_column(Numeric(4, 2))

    __table_args__ = (CheckConstraint("gbt_prefix ~ '^[0-9]{2,4}$'", name="gbt_prefix_format"),)


class IndustryIndicatorDefault(Base):
    """Local default control indicators for one of the plan's industries (an edition of them)."""

    __tablename__ = "industry_indicator_defaults"

    edition: Mapped[str] = mapped_column(String(32), primary_key=True)
    industry_code: Mapped[str] = mapped_column(ForeignKey("industries.code"), primary_key=True)
    gbt_code: Mapped[str] = mapped_column(String(4))  # representative GB/T 4754-2017 class
    investment_intensity: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # 万元/亩
    tax_per_mu: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # 万元/亩
    output_intensity: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # 万元/亩
    energy_per_output: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))  # tce/万元
    environment_standard: Mapped[str | None] = mapped_column(Text)
    far_span: Mapped[Decimal] = mapped_column(Numeric(4, 2), server_default="1.5")  # far_max - far_min
    construction_months: Mapped[int | None] = mapped_column(Integer)
    production_months: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("gbt_code ~ '^[0-9]{2,4}$'", name="gbt_code_format"),)


class ControlIndicatorClass(Base):
    """The GB/T 4754-2017 class a parcel's indicators were set for (finer than its industry)."""

    __tablename__ = "control_indicator_classes"

    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), primary_key=True)
    gbt4754_code: Mapped[str] = mapped_column(String(4))
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (CheckConstraint("gbt4754_code ~ '^[0-9]{2,4}$'", name="gbt_format"),)


class ConstraintLayer(Base):
    """One version of a constraint or reference layer; replacing it keeps the old one inactive."""

    __tablename__ = "constraint_layers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    active: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    adcode: Mapped[str | None] = mapped_column(ForeignKey("counties.adcode"))  # NULL: city-wide
    geometry_types: Mapped[str | None] = mapped_column(Text)
    feature_count: Mapped[int] = mapped_column(Integer, server_default="0")
    source_name: Mapped[str | None] = mapped_column(Text)
    source_crs: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    imported_by: Mapped[str] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("constraint_layers.id"))
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_constraint_layers_name_version"),
        CheckConstraint(_in("kind", list(CONSTRAINT_KINDS)), name="kind"),
        CheckConstraint(_in("role", list(LAYER_ROLES)), name="role"),
        Index("uq_constraint_layers_active_name", "name", unique=True, postgresql_where=text("active")),
    )


class ConstraintFeature(Base):
    """A feature of one layer version (never edited: a new version brings new rows)."""

    __tablename__ = "constraint_features"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("constraint_layers.id", ondelete="CASCADE"), index=True)
    geom = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=False)
    properties: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),)
