"""What a buyer commits to for a project of a given size, from the parcel's 标准地 indicators.

The formula lives here only: the page, the API and the PDF sheet call :func:`commitments`.
Per-亩 indicators (万元/亩) multiply by the project's 亩; the floor-area span is 容积率 ×
land area in m² (1 亩 = 2000/3 m², hggis.geo). A commitment is listed only when its
indicator is set, so a missing indicator is never shown as a zero obligation.
"""

from __future__ import annotations

from typing import Any

from hggis.errors import Invalid
from hggis.geo import M2_PER_MU
from hggis.reserves.indicators import INDICATOR_FIELDS

# indicator -> (commitment label, unit of the product); per-亩 figures times the project's 亩
PER_MU: dict[str, tuple[str, str]] = {
    "investment_intensity": ("最低固定资产投资", "万元"),
    "tax_per_mu": ("达产后最低年税收", "万元/年"),
    "output_intensity": ("达产后最低年产出", "万元/年"),
}
# the indicators an investor reads first, in this order (labels and units from hggis.reserves)
HEADLINE = ("investment_intensity", "far_min", "far_max", "tax_per_mu", "output_intensity",
            "construction_months", "production_months", "building_coverage_min", "green_ratio_max",
            "admin_ratio_max", "energy_per_output", "environment_standard")


class InvalidProjectSize(Invalid):
    """The project size is not a positive number of 亩 within the parcel."""


def headline_indicators(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The set indicators with their Chinese label and unit, in reading order."""
    out = []
    for key in HEADLINE:
        value = values.get(key)
        if value is None:
            continue
        label, unit = INDICATOR_FIELDS[key]
        out.append({"field": key, "label": label, "unit": unit, "value": value,
                    "text": f"{value:g} {unit}".strip() if isinstance(value, int | float) else str(value)})
    return out


def project_mu(raw: str | float | None, parcel_mu: float) -> float:
    """The project size asked for: default the whole parcel; refused when ≤ 0 or above the parcel."""
    if raw is None or raw == "":
        return round(parcel_mu, 2)
    try:
        mu = float(raw)
    except (TypeError, ValueError):
        raise InvalidProjectSize(f"项目用地 {raw!r} 不是数字（亩）", field="mu") from None
    if not 0 < mu <= parcel_mu + 1e-9:
        raise InvalidProjectSize(f"项目用地应大于 0 且不超过本宗地面积 {parcel_mu:.2f} 亩", field="mu")
    return mu


def commitments(values: dict[str, Any], mu: float) -> list[dict[str, Any]]:
    """The obligations implied by the indicators for ``mu`` 亩 (only those whose indicator is set)."""
    out: list[dict[str, Any]] = []
    for key, (label, unit) in PER_MU.items():
        rate = values.get(key)
        if rate is not None:
            out.append({"field": key, "label": label, "value": round(float(rate) * mu, 2), "unit": unit,
                        "formula": f"{float(rate):g} {INDICATOR_FIELDS[key][1]} × {mu:g} 亩"})
    m2 = mu * M2_PER_MU
    far_min, far_max = values.get("far_min"), values.get("far_max")
    if far_min is not None:
        out.append({"field": "floor_area_min", "label": "最低总建筑面积", "value": round(float(far_min) * m2),
                    "unit": "平方米", "formula": f"容积率 {float(far_min):g} × {m2:,.0f} 平方米"})
    if far_max is not None:
        out.append({"field": "floor_area_max", "label": "最高总建筑面积", "value": round(float(far_max) * m2),
                    "unit": "平方米", "formula": f"容积率 {float(far_max):g} × {m2:,.0f} 平方米"})
    months = values.get("construction_months")
    if months is not None:
        out.append({"field": "construction_months", "label": "建设期", "value": int(months), "unit": "个月",
                    "formula": "自交地起"})
    return out
