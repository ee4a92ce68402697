"""Tables of the idle-land module (migration 0005).

Rule parameters, legal texts, reason codes and the banned-industry list are rows with a
version (``idle_rule_sets``), because they change by year and place. Scans are append-only
results; cases, flags, recorded causes and extension agreements are audited, and each case
step is an append-only event with its date, actor, reason and documents.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base, _in

RULE_CATEGORIES = ("idle", "low_efficiency")
CAUSE_KINDS = ("government", "force_majeure")
BANNED_CATEGORIES = ("banned", "obsolete")
EXTENSION_KINDS = ("extension", "change_of_use", "temporary_use", "other")
CASE_KINDS = ("idle", "low_efficiency")
CASE_BASES = ("holder_fault", "government_cause", "halted", "low_efficiency")
CASE_SOURCES = ("scan", "flag", "manual")
CASE_STATES = (
    "suspected",
    "notice_issued",
    "finding_issued",
    "publicly_listed",
    "disposal_decided",
    "recovered",
    "in_reserve",
    "reoffered",
    "closed",
)
DISPOSAL_KINDS = (
    "fee_collected",
    "extension",
    "change_of_use",
    "temporary_use",
    "paid_recovery",
    "land_swap",
    "recovery_without_compensation",
)
FLAG_STATUSES = ("open", "confirmed", "dismissed")
TERMINAL_STATES = ("closed", "reoffered")


class IdleRuleSet(Base):
    """One version of the rule parameters, in force from ``effective_from`` (immutable once used)."""

    __tablename__ = "idle_rule_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    effective_from: Mapped[dt.date] = mapped_column(Date, unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    # 《闲置土地处置办法》
    idle_years: Mapped[int] = mapped_column(Integer, server_default="1")
    recovery_years: Mapped[int] = mapped_column(Integer, server_default="2")
    halted_years: Mapped[int] = mapped_column(Integer, server_default="1")
    halted_recovery_years: Mapped[int] = mapped_column(Integer, server_default="2")
    fee_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4), server_default="0.2")
    footprint_fraction: Mapped[Decimal] = mapped_column(Numeric(12, 10), server_default="0.3333333333")
    investment_fraction: Mapped[Decimal] = mapped_column(Numeric(6, 4), server_default="0.25")
    investment_includes_land_price: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    investigation_days: Mapped[int] = mapped_column(Integer, server_default="30")
    response_days: Mapped[int] = mapped_column(Integer, server_default="30")
    payment_days: Mapped[int] = mapped_column(Integer, server_default="30")
    max_extension_years: Mapped[int] = mapped_column(Integer, server_default="1")
    max_temporary_use_years: Mapped[int] = mapped_column(Integer, server_default="2")
    # 低效用地 (local; defaults from domain.md §6)
    low_overdue_completion_years: Mapped[int] = mapped_column(Integer, server_default="2")
    low_completed_years: Mapped[int] = mapped_column(Integer, server_default="2")
    low_intensity_fraction: Mapped[Decimal] = mapped_column(Numeric(6, 4), server_default="0.5")
    low_output_fraction: Mapped[Decimal] = mapped_column(Numeric(6, 4), server_default="0.5")
    low_production_stopped_years: Mapped[int] = mapped_column(Integer, server_default="1")
    low_class_d_years: Mapped[int] = mapped_column(Integer, server_default="1")
    lookahead_days: Mapped[int] = mapped_column(Integer, server_default="90")
    # which disposals each basis allows (第十二条 negotiated, 第十四条 sanctions); for halted land the
    # scan proposes the fee / recovery only when disposals_halted lists them (migration 0015)
    disposals_holder_fault: Mapped[list[str]] = mapped_column(ARRAY(Text))
    disposals_government_cause: Mapped[list[str]] = mapped_column(ARRAY(Text))
    disposals_halted: Mapped[list[str]] = mapped_column(ARRAY(Text))
    disposals_low_efficiency: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "idle_years >= 1 AND recovery_years > idle_years AND halted_years >= 1 "
            "AND halted_recovery_years > halted_years",
            name="years",
        ),
        CheckConstraint("fee_rate > 0 AND fee_rate <= 1", name="fee_rate"),
        CheckConstraint(
            "footprint_fraction > 0 AND footprint_fraction < 1 AND investment_fraction > 0 AND investment_fraction < 1",
            name="fractions",
        ),
        CheckConstraint(
            "low_intensity_fraction > 0 AND low_intensity_fraction <= 1 AND low_output_fraction > 0 "
            "AND low_output_fraction <= 1",
            name="low_fractions",
        ),
        CheckConstraint(
            "investigation_days > 0 AND response_days > 0 AND payment_days > 0 AND lookahead_days > 0 "
            "AND max_extension_years > 0 AND max_temporary_use_years > 0 AND low_class_d_years > 0",
            name="positive",
        ),
    )


class IdleRule(Base):
    """A rule of the catalogue: its Chinese name, the legal basis text and the proposed action."""

    __tablename__ = "idle_rules"

    rule_set_id: Mapped[int] = mapped_column(ForeignKey("idle_rule_sets.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    category: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    proposed_action: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (CheckConstraint(_in("category", RULE_CATEGORIES), name="category"),)


class IdleBannedIndustry(Base):
    """An industry (GB/T 4754 code prefix) whose land counts as low-efficiency (淘汰/禁止类)."""

    __tablename__ = "idle_banned_industries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("idle_rule_sets.id", ondelete="CASCADE"))
    gbt4754_prefix: Mapped[str] = mapped_column(String(4))
    name_zh: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("rule_set_id", "gbt4754_prefix", name="uq_idle_banned_industries_set_prefix"),
        CheckConstraint("gbt4754_prefix ~ '^[0-9]{2,4}$'", name="prefix_format"),
        CheckConstraint(_in("category", BANNED_CATEGORIES), name="category"),
    )


class IdleDelayReason(Base):
    """A government cause or force majeure (第八条), as a reason code."""

    __tablename__ = "idle_delay_reasons"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (CheckConstraint(_in("kind", CAUSE_KINDS), name="kind"),)


class IdleDelayCause(Base):
    """A recorded (verified) government cause or force majeure for one parcel's delay."""

    __tablename__ = "idle_delay_causes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("idle_cases.id", ondelete="CASCADE"))
    reason_code: Mapped[str] = mapped_column(ForeignKey("idle_delay_reasons.code"))
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    evidence_ref: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    withdrawn_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdleExtension(Base):
    """A supplementary agreement that sets a new start date: the idle clock restarts from it."""

    __tablename__ = "idle_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("idle_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text, server_default="extension")
    agreement_no: Mapped[str] = mapped_column(Text)
    signed_on: Mapped[dt.date] = mapped_column(Date)
    new_start_date: Mapped[dt.date] = mapped_column(Date)
    new_completion_date: Mapped[dt.date | None] = mapped_column(Date)
    temporary_use_until: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("kind", EXTENSION_KINDS), name="kind"),
        CheckConstraint(
            "new_completion_date IS NULL OR new_completion_date > new_start_date", name="completion_after_start"
        ),
    )


class IdleScan(Base):
    """One scan as of a date (append-only)."""

    __tablename__ = "idle_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("idle_rule_sets.id"))
    adcodes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))  # NULL: every county
    actor: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    seconds: Mapped[float | None] = mapped_column(Numeric(10, 3))
    parcels_scanned: Mapped[int] = mapped_column(Integer, server_default="0")
    parcels_without_start: Mapped[int] = mapped_column(Integer, server_default="0")
    candidates: Mapped[int] = mapped_column(Integer, server_default="0")
    evaluation_source: Mapped[str] = mapped_column(Text)


class IdleScanResult(Base):
    """One rule that fired for one parcel in one scan (append-only).

    No foreign keys on purpose: the rows are written by one INSERT … SELECT from ``parcels``
    under a scan id created in the same transaction, and parcels are never deleted; per-row
    foreign-key triggers would cost about 1 s per 60 000 rows at the 1 000 000-parcel scale.
    """

    __tablename__ = "idle_scan_results"

    scan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_code: Mapped[str] = mapped_column(Text, primary_key=True)
    category: Mapped[str] = mapped_column(Text)
    adcode: Mapped[str] = mapped_column(String(6))
    park_id: Mapped[int | None] = mapped_column(Integer)
    clock_start: Mapped[dt.date | None] = mapped_column(Date)
    since_date: Mapped[dt.date | None] = mapped_column(Date)
    days: Mapped[int | None] = mapped_column(Integer)
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # 万元
    measure: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    delay_reason_code: Mapped[str | None] = mapped_column(Text)
    threshold_date: Mapped[dt.date | None] = mapped_column(Date)
    detected_on: Mapped[dt.date | None] = mapped_column(Date)  # first scan that found it idle
    next_deadline: Mapped[dt.date | None] = mapped_column(Date)
    deadline_kind: Mapped[str | None] = mapped_column(Text)


class IdleCase(Base):
    """The case of one parcel through the legal procedure (audited; one open case per parcel)."""

    __tablename__ = "idle_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text, server_default="idle")
    rule_code: Mapped[str | None] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default="suspected", index=True)
    source: Mapped[str] = mapped_column(Text, server_default="manual")
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("idle_scans.id", ondelete="SET NULL"))
    opened_on: Mapped[dt.date] = mapped_column(Date)
    idle_since: Mapped[dt.date | None] = mapped_column(Date)
    status_before: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_kind: Mapped[str | None] = mapped_column(Text)
    disposal_kind: Mapped[str | None] = mapped_column(Text)
    disposal_on: Mapped[dt.date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("kind", CASE_KINDS), name="kind"),
        CheckConstraint(_in("basis", CASE_BASES), name="basis"),
        CheckConstraint(_in("state", CASE_STATES), name="state"),
        CheckConstraint(_in("source", CASE_SOURCES), name="source"),
        CheckConstraint("disposal_kind IS NULL OR " + _in("disposal_kind", DISPOSAL_KINDS), name="disposal_kind"),
        Index(
            "uq_idle_cases_open_parcel",
            "parcel_id",
            unique=True,
            postgresql_where=text("state NOT IN ('closed', 'reoffered')"),
        ),
    )


class IdleCaseEvent(Base):
    """One step of a case: the legal date, who, why, and the documents (append-only)."""

    __tablename__ = "idle_case_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("idle_cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str] = mapped_column(Text)
    event_date: Mapped[dt.date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    documents: Mapped[list] = mapped_column(JSONB, server_default="[]")
    details: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_idle_case_events_case_seq"),
        CheckConstraint("length(btrim(reason)) > 0", name="reason_given"),
    )


class IdleFlag(Base):
    """A park manager's flag on a plot; a county officer confirms (opens a case) or dismisses it."""

    __tablename__ = "idle_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), index=True)
    park_id: Mapped[int | None] = mapped_column(ForeignKey("parks.id"))
    note: Mapped[str] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(Text)
    flagged_by: Mapped[str] = mapped_column(Text)
    flagged_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text, server_default="open")
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("idle_cases.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("status", FLAG_STATUSES), name="status"),
        CheckConstraint("length(btrim(note)) > 0", name="note_given"),
        CheckConstraint(
            "(status = 'open') = (decided_on IS NULL) AND (status <> 'dismissed' OR decision_reason IS NOT NULL)",
            name="decision_complete",
        ),
    )
