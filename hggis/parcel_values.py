"""Numbers and dates of a parcel that make sense: finite, not negative, in order, in a sane window.

One place for these rules, used by every writer of parcel attributes (API, pages, imports);
migration 0013 adds the calendar-free part (finite, non-negative, ordered, years 1949–2199)
as CHECK constraints so the database refuses the rest of the nonsense on its own. The
window that depends on today (facts never in the future, agreed dates at most
``HGGIS_FUTURE_YEARS`` ahead) can only live here: a CHECK may not read the clock.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from hggis import clock
from hggis.config import get_settings
from hggis.workbench.labels import PARCEL_FIELDS

NON_NEGATIVE = ("land_price", "planned_investment", "investment_to_date", "built_footprint_m2", "floor_area_m2")
# What happened on the ground: cannot have happened after today.
FACT_DATES = ("contract_signed_on", "delivered_on", "started_on", "halted_since", "completed_on",
              "production_stopped_since")
# What the contract promises: may lie ahead, but not absurdly far.
AGREED_DATES = ("agreed_start_date", "agreed_completion_date")
# (earlier, later): the later one may not come before the earlier one.
DATE_ORDER = (
    ("agreed_start_date", "agreed_completion_date"),
    ("started_on", "completed_on"),
    ("started_on", "halted_since"),
)


def _latest_future(today: dt.date) -> dt.date:
    years = get_settings().hggis_future_years
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


def date_window_problem(value: dt.date, future: bool, today: dt.date | None = None) -> str | None:
    """Why a date is outside the sane window (None if inside): before the earliest day, or too late."""
    today = today or clock.today()
    earliest = get_settings().hggis_earliest_date
    if value < earliest:
        return f"{value.isoformat()} 早于 {earliest.isoformat()}"
    latest = _latest_future(today) if future else today
    if value > latest:
        what = "今天" if not future else f"今天起 {get_settings().hggis_future_years} 年"
        return f"{value.isoformat()} 晚于 {latest.isoformat()}（{what}）"
    return None


def _number_problem(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ArithmeticError):
        return f"{value!r} 不是数字"
    if math.isnan(number) or math.isinf(number) or (isinstance(value, Decimal) and not value.is_finite()):
        return f"{value!r} 不是有限的数字"
    if number < 0:
        return f"{value!r} 不能为负数"
    return None


def value_problems(
    values: dict[str, Any], changed: set[str] | None = None, today: dt.date | None = None
) -> list[tuple[str, str]]:
    """(field, reason) for every nonsensical value in ``values`` (the parcel's row after the change).

    With ``changed``, only those fields and the orderings that involve one of them.
    """
    def judged(*names: str) -> bool:
        return changed is None or any(n in changed for n in names)

    out: list[tuple[str, str]] = []
    for name in NON_NEGATIVE:
        if judged(name) and values.get(name) is not None and (why := _number_problem(values[name])):
            out.append((name, why))
    for name in FACT_DATES + AGREED_DATES:
        if not judged(name):
            continue
        value = values.get(name)
        if isinstance(value, dt.date) and (why := date_window_problem(value, name in AGREED_DATES, today)):
            out.append((name, why))
    for early, late in DATE_ORDER:
        a, b = values.get(early), values.get(late)
        if judged(early, late) and isinstance(a, dt.date) and isinstance(b, dt.date) and b < a:
            out.append((late, f"{b.isoformat()} 早于{PARCEL_FIELDS.get(early, early)} {a.isoformat()}"))
    return out


def footprint_problem(footprint_m2: float | None, area_m2: float | None) -> str | None:
    """A building footprint larger than the land it stands on is a unit slip (m² vs 亩)."""
    if footprint_m2 is None or area_m2 is None or not math.isfinite(footprint_m2):
        return None
    if footprint_m2 > area_m2:
        return f"{footprint_m2:,.0f} 平方米大于宗地面积（{area_m2:,.0f} 平方米）"
    return None
