"""Runs of the park land-intensity evaluation: atomic, kept forever, read within the caller's scope.

A run reads every park's sums (hggis.intensity.inputs), scores them (score.py), ranks the
parks by score (equal scores share the better rank) and writes the run row and one result
per park in one transaction; a failure leaves nothing. The newest run of a year is the
year's figure; older runs stay addressable by id (the history of the evaluation).

Running is for city administrators (``evaluation``/``run``); reading follows the
``evaluation``/``read`` scope: park managers their parks, county officers their counties.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, authorize, grant
from hggis.db.models import DatasetMeta, table_of
from hggis.db.session import transaction
from hggis.errors import Forbidden, Invalid, NotFound
from hggis.intensity.inputs import read_park_sums
from hggis.intensity.model import IntensityModel, model_for_year
from hggis.intensity.score import score_park
from hggis.intensity.tables import IntensityResult, IntensityRun

RUNS = table_of(IntensityRun)
RESULTS = table_of(IntensityResult)
MODELS = table_of(IntensityModel)


class IntensityRunNotFound(NotFound):
    """No such run (or no run of the year yet)."""


class IntensityRunRefused(Invalid):
    """A run that cannot be done, with the reason."""


@dataclass
class RunSummary:
    run_id: int
    year: int
    model_id: int
    model_name: str
    n_parks: int
    duration_ms: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def rank(scores: list[float | None]) -> list[int | None]:
    """Competition ranking, best first; equal scores share the better rank."""
    ordered = sorted((s for s in scores if s is not None), reverse=True)
    first: dict[float, int] = {}
    for i, s in enumerate(ordered, start=1):
        first.setdefault(s, i)
    return [first[s] if s is not None else None for s in scores]


def run_intensity(engine: Engine, principal: Principal, year: int, model_id: int | None = None,
                  reason: str | None = None) -> RunSummary:
    """Evaluate every park for ``year`` in one transaction; what was stored."""
    authorize(principal, "evaluation", "run")
    if not 1990 <= year <= 2100:
        raise IntensityRunRefused(f"year {year}: between 1990 and 2100", field="year")
    started = time.perf_counter()
    with transaction(engine, principal.actor, reason or f"开发区土地集约利用评价 {year}") as conn:
        mid, name, params = model_for_year(conn, year, model_id)
        sums = read_park_sums(conn, params, year)
        if not sums:
            raise IntensityRunRefused("no park is registered yet: nothing to evaluate", field="year")
        scored = [score_park(s, params) for s in sums]
        ranks = rank([sc.score if s.parcels else None for s, sc in zip(sums, scored, strict=True)])
        is_demo = conn.execute(select(exists().where(DatasetMeta.__table__.c.key == "demo"))).scalar_one()
        run_id = conn.execute(insert(RUNS).values(year=year, model_id=mid, actor=principal.actor, reason=reason,
                                                  n_parks=len(sums), is_demo=is_demo).returning(RUNS.c.id)).scalar_one()
        conn.execute(insert(RESULTS), [
            {"run_id": run_id, "park_id": s.park_id, "name": s.name, "adcode": s.adcode, "level": s.level,
             "inputs": {**s.as_dict(), "outline_unregistered_mu": s.outline_unregistered_mu},
             "indicators": sc.indicators, "score": sc.score if s.parcels else None, "rank": r,
             "potentials": sc.potentials}
            for s, sc, r in zip(sums, scored, ranks, strict=True)
        ])
        duration = int((time.perf_counter() - started) * 1000)
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(duration_ms=duration))
    return RunSummary(run_id=run_id, year=year, model_id=mid, model_name=name, n_parks=len(sums),
                      duration_ms=int((time.perf_counter() - started) * 1000))


def authorize_read(principal: Principal) -> str:
    scope = grant(principal, "evaluation", "read")
    if scope is None or scope == "public":
        raise Forbidden(f"role {principal.role} may not read the park land-intensity evaluation")
    return scope


def _run_query():  # noqa: ANN202 - a Select over runs with the model name
    r, m = RUNS.c, MODELS.c
    return (select(r.id, r.year, r.model_id, m.name.label("model_name"), r.actor, r.reason, r.created_at,
                   r.duration_ms, r.n_parks, r.is_demo)
            .select_from(RUNS.join(MODELS, MODELS.c.id == r.model_id)))


def _run_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["created_at"] = d["created_at"].isoformat()
    return d


def list_runs(conn: Connection, principal: Principal, year: int | None = None) -> list[dict[str, Any]]:
    """Runs, newest first (metadata only: visible to every role that reads evaluations)."""
    authorize_read(principal)
    q = _run_query().order_by(RUNS.c.id.desc())
    if year is not None:
        q = q.where(RUNS.c.year == year)
    return [_run_dict(r) for r in conn.execute(q)]


def get_run(conn: Connection, principal: Principal, run_id: int | None = None,
            year: int | None = None) -> dict[str, Any]:
    """A run by id, else the newest of ``year``, else the newest run."""
    authorize_read(principal)
    q = _run_query()
    if run_id is not None:
        q = q.where(RUNS.c.id == run_id)
    elif year is not None:
        q = q.where(RUNS.c.year == year).order_by(RUNS.c.id.desc()).limit(1)
    else:
        q = q.order_by(RUNS.c.id.desc()).limit(1)
    row = conn.execute(q).first()
    if row is None:
        what = f"run {run_id}" if run_id is not None else (f"a run of {year}" if year is not None else "a run")
        raise IntensityRunNotFound(f"no park land-intensity evaluation: {what} does not exist", field="run_id")
    return _run_dict(row)


def read_results(conn: Connection, principal: Principal, run_id: int) -> list[dict[str, Any]]:
    """The parks of a run inside the caller's scope, best rank first."""
    scope = authorize_read(principal)
    c = RESULTS.c
    q = select(RESULTS).where(c.run_id == run_id).order_by(c.rank.asc().nulls_last(), c.park_id)
    if scope == "county":
        q = q.where(c.adcode.in_(sorted(principal.counties)))
    elif scope == "park":
        q = q.where(c.park_id.in_(sorted(principal.parks)))
    return [dict(r._mapping) for r in conn.execute(q)]


def run_years(conn: Connection) -> list[int]:
    return list(conn.execute(select(RUNS.c.year).distinct().order_by(RUNS.c.year)).scalars())


def count_runs(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(RUNS)).scalar_one()
