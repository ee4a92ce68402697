"""The evaluation model as versioned data: what is scored, how, and what overrides apply.

domain.md §5 says 黄冈's own method is unverified and every weight, benchmark, cap, quota
and threshold varies by place and year, so none of them is a constant in the scoring
code: they are fields of ``ModelParams``, stored as JSONB in ``evaluation_models``. The
defaults below are the published county method of domain.md §5; migration 0004 stores
them as the default model (valid from 2022 onward).

Versioning: a model row is never edited. A city administrator creates a new version
(API or CLI), usually from an existing one with a few values changed. The model of a year
is the newest version whose ``valid_from ≤ year ≤ valid_to`` (open-ended when
``valid_to`` is NULL); a run may name a version explicitly, and always records the one it
used.

Choices made here (each a parameter, with its default):

- ``benchmark_mode`` ``regional``: an indicator's benchmark is Σ numerator / Σ denominator
  over the graded enterprises of the size group that have both figures; ``fixed`` uses the
  indicator's ``fixed_benchmark`` (a published figure) instead.
- score = weight × clamp(value / benchmark, ``score_floor`` 0, ``score_cap`` 2).
- ``missing`` per indicator: ``zero`` (no data, no score) or ``group_average`` (the average
  score of the graded enterprises with data; the default for 单位排放增加值, as domain.md says).
- ``quotas``: cumulative shares A 0.20, B 0.75, C 0.95, D 1.00 of the graded enterprises of
  a group; see hggis.evaluation.compute for rounding and the tie rule.
- ``lessee_rule`` ``merge_into_holder`` (default) or ``own_share``: see hggis.evaluation.land.
- overrides: accident veto (best class C), first production years (2) and newly above size
  are never D (they get C), utilities are scored but get class T and are not ranked.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.errors import Invalid

SizeGroup = Literal["above", "below"]
GROUP_LABELS: dict[str, str] = {"above": "规上", "below": "规下"}
GROUP_LONG_LABELS: dict[str, str] = {"above": "规上企业", "below": "规下企业"}
CLASS_LABELS: dict[str, str] = {
    "A": "优先发展类",
    "B": "鼓励提升类",
    "C": "帮扶转型类",
    "D": "倒逼整治类",
    "T": "公用事业（不分类）",
}
GRADED_CLASSES = ("A", "B", "C", "D")

# Figures an indicator may use (columns of enterprise_years, plus the land of the unit).
FIGURES: dict[str, tuple[str, str]] = {
    "tax_paid": ("税收", "万元"),
    "revenue": ("营业收入", "万元"),
    "value_added": ("工业增加值", "万元"),
    "output": ("工业总产值", "万元"),
    "energy_tce": ("综合能耗", "吨标准煤"),
    "electricity_10k_kwh": ("用电量", "万千瓦时"),
    "emissions_t": ("主要污染物排放量", "吨"),
    "rnd_spending": ("研发经费", "万元"),
    "employees": ("年均职工人数", "人"),
}
DENOMINATORS: dict[str, tuple[str, str]] = {**FIGURES, "land_mu": ("用地面积", "亩")}
PARCEL_STATUS_CODES = (
    "reserve",
    "on_offer",
    "supplied",
    "under_construction",
    "producing",
    "idle_candidate",
    "recovered",
)
QUALITY_CHECKS: dict[str, str] = {
    "negative": "数值为负",
    "tax_gt_revenue": "税收大于营业收入",
    "va_gt_output": "工业增加值大于工业总产值",
    "employees_zero_with_output": "有产值但职工人数为0",
    "duplicate_entity": "统一社会信用代码主体标识码重复",
    "duplicate_name": "企业名称重复",
    "missing": "评价所需数据缺失",
    "outlier": "指标值远离同组企业",
}


class ModelError(Invalid):
    """A model version that cannot be stored or found, with the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    label: str = Field(min_length=1)
    unit: str
    numerator: str
    denominator: str
    weight: float = Field(gt=0, le=1000)
    scale: float = Field(default=1.0, gt=0)  # display factor (100 for a percentage)
    missing: Literal["zero", "group_average"] = "zero"
    fixed_benchmark: float | None = Field(default=None, gt=0)  # in displayed units (× scale)

    @field_validator("numerator")
    @classmethod
    def _numerator(cls, v: str) -> str:
        if v not in FIGURES:
            raise ValueError(f"numerator {v!r}: one of {', '.join(FIGURES)}")
        return v

    @field_validator("denominator")
    @classmethod
    def _denominator(cls, v: str) -> str:
        if v not in DENOMINATORS:
            raise ValueError(f"denominator {v!r}: one of {', '.join(DENOMINATORS)}")
        return v


class Quota(_Strict):
    class_code: Literal["A", "B", "C", "D"]
    cumulative: float = Field(gt=0, le=1)


class Overrides(_Strict):
    accident_veto: bool = True
    accident_best_class: Literal["B", "C", "D"] = "C"
    first_years_not_d: bool = True
    first_years: int = Field(default=2, ge=1, le=10)
    newly_above_not_d: bool = True
    protected_class: Literal["B", "C"] = "C"
    utilities_class_t: bool = True


class QualityRules(_Strict):
    blocking: list[str] = Field(
        default_factory=lambda: [
            "negative",
            "tax_gt_revenue",
            "va_gt_output",
            "employees_zero_with_output",
            "duplicate_entity",
        ]
    )
    outlier_mad_k: float = Field(default=6.0, gt=0)  # robust z on log values, per group
    outlier_min_population: int = Field(default=20, ge=3)

    @field_validator("blocking")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in QUALITY_CHECKS]
        if unknown:
            raise ValueError(f"unknown quality checks {unknown}: one of {', '.join(QUALITY_CHECKS)}")
        if "outlier" in v:
            raise ValueError("outlier cannot block: it is found after scoring, on the merged units")
        return v


class ParkRules(_Strict):
    supplied_statuses: list[str] = Field(
        default_factory=lambda: ["supplied", "under_construction", "producing", "idle_candidate"]
    )
    built_statuses: list[str] = Field(default_factory=lambda: ["producing"])
    idle_statuses: list[str] = Field(default_factory=lambda: ["idle_candidate"])
    industrial_land_uses: list[str] = Field(default_factory=lambda: ["0601"])
    rank_by: Literal["industrial_tax_per_mu", "tax_per_mu", "industrial_revenue_per_mu"] = "industrial_tax_per_mu"

    @field_validator("supplied_statuses", "built_statuses", "idle_statuses")
    @classmethod
    def _statuses(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in PARCEL_STATUS_CODES]
        if unknown:
            raise ValueError(f"unknown parcel statuses {unknown}")
        return v


class TaxDefinition(_Strict):
    """What the figure ``tax_paid`` (评价税收) means in this version: the taxes counted and the
    one-off items left out. Practice differs by city (domain.md §5: 黄冈's method is
    unverified), so the definition is versioned with the weights and printed on the report;
    the figures import expects sheets already prepared to it."""

    label: str = Field(default="评价税收（实缴税金，剔除一次性税收）", min_length=1)
    included: list[str] = Field(
        default_factory=lambda: [
            "增值税", "消费税", "企业所得税", "资源税", "城市维护建设税", "房产税", "城镇土地使用税",
            "印花税", "车船税", "环境保护税", "教育费附加", "地方教育附加",
        ],
        min_length=1,
    )
    excluded: list[str] = Field(
        default_factory=lambda: [
            "土地增值税", "契税", "耕地占用税", "股权转让等一次性所得形成的税收", "资产处置形成的一次性税收",
            "查补以前年度税款及滞纳金",
        ]
    )
    export_rebate: str = "免抵调库税额计入"
    verified: bool = False
    note: str = "黄冈市口径未核实：默认按常见县市口径，计入企业当年实缴的主要税种，剔除一次性税收。"

    @model_validator(mode="after")
    def _disjoint(self) -> TaxDefinition:
        both = sorted(set(self.included) & set(self.excluded))
        if both:
            raise ValueError(f"tax_definition: {both} both included and excluded")
        return self


class ResultLists(_Strict):
    """The separate result lists: 规上, 规下 and tenants without land of their own (租赁企业).

    ``tenants_ranked_separately`` (default on): tenants evaluated on their own share (the
    ``own_share`` lessee rule, or a lessee that could not be merged) are ranked and given
    quota classes among the tenants of their size group, scored against the same group
    benchmarks; off: they are ranked with the land holders of their group. Under the
    default ``merge_into_holder`` rule most tenants are merged and listed, not ranked.
    """

    tenants_ranked_separately: bool = True


def _above_default() -> list[Indicator]:
    return [
        Indicator(key="tax_per_mu", label="亩均税收", unit="万元/亩", numerator="tax_paid", denominator="land_mu", weight=30),
        Indicator(key="va_per_mu", label="亩均增加值", unit="万元/亩", numerator="value_added", denominator="land_mu", weight=20),
        Indicator(key="va_per_energy", label="单位能耗增加值", unit="万元/吨标准煤", numerator="value_added", denominator="energy_tce", weight=20),
        Indicator(
            key="va_per_emission", label="单位排放增加值", unit="万元/吨", numerator="value_added",
            denominator="emissions_t", weight=10, missing="group_average",
        ),
        Indicator(key="labour_productivity", label="全员劳动生产率", unit="万元/人", numerator="value_added", denominator="employees", weight=10),
        Indicator(key="rnd_ratio", label="R&D经费占比", unit="%", numerator="rnd_spending", denominator="revenue", weight=10, scale=100),
    ]


def _below_default() -> list[Indicator]:
    return [
        Indicator(key="tax_per_mu", label="亩均税收", unit="万元/亩", numerator="tax_paid", denominator="land_mu", weight=50),
        Indicator(
            key="tax_per_electricity", label="单位电耗税收", unit="万元/万千瓦时", numerator="tax_paid",
            denominator="electricity_10k_kwh", weight=50,
        ),
    ]


class ModelParams(_Strict):
    """Everything a run needs to know besides the data."""

    indicators: dict[SizeGroup, list[Indicator]] = Field(
        default_factory=lambda: {"above": _above_default(), "below": _below_default()}  # type: ignore[arg-type]
    )
    benchmark_mode: Literal["regional", "fixed"] = "regional"
    score_cap: float = Field(default=2.0, gt=0)
    score_floor: float = Field(default=0.0, ge=0)
    quotas: list[Quota] = Field(
        default_factory=lambda: [
            Quota(class_code="A", cumulative=0.20),
            Quota(class_code="B", cumulative=0.75),
            Quota(class_code="C", cumulative=0.95),
            Quota(class_code="D", cumulative=1.00),
        ]
    )
    min_land_mu: float = Field(default=3.0, ge=0)
    above_size_revenue: float = Field(default=2000.0, gt=0)  # 万元
    land_statuses: list[str] = Field(
        default_factory=lambda: ["supplied", "under_construction", "producing", "idle_candidate"]
    )
    lessee_rule: Literal["merge_into_holder", "own_share"] = "merge_into_holder"
    overrides: Overrides = Field(default_factory=Overrides)
    quality: QualityRules = Field(default_factory=QualityRules)
    parks: ParkRules = Field(default_factory=ParkRules)
    tax_definition: TaxDefinition = Field(default_factory=TaxDefinition)
    result_lists: ResultLists = Field(default_factory=ResultLists)

    @field_validator("land_statuses")
    @classmethod
    def _land_statuses(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in PARCEL_STATUS_CODES]
        if unknown or not v:
            raise ValueError(f"land_statuses: unknown or empty {unknown}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ModelParams:
        for group, inds in self.indicators.items():
            if not inds:
                raise ValueError(f"group {group}: at least one indicator")
            keys = [i.key for i in inds]
            if len(set(keys)) != len(keys):
                raise ValueError(f"group {group}: indicator keys repeat")
            if self.benchmark_mode == "fixed":
                missing = [i.key for i in inds if i.fixed_benchmark is None]
                if missing:
                    raise ValueError(f"benchmark_mode fixed: group {group} lacks fixed_benchmark for {missing}")
        if set(self.indicators) != {"above", "below"}:
            raise ValueError("indicators: both groups 'above' (规上) and 'below' (规下) are required")
        codes = [q.class_code for q in self.quotas]
        if codes != list(GRADED_CLASSES):
            raise ValueError("quotas: exactly A, B, C, D in this order")
        shares = [q.cumulative for q in self.quotas]
        if any(b < a for a, b in zip(shares, shares[1:], strict=False)) or shares[-1] != 1.0:
            raise ValueError("quotas: cumulative shares must not decrease and D must end at 1.0")
        if self.score_floor >= self.score_cap:
            raise ValueError("score_floor must be below score_cap")
        return self

    def group_indicators(self, group: str) -> list[Indicator]:
        return self.indicators[group]  # type: ignore[index]

    def quota_of(self, class_code: str) -> float:
        return next(q.cumulative for q in self.quotas if q.class_code == class_code)


def default_params() -> ModelParams:
    return ModelParams()


def parse_params(raw: dict[str, Any] | str) -> ModelParams:
    """Validate stored or submitted parameters; ModelError lists every fault in one line."""
    from pydantic import ValidationError

    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return ModelParams.model_validate(data)
    except (ValidationError, json.JSONDecodeError) as exc:
        if isinstance(exc, ValidationError):
            faults = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors())
        else:
            faults = str(exc)
        raise ModelError(f"invalid model parameters: {faults}") from None


# ----------------------------------------------------------------------------------------
# stored versions
# ----------------------------------------------------------------------------------------

_MODEL_COLUMNS = "id, name, valid_from, valid_to, params, note, created_by, created_at"


def _as_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["created_at"] = d["created_at"].isoformat() if d.get("created_at") else None
    return d


def list_models(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    authorize(principal, "evaluation_models", "read")
    rows = conn.execute(text(f"SELECT {_MODEL_COLUMNS} FROM evaluation_models ORDER BY id")).all()
    return [_as_dict(r) for r in rows]


def get_model(conn: Connection, principal: Principal, model_id: int) -> dict[str, Any]:
    authorize(principal, "evaluation_models", "read")
    row = conn.execute(text(f"SELECT {_MODEL_COLUMNS} FROM evaluation_models WHERE id = :i"), {"i": model_id}).first()
    if row is None:
        raise ModelError(f"no evaluation model {model_id}")
    return _as_dict(row)


def model_for_year(conn: Connection, year: int, model_id: int | None = None) -> tuple[int, str, ModelParams]:
    """(id, name, params) of the model a run of ``year`` uses (an explicit id must cover the year)."""
    if model_id is not None:
        row = conn.execute(
            text("SELECT id, name, valid_from, valid_to, params FROM evaluation_models WHERE id = :i"), {"i": model_id}
        ).first()
        if row is None:
            raise ModelError(f"no evaluation model {model_id}")
        if not (row.valid_from <= year and (row.valid_to is None or year <= row.valid_to)):
            span = f"{row.valid_from}–{row.valid_to or ''}"
            raise ModelError(f"evaluation model {model_id} is valid for {span}, not for {year}")
    else:
        row = conn.execute(
            text(
                "SELECT id, name, params FROM evaluation_models WHERE valid_from <= :y "
                "AND (valid_to IS NULL OR valid_to >= :y) ORDER BY id DESC LIMIT 1"
            ),
            {"y": year},
        ).first()
        if row is None:
            raise ModelError(f"no evaluation model is valid for {year}: create one (hggis evaluate model create)")
    return row.id, row.name, parse_params(row.params)


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.0.c`` in nested dicts/lists (used to derive a new version from an old one)."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ModelError(f"{path}: {part!r} is not an index of a list of {len(node)}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                raise ModelError(f"{path}: no field {part!r} (fields: {', '.join(node)})")
            if last:
                node[part] = value
            else:
                node = node[part]
        else:
            raise ModelError(f"{path}: cannot descend into {part!r}")


def derive_params(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with dotted-path ``changes`` applied."""
    data = json.loads(json.dumps(base))
    for path, value in changes.items():
        set_path(data, path, value)
    return data


def create_model(
    conn: Connection,
    principal: Principal,
    name: str,
    valid_from: int,
    params: dict[str, Any],
    valid_to: int | None = None,
    note: str | None = None,
) -> int:
    """Store a new model version (city administrators only); returns its id."""
    authorize(principal, "evaluation_models", "write")
    if not name or not name.strip():
        raise ModelError("a model version needs a name")
    if not 1990 <= valid_from <= 2100:
        raise ModelError(f"valid_from {valid_from}: a year between 1990 and 2100")
    if valid_to is not None and valid_to < valid_from:
        raise ModelError(f"valid_to {valid_to} is before valid_from {valid_from}")
    checked = parse_params(params)
    return conn.execute(
        text(
            "INSERT INTO evaluation_models (name, valid_from, valid_to, params, note, created_by) "
            "VALUES (:n, :f, :t, CAST(:p AS jsonb), :note, :by) RETURNING id"
        ),
        {
            "n": name.strip(),
            "f": valid_from,
            "t": valid_to,
            "p": checked.model_dump_json(),
            "note": note,
            "by": principal.actor,
        },
    ).scalar_one()
