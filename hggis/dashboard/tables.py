"""The plan's targets as versioned data (plan_targets).

A target is never edited in place: a change is a new ``version`` of the same
(indicator, subject, target_year), and the highest version is in force, so a dashboard of
last year can be explained with the targets it used. Rows are audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base


class PlanTarget(Base):
    """One target of the plan: a minimum and/or maximum, optionally over a threshold."""

    __tablename__ = "plan_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan: Mapped[str] = mapped_column(Text)
    indicator: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text, server_default="")  # '' = the city; a tier name for clusters
    target_year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    label: Mapped[str] = mapped_column(Text)
    min_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    max_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    threshold: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # "count of X above threshold" targets
    unit: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("indicator", "subject", "target_year", "version", name="uq_plan_targets_version"),
    )
