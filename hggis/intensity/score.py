"""Indicator values, standardisation, the intensity score and the potentials of one park.

Pure functions over ``ParkSums``: a run applies them to what the database holds, a
what-if to changed sums, and both get the same numbers for the same inputs.

- **value**: the formula of the indicator key (``FORMULAS``), in stored units (a share as
  0–1, FAR as a ratio, money per 亩). A zero denominator gives the indicator's
  ``empty_value`` (1.0 for the disposal rates: nothing to dispose is all disposed), else no
  value;
- **standardisation** ``ideal_ratio`` (理想值比例法): s = min(value / ideal, 1), 0 without a
  value;
- **score** (集约度分值) = ``score_scale`` × Σ weight × s over the enabled indicators (the
  weights sum to 1), 0–100 by default.

The potentials (潜力测算; the 规程's chapter on potential, our reading of it; section numbers
not verified here), each in 亩 unless said otherwise:

- **扩展潜力**: supply-ready land not yet supplied (``unsupplied_statuses``, e.g. 标准地
  储备, 挂牌中, 收回); the park outline's area outside the register is shown beside it;
- **结构潜力**: industrial land the built area would hold at the ideal 工业用地率,
  max(0, ideal × built − industrial built);
- **强度潜力**: floor area the built industrial land would gain at the ideal 工业用地综合容积率,
  max(0, ideal × industrial built m² − floor m²), in m², and as 亩 of land at that ratio;
- **管理潜力**: land that management can release: idle land found and not yet disposed plus
  land past its agreed completion and neither completed nor recovered (a parcel can be in
  both: the parts are shown separately);
- **尚可供地年数**: 扩展潜力 / the yearly average supplied over ``supply_window_years``
  (no supply in the window: no figure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hggis.geo import M2_PER_MU
from hggis.intensity.inputs import ParkSums
from hggis.intensity.model import IndicatorSpec, IntensityParams

MU_PER_HA = 15.0


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


FORMULAS: dict[str, Callable[[ParkSums], float | None]] = {
    "supply_rate": lambda s: _ratio(s.supplied_mu, s.registered_mu),
    "built_rate": lambda s: _ratio(s.built_mu, s.supplied_mu),
    "industrial_rate": lambda s: _ratio(s.industrial_built_mu, s.built_mu),
    "high_tech_rate": lambda s: None,
    "far": lambda s: _ratio(s.built_floor_m2, s.built_mu * M2_PER_MU),
    "building_density": lambda s: _ratio(s.built_footprint_m2, s.built_mu * M2_PER_MU),
    "industrial_far": lambda s: _ratio(s.industrial_floor_m2, s.industrial_built_mu * M2_PER_MU),
    "building_coefficient": lambda s: _ratio(s.industrial_footprint_m2, s.industrial_built_mu * M2_PER_MU),
    "investment_intensity": lambda s: _ratio(s.industrial_investment, s.industrial_built_mu),
    "industrial_tax_per_mu": lambda s: _ratio(s.industrial_tax, s.industrial_built_mu),
    "tax_per_mu": lambda s: _ratio(s.tax, s.built_mu),
    "population_density": lambda s: _ratio(s.employees, s.built_mu / MU_PER_HA),
    "due_disposal_rate": lambda s: _ratio(s.due_disposed_mu, s.due_mu),
    "idle_disposal_rate": lambda s: _ratio(s.idle_disposed_mu, s.idle_found_mu),
    "paid_use_rate": lambda s: _ratio(s.paid_supplied_mu, s.supplied_mu),
    "auction_rate": lambda s: None,
}


@dataclass
class Scored:
    """One park's indicators (in model order), score and potentials."""

    indicators: list[dict[str, Any]]
    score: float
    potentials: dict[str, Any]


def indicator_value(spec: IndicatorSpec, sums: ParkSums) -> float | None:
    value = FORMULAS[spec.key](sums)
    return spec.empty_value if value is None else value


def standardise(value: float | None, spec: IndicatorSpec) -> float:
    """理想值比例法: the share of the ideal reached, at most 1; no value scores 0."""
    if value is None:
        return 0.0
    return max(0.0, min(value / spec.ideal, 1.0))


def _rounded(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(v, digits)


def score_park(sums: ParkSums, params: IntensityParams) -> Scored:
    rows, total = [], 0.0
    for spec in params.indicators:
        value = indicator_value(spec, sums) if spec.enabled else None
        s = standardise(value, spec) if spec.enabled else None
        contribution = params.score_scale * spec.weight * s if s is not None else None
        total += contribution or 0.0
        rows.append({
            "key": spec.key, "label": spec.label, "target": spec.target, "sub_target": spec.sub_target,
            "unit": spec.unit, "scale": spec.scale, "enabled": spec.enabled, "weight": spec.weight,
            "ideal": spec.ideal, "value": value, "standardised": _rounded(s),
            "contribution": _rounded(contribution), "verified": spec.verified.model_dump(), "source": spec.source,
        })
    return Scored(indicators=rows, score=round(total, 2), potentials=potentials(sums, params))


def _ideal(params: IntensityParams, key: str) -> float | None:
    spec = params.indicator(key)
    return spec.ideal if spec is not None else None


def potentials(sums: ParkSums, params: IntensityParams) -> dict[str, Any]:
    """扩展 / 结构 / 强度 / 管理 potential and 尚可供地年数 (see the module docstring)."""
    ideal_rate, ideal_far = _ideal(params, "industrial_rate"), _ideal(params, "industrial_far")
    structure = max(0.0, ideal_rate * sums.built_mu - sums.industrial_built_mu) if ideal_rate else None
    floor = (max(0.0, ideal_far * sums.industrial_built_mu * M2_PER_MU - sums.industrial_floor_m2)
             if ideal_far else None)
    idle_left = max(0.0, sums.idle_found_mu - sums.idle_disposed_mu)
    due_left = max(0.0, sums.due_mu - sums.due_disposed_mu)
    yearly = sums.supplied_in_window_mu / params.supply_window_years
    return {
        "expansion_mu": round(sums.unsupplied_mu, 2),
        "outline_unregistered_mu": _rounded(sums.outline_unregistered_mu, 2),
        "structure_mu": _rounded(structure, 2),
        "intensity_floor_m2": _rounded(floor, 0),
        "intensity_mu": _rounded(floor / ideal_far / M2_PER_MU, 2) if floor is not None and ideal_far else None,
        "management_idle_mu": round(idle_left, 2),
        "management_due_mu": round(due_left, 2),
        "management_mu": round(idle_left + due_left, 2),
        "yearly_supply_mu": round(yearly, 2),
        "supply_years": round(sums.unsupplied_mu / yearly, 1) if yearly > 0 else None,
    }


POTENTIAL_LABELS: dict[str, tuple[str, str]] = {
    "expansion_mu": ("扩展潜力（尚可供应土地）", "亩"),
    "outline_unregistered_mu": ("园区范围内未入库土地", "亩"),
    "structure_mu": ("结构潜力（工业用地）", "亩"),
    "intensity_floor_m2": ("强度潜力（可增建筑面积）", "平方米"),
    "intensity_mu": ("强度潜力（折合用地）", "亩"),
    "management_idle_mu": ("管理潜力：闲置未处置", "亩"),
    "management_due_mu": ("管理潜力：到期未竣工", "亩"),
    "management_mu": ("管理潜力（合计）", "亩"),
    "yearly_supply_mu": ("近年年均供地", "亩"),
    "supply_years": ("尚可供地年数", "年"),
}
