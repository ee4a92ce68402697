"""Tables of the per-mu evaluation (亩均效益综合评价).

Two kinds of rows live here:

- **configuration** that city administrators change: model versions (``evaluation_models``)
  and the differential policies per class (``evaluation_policies``). Both are audited; a
  model row is never edited after creation: a change is a new version, so a run's
  ``model_id`` always means the parameters that produced it;
- **run output**, append-only: a run (``evaluation_runs``) and everything it computed
  (results per enterprise, the parcels behind each result's land, benchmarks, quality
  findings, park and county aggregates). Earlier runs are kept; the latest run of a year is "current".

Results carry snapshots (name, park, county, figures, land) rather than live joins, so a
result explains itself years later even after the enterprise moved park or its parcels
changed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    false as sa_false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base, _in

SIZE_GROUPS = ("above", "below")  # 规上, 规下
CLASS_CODES = ("A", "B", "C", "D", "T")
AGGREGATE_LEVELS = ("park", "county")


class EvaluationModel(Base):
    """One version of the evaluation model; ``params`` is validated by hggis.evaluation.model."""

    __tablename__ = "evaluation_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint("valid_from BETWEEN 1990 AND 2100", name="valid_from_range"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_to_after_from"),
    )


class EvaluationPolicy(Base):
    """A differential policy measure for one class (差别化政策), valid for a span of years."""

    __tablename__ = "evaluation_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_code: Mapped[str] = mapped_column(String(1))
    category: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    price_item: Mapped[str | None] = mapped_column(Text)
    price_delta: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    price_unit: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint(_in("class_code", list(CLASS_CODES)), name="class_code"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_to_after_from"),
        CheckConstraint("(price_delta IS NULL) = (price_unit IS NULL)", name="price_has_unit"),
    )


class EvaluationRun(Base):
    """One atomic evaluation of a year with one model version (append-only)."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("evaluation_models.id"))
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    proceed: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    n_listed: Mapped[int] = mapped_column(Integer, server_default="0")
    n_evaluated: Mapped[int] = mapped_column(Integer, server_default="0")
    class_counts: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    quality_summary: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    # the land publication the run scored from, and the run of the year it replaced (0021e)
    land_list_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_land_lists.id"))
    supersedes_run_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),)


class EvaluationResult(Base):
    """One enterprise in one run: evaluated (scores, rank, class) or listed with the reason."""

    __tablename__ = "evaluation_results"

    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), primary_key=True)
    # no foreign key to enterprises: a result is a historical record (code and name are kept
    # with it) that outlives the enterprise row, and a run inserts 10⁵ rows at once
    enterprise_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(Text)
    park_id: Mapped[int | None] = mapped_column(Integer)
    adcode: Mapped[str] = mapped_column(String(6))
    industry_code: Mapped[str | None] = mapped_column(Text)
    size_group: Mapped[str | None] = mapped_column(Text)
    evaluated: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    merged_into: Mapped[int | None] = mapped_column(Integer)
    land_mu: Mapped[float] = mapped_column(Float)
    # the figures the result used (merged units: holder + merged lessees), 万元 / tce / 万kWh / t
    tax_paid: Mapped[float | None] = mapped_column(Float)
    revenue: Mapped[float | None] = mapped_column(Float)
    value_added: Mapped[float | None] = mapped_column(Float)
    output: Mapped[float | None] = mapped_column(Float)
    energy_tce: Mapped[float | None] = mapped_column(Float)
    electricity_10k_kwh: Mapped[float | None] = mapped_column(Float)
    emissions_t: Mapped[float | None] = mapped_column(Float)
    rnd_spending: Mapped[float | None] = mapped_column(Float)
    employees: Mapped[float | None] = mapped_column(Float)
    accident: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    utility: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    production_start_year: Mapped[int | None] = mapped_column(Integer)
    newly_above: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    tenant: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())  # no land of its own: leases only
    # aligned with the model's indicator list of the size group
    indicator_values: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    indicator_scores: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    total_score: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    rank: Mapped[int | None] = mapped_column(Integer)
    group_size: Mapped[int | None] = mapped_column(Integer)
    quota_class: Mapped[str | None] = mapped_column(String(1))
    class_code: Mapped[str | None] = mapped_column(String(1))
    explanation: Mapped[dict] = mapped_column(JSONB, server_default="{}")

    __table_args__ = (
        CheckConstraint("size_group IS NULL OR " + _in("size_group", list(SIZE_GROUPS)), name="size_group"),
        CheckConstraint("class_code IS NULL OR " + _in("class_code", list(CLASS_CODES)), name="class_code"),
        CheckConstraint("evaluated = (class_code IS NOT NULL)", name="evaluated_has_class"),
        CheckConstraint("evaluated OR reason IS NOT NULL", name="not_evaluated_has_reason"),
    )


class EvaluationBenchmark(Base):
    """The benchmark of one indicator for one size group in one run (Σ num / Σ den or fixed)."""

    __tablename__ = "evaluation_benchmarks"

    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), primary_key=True)
    size_group: Mapped[str] = mapped_column(Text, primary_key=True)
    indicator: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(Text)
    numerator_sum: Mapped[float | None] = mapped_column(Float)
    denominator_sum: Mapped[float | None] = mapped_column(Float)
    population: Mapped[int] = mapped_column(Integer)
    benchmark: Mapped[float | None] = mapped_column(Float)
    average_score: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (CheckConstraint("mode IN ('regional', 'fixed')", name="mode"),)


class EvaluationLand(Base):
    """Which parcels (and shares) made up a result's land: the land part of the explanation.

    Keyed by (run, parcel, occupant), which is also how the 亩均 map finds a parcel's
    evaluated unit; the (run, unit) index serves the explanation of one result.
    """

    __tablename__ = "evaluation_land"

    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occupant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(Integer)  # the evaluated unit the land counts for
    parcel_code: Mapped[str] = mapped_column(String(19))
    role: Mapped[str] = mapped_column(Text)
    share: Mapped[float] = mapped_column(Float)
    parcel_area_mu: Mapped[float] = mapped_column(Float)
    land_mu: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_evaluation_land_run_enterprise", "run_id", "enterprise_id"),)


class EvaluationQualityIssue(Base):
    """A data-quality finding of a run: enterprise, field, value and reason."""

    __tablename__ = "evaluation_quality_issues"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(Integer)
    check_code: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    blocking: Mapped[bool] = mapped_column(Boolean)


class EvaluationAggregate(Base):
    """Per-park and per-county figures of a run, with the park intensity indicators and rank."""

    __tablename__ = "evaluation_aggregates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(Text)
    park_id: Mapped[int | None] = mapped_column(Integer)
    adcode: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(Text)
    n_listed: Mapped[int] = mapped_column(Integer)
    n_evaluated: Mapped[int] = mapped_column(Integer)
    class_counts: Mapped[dict] = mapped_column(JSONB)
    evaluated_land_mu: Mapped[float] = mapped_column(Float)
    evaluated_tax: Mapped[float] = mapped_column(Float)
    evaluated_value_added: Mapped[float] = mapped_column(Float)
    evaluated_revenue: Mapped[float] = mapped_column(Float)
    tax_per_mu: Mapped[float | None] = mapped_column(Float)  # evaluated enterprises: Σ tax / Σ land
    va_per_mu: Mapped[float | None] = mapped_column(Float)
    revenue_per_mu: Mapped[float | None] = mapped_column(Float)
    indicators: Mapped[dict] = mapped_column(JSONB)  # group -> indicator -> Σ num / Σ den
    total_land_mu: Mapped[float] = mapped_column(Float)
    supplied_mu: Mapped[float] = mapped_column(Float)
    built_mu: Mapped[float] = mapped_column(Float)
    idle_mu: Mapped[float] = mapped_column(Float)
    industrial_supplied_mu: Mapped[float] = mapped_column(Float)
    supply_rate: Mapped[float | None] = mapped_column(Float)  # 土地供应率
    built_rate: Mapped[float | None] = mapped_column(Float)  # 土地建成率
    fixed_investment: Mapped[float] = mapped_column(Float)
    all_tax: Mapped[float] = mapped_column(Float)
    all_revenue: Mapped[float] = mapped_column(Float)
    investment_per_mu: Mapped[float | None] = mapped_column(Float)  # of industrial land supplied
    industrial_revenue_per_mu: Mapped[float | None] = mapped_column(Float)
    industrial_tax_per_mu: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(_in("level", list(AGGREGATE_LEVELS)), name="level"),
        CheckConstraint("(level = 'park') = (park_id IS NOT NULL)", name="park_level_has_park"),
    )
