"""The project pipeline on the dashboard: per county and year, from the project records.

Figures are defined once in hggis.projects.figures; each count here comes with the href of
its drill-down (/api/projects?figure=…&year=…&adcode=…), which lists exactly the projects
counted. Targets are the plan's, in force in ``plan_targets``:

- citywide: ≥ 400 新开工 and ≥ 300 新投产 a year, ≥ 2000 亿元 协议投资额 a year. A county's
  figure is its contribution (share of the city target), never "完成 x%" of it;
- a rate applies everywhere: 资金到位率 ≥ 40 % for the city and for each county;
- 开工率 and 履约率 carry no number in the plan ("切实提高"): shown without a target.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Integer, extract, func, select, union
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, grant
from hggis.dashboard.service import targets_in_force
from hggis.dashboard.status import kpi_status
from hggis.db.models import County
from hggis.projects.figures import FIGURES, funds_by, rate, reference_day, require_grant, scope_condition, year_span
from hggis.projects.tables import projects

P = projects.c
CITY_TARGETS = {"started": "projects_started", "producing": "projects_completed",
                "signed_investment_yi": "signed_manufacturing_investment"}
RATE_TARGETS = {"funds_rate_pct": "funds_in_place_rate"}
WAN_PER_YI = 10_000


def pipeline_years(conn: Connection, principal: Principal) -> list[int]:
    """Years in which any project has a node date (signed, started, produced or planned)."""
    scope = scope_condition(principal)
    cols = (P.signed_on, P.started_on, P.producing_on, P.planned_start_on, P.planned_production_on)
    q = union(*(select(extract("year", c).cast(Integer).label("y")).where(c.is_not(None), scope) for c in cols))
    return sorted(int(y) for y in conn.execute(q).scalars())


def _drill(figure: str, year: int, adcode: str | None) -> str:
    params = {"figure": figure, "year": year, **({"adcode": adcode} if adcode else {})}
    return "/api/projects?" + urlencode(params)


def _figures(conn: Connection, principal: Principal, year: int) -> dict[str | None, dict[str, Any]]:
    day = reference_day(year)
    end = year_span(year)[1]
    cond = {name: fn(year, day) for name, (_label, fn) in FIGURES.items()}
    counts = [func.count().filter(c).label(name) for name, c in cond.items()]
    money = [func.coalesce(func.sum(P.signed_investment_wan).filter(cond["signed"]), 0).label("signed_wan"),
             func.coalesce(func.sum(funds_by(end)).filter(cond["signed"]), 0).label("funds_wan")]
    q = (select(P.adcode, *counts, *money).where(scope_condition(principal)).group_by(P.adcode))
    return {r.adcode: dict(r._mapping) for r in conn.execute(q)}


def _shape(raw: dict[str, Any], year: int, adcode: str | None) -> dict[str, Any]:
    signed, funds = float(raw["signed_wan"]), float(raw["funds_wan"])
    out = {name: raw[name] for name in FIGURES}
    out.update({
        "signed_investment_yi": round(signed / WAN_PER_YI, 2), "funds_in_place_yi": round(funds / WAN_PER_YI, 2),
        "funds_rate_pct": rate(funds, signed),
        "start_rate_pct": rate(raw["start_met"], raw["start_due"]),
        "performance_rate_pct": rate(raw["nodes_met"], raw["nodes_due"]),
        "drill": {name: _drill(name, year, adcode) for name in FIGURES},
    })
    return out


def _sum(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [*FIGURES, "signed_wan", "funds_wan"]
    return {k: sum(float(r[k]) if k.endswith("_wan") else r[k] for r in rows) for k in keys}


def pipeline_dashboard(conn: Connection, principal: Principal, year: int) -> dict[str, Any]:
    """Per county and in total: starts, productions, signed investment, 资金到位率, 开工率, 履约率."""
    require_grant(principal, "projects", "read")
    scope = grant(principal, "projects", "read")
    raw = _figures(conn, principal, year)
    names = dict(conn.execute(select(County.adcode, County.name).order_by(County.adcode)).all())
    shown = sorted(principal.counties) if scope == "county" else list(names)
    empty = {**{k: 0 for k in FIGURES}, "signed_wan": 0, "funds_wan": 0}
    counties = [{"adcode": a, "name": names.get(a, a), **_shape(raw.get(a, empty), year, a)} for a in shown]
    total = _shape(_sum([raw.get(a, empty) for a in shown]), year, None)
    targets = targets_in_force(conn)
    target_year = max((t.target_year for t in targets.values()), default=year)
    judged: dict[str, Any] = {}
    for key, indicator in {**CITY_TARGETS, **RATE_TARGETS}.items():
        t = targets.get((indicator, ""))
        if t is None or t.min_value is None:
            continue
        progress = rate(total[key] or 0, t.min_value) if total[key] is not None else None
        city = scope == "all" or key in RATE_TARGETS
        status = kpi_status(progress, year, target_year) if city and key in CITY_TARGETS else None
        if key in RATE_TARGETS and total[key] is not None:  # a rate is met or not, no pace
            status = kpi_status(100.0 if total[key] >= t.min_value else progress, target_year, target_year)
        judged[key] = {"label": t.label, "target": t.min_value, "unit": t.unit, "applies_to": "全市" if key in CITY_TARGETS else "全市及各县（市、区）",
                       "version": t.version, "progress_pct": progress if city else None,
                       "share_of_city_pct": progress if not city else None,
                       "status": status.label if status else None}
        for c in counties:
            if key in RATE_TARGETS:
                c.setdefault("meets", {})[key] = c[key] is not None and c[key] >= t.min_value
    return {"year": year, "scope": scope, "years": pipeline_years(conn, principal), "reference_day":
            reference_day(year).isoformat(), "total": total, "counties": counties, "targets": judged,
            "labels": {name: label for name, (label, _fn) in FIGURES.items()},
            "definitions": "hggis.projects.figures"}
