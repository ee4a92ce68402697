"""腾笼换鸟 what-if: a D-class occupant's land given to a candidate project, before and after.

The tool answers "if this low-value occupant made way for that project, what would the
park's 亩均税收, its TD/T 1029 score and the plan's targets look like?" without writing
anything: it reads inside a READ ONLY transaction that is rolled back, and computes the
"after" in memory by changing the park's sums (hggis.intensity.inputs.ParkSums) and
scoring them with the same functions a run uses (hggis.intensity.score).

- **The occupant** is an enterprise of class D in an evaluation run (default: the newest
  run); its land is the run's land rows for it (``evaluation_land``: parcel × share) inside
  one park (default: the park holding most of it). The part of its figures that leaves is
  its share of land given up: land given up / its evaluated land.
- **The candidate** is typed in with its commitments (``Commitments``: investment, yearly
  tax, output, land needed, optionally revenue and floor area). ``commitments_from_project``
  is the seam for taking them from the project pipeline once it exists.
- **After**: the freed land counts as supplied, built industrial land sold by 出让 this year,
  its idle finding disposed, its investment the candidate's, its floor area the candidate's
  if given (else the buildings stay); the park's figures lose the occupant's part and gain
  the candidate's. Land needed beyond the freed land is refused; land left over stays with
  the park.
- **Plan targets** (plan_targets, as the dashboard reads them): parks with output over the
  threshold (500 亿) and the county's 规上 output against the county threshold (1000 亿),
  with the city's 规上 output; the occupant counts as 规上 when its revenue reaches the 规上
  threshold, the candidate when its revenue (default: its output) does.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, cast, func, select, text
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, authorize
from hggis.dashboard.service import targets_in_force
from hggis.db.models import County, Enterprise, EnterpriseYear, Parcel, table_of
from hggis.errors import Invalid, NotFound
from hggis.evaluation.tables import EvaluationLand, EvaluationResult, EvaluationRun
from hggis.intensity.inputs import ParkSums, parcel_sums, read_park_sums
from hggis.intensity.model import IntensityParams, model_for_year
from hggis.intensity.score import score_park

PARCELS = table_of(Parcel)
LAND = table_of(EvaluationLand)
RESULTS = table_of(EvaluationResult)
EV_RUNS = table_of(EvaluationRun)
ENTERPRISES = table_of(Enterprise)
YEARS = table_of(EnterpriseYear)
WAN_PER_YI = 10_000.0
LAND_TOLERANCE_MU = 0.01  # rounding of typed-in areas


class WhatIfRefused(Invalid):
    """A what-if that cannot be computed; ``field`` names the input at fault."""


class WhatIfNotFound(NotFound):
    """No such evaluation run, enterprise or land."""


@dataclass(frozen=True)
class Commitments:
    """What a candidate project commits to (万元, 亩, m²)."""

    name: str
    investment: float
    yearly_tax: float
    output: float
    land_mu: float
    revenue: float | None = None
    floor_area_m2: float | None = None

    def check(self) -> None:
        if not self.name.strip():
            raise WhatIfRefused("候选项目需要名称", field="name")
        for f in ("investment", "yearly_tax", "output", "land_mu", "revenue", "floor_area_m2"):
            v = getattr(self, f)
            if v is not None and not (0 <= v < 1e12):
                raise WhatIfRefused(f"{f}: 须为非负的有限数", field=f)
        if self.land_mu <= 0:
            raise WhatIfRefused("用地需求须大于 0 亩", field="land_mu")


def commitments_from_project(conn: Connection, project_id: int) -> Commitments:
    """The seam for the project pipeline: a project's signed commitments as a candidate.

    The projects table is built elsewhere; until it is here, a project cannot be chosen and
    the commitments are typed in.
    """
    if conn.execute(text("SELECT to_regclass('projects') IS NOT NULL")).scalar_one():
        raise WhatIfRefused(f"项目 {project_id}：项目库尚未与腾笼换鸟测算对接，请录入项目承诺", field="project_id")
    raise WhatIfRefused(f"项目 {project_id}：项目库尚未建立，请录入候选项目的承诺（投资、税收、产值、用地）",
                        field="project_id")


@dataclass
class Occupant:
    run_id: int
    year: int
    enterprise_id: int
    name: str
    class_code: str
    park_id: int
    adcode: str
    land_mu: float  # in this park, given up
    evaluated_land_mu: float
    tax: float
    output: float
    revenue: float
    employees: float
    parcels: list[str]

    @property
    def fraction(self) -> float:
        return min(1.0, self.land_mu / self.evaluated_land_mu) if self.evaluated_land_mu > 0 else 1.0


def _run(conn: Connection, run_id: int | None) -> Any:
    r = EV_RUNS.c
    q = select(r.id, r.year)
    q = q.where(r.id == run_id) if run_id is not None else q.order_by(r.id.desc()).limit(1)
    row = conn.execute(q).first()
    if row is None:
        raise WhatIfNotFound("尚无亩均效益评价结果：先运行评价" if run_id is None else f"评价批次 #{run_id} 不存在",
                             field="run_id")
    return row


def _occupant(conn: Connection, run_id: int | None, enterprise_id: int, park_id: int | None) -> Occupant:
    run = _run(conn, run_id)
    res = conn.execute(select(RESULTS).where(RESULTS.c.run_id == run.id, RESULTS.c.enterprise_id == enterprise_id)).first()
    if res is None or not res.evaluated:
        raise WhatIfNotFound(f"企业 {enterprise_id} 不在评价批次 #{run.id} 的参评企业中", field="enterprise_id")
    if res.class_code != "D":
        raise WhatIfRefused(f"{res.name} 在评价批次 #{run.id} 中为 {res.class_code} 类，不是 D 类（倒逼整治类）",
                            field="enterprise_id")
    land, p = LAND.c, PARCELS.c
    rows = conn.execute(select(p.park_id, p.adcode, p.code, land.land_mu)
                        .select_from(LAND.join(PARCELS, PARCELS.c.id == land.parcel_id))
                        .where(land.run_id == run.id, land.enterprise_id == enterprise_id, p.retired_at.is_(None),
                               p.park_id.isnot(None))).all()
    by_park: dict[int, float] = {}
    for r in rows:
        by_park[r.park_id] = by_park.get(r.park_id, 0.0) + r.land_mu
    if not by_park:
        raise WhatIfNotFound(f"{res.name} 在评价批次 #{run.id} 中没有园区内的用地", field="enterprise_id")
    if park_id is None:
        park_id = max(by_park, key=lambda k: (by_park[k], -k))
    elif park_id not in by_park:
        raise WhatIfRefused(f"{res.name} 在园区 {park_id} 没有评价用地", field="park_id")
    mine = [r for r in rows if r.park_id == park_id]
    return Occupant(run_id=run.id, year=run.year, enterprise_id=enterprise_id, name=res.name, class_code=res.class_code,
                    park_id=park_id, adcode=mine[0].adcode, land_mu=by_park[park_id], evaluated_land_mu=res.land_mu,
                    tax=res.tax_paid or 0.0, output=res.output or 0.0, revenue=res.revenue or 0.0,
                    employees=res.employees or 0.0, parcels=sorted({r.code for r in mine}))


def _freed_sums(conn: Connection, params: IntensityParams, occ: Occupant) -> dict[str, float]:
    """The occupant's land in the park as ParkSums fields, each parcel weighted by its share."""
    land, p = LAND.c, PARCELS.c
    weight = cast(land.land_mu, Float) / func.nullif(p.area_mu, 0)
    q = (select(*parcel_sums(params, occ.year, weight))
         .select_from(PARCELS.join(LAND, and_(land.parcel_id == p.id, land.run_id == occ.run_id,
                                               land.enterprise_id == occ.enterprise_id)))
         .where(p.park_id == occ.park_id, p.retired_at.is_(None)))
    row = conn.execute(q).one()
    return {k: float(v or 0) for k, v in row._mapping.items()}


def after_swap(before: ParkSums, freed: dict[str, float], occ: Occupant, cand: Commitments) -> ParkSums:
    """The park's sums once the occupant's land carries the candidate project (see the module docstring)."""
    a = dataclasses.replace(before)
    land = freed["registered_mu"]

    def becomes(field: str, value: float) -> None:
        setattr(a, field, getattr(a, field) - freed[field] + value)

    for f in ("supplied_mu", "industrial_supplied_mu", "built_mu", "industrial_built_mu", "paid_supplied_mu",
              "supplied_in_window_mu"):
        becomes(f, land)
    becomes("industrial_investment", cand.investment)
    becomes("idle_status_mu", 0.0)
    becomes("due_mu", 0.0)
    becomes("due_disposed_mu", 0.0)
    becomes("idle_disposed_mu", freed["idle_found_mu"])  # the finding is disposed by the swap
    if cand.floor_area_m2 is not None:
        becomes("built_floor_m2", cand.floor_area_m2)
        becomes("industrial_floor_m2", cand.floor_area_m2)
    # without a floor area the buildings on the land stay as they were counted
    part = occ.fraction
    a.tax += cand.yearly_tax - occ.tax * part
    a.industrial_tax += cand.yearly_tax - occ.tax * part
    a.output += cand.output - occ.output * part
    a.revenue += (cand.revenue if cand.revenue is not None else cand.output) - occ.revenue * part
    a.employees = max(0.0, a.employees - occ.employees * part)
    return a


def _park_tax_per_mu(s: ParkSums) -> float | None:
    """Park 亩均税收 = Σ tax / Σ industrial land supplied (domain.md §5: idle land drags it down)."""
    return round(s.tax / s.industrial_supplied_mu, 4) if s.industrial_supplied_mu > 0 else None


def _plan(conn: Connection, year: int, occ: Occupant, cand: Commitments) -> dict[str, Any]:
    """Parks over the output threshold and the county's 规上 output, before and after."""
    targets = targets_in_force(conn)
    parks_over = targets.get(("parks_output_over", ""))
    county_over = targets.get(("county_output_over", ""))
    city = targets.get(("above_size_output", ""))
    size = targets.get(("above_size_threshold", ""))
    size_threshold = size.threshold if size and size.threshold is not None else 2000.0
    e, y = ENTERPRISES.c, YEARS.c
    join = ENTERPRISES.join(YEARS, and_(y.enterprise_id == e.id, y.year == year))
    park_out: dict[int, float] = {}
    county_out: dict[str, float] = {}
    # one pass over the year's figures: output per (park, county), and its 规上 part
    for r in conn.execute(select(e.park_id, e.adcode, func.coalesce(func.sum(y.output), 0).label("all"),
                                 func.coalesce(func.sum(y.output).filter(y.revenue >= size_threshold), 0).label("above"))
                          .select_from(join).group_by(e.park_id, e.adcode)):
        if r.park_id is not None:
            park_out[r.park_id] = park_out.get(r.park_id, 0.0) + float(r.all)
        county_out[r.adcode] = county_out.get(r.adcode, 0.0) + float(r.above)
    part = occ.fraction
    park_delta = cand.output - occ.output * part
    occ_above = occ.revenue >= size_threshold
    cand_above = (cand.revenue if cand.revenue is not None else cand.output) >= size_threshold
    county_delta = (cand.output if cand_above else 0.0) - (occ.output * part if occ_above else 0.0)
    park_before = float(park_out.get(occ.park_id, 0)) / WAN_PER_YI
    park_after = park_before + park_delta / WAN_PER_YI
    p_thr = parks_over.threshold if parks_over and parks_over.threshold is not None else None
    c_thr = county_over.threshold if county_over and county_over.threshold is not None else None
    others = [float(v) / WAN_PER_YI for k, v in park_out.items() if k != occ.park_id]
    county_before = float(county_out.get(occ.adcode, 0)) / WAN_PER_YI
    county_after = county_before + county_delta / WAN_PER_YI
    other_counties = [float(v) / WAN_PER_YI for k, v in county_out.items() if k != occ.adcode]
    city_before = sum(float(v) for v in county_out.values()) / WAN_PER_YI

    def count(values: list[float], thr: float | None) -> int | None:
        return None if thr is None else sum(1 for v in values if v > thr)

    county_name = conn.execute(select(County.name).where(County.adcode == occ.adcode)).scalar_one()
    return {
        "parks_over": {
            "threshold_yi": p_thr, "target_count": parks_over.min_value if parks_over else None,
            "park_output_yi": {"before": round(park_before, 4), "after": round(park_after, 4)},
            "count": {"before": count([*others, park_before], p_thr), "after": count([*others, park_after], p_thr)},
        },
        "county": {
            "adcode": occ.adcode, "name": county_name, "threshold_yi": c_thr,
            "above_size_output_yi": {"before": round(county_before, 4), "after": round(county_after, 4)},
            "counties_over": {"before": count([*other_counties, county_before], c_thr),
                              "after": count([*other_counties, county_after], c_thr)},
            "target_count": county_over.min_value if county_over else None,
            "occupant_above_size": occ_above, "candidate_above_size": cand_above,
        },
        "city": {"above_size_output_yi": {"before": round(city_before, 4),
                                          "after": round(city_before + county_delta / WAN_PER_YI, 4)},
                 "target_yi": city.min_value if city else None},
    }


def _side(s: ParkSums, params: IntensityParams) -> dict[str, Any]:
    scored = score_park(s, params)
    return {"tax_per_mu": _park_tax_per_mu(s), "score": scored.score, "indicators": scored.indicators,
            "potentials": scored.potentials, "tax": round(s.tax, 2), "industrial_supplied_mu": round(s.industrial_supplied_mu, 4)}


def compute_what_if(conn: Connection, principal: Principal, enterprise_id: int, cand: Commitments,
                    park_id: int | None = None, run_id: int | None = None) -> dict[str, Any]:
    """Before and after, on ``conn`` (which the caller keeps read-only and rolls back)."""
    cand.check()
    occ = _occupant(conn, run_id, enterprise_id, park_id)
    authorize(principal, "land_swap", "simulate", occ.adcode, occ.park_id)
    if cand.land_mu > occ.land_mu + LAND_TOLERANCE_MU:
        raise WhatIfRefused(f"候选项目需地 {cand.land_mu:g} 亩，超过 {occ.name} 可腾退的 {occ.land_mu:.2f} 亩", field="land_mu")
    mid, model_name, params = model_for_year(conn, occ.year)
    before = read_park_sums(conn, params, occ.year, [occ.park_id])[0]
    after = after_swap(before, _freed_sums(conn, params, occ), occ, cand)
    return {
        "year": occ.year, "evaluation_run_id": occ.run_id, "intensity_model_id": mid, "intensity_model": model_name,
        "park": {"id": before.park_id, "name": before.name, "adcode": before.adcode},
        "occupant": {"enterprise_id": occ.enterprise_id, "name": occ.name, "class_code": occ.class_code,
                     "land_mu": round(occ.land_mu, 4), "share_of_its_land": round(occ.fraction, 4),
                     "parcels": occ.parcels, "tax": occ.tax, "output": occ.output, "revenue": occ.revenue},
        "candidate": dataclasses.asdict(cand),
        "left_over_mu": round(max(0.0, occ.land_mu - cand.land_mu), 4),
        "before": _side(before, params), "after": _side(after, params),
        "plan": _plan(conn, occ.year, occ, cand),
        "written": False,
    }


def what_if(engine: Engine, principal: Principal, enterprise_id: int, cand: Commitments,
            park_id: int | None = None, run_id: int | None = None) -> dict[str, Any]:
    """The what-if in a READ ONLY transaction that is always rolled back: it cannot write."""
    started = time.perf_counter()
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            out = compute_what_if(conn, principal, enterprise_id, cand, park_id, run_id)
        finally:
            tx.rollback()
    out["duration_ms"] = int((time.perf_counter() - started) * 1000)
    return out


def d_class_occupants(conn: Connection, principal: Principal, run_id: int | None = None) -> list[dict[str, Any]]:
    """D-class enterprises of the run with land in a park the caller may simulate for (the page's choices)."""
    from hggis.access.policy import grant

    scope = grant(principal, "land_swap", "simulate")
    if scope is None:
        authorize(principal, "land_swap", "simulate")
    try:
        run = _run(conn, run_id)
    except WhatIfNotFound:
        return []
    r, land, p = RESULTS.c, LAND.c, PARCELS.c
    q = (select(r.enterprise_id, r.name, p.park_id, func.sum(land.land_mu).label("land_mu"))
         .select_from(RESULTS.join(LAND, and_(land.run_id == r.run_id, land.enterprise_id == r.enterprise_id))
                      .join(PARCELS, PARCELS.c.id == land.parcel_id))
         .where(r.run_id == run.id, r.class_code == "D", p.park_id.isnot(None), p.retired_at.is_(None))
         .group_by(r.enterprise_id, r.name, p.park_id).order_by(p.park_id, r.name))
    if scope == "park":
        q = q.where(p.park_id.in_(sorted(principal.parks)))
    return [{**row._mapping, "run_id": run.id, "year": run.year} for row in conn.execute(q)]
