"""Tables of the stages of an evaluation year: land publication, 公示, objections (migration 0021e).

The evaluating cities do not score from the land register straight to a final list:

1. the land areas (and the figures that will be used) are **published** per park for the
   firms to check (``evaluation_land_lists`` + its frozen items); a firm's or park's
   **correction request** (``evaluation_land_corrections``) is recorded and answered before
   scoring; the correction itself goes through the parcel / occupancy / figures doors;
2. the run scores (``evaluation_runs``, unchanged);
3. the results go on **公示** for a period (``evaluation_notices``: one per year, pointing at
   the year's current run); **objections** (``evaluation_objections``) are recorded and
   answered; an upheld one is corrected through the usual doors and the year re-run: the
   new run supersedes the old (``evaluation_runs.supersedes_run_id``) and the notice moves
   to it (audited, so the history keeps which run was on notice when);
4. once the period is over and every objection is answered, the run is **final**.

Lists, corrections, notices and objections are audited; list items are a frozen snapshot
(bulk, append-only, like run results).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base, _in

#: the three result lists practice publishes: 规上, 规下, tenants without their own land
RESULT_LISTS = ("above", "below", "tenant")
CORRECTION_STATUSES = ("open", "accepted", "rejected")
NOTICE_STATUSES = ("open", "final")
OBJECTION_STATUSES = ("open", "upheld", "rejected")
#: firm: a firm's written objection recorded by park or county staff; park: the park's own
OBJECTION_CHANNELS = ("firm", "park")
OBJECTION_SUBJECTS = ("land", "figures", "classification", "other")


class EvaluationLandList(Base):
    """One publication of the land areas of a year (the newest is the one being checked)."""

    __tablename__ = "evaluation_land_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("evaluation_models.id"))
    published_by: Mapped[str] = mapped_column(Text)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reason: Mapped[str | None] = mapped_column(Text)
    n_items: Mapped[int] = mapped_column(Integer)
    total_land_mu: Mapped[float] = mapped_column(Float)

    __table_args__ = (CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),)


class EvaluationLandListItem(Base):
    """One firm in a land publication: its own land, the land of its unit, its figures (frozen)."""

    __tablename__ = "evaluation_land_list_items"

    list_id: Mapped[int] = mapped_column(ForeignKey("evaluation_land_lists.id", ondelete="CASCADE"), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(Text)
    park_id: Mapped[int | None] = mapped_column(Integer)
    adcode: Mapped[str] = mapped_column(String(6))
    result_list: Mapped[str | None] = mapped_column(Text)
    own_land_mu: Mapped[float] = mapped_column(Float)
    land_mu: Mapped[float] = mapped_column(Float)
    merged_into: Mapped[int | None] = mapped_column(Integer)
    parcel_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    figures: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (
        CheckConstraint("result_list IS NULL OR " + _in("result_list", RESULT_LISTS), name="result_list"),
    )


class EvaluationLandCorrection(Base):
    """A request to correct a published land area, recorded and answered before scoring."""

    __tablename__ = "evaluation_land_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("evaluation_land_lists.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    enterprise_id: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(Text)
    park_id: Mapped[int | None] = mapped_column(Integer)
    adcode: Mapped[str] = mapped_column(String(6))
    published_land_mu: Mapped[float] = mapped_column(Float)
    claimed_land_mu: Mapped[float | None] = mapped_column(Float)
    statement: Mapped[str] = mapped_column(Text)
    lodged_by: Mapped[str] = mapped_column(Text)
    lodged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(Text, server_default="open")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint(_in("status", CORRECTION_STATUSES), name="status"),
        CheckConstraint("(status = 'open') = (answer IS NULL)", name="answered_has_answer"),
        CheckConstraint("claimed_land_mu IS NULL OR claimed_land_mu >= 0", name="claimed_not_negative"),
    )


class EvaluationNotice(Base):
    """The 公示 of a year's results: its period and the run on notice (moves to a superseding run)."""

    __tablename__ = "evaluation_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    opened_by: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(Text, server_default="open")
    finalised_by: Mapped[str | None] = mapped_column(Text)
    finalised_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        UniqueConstraint("year"),
        CheckConstraint(_in("status", NOTICE_STATUSES), name="status"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("(status = 'final') = (finalised_at IS NOT NULL)", name="final_has_time"),
    )


class EvaluationObjection(Base):
    """An objection lodged during the 公示 period, and its answer."""

    __tablename__ = "evaluation_objections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("evaluation_notices.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(Integer)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(Text)
    park_id: Mapped[int | None] = mapped_column(Integer)
    adcode: Mapped[str] = mapped_column(String(6))
    channel: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    statement: Mapped[str] = mapped_column(Text)
    received_on: Mapped[dt.date] = mapped_column(Date)
    firm_contact: Mapped[str | None] = mapped_column(Text)
    lodged_by: Mapped[str] = mapped_column(Text)
    lodged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(Text, server_default="open")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rerun_id: Mapped[int | None] = mapped_column(Integer)  # the run that applied an upheld objection
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint(_in("status", OBJECTION_STATUSES), name="status"),
        CheckConstraint(_in("channel", OBJECTION_CHANNELS), name="channel"),
        CheckConstraint(_in("subject", OBJECTION_SUBJECTS), name="subject"),
        CheckConstraint("(status = 'open') = (answer IS NULL)", name="answered_has_answer"),
        CheckConstraint("rerun_id IS NULL OR status = 'upheld'", name="rerun_only_upheld"),
    )


# Columns added to existing tables (declared in their own modules' classes):
# evaluation_runs.land_list_id, evaluation_runs.supersedes_run_id, evaluation_results.tenant,
# enterprise_years.above_size.
