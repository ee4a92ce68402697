"""What the 开发区土地集约利用评价 map shows: park outlines coloured by their intensity score, per run.

The park figures come from the stored run (hggis.intensity.runs), filtered to the caller's
scope; only the outlines are read live (parks without a boundary are listed in the
legend's count but cannot be drawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.db.models import Park
from hggis.intensity.runs import IntensityRunNotFound, authorize_read, get_run, read_results, run_years
from hggis.mapdata.common import DISPLAY_DECIMALS, feature_collection

#: score classes of the map (集约度分值, 0–100): lower bounds, labels
SCORE_BREAKS = [40.0, 60.0, 80.0]
SCORE_LABELS = ["< 40 低度集约", "40 – 60 中度集约", "60 – 80 较高集约", "≥ 80 高度集约"]


@dataclass
class IntensityMapData:
    years: list[int]
    year: int | None
    run: dict[str, Any] | None
    parks: dict[str, Any]
    n_results: int
    n_without_outline: int


def _features(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {r["park_id"]: r for r in rows}
    if not by_id:
        return {"type": "FeatureCollection", "features": []}
    k = Park.__table__.c
    fc = feature_collection(conn, select(func.ST_AsGeoJSON(k.boundary, DISPLAY_DECIMALS).cast(_json()).label("geometry"),
                                         func.jsonb_build_object("park_id", k.id).label("properties"))
                            .where(k.id.in_(sorted(by_id)), k.boundary.isnot(None)).order_by(k.id))
    for f in fc["features"]:
        r = by_id[f["properties"]["park_id"]]
        ind = {i["key"]: i for i in r["indicators"]}
        pot = r["potentials"]

        def shown(key: str, ind: dict[str, Any] = ind) -> float | None:
            i = ind.get(key)
            return None if i is None or i["value"] is None else round(i["value"] * i["scale"], 2)

        f["properties"] = {
            "park_id": r["park_id"], "name": r["name"], "score": r["score"], "rank": r["rank"],
            "supply_rate": shown("supply_rate"), "built_rate": shown("built_rate"),
            "industrial_far": shown("industrial_far"), "industrial_tax_per_mu": shown("industrial_tax_per_mu"),
            "expansion_mu": pot.get("expansion_mu"), "supply_years": pot.get("supply_years"),
        }
    return fc


def _json():  # noqa: ANN202 - the JSON type for the cast of ST_AsGeoJSON
    from sqlalchemy.dialects.postgresql import JSON

    return JSON()


def intensity_map(conn: Connection, principal: Principal, year: int | None = None) -> IntensityMapData:
    """The newest run of ``year`` (default: the newest run) drawn for the caller's parks."""
    authorize_read(principal)
    years = run_years(conn)
    try:
        run = get_run(conn, principal, None, year) if years else None
    except IntensityRunNotFound:
        run = None
    if run is None:
        return IntensityMapData(years, year, None, {"type": "FeatureCollection", "features": []}, 0, 0)
    rows = read_results(conn, principal, run["id"])
    fc = _features(conn, rows)
    return IntensityMapData(years, run["year"], run, fc, len(rows), len(rows) - len(fc["features"]))
