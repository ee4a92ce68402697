"""A KPI's status against the plan's pace: 达标, 接近 or 落后.

The plan (2023–2025) sets targets for its last year; a figure of an earlier year is judged
against the share of the plan period that has passed. 达标: the target is reached. 接近: at
or above the pace, or at most ``NEAR_POINTS`` percentage points below it. 落后: further
behind. Colours mean the same everywhere: green reached, amber close, red behind.
"""

from __future__ import annotations

from dataclasses import dataclass

PLAN_FIRST_YEAR = 2023  # 黄冈's plan runs 2023–2025 (../shared/seed); its targets are for the last year
NEAR_POINTS = 10.0
LABELS = {"reached": "达标", "near": "接近", "behind": "落后"}


@dataclass(frozen=True)
class KpiStatus:
    code: str
    label: str
    pace_pct: float  # where the plan expects the figure to be by this year, in % of the target


def elapsed_share(year: int, target_year: int, first_year: int = PLAN_FIRST_YEAR) -> float:
    """The part of the plan period that has passed by the end of ``year`` (0–1)."""
    span = target_year - first_year + 1
    return min(1.0, max(0.0, (year - first_year + 1) / span)) if span > 0 else 1.0


def kpi_status(progress_pct: float | None, year: int, target_year: int) -> KpiStatus | None:
    if progress_pct is None:
        return None
    pace = round(elapsed_share(year, target_year) * 100, 1)
    if progress_pct >= 100:
        code = "reached"
    elif progress_pct >= pace - NEAR_POINTS:
        code = "near"
    else:
        code = "behind"
    return KpiStatus(code, LABELS[code], pace)
