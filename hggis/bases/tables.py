"""Tables of the 块状经济 bases (migration 0026), all audited.

- ``industrial_bases``: name, county, its park or township, leading industry (and cluster);
- ``industrial_base_members``: which enterprise belongs to which base (one base per
  enterprise, so the bases' outputs never count a firm twice), from which year to which;
- ``industrial_base_recognitions``: every yearly recognition decision with the output it
  was based on, the threshold, the members and their figures (frozen), who and when. A
  year decided again gets a new row; the newest row of a (base, year) is the decision in
  force, the older ones stay as history.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base


class IndustrialBase(Base):
    __tablename__ = "industrial_bases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"))
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"))
    township: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str] = mapped_column(Text)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint("park_id IS NOT NULL OR township IS NOT NULL", name="park_or_township"),
        CheckConstraint("length(btrim(name)) > 0 AND length(btrim(industry)) > 0", name="named"),
    )


class IndustrialBaseMember(Base):
    __tablename__ = "industrial_base_members"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True)
    base_id: Mapped[int] = mapped_column(ForeignKey("industrial_bases.id", ondelete="CASCADE"), index=True)
    since_year: Mapped[int | None] = mapped_column(Integer)
    until_year: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint("until_year IS NULL OR since_year IS NULL OR until_year >= since_year", name="years_ordered"),
    )


class IndustrialBaseRecognition(Base):
    __tablename__ = "industrial_base_recognitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_id: Mapped[int] = mapped_column(ForeignKey("industrial_bases.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    output_yi: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    threshold_yi: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    recognised: Mapped[bool] = mapped_column(Boolean)
    n_members: Mapped[int] = mapped_column(Integer)
    n_reporting: Mapped[int] = mapped_column(Integer)
    basis: Mapped[dict] = mapped_column(JSONB)  # members, their output and figure versions
    decided_by: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reason: Mapped[str | None] = mapped_column(Text)
    adcode: Mapped[str] = mapped_column(String(6))

    __table_args__ = (
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),
        CheckConstraint("recognised = (output_yi >= threshold_yi)", name="recognised_by_threshold"),
        Index("ix_industrial_base_recognitions_base_year", "base_id", "year"),
    )
