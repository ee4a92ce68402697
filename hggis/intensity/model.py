"""The evaluation's parameters as versioned data: indicators, weights, ideal values, standardisation.

The 规程 (TD/T 1029 开发区土地集约利用评价规程) was not available here in its own text: the
indicator list and formulas follow published interpretations of it, and the weights and
ideal values are our defaults. So nothing of it is a constant in the scoring code: every
indicator carries its weight, ideal value, whether it is enabled, and a ``verified`` mark
(formula / weight / ideal) with its ``source``, like domain.md marks its facts. The default
version ships as ``default_model.json`` (migration 0021f loads it into
``intensity_models``); a city administrator adds versions, never edits one, and a run
records the version it used.

Which formula an indicator key means is fixed in hggis.intensity.score (``FORMULAS``): the
data chooses among them, so a version cannot ask for a figure hggis does not hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.db.models import PARCEL_STATUSES, table_of
from hggis.errors import Invalid, NotFound
from hggis.intensity.tables import IntensityModel

DEFAULT_MODEL_FILE = Path(__file__).with_name("default_model.json")
MODELS = table_of(IntensityModel)
#: the indicator keys a version may use (the formulas live in hggis.intensity.score)
INDICATOR_KEYS = (
    "supply_rate", "built_rate", "industrial_rate", "high_tech_rate", "far", "building_density", "industrial_far",
    "building_coefficient", "investment_intensity", "industrial_tax_per_mu", "tax_per_mu", "population_density",
    "due_disposal_rate", "idle_disposal_rate", "paid_use_rate", "auction_rate",
)
#: indicators whose figure hggis does not hold: they can only be disabled
NO_DATA = ("high_tech_rate", "auction_rate")


class IntensityModelError(Invalid):
    """A model version that cannot be stored or found, with the reason."""


class IntensityModelNotFound(NotFound):
    """No model version with that id, or none valid for the year."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Verified(_Strict):
    formula: bool = False
    weight: bool = False
    ideal: bool = False


class IndicatorSpec(_Strict):
    key: str
    label: str = Field(min_length=1)
    target: str  # 目标层: 土地利用状况 / 用地效益 / 管理绩效
    sub_target: str  # 子目标层
    unit: str = ""
    scale: float = Field(default=1.0, gt=0)  # display factor (100 for a percentage)
    weight: float = Field(ge=0, le=1)
    ideal: float = Field(gt=0)  # in stored units (a share as 0–1)
    enabled: bool = True
    empty_value: float | None = Field(default=None, ge=0)  # value when the denominator is 0
    verified: Verified = Field(default_factory=Verified)
    source: str = ""

    @field_validator("key")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in INDICATOR_KEYS:
            raise ValueError(f"indicator {v!r}: one of {', '.join(INDICATOR_KEYS)}")
        return v


def _statuses(v: list[str]) -> list[str]:
    unknown = [s for s in v if s not in PARCEL_STATUSES]
    if unknown:
        raise ValueError(f"unknown parcel statuses {unknown}")
    return v


class IntensityParams(_Strict):
    """Everything a run needs to know besides the data."""

    standardisation: Literal["ideal_ratio"] = "ideal_ratio"  # min(value / ideal, 1)
    score_scale: float = Field(default=100.0, gt=0)
    supplied_statuses: list[str]
    built_statuses: list[str]
    unsupplied_statuses: list[str]
    idle_statuses: list[str]
    industrial_land_uses: list[str]
    supply_window_years: int = Field(default=3, ge=1, le=10)
    indicators: list[IndicatorSpec]

    _check_statuses = field_validator("supplied_statuses", "built_statuses", "unsupplied_statuses",
                                      "idle_statuses")(_statuses)

    @model_validator(mode="after")
    def _consistent(self) -> IntensityParams:
        keys = [i.key for i in self.indicators]
        if len(set(keys)) != len(keys):
            raise ValueError("indicator keys repeat")
        enabled = [i for i in self.indicators if i.enabled]
        if not enabled:
            raise ValueError("at least one indicator must be enabled")
        bad = [i.key for i in enabled if i.key in NO_DATA]
        if bad:
            raise ValueError(f"{bad}: hggis holds no figure for these, they can only be disabled")
        total = sum(i.weight for i in enabled)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the weights of the enabled indicators sum to {total:g}, not 1")
        return self

    def enabled(self) -> list[IndicatorSpec]:
        return [i for i in self.indicators if i.enabled]

    def indicator(self, key: str) -> IndicatorSpec | None:
        return next((i for i in self.indicators if i.key == key), None)


def parse_params(raw: dict[str, Any] | str) -> IntensityParams:
    """Validate stored or submitted parameters; every fault in one line."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return IntensityParams.model_validate(data)
    except ValidationError as exc:
        faults = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors())
        raise IntensityModelError(f"invalid intensity model parameters: {faults}", field="params") from None
    except json.JSONDecodeError as exc:
        raise IntensityModelError(f"invalid JSON: {exc}", field="params") from None


def default_model() -> dict[str, Any]:
    """The packaged default version (name, valid_from, note, params)."""
    return json.loads(DEFAULT_MODEL_FILE.read_text(encoding="utf-8"))


def model_for_year(conn: Connection, year: int, model_id: int | None = None) -> tuple[int, str, IntensityParams]:
    """(id, name, params) of the version a run of ``year`` uses (an explicit id must cover the year)."""
    m = MODELS.c
    query = select(m.id, m.name, m.valid_from, m.valid_to, m.params)
    if model_id is not None:
        row = conn.execute(query.where(m.id == model_id)).first()
        if row is None:
            raise IntensityModelNotFound(f"no intensity model {model_id}", field="model_id")
        if not (row.valid_from <= year and (row.valid_to is None or year <= row.valid_to)):
            raise IntensityModelError(f"intensity model {model_id} is valid for {row.valid_from}–{row.valid_to or ''}, "
                                      f"not for {year}", field="model_id")
    else:
        row = conn.execute(query.where(m.valid_from <= year, (m.valid_to.is_(None)) | (m.valid_to >= year))
                           .order_by(m.id.desc()).limit(1)).first()
        if row is None:
            raise IntensityModelNotFound(f"no intensity model is valid for {year}", field="year")
    return row.id, row.name, parse_params(row.params)


def list_models(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    authorize(principal, "evaluation_models", "read")
    m = MODELS.c
    rows = conn.execute(select(m.id, m.name, m.valid_from, m.valid_to, m.params, m.note, m.created_by, m.created_at)
                        .order_by(m.id)).all()
    return [{**r._mapping, "created_at": r.created_at.isoformat()} for r in rows]


def create_model(conn: Connection, principal: Principal, name: str, valid_from: int, params: dict[str, Any],
                 valid_to: int | None = None, note: str | None = None) -> int:
    """Store a new version (city administrators only); returns its id."""
    authorize(principal, "evaluation_models", "write")
    if not name or not name.strip():
        raise IntensityModelError("a model version needs a name", field="name")
    if not 1990 <= valid_from <= 2100:
        raise IntensityModelError(f"valid_from {valid_from}: a year between 1990 and 2100", field="valid_from")
    if valid_to is not None and valid_to < valid_from:
        raise IntensityModelError(f"valid_to {valid_to} is before valid_from {valid_from}", field="valid_to")
    checked = parse_params(params)
    return conn.execute(insert(MODELS).values(
        name=name.strip(), valid_from=valid_from, valid_to=valid_to, params=checked.model_dump(mode="json"),
        note=note, created_by=principal.actor).returning(MODELS.c.id)).scalar_one()
