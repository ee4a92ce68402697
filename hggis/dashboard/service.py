"""The plan dashboard (考核): the plan's 2025 targets against actual figures, per county and city.

Every figure is one set-based query over the caller's scope (``scope_clause`` on
``enterprise_figures`` for outputs and counts, on ``parcels`` for projects); the reserve
comes from the reserves ledger (hggis.reserves), the cluster outputs from cluster_years.
Targets are the versions in force in ``plan_targets`` (hggis.dashboard.tables); the
规上 definition (revenue threshold) is one of them.

Who may see it: any role with a read grant of enterprise figures (park managers: their
parks; county officers: their counties; city administrators: all). A total is the sum
over the caller's scope. Below the city the page names the area (本园区：…, 本县：…), lists
only its counties, and shows a city target as "全市目标" with the area's share of it (never
"完成 x%" of the city's target); county indicators (超千亿, the reserve status) are not
applied to a park, whose reserve counts towards its county's target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant, scope_clause
from hggis.dashboard.status import kpi_status
from hggis.db.models import County, Park
from hggis.errors import Invalid
from hggis.geo import round_mu, total_mu

PROJECT_YEARS = 5  # how many years of project starts/completions the dashboard shows


class DashboardError(Invalid):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Target:
    indicator: str
    subject: str
    label: str
    min_value: float | None
    max_value: float | None
    threshold: float | None
    unit: str | None
    version: int
    target_year: int
    note: str | None = None

    def text(self) -> str:
        lo, hi = self.min_value, self.max_value
        unit = self.unit or ""
        if lo is not None and hi is not None:
            return f"{lo:g}–{hi:g} {unit}"
        if lo is not None:
            return f"≥ {lo:g} {unit}" + (f"（门槛 {self.threshold:g}）" if self.threshold is not None else "")
        if hi is not None:
            return f"≤ {hi:g} {unit}"
        return f"{self.threshold:g} {unit}" if self.threshold is not None else "—"


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def targets_in_force(conn: Connection, target_year: int | None = None) -> dict[tuple[str, str], Target]:
    """The highest version of each target (of ``target_year``, default the latest target year)."""
    rows = conn.execute(
        text(
            """
            SELECT DISTINCT ON (indicator, subject) indicator, subject, label, min_value, max_value, threshold, unit,
                   version, target_year, note
            FROM plan_targets
            WHERE target_year = coalesce(CAST(:y AS integer), (SELECT max(target_year) FROM plan_targets))
            ORDER BY indicator, subject, version DESC
            """
        ),
        {"y": target_year},
    )
    return {
        (r.indicator, r.subject): Target(r.indicator, r.subject, r.label, _f(r.min_value), _f(r.max_value),
                                         _f(r.threshold), r.unit, r.version, r.target_year, r.note)
        for r in rows
    }


def figure_years(conn: Connection) -> list[int]:
    return list(conn.execute(text("SELECT DISTINCT year FROM enterprise_years ORDER BY year")).scalars())


@dataclass
class Dashboard:
    year: int
    years: list[int]
    scope: str
    scope_label: str
    targets: dict[tuple[str, str], Target]
    area: str = "全市"  # the counties or parks the figures cover, by name
    output: dict[str, Any] = field(default_factory=dict)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    reserve: dict[str, Any] = field(default_factory=dict)
    projects: dict[str, Any] = field(default_factory=dict)
    above_size: list[dict[str, Any]] = field(default_factory=list)
    parks: dict[str, Any] = field(default_factory=dict)

    def target(self, indicator: str, subject: str = "") -> Target | None:
        return self.targets.get((indicator, subject))


SCOPE_LABELS = {"all": "全市", "county": "本县（市、区）", "park": "本园区"}
#: What the plan's targets are set for: the city (most), each county, each park. A scope
#: smaller than the city is never shown "完成 x%" of a city target: its figure is its share
#: (贡献) of the city target, labelled so.
CITY_TARGET_LABEL = "全市目标"


def _area(conn: Connection, principal: Principal, scope: str) -> tuple[str, list[str]]:
    """The names of the area the caller's figures cover, and the counties it lies in."""
    if scope == "county":
        rows = conn.execute(select(County.adcode, County.name).where(County.adcode.in_(sorted(principal.counties)))
                            .order_by(County.adcode)).all()
        return "、".join(r.name for r in rows), [r.adcode for r in rows]
    if scope == "park":
        park_rows = conn.execute(select(Park.name, County.adcode, County.name.label("county"))
                            .join(County, County.adcode == Park.adcode)
                            .where(Park.id.in_(sorted(principal.parks))).order_by(Park.adcode, Park.name)).all()
        return "、".join(f"{r.name}（{r.county}）" for r in park_rows), sorted({r.adcode for r in park_rows})
    return "全市", []


def _threshold(targets: dict[tuple[str, str], Target]) -> float:
    t = targets.get(("above_size_threshold", ""))
    if t is None or t.threshold is None:
        raise DashboardError("plan_targets", "no 规上 revenue threshold (above_size_threshold) in plan_targets")
    return t.threshold


def _output(conn: Connection, scope_sql: str, params: dict, year: int, threshold: float,
            targets: dict[tuple[str, str], Target], scope: str = "all", shown: list[str] | None = None) -> dict[str, Any]:
    """规上 output and enterprise count per county for ``year`` and the year before.

    Only the counties of the caller's area are listed (``shown``; all for the city). The
    city target's "完成" applies to the whole city; a smaller scope gets its share of it.
    """
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                f"""
                SELECT c.adcode, c.name,
                       count(*) FILTER (WHERE y.year = :year) AS enterprises,
                       coalesce(sum(y.output) FILTER (WHERE y.year = :year), 0) / 10000.0 AS output_yi,
                       count(*) FILTER (WHERE y.year = :year - 1) AS enterprises_prev,
                       coalesce(sum(y.output) FILTER (WHERE y.year = :year - 1), 0) / 10000.0 AS output_prev_yi
                FROM counties c
                LEFT JOIN enterprises e ON e.adcode = c.adcode AND {scope_sql}
                LEFT JOIN enterprise_years y ON y.enterprise_id = e.id AND y.year IN (:year, :year - 1)
                     AND y.revenue >= :threshold
                GROUP BY c.adcode, c.name ORDER BY c.adcode
                """
            ),
            {**params, "year": year, "threshold": threshold},
        )
    ]
    if shown:
        rows = [r for r in rows if r["adcode"] in shown]
    over = targets.get(("county_output_over", ""))
    for r in rows:
        r["output_yi"] = round(float(r["output_yi"]), 2)
        r["output_prev_yi"] = round(float(r["output_prev_yi"]), 2)
        r["growth_pct"] = _growth(r["output_yi"], r["output_prev_yi"])
        # 超千亿 is a county's figure: a park's output says nothing about its county
        r["over_threshold"] = (scope != "park" and over is not None and over.threshold is not None
                               and r["output_yi"] > over.threshold)
    total = round(sum(r["output_yi"] for r in rows), 2)
    prev = round(sum(r["output_prev_yi"] for r in rows), 2)
    goal = targets.get(("above_size_output", ""))
    ratio = round(total / goal.min_value * 100, 1) if goal and goal.min_value else None
    return {
        "counties": rows,
        "total_yi": total,
        "total_prev_yi": prev,
        "growth_pct": _growth(total, prev),
        "enterprises": sum(r["enterprises"] for r in rows),
        "target_yi": goal.min_value if goal else None,
        "progress_pct": ratio if scope == "all" else None,
        "share_of_city_pct": ratio if scope != "all" else None,
        "counties_over": sum(1 for r in rows if r["over_threshold"]) if scope != "park" else None,
    }


def _growth(now: float, before: float) -> float | None:
    return round((now - before) / before * 100, 1) if before else None


def _clusters(conn: Connection, year: int, targets: dict[tuple[str, str], Target]) -> list[dict[str, Any]]:
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                """
                SELECT c.id, c.name, c.tier, i.name AS industry, c.is_synthetic,
                       a.actual_output_yi::float8 AS output_yi, p.actual_output_yi::float8 AS output_prev_yi,
                       (SELECT target_output_yi::float8 FROM cluster_years t WHERE t.cluster_id = c.id
                         AND t.target_output_yi IS NOT NULL ORDER BY t.year DESC LIMIT 1) AS own_target_yi
                FROM clusters c LEFT JOIN industries i ON i.code = c.industry_code
                LEFT JOIN cluster_years a ON a.cluster_id = c.id AND a.year = :year
                LEFT JOIN cluster_years p ON p.cluster_id = c.id AND p.year = :year - 1
                ORDER BY CASE c.tier WHEN '千亿' THEN 1 WHEN '百亿' THEN 2 ELSE 3 END, c.id
                """
            ),
            {"year": year},
        )
    ]
    for r in rows:
        tier = targets.get(("cluster_tier_output", r["tier"]))
        r["tier_target_yi"] = tier.min_value if tier else None
        r["target_yi"] = r["own_target_yi"] or r["tier_target_yi"]
        r["progress_pct"] = round(r["output_yi"] / r["target_yi"] * 100, 1) if r["output_yi"] and r["target_yi"] else None
        r["reached"] = bool(r["output_yi"] is not None and r["tier_target_yi"] and r["output_yi"] >= r["tier_target_yi"])
        r["growth_pct"] = _growth(r["output_yi"], r["output_prev_yi"]) if r["output_yi"] and r["output_prev_yi"] else None
    return rows


def _reserve(conn: Connection, principal: Principal, targets: dict[tuple[str, str], Target],
             scope: str = "all") -> dict[str, Any]:
    """The reserve per county from the reserves ledger (its own versioned targets).

    The target (500–1000 亩) is each county's. A park manager sees their parks' reserve as
    a contribution to their county's target (share of its lower bound), not a county status.
    """
    from hggis.reserves.ledger import reserve_ledger

    plan = targets.get(("county_reserve", ""))
    ledger = reserve_ledger(conn, principal)
    rows = [
        {"adcode": r.adcode, "name": r.name, "reserve_mu": round_mu(r.reserve_mu), "parcels": r.reserve_parcels,
         "on_offer_mu": round_mu(r.on_offer_mu), "largest_block_mu": round_mu(r.largest_block_mu),
         "target_min": r.target_min_mu if r.target_min_mu is not None else (plan.min_value if plan else None),
         "target_max": r.target_max_mu if r.target_max_mu is not None else (plan.max_value if plan else None),
         "status": r.status, "status_label": r.status_label, "gap_mu": round_mu(r.gap_mu)}
        for r in ledger.rows
    ]
    if scope == "park":
        for r in rows:
            low = r["target_min"]
            reserve_mu = float(r["reserve_mu"] or 0)
            r["share_of_county_pct"] = round(reserve_mu / float(low) * 100, 1) if low else None
            r["status"], r["gap_mu"] = None, None
            r["status_label"] = "计入所在县目标" + (f"（占下限 {r['share_of_county_pct']}%）"
                                                  if r["share_of_county_pct"] is not None else "")
    return {"source": "标准地储备台账", "rows": rows,
            "within": sum(1 for r in rows if r["status"] == "within") if scope != "park" else None,
            "total_mu": total_mu(float(r["reserve_mu"] or 0) for r in rows)}


def _projects(conn: Connection, principal: Principal, year: int, shown: list[str] | None = None) -> dict[str, Any]:
    """Industrial projects started / put into production per year (parcels' started_on / completed_on)."""
    where, params = scope_clause(principal, "parcels", "read", "p.adcode", "p.park_id")
    first = year - PROJECT_YEARS + 1
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                f"""
                SELECT g.y AS year,
                       (SELECT count(*) FROM parcels p WHERE p.land_use = '0601' AND extract(year FROM p.started_on) = g.y
                          AND {where}) AS started,
                       (SELECT count(*) FROM parcels p WHERE p.land_use = '0601' AND extract(year FROM p.completed_on) = g.y
                          AND {where}) AS completed
                FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g(y) ORDER BY g.y
                """
            ),
            {**params, "first": first, "last": year},
        )
    ]
    by_county = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                f"""
                SELECT c.adcode, c.name,
                       count(p.id) FILTER (WHERE extract(year FROM p.started_on) = :year) AS started,
                       count(p.id) FILTER (WHERE extract(year FROM p.completed_on) = :year) AS completed
                FROM counties c LEFT JOIN parcels p ON p.adcode = c.adcode AND p.land_use = '0601' AND {where}
                GROUP BY c.adcode, c.name ORDER BY c.adcode
                """
            ),
            {**params, "year": year},
        )
    ]
    if shown:
        by_county = [r for r in by_county if r["adcode"] in shown]
    return {"years": rows, "counties": by_county}


def _above_size(conn: Connection, scope_sql: str, params: dict, threshold: float) -> list[dict[str, Any]]:
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                f"""
                SELECT y.year, count(*) AS enterprises
                FROM enterprise_years y JOIN enterprises e ON e.id = y.enterprise_id
                WHERE y.revenue >= :threshold AND {scope_sql}
                GROUP BY y.year ORDER BY y.year
                """
            ),
            {**params, "threshold": threshold},
        )
    ]
    for i, r in enumerate(rows):
        r["growth_pct"] = _growth(r["enterprises"], rows[i - 1]["enterprises"]) if i else None
    return rows


def _parks(conn: Connection, scope_sql: str, params: dict, year: int, targets: dict[tuple[str, str], Target]) -> dict[str, Any]:
    over = targets.get(("parks_output_over", ""))
    threshold = over.threshold if over and over.threshold is not None else None
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                f"""
                SELECT k.id, k.name, c.name AS county, count(y.enterprise_id) AS enterprises,
                       round((coalesce(sum(y.output), 0) / 10000.0)::numeric, 2)::float8 AS output_yi
                FROM parks k JOIN counties c ON c.adcode = k.adcode
                JOIN enterprises e ON e.park_id = k.id AND {scope_sql}
                JOIN enterprise_years y ON y.enterprise_id = e.id AND y.year = :year
                GROUP BY k.id, k.name, c.name ORDER BY output_yi DESC, k.id
                """
            ),
            {**params, "year": year},
        )
    ]
    for r in rows:
        r["over_threshold"] = threshold is not None and r["output_yi"] > threshold
    return {"rows": rows, "threshold_yi": threshold, "count_over": sum(1 for r in rows if r["over_threshold"]),
            "target_count": over.min_value if over else None}


def plan_dashboard(conn: Connection, principal: Principal, year: int | None = None) -> Dashboard:
    """Targets against actual figures for ``year`` (default: the latest year with figures)."""
    scope = grant(principal, "enterprise_figures", "read")
    if scope is None or scope == "public":
        raise Forbidden(f"role {principal.role} may not read the plan dashboard (enterprise figures)")
    years = figure_years(conn)
    if year is None:
        if not years:
            raise DashboardError("year", "no enterprise figures loaded yet")
        year = years[-1]
    elif year not in years:
        raise DashboardError("year", f"no figures for {year}" + (f" (years: {', '.join(map(str, years))})" if years else ""))
    targets = targets_in_force(conn)
    threshold = _threshold(targets)
    scope_sql, params = scope_clause(principal, "enterprise_figures", "read", "e.adcode", "e.park_id")
    area, shown = _area(conn, principal, scope)
    label = SCOPE_LABELS[scope] + (f"：{area}" if scope != "all" and area else "")
    dash = Dashboard(year=year, years=years, scope=scope, scope_label=label, targets=targets, area=area)
    dash.output = _output(conn, scope_sql, params, year, threshold, targets, scope, shown)
    dash.clusters = _clusters(conn, year, targets)
    dash.reserve = _reserve(conn, principal, targets, scope)
    dash.projects = _projects(conn, principal, year, shown)
    dash.above_size = _above_size(conn, scope_sql, params, threshold)
    dash.parks = _parks(conn, scope_sql, params, year, targets)
    _judge_pace(dash, targets)
    return dash


def _judge_pace(dash: Dashboard, targets: dict[tuple[str, str], Target]) -> None:
    """Each figure with a progress against a target gets its status against the plan's pace."""
    target_year = max((t.target_year for t in targets.values()), default=dash.year)
    dash.output["status"] = kpi_status(dash.output.get("progress_pct"), dash.year, target_year)
    for r in dash.clusters:
        r["status"] = kpi_status(r.get("progress_pct"), dash.year, target_year)
