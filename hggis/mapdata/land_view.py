"""What the 招商地图 draws at a glance: the land on offer as clusters, its extent, a list beside the map.

A city-wide view of thousands of parcels a few hundred metres wide is a carpet of specks of
one colour. So the page asks the server for what each zoom can show:

- ``offer_summary``: count, area, the extent the map opens fitted to, and which suitable
  industries occur (the legend lists exactly these), in one scan;
- ``land_clusters``: the parcels of the view grouped on a screen-sized grid (``CLUSTER_PX``),
  each group with its count, area and the count per industry (drawn as a ring of those
  colours), below ``POLYGON_ZOOM``; from there the page draws the polygons from the vector
  tiles (hggis.tiles);
- ``land_list``: the parcels of the view, sorted by area, county or industry, for the list.

Everything here is the public view of land on offer (``LAYERS['parcels']``): code, area,
county, park, suitable industry. The filters are ``LandFilter``'s, validated by
``check_filter``, so the map, its list and its tiles always show the same land.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Float, cast, func, literal_column, select, text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant
from hggis.db.models import County, Industry, Parcel, Park
from hggis.geo import round_mu, round_mu_sql
from hggis.mapdata.common import MapRequestError
from hggis.mapdata.land import LAND, LandFilter, check_filter

#: From this zoom on the page draws parcel polygons (vector tiles); below it, clusters.
POLYGON_ZOOM = 13
#: The side of a cluster cell on screen, in pixels.
CLUSTER_PX = 72
#: Rows the list beside the map shows at most (the rest: "zoom in or filter").
LIST_MAX = 200
NO_INDUSTRY = ""

Sort = Literal["area", "county", "industry"]
SORTS: tuple[str, ...] = ("area", "county", "industry")

BBox = tuple[float, float, float, float]

#: the parcels as ``p``, the alias every land condition (LAYERS["parcels"].where, LandFilter.sql) uses
p = Parcel.__table__.alias("p")


def _allowed(principal: Principal) -> None:
    """Land on offer is published: any role that may read parcels at all sees the public view."""
    if grant(principal, "parcels", "read") is None:
        raise Forbidden(f"role {principal.role} may not read parcels")


def _where(conn: Connection, f: LandFilter, bbox: BBox | None = None) -> Any:
    """The land on offer matching ``f`` (and intersecting ``bbox``) as one SQL condition on ``p``."""
    check_filter(conn, f)
    cond, params = f.sql()
    clause = text(f"({LAND.where}) AND ({cond})").bindparams(**params)
    if bbox is None:
        return clause
    west, south, east, north = bbox
    box = func.ST_MakeEnvelope(west, south, east, north, 4490)
    return clause & p.c.geom.op("&&")(box)


def parse_bbox(raw: str | None) -> BBox | None:
    """``west,south,east,north`` in degrees (CGCS2000 ≈ WGS84), or None."""
    if not raw:
        return None
    try:
        west, south, east, north = (float(v) for v in raw.split(","))
    except ValueError:
        raise MapRequestError("bbox", "four numbers west,south,east,north (degrees)") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)) or west > east or south > north:
        raise MapRequestError("bbox", "west ≤ east and south ≤ north, finite degrees")
    return max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0)



@dataclass(frozen=True)
class OfferSummary:
    count: int
    area_mu: float
    bounds: list[list[float]] | None  # [[south, west], [north, east]] of the land, None when none
    industries: list[str]  # codes of the suitable industries that occur ("" = none given)


def offer_summary(conn: Connection, principal: Principal, f: LandFilter) -> OfferSummary:
    """Count, area, extent and industries of the land on offer matching ``f``, in one scan."""
    _allowed(principal)
    box = func.ST_Extent(p.c.geom)
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(p.c.area_mu), 0), func.ST_XMin(box), func.ST_YMin(box),
               func.ST_XMax(box), func.ST_YMax(box),
               func.array_agg(func.coalesce(p.c.intended_industry, NO_INDUSTRY).distinct()))
        .select_from(p).where(_where(conn, f))
    ).one()
    bounds = None if row[2] is None else [[row[3], row[2]], [row[5], row[4]]]
    return OfferSummary(int(row[0]), float(row[1]), bounds, sorted(row[6] or []))


def cluster_cell(zoom: int) -> float:
    """A cluster cell's side in degrees at ``zoom`` (``CLUSTER_PX`` of a 256-px Web Mercator tile)."""
    return 360.0 / (1 << max(0, min(zoom, 22))) * CLUSTER_PX / 256


def land_clusters(conn: Connection, principal: Principal, f: LandFilter, zoom: int,
                  bbox: BBox | None) -> list[dict[str, Any]]:
    """The view's land on offer grouped on a grid: centre, count, area, bounds and count per industry.

    The grid is fixed in degrees for the zoom (not the view), so panning does not move the
    groups. A parcel's position is the centre of its bounding box: cheap, and at the scale of a
    cluster indistinguishable from its centroid.
    """
    _allowed(principal)
    cell = cluster_cell(zoom)
    x = (func.ST_XMin(p.c.geom) + func.ST_XMax(p.c.geom)) / 2
    y = (func.ST_YMin(p.c.geom) + func.ST_YMax(p.c.geom)) / 2
    inner = (
        select(func.floor(x / cell).label("gx"), func.floor(y / cell).label("gy"), x.label("x"), y.label("y"),
               func.coalesce(p.c.intended_industry, NO_INDUSTRY).label("industry"), p.c.area_mu.label("area_mu"))
        .select_from(p).where(_where(conn, f, bbox)).subquery("q")
    )
    rows = conn.execute(
        select(inner.c.gx, inner.c.gy, inner.c.industry, func.count(), cast(func.sum(inner.c.area_mu), Float),
               func.sum(inner.c.x), func.sum(inner.c.y), func.min(inner.c.x), func.min(inner.c.y),
               func.max(inner.c.x), func.max(inner.c.y))
        .group_by(inner.c.gx, inner.c.gy, inner.c.industry)
    ).all()
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for gx, gy, industry, n, area, sx, sy, x0, y0, x1, y1 in rows:
        c = cells.setdefault((int(gx), int(gy)), {"count": 0, "area_mu": 0.0, "sx": 0.0, "sy": 0.0,
                                                  "bounds": [[y0, x0], [y1, x1]], "industries": {}})
        c["count"] += n
        c["area_mu"] += area or 0.0
        c["sx"] += sx
        c["sy"] += sy
        b = c["bounds"]
        c["bounds"] = [[min(b[0][0], y0), min(b[0][1], x0)], [max(b[1][0], y1), max(b[1][1], x1)]]
        c["industries"][industry] = c["industries"].get(industry, 0) + n
    out = []
    for c in cells.values():
        out.append({"lat": round(c["sy"] / c["count"], 6), "lon": round(c["sx"] / c["count"], 6),
                    "count": c["count"], "area_mu": round_mu(c["area_mu"]),
                    "bounds": [[round(v, 6) for v in corner] for corner in c["bounds"]],
                    "industries": dict(sorted(c["industries"].items(), key=lambda kv: (-kv[1], kv[0])))})
    out.sort(key=lambda c: (-c["count"], c["lat"], c["lon"]))
    return out


def land_list(conn: Connection, principal: Principal, f: LandFilter, bbox: BBox | None, sort: str = "area",
              descending: bool = True, limit: int = LIST_MAX) -> dict[str, Any]:
    """The view's land on offer for the list beside the map: public fields, centre, bounds, outline."""
    _allowed(principal)
    if sort not in SORTS:
        raise MapRequestError("sort", f"one of {', '.join(SORTS)}")
    where = _where(conn, f, bbox)
    total = conn.execute(select(func.count()).select_from(p).where(where)).scalar_one()
    c = County.__table__.alias("c")
    k = Park.__table__.alias("k")
    i = Industry.__table__.alias("i")
    area = p.c.area_mu.desc() if descending else p.c.area_mu.asc()
    order = {
        "area": [area, p.c.code],
        "county": [c.c.name.desc() if descending else c.c.name.asc(), p.c.area_mu.desc(), p.c.code],
        "industry": [(i.c.sort_order.desc() if descending else i.c.sort_order.asc()).nulls_last(),
                     p.c.area_mu.desc(), p.c.code],
    }[sort]
    box = func.Box2D(p.c.geom)
    query = (
        select(p.c.code, literal_column(round_mu_sql("p.area_mu")).label("area_mu"),
               c.c.name.label("county"), k.c.name.label("park"), i.c.name.label("intended_industry"),
               p.c.intended_industry.label("industry_code"),
               func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box),
               func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(p.c.geom, 0.00001), 6).label("outline"))
        .select_from(p.join(c, c.c.adcode == p.c.adcode).outerjoin(k, k.c.id == p.c.park_id)
                     .outerjoin(i, i.c.code == p.c.intended_industry))
        .where(where).order_by(*order).limit(min(limit, LIST_MAX))
    )
    rows = []
    for r in conn.execute(query):
        rows.append({
            "code": r.code, "area_mu": r.area_mu, "county": r.county, "park": r.park,
            "intended_industry": r.intended_industry, "industry_code": r.industry_code or NO_INDUSTRY,
            "bounds": [[r[7], r[6]], [r[9], r[8]]], "outline": json.loads(r.outline),
            "href": f"/parcels/{r.code}",
        })
    return {"total": total, "shown": len(rows), "sort": sort, "descending": descending, "rows": rows}
