"""Synthetic constraint and reference layers for the demo data set (示例数据, not real red lines).

Built from the demo data already written in the same transaction, so they are as
reproducible as the seed:

- 生态保护红线（示例）: a round lobe over the east side of the largest contiguous reserve
  block in the city, so the site finder has a red line to cut out of a real candidate;
- 永久基本农田（示例）: a farmland belt 40–400 m outside the north side of the first four
  parks (by id), where farmland usually presses on a park;
- 洪涝区（示例）: a 500 m band along the Yangtze line below;
- 长江（示意）(河流) and 沿江港口（示意）(港口): reference layers to measure distances to. The
  river line and port points are rough hand-placed positions of the real ones.

Call :func:`add_demo_constraints` inside the loader's transaction after the parcels exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Point
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.geo import CGCS2000_EPSG
from hggis.reserves.common import gk_srid_sql
from hggis.reserves.constraints import import_layer_frame
from hggis.reserves.contiguity import components_sql, tolerance_m

DEMO_NOTE = "示例数据：合成约束层，非真实划定成果"
LOADER = Principal(username="hggis demo load", role="city_admin")

# Rough course of the Yangtze along 黄冈's southern edge (团风 → 黄州 → 兰溪 → 蕲州 → 武穴 → 小池).
YANGTZE = (
    (114.80, 30.70), (114.86, 30.55), (114.90, 30.45), (114.98, 30.38), (115.06, 30.29),
    (115.20, 30.18), (115.33, 30.07), (115.45, 29.95), (115.56, 29.85), (115.75, 29.79), (115.98, 29.73),
)
PORTS = (
    ("黄州港（唐家渡，示意）", 114.905, 30.440),
    ("浠水兰溪港（示意）", 115.050, 30.300),
    ("蕲州港（示意）", 115.330, 30.070),
    ("武穴港（示意）", 115.560, 29.850),
    ("黄梅小池港（示意）", 115.970, 29.740),
)


def _frame(geoms: list[Any], props: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(props, geometry=geoms, crs=CGCS2000_EPSG)


def _red_line(conn: Connection) -> Any | None:
    """A lobe over the east side of the largest contiguous reserve block (None: no reserve)."""
    reserve = "SELECT id, adcode, geom, area_mu FROM parcels WHERE status = 'reserve' AND retired_at IS NULL"
    row = conn.execute(
        text(
            f"""
            WITH b AS (SELECT * FROM ({components_sql(reserve)}) c),
            biggest AS (
                SELECT adcode, cid, min(gk_srid) AS srid, sum(area_mu) AS mu, min(id) AS first_id
                FROM b GROUP BY adcode, cid ORDER BY mu DESC, first_id LIMIT 1
            ),
            env AS (
                SELECT g.srid, ST_Envelope(ST_Collect(ST_Transform(b.geom, g.srid))) AS e
                FROM b JOIN biggest g USING (adcode, cid) GROUP BY g.srid
            )
            SELECT ST_AsBinary(ST_Transform(ST_Buffer(
                       ST_SetSRID(ST_MakePoint(ST_XMax(e), (ST_YMin(e) + ST_YMax(e)) / 2), srid),
                       0.35 * greatest(ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e)), 32), 4490)) AS wkb
            FROM env
            """
        ).bindparams(tol=tolerance_m(conn)),
    ).first()
    if row is None or row.wkb is None:
        return None
    return shapely.from_wkb(bytes(row.wkb))


def _farmland(conn: Connection) -> list[Any]:
    srid = gk_srid_sql("ST_X(ST_Centroid(k.boundary))")
    rows = conn.execute(
        text(
            f"""
            WITH k AS (
                SELECT k.id, ST_Transform(k.boundary, {srid}) AS tb, {srid} AS srid
                FROM parks k WHERE k.boundary IS NOT NULL ORDER BY k.id LIMIT 4
            )
            SELECT ST_AsBinary(ST_Transform(ST_MakeValid(ST_Intersection(
                       ST_Difference(ST_Buffer(tb, 400), ST_Buffer(tb, 40)),
                       ST_MakeEnvelope(ST_XMin(tb) - 400, ST_Y(ST_Centroid(tb)) + 0.3 * (ST_YMax(tb) - ST_YMin(tb)),
                                       ST_XMax(tb) + 400, ST_YMax(tb) + 400, srid))), 4490)) AS wkb
            FROM k ORDER BY id
            """
        )
    ).all()
    return [shapely.from_wkb(bytes(r.wkb)) for r in rows if r.wkb is not None]


def add_demo_constraints(conn: Connection, say: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the demo's synthetic layers (in the caller's transaction); returns features per layer."""
    say = say or (lambda _m: None)
    say("writing synthetic constraint and reference layers")
    written: dict[str, int] = {}
    river = LineString(YANGTZE)
    layers: list[tuple[str, str, gpd.GeoDataFrame]] = []
    red = _red_line(conn)
    if red is not None:
        layers.append(("生态保护红线（示例）", "生态保护红线", _frame([red], [{"名称": "示例生态保护红线", "说明": DEMO_NOTE}])))
    farmland = _farmland(conn)
    if farmland:
        layers.append((
            "永久基本农田（示例）", "永久基本农田",
            _frame(farmland, [{"图斑": f"示例农田{i + 1}", "说明": DEMO_NOTE} for i in range(len(farmland))]),
        ))
    flood = conn.execute(
        text("SELECT ST_AsBinary(ST_Buffer(ST_GeomFromText(:w, 4490)::geography, 500)::geometry)"), {"w": river.wkt}
    ).scalar_one()
    layers.append(("洪涝区（示例）", "洪涝区", _frame([shapely.from_wkb(bytes(flood))], [{"名称": "沿江洪涝风险带（示例）", "说明": DEMO_NOTE}])))
    layers.append(("长江（示意）", "河流", _frame([river], [{"名称": "长江", "说明": "示意走向，非测绘成果"}])))
    layers.append((
        "沿江港口（示意）", "港口",
        _frame([Point(lon, lat) for _, lon, lat in PORTS], [{"名称": n, "说明": "示意位置"} for n, _, _ in PORTS]),
    ))
    for name, kind, frame in layers:
        result = import_layer_frame(conn, LOADER, frame, name=name, kind=kind, source_name="hggis.demo.constraints",
                                    source_crs="EPSG:4490", note=DEMO_NOTE)
        written[name] = result.features
    return written
