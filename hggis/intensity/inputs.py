"""The per-park sums the evaluation reads: one set-based pass over parcels, figures and idle cases.

Every area is the parcel's stored ellipsoidal ``area_mu`` (``ST_Area(geom::geography)``);
building footprint and floor area are the parcels' recorded facts (m²). What counts as
supplied, built, industrial, unsupplied or idle is the model version's status and land-use
lists, so the words of the 规程 map onto hggis's statuses in data:

- 已达到供地条件的土地 (the 供应率 denominator): every live parcel of the park in the register
  (reserve and on-offer 标准地 are supply-ready by definition); the park outline's area
  beyond the registered parcels is reported separately (``outline_unregistered_mu``);
- 已供应: ``supplied_statuses``; 已建成: supplied and (``built_statuses`` or completed);
- 工矿仓储用地: land use in ``industrial_land_uses`` (GB/T 21010 06xx);
- figures: the ``enterprise_years`` of the year of the enterprises of the park.

``ParkSums`` is a plain dataclass so a what-if can change it in memory and score it again
with the very same functions (hggis.intensity.score).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from hggis.db.models import Enterprise, EnterpriseYear, Parcel, Park, table_of
from hggis.geo import M2_PER_MU
from hggis.idle.tables import IdleCase
from hggis.intensity.model import IntensityParams

PARCELS = table_of(Parcel)
PARKS = table_of(Park)
ENTERPRISES = table_of(Enterprise)
YEARS = table_of(EnterpriseYear)
CASES = table_of(IdleCase)
#: idle-case states from the 认定 (finding) on: the land is found idle
FOUND_STATES = ("finding_issued", "publicly_listed", "disposal_decided", "recovered", "in_reserve", "reoffered")
#: states after a disposal decision (or a case closed with a disposal recorded)
DISPOSED_STATES = ("disposal_decided", "recovered", "in_reserve", "reoffered")


@dataclass
class ParkSums:
    """What one park's evaluation is computed from (areas in 亩, floor and footprint in m², money 万元)."""

    park_id: int
    name: str
    adcode: str
    level: str
    parcels: int = 0
    registered_mu: float = 0.0
    supplied_mu: float = 0.0
    industrial_supplied_mu: float = 0.0  # the denominator of the park's 亩均税收 (domain.md §5)
    built_mu: float = 0.0
    built_floor_m2: float = 0.0
    built_footprint_m2: float = 0.0
    built_without_floor: int = 0  # built parcels with no 总建筑面积 recorded (count as 0)
    industrial_built_mu: float = 0.0
    industrial_floor_m2: float = 0.0
    industrial_footprint_m2: float = 0.0
    industrial_investment: float = 0.0
    unsupplied_mu: float = 0.0
    idle_status_mu: float = 0.0
    paid_supplied_mu: float = 0.0  # supplied by 出让
    due_mu: float = 0.0
    due_disposed_mu: float = 0.0
    idle_found_mu: float = 0.0
    idle_disposed_mu: float = 0.0
    supplied_in_window_mu: float = 0.0
    outline_mu: float | None = None
    tax: float = 0.0
    industrial_tax: float = 0.0
    output: float = 0.0
    revenue: float = 0.0
    employees: float = 0.0
    enterprises_with_figures: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def outline_unregistered_mu(self) -> float | None:
        if self.outline_mu is None:
            return None
        return max(0.0, self.outline_mu - self.registered_mu)


def _sum(expr: ColumnElement[Any], cond: ColumnElement[bool]) -> ColumnElement[float]:
    return func.coalesce(func.sum(cast(expr, Float)).filter(cond), 0.0)


def _idle_cases(found: bool) -> ColumnElement[bool]:
    """The parcel has an idle case found idle (认定), or (``found`` False) one with a disposal."""
    c = CASES.c
    if found:
        cond = or_(c.state.in_(FOUND_STATES), and_(c.state == "closed", c.disposal_kind.isnot(None)))
    else:
        cond = or_(c.state.in_(DISPOSED_STATES), c.disposal_kind.isnot(None))
    return exists().where(c.parcel_id == PARCELS.c.id, c.kind == "idle", cond)


def parcel_sums(params: IntensityParams, year: int, weight: ColumnElement[Any] | None = None) -> list[Any]:
    """The parcel aggregates as labelled columns; ``weight`` scales each parcel (a what-if's share)."""
    p = PARCELS.c
    w = weight if weight is not None else literal(1.0)
    year_end = dt.date(year, 12, 31)
    window_start = dt.date(year - params.supply_window_years + 1, 1, 1)
    supplied = p.status.in_(params.supplied_statuses)
    built = and_(supplied, or_(p.status.in_(params.built_statuses), p.completed_on.isnot(None)))
    industrial = p.land_use.in_(params.industrial_land_uses)
    ind_built = and_(built, industrial)
    area = p.area_mu * w
    supplied_on = func.coalesce(p.delivered_on, p.contract_signed_on)
    due = and_(or_(supplied, p.status == "recovered"), p.agreed_completion_date <= year_end)
    disposed = and_(due, or_(p.completed_on <= year_end, p.status == "recovered"))
    idle_found = or_(p.status.in_(params.idle_statuses), _idle_cases(found=True))
    every = literal(True)
    return [
        func.count().label("parcels"),
        _sum(area, every).label("registered_mu"),
        _sum(area, supplied).label("supplied_mu"),
        _sum(area, and_(supplied, industrial)).label("industrial_supplied_mu"),
        _sum(area, built).label("built_mu"),
        _sum(p.floor_area_m2 * w, built).label("built_floor_m2"),
        _sum(p.built_footprint_m2 * w, built).label("built_footprint_m2"),
        func.count().filter(and_(built, p.floor_area_m2.is_(None))).label("built_without_floor"),
        _sum(area, ind_built).label("industrial_built_mu"),
        _sum(p.floor_area_m2 * w, ind_built).label("industrial_floor_m2"),
        _sum(p.built_footprint_m2 * w, ind_built).label("industrial_footprint_m2"),
        _sum(p.investment_to_date * w, ind_built).label("industrial_investment"),
        _sum(area, p.status.in_(params.unsupplied_statuses)).label("unsupplied_mu"),
        _sum(area, p.status.in_(params.idle_statuses)).label("idle_status_mu"),
        _sum(area, and_(supplied, p.contract_kind == "出让")).label("paid_supplied_mu"),
        _sum(area, due).label("due_mu"),
        _sum(area, disposed).label("due_disposed_mu"),
        _sum(area, idle_found).label("idle_found_mu"),
        _sum(area, and_(idle_found, _idle_cases(found=False))).label("idle_disposed_mu"),
        _sum(area, and_(supplied, supplied_on >= window_start, supplied_on <= year_end)).label("supplied_in_window_mu"),
    ]


PARCEL_FIELDS = ("parcels", "registered_mu", "supplied_mu", "industrial_supplied_mu", "built_mu", "built_floor_m2", "built_footprint_m2",
                 "built_without_floor", "industrial_built_mu", "industrial_floor_m2", "industrial_footprint_m2",
                 "industrial_investment", "unsupplied_mu", "idle_status_mu", "paid_supplied_mu", "due_mu",
                 "due_disposed_mu", "idle_found_mu", "idle_disposed_mu", "supplied_in_window_mu")
FIGURE_FIELDS = ("tax", "industrial_tax", "output", "revenue", "employees", "enterprises_with_figures")


def _figure_sums(params: IntensityParams, year: int, park_ids: list[int] | None) -> Any:
    """Σ figures of the year per park; 'industrial' firms: those holding industrial land in the park."""
    e, y, p = ENTERPRISES.c, YEARS.c, PARCELS.c
    holds_industrial = exists().where(p.holder_id == e.id, p.park_id == e.park_id, p.retired_at.is_(None),
                                      p.land_use.in_(params.industrial_land_uses))
    query = (select(e.park_id.label("park_id"),
                   _sum(y.tax_paid, literal(True)).label("tax"),
                   _sum(y.tax_paid, holds_industrial).label("industrial_tax"),
                   _sum(y.output, literal(True)).label("output"),
                   _sum(y.revenue, literal(True)).label("revenue"),
                   _sum(y.employees, literal(True)).label("employees"),
                   func.count().label("enterprises_with_figures"))
            .select_from(ENTERPRISES.join(YEARS, and_(y.enterprise_id == e.id, y.year == year)))
            .where(e.park_id.isnot(None)).group_by(e.park_id))
    if park_ids is not None:  # a what-if reads one park: aggregate only its firms
        query = query.where(e.park_id.in_(park_ids))
    return query.subquery("fig")


def read_park_sums(conn: Connection, params: IntensityParams, year: int,
                   park_ids: list[int] | None = None) -> list[ParkSums]:
    """One ``ParkSums`` per park (all parks, or ``park_ids``), parks without parcels included."""
    p, k = PARCELS.c, PARKS.c
    land = (select(p.park_id.label("park_id"), *parcel_sums(params, year))
            .where(p.retired_at.is_(None), p.park_id.isnot(None))
            .group_by(p.park_id))
    if park_ids is not None:
        land = land.where(p.park_id.in_(park_ids))
    land_q = land.subquery("land")
    fig = _figure_sums(params, year, park_ids)
    outline = case((k.boundary.isnot(None), func.ST_Area(func.geography(k.boundary)) / M2_PER_MU))
    query = (select(k.id, k.name, k.adcode, k.level, outline.label("outline_mu"),
                    *[land_q.c[f] for f in PARCEL_FIELDS], *[fig.c[f] for f in FIGURE_FIELDS])
             .select_from(PARKS.outerjoin(land_q, land_q.c.park_id == k.id).outerjoin(fig, fig.c.park_id == k.id))
             .order_by(k.id))
    if park_ids is not None:
        query = query.where(k.id.in_(park_ids))
    out = []
    for r in conn.execute(query):
        values = {f: (getattr(r, f) or 0) for f in (*PARCEL_FIELDS, *FIGURE_FIELDS)}
        sums: dict[str, Any] = {f: (int(v) if f in ("parcels", "built_without_floor", "enterprises_with_figures")
                                    else float(v)) for f, v in values.items()}
        out.append(ParkSums(park_id=r.id, name=r.name, adcode=r.adcode, level=r.level,
                            outline_mu=float(r.outline_mu) if r.outline_mu is not None else None,
                            **sums))
    return out
