"""亩均地图: parcels coloured by their evaluated unit's class, parks shaded by 亩均税收.

Restricted (``evaluation`` read: park managers their parks, county officers their
counties, city administrators all). Everything comes from the latest evaluation run of the
chosen year (hggis.evaluation): the park figures are the run's stored aggregates
(``read_aggregates``), and a parcel's class is the class of the unit that holds most of
its land in that run (``evaluation_land``: a lessee merged into its holder counts for the
holder). Parcels are inlined when few, otherwise drawn from the ``evaluation`` vector tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Subquery

from hggis.access.policy import Principal
from hggis.config import get_settings
from hggis.db.models import County, Parcel, Park, table_of
from hggis.evaluation.aggregates import read_aggregates
from hggis.evaluation.model import CLASS_LABELS
from hggis.evaluation.runs import authorize_read, get_run, result_scope
from hggis.evaluation.tables import EvaluationLand, EvaluationResult
from hggis.mapdata.common import DISPLAY_DECIMALS, MapRequestError, feature_collection
from hggis.tiles import TILE_LAYERS

PARCEL_FIELDS = TILE_LAYERS["evaluation"].fields


@dataclass
class EvaluationMapData:
    year: int | None
    years: list[int]
    run: dict[str, Any] | None
    parks: dict[str, Any]  # park outlines with the run's figures
    parcel_count: int
    parcels: dict[str, Any] | None  # inline FeatureCollection, or None (tiles)
    class_counts: dict[str, int]
    tax_breaks: list[float]


def run_years(conn: Connection) -> list[int]:
    return list(conn.execute(text("SELECT DISTINCT year FROM evaluation_runs ORDER BY year")).scalars())


def _park_features(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Outlines of the parks of ``rows`` with their figures (one query for all geometries)."""
    by_id = {r["park_id"]: r for r in rows if r["park_id"] is not None}
    if not by_id:
        return {"type": "FeatureCollection", "features": []}
    fc = feature_collection(
        conn,
        f"SELECT ST_AsGeoJSON(k.boundary, {DISPLAY_DECIMALS})::json AS geometry, jsonb_build_object('park_id', k.id) "
        "AS properties FROM parks k WHERE k.id = ANY(:ids) AND k.boundary IS NOT NULL ORDER BY k.id",
        {"ids": sorted(by_id)},
    )
    for f in fc["features"]:
        r = by_id[f["properties"]["park_id"]]
        counts = r.get("class_counts") or {}
        f["properties"] = {
            "park_id": r["park_id"], "name": r["name"], "rank": r["rank"],
            "tax_per_mu": r["industrial_tax_per_mu"] if r["industrial_tax_per_mu"] is not None else r["tax_per_mu"],
            "evaluated_tax_per_mu": r["tax_per_mu"],
            "n_evaluated": r["n_evaluated"], "evaluated_land_mu": round(r["evaluated_land_mu"] or 0, 1),
            "supply_rate": r["supply_rate"], "built_rate": r["built_rate"], "idle_mu": round(r["idle_mu"] or 0, 1),
            "classes": "、".join(f"{k} {v}" for k, v in sorted(_flat_counts(counts).items())),
        }
    return fc


def _flat_counts(counts: dict[str, Any]) -> dict[str, int]:
    """Class counts summed over size groups ({'above': {'A': 3}, …} or {'A': 3})."""
    out: dict[str, int] = {}
    for key, value in counts.items():
        if isinstance(value, dict):
            for k, v in value.items():
                out[k] = out.get(k, 0) + int(v)
        else:
            out[key] = out.get(key, 0) + int(value)
    return out


def quantile_breaks(values: list[float], n: int = 5) -> list[float]:
    """Up to n-1 class breaks (quantiles) for a choropleth, strictly increasing.

    Repeated quantiles are merged and a break at the minimum is dropped (it would open an
    empty class): few parks, or parks with equal figures, must not give a legend of
    "5.36 – 5.36" rows. One distinct value (a park manager's single park) gives no break:
    one class.
    """
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return []
    lowest = round(vals[0], 2)
    raw = [round(vals[min(len(vals) - 1, int(len(vals) * i / n))], 2) for i in range(1, n)]
    return sorted({b for b in raw if b > lowest})


def parcel_units(run_id: int) -> Subquery:
    """Each parcel of the run with its evaluated unit: the one holding most of its land.

    Read from the run's own land rows (one index range of evaluation_land), so the cost
    follows the run's size, not the number of parcels or of stored runs.
    """
    land = table_of(EvaluationLand)
    return (
        select(land.c.parcel_id, land.c.enterprise_id)
        .where(land.c.run_id == run_id)
        .distinct(land.c.parcel_id)
        .order_by(land.c.parcel_id, land.c.land_mu.desc(), land.c.enterprise_id)
        .subquery("u")
    )


def _unit_sources(run_id: int):  # noqa: ANN202 - (FROM clause, parcels alias) of the map's parcels
    """The run's parcels with their unit's result, county and park, aliased as the tile layer's fields expect."""
    units = parcel_units(run_id)
    r = EvaluationResult.__table__.alias("r")
    p = Parcel.__table__.alias("p")
    c = County.__table__.alias("c")
    k = Park.__table__.alias("k")
    source = (units.join(r, (r.c.run_id == run_id) & (r.c.enterprise_id == units.c.enterprise_id))
              .join(p, p.c.id == units.c.parcel_id).join(c, c.c.adcode == p.c.adcode)
              .outerjoin(k, k.c.id == p.c.park_id))
    return source, p, r


def _scoped(scope: str, params: dict[str, Any]) -> Any:
    return text(scope).bindparams(**params) if params else text(scope)


def inline_parcels(run_id: int, scope: str, params: dict[str, Any]) -> Select:
    """The map's parcels as (geometry, properties) rows, with the tile layer's fields."""
    source, p, _r = _unit_sources(run_id)
    props = "jsonb_build_object(" + ", ".join(f"'{k}', {v}" for k, v in PARCEL_FIELDS.items()) + ")"
    return (
        select(literal_column("ST_AsGeoJSON(p.geom, 7)::json").label("geometry"), literal_column(props).label("properties"))
        .select_from(source)
        .where(p.c.retired_at.is_(None), _scoped(scope, params))
        .order_by(p.c.code)
    )


def class_counts(conn: Connection, run_id: int, scope: str, params: dict[str, Any]) -> dict[str, int]:
    """Live parcels on the map per class of their unit ('-': not graded), within the caller's scope."""
    source, p, r = _unit_sources(run_id)
    klass = func.coalesce(r.c.class_code, "-")
    query = select(klass, func.count()).select_from(source).where(p.c.retired_at.is_(None), _scoped(scope, params)).group_by(klass)
    return {str(k): int(n) for k, n in conn.execute(query)}


def evaluation_map(conn: Connection, principal: Principal, year: int | None = None,
                   inline_max: int | None = None) -> EvaluationMapData:
    authorize_read(principal)
    years = run_years(conn)
    if year is None:
        year = years[-1] if years else None
    elif year not in years:
        raise MapRequestError("year", f"no evaluation run for {year}" + (f" (years: {', '.join(map(str, years))})" if years else ""))
    if year is None:
        empty = {"type": "FeatureCollection", "features": []}
        return EvaluationMapData(None, [], None, empty, 0, empty, {}, [])
    run_id = conn.execute(text("SELECT max(id) FROM evaluation_runs WHERE year = :y"), {"y": year}).scalar_one()
    run = get_run(conn, principal, run_id)
    parks = read_aggregates(conn, principal, run_id, "park")
    scope, params = result_scope(principal, "r")
    counts = class_counts(conn, run_id, scope, params)
    count = sum(counts.values())
    limit = get_settings().hggis_map_inline_max if inline_max is None else inline_max
    parcels = feature_collection(conn, inline_parcels(run_id, scope, params)) if count <= limit else None
    park_fc = _park_features(conn, parks)
    breaks = quantile_breaks([f["properties"]["tax_per_mu"] for f in park_fc["features"]])
    return EvaluationMapData(year, years, run, park_fc, count, parcels, counts, breaks)


CLASS_NAMES = {**CLASS_LABELS, "-": "未评价"}
