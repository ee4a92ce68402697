"""Tables of the park land-intensity evaluation (开发区土地集约利用评价).

- ``intensity_models``: versions of the indicator list, weights, ideal values and
  standardisation (audited, never edited: a change is a new version);
- ``intensity_runs`` / ``intensity_results``: one run of a year and, per park, the sums it
  read, every indicator (value, ideal, standardised value, weight, contribution), the score,
  the rank and the potentials. Append-only: earlier runs stay, the newest run of a year is
  the year's figure, so a report of last year can be re-read as it was.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    false as sa_false,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base


class IntensityModel(Base):
    """One version of the evaluation's parameters; ``params`` is validated by hggis.intensity.model."""

    __tablename__ = "intensity_models"

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


class IntensityRun(Base):
    """One evaluation of all parks for a year with one model version (append-only)."""

    __tablename__ = "intensity_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("intensity_models.id"))
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    n_parks: Mapped[int] = mapped_column(Integer, server_default="0")
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())

    __table_args__ = (CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),)


class IntensityResult(Base):
    """One park in one run: the sums read, the indicators, the score, the rank, the potentials."""

    __tablename__ = "intensity_results"

    run_id: Mapped[int] = mapped_column(ForeignKey("intensity_runs.id", ondelete="CASCADE"), primary_key=True)
    park_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # a snapshot: no FK, the name is kept
    name: Mapped[str] = mapped_column(Text)
    adcode: Mapped[str] = mapped_column(String(6))
    level: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict] = mapped_column(JSONB)
    indicators: Mapped[list] = mapped_column(JSONB)
    score: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    potentials: Mapped[dict] = mapped_column(JSONB)
