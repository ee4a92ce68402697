"""The 宗地图 of a document: the parcel, its neighbours and its corner coordinates, as data.

A document's map must read the same years after it was issued, so :func:`map_snapshot`
takes the geometry out of PostGIS once, transforms it to the issuing office's
Gauss-Krüger zone (CGCS2000 3°, X = northing, Y = easting as printed in Chinese registries)
and the snapshot is stored with the document. :func:`layout` turns a snapshot into plain
drawing primitives in millimetres (polygons, lines, texts) that the PDF renderer draws as
vectors and the DOCX renderer rasterises: one layout, two outputs that agree. Nothing is
fetched from a tile server: the map is drawn on a plain background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pyproj import Transformer
from shapely import wkb
from shapely.geometry import Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from hggis.db.models import Parcel, table_of

NEIGHBOUR_DISTANCE_M = 50.0  # neighbours drawn and labelled: live parcels within this distance
MAX_CORNERS = 60  # corners listed in the table; the rest are in the 界址点成果表
NICE_SCALES = (500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000)
_TRANSFORMERS: dict[int, Transformer] = {}


def _transformer(epsg: int) -> Transformer:
    if epsg not in _TRANSFORMERS:
        _TRANSFORMERS[epsg] = Transformer.from_crs(4490, epsg, always_xy=True)
    return _TRANSFORMERS[epsg]


def _rings(geom: BaseGeometry, epsg: int) -> list[list[list[float]]]:
    """Exterior and interior rings of every polygon, as [east, north] in the zone (0.01 m)."""
    t = _transformer(epsg)
    polys = list(getattr(geom, "geoms", [geom]))
    out = []
    for poly in polys:
        if not isinstance(poly, Polygon):
            continue
        for ring in (poly.exterior, *poly.interiors):
            xs, ys = t.transform([c[0] for c in ring.coords], [c[1] for c in ring.coords])
            out.append([[round(x, 2), round(y, 2)] for x, y in zip(xs, ys, strict=True)])
    return out


def corners(geom: BaseGeometry, epsg: int) -> list[dict[str, Any]]:
    """界址点 J1, J2 … of the largest polygon's outer ring, clockwise from the north-west corner."""
    t = _transformer(epsg)
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)]
    poly = orient(max(polys, key=lambda g: g.area), sign=-1.0)  # clockwise exterior
    ring = poly.exterior.coords[:-1]
    xs, ys = t.transform([c[0] for c in ring], [c[1] for c in ring])
    pts = list(zip(xs, ys, strict=True))
    start = max(range(len(pts)), key=lambda i: pts[i][1] - pts[i][0])  # north-west-most
    ordered = pts[start:] + pts[:start]
    return [{"name": f"J{i + 1}", "x": round(n, 3), "y": round(e, 3)} for i, (e, n) in enumerate(ordered)]


def map_snapshot(conn: Connection, parcel_id: int, epsg: int) -> dict[str, Any]:
    """The parcel, its live neighbours within NEIGHBOUR_DISTANCE_M and its corners, in ``epsg``."""
    p = table_of(Parcel)
    n = p.alias("n")
    row = conn.execute(
        select(p.c.code, func.ST_AsBinary(p.c.geom).label("wkb"), p.c.area_mu).where(p.c.id == parcel_id)
    ).one()
    geom = wkb.loads(bytes(row.wkb))
    neighbours = conn.execute(
        select(n.c.code, func.ST_AsBinary(n.c.geom).label("wkb"))
        .select_from(p.join(n, func.ST_DWithin(func.geography(p.c.geom), func.geography(n.c.geom),
                                               NEIGHBOUR_DISTANCE_M)))
        .where(p.c.id == parcel_id, n.c.id != parcel_id, n.c.retired_at.is_(None))
        .order_by(n.c.code)
    ).all()
    zone = epsg_zone(epsg)
    return {
        "epsg": epsg,
        "zone": zone,
        "code": row.code,
        "area_mu": round(float(row.area_mu), 4),
        "rings": _rings(geom, epsg),
        "corners": corners(geom, epsg),
        "neighbours": [{"code": r.code, "rings": _rings(wkb.loads(bytes(r.wkb)), epsg)} for r in neighbours],
    }


def epsg_zone(epsg: int) -> int:
    return {4526: 38, 4547: 38, 4527: 39, 4548: 39}[epsg]


# ---- layout: primitives in millimetres, origin at the lower left of the map frame ------


@dataclass
class Shape:
    points: list[tuple[float, float]]
    closed: bool = True
    fill: tuple[int, int, int] | None = None
    stroke: tuple[int, int, int] = (0, 0, 0)
    width: float = 0.3  # mm


@dataclass
class Label:
    text: str
    x: float
    y: float
    size: float = 2.8  # em size in mm
    anchor: str = "middle"  # start | middle | end
    color: tuple[int, int, int] = (0, 0, 0)


@dataclass
class Drawing:
    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    scale: int = 0


def _nice_scale(need: float) -> int:
    """The smallest round scale denominator at least ``need``."""
    return next((s for s in NICE_SCALES if s >= need), math.ceil(need / 10000.0) * 10000)


def _bar_length(scale: int, max_mm: float) -> float:
    """Longest round length (1, 2, 5 × 10^k m) whose bar fits in ``max_mm``."""
    best = 1.0
    for k in range(0, 6):
        for m in (1, 2, 5):
            metres = m * 10.0**k
            if metres * 1000.0 / scale <= max_mm:
                best = metres
    return best


def layout(snapshot: dict[str, Any], width: float = 160.0, height: float = 110.0) -> Drawing:
    """Fit the parcel (with a margin for its neighbours) at a round scale; add the map furniture."""
    parcel = [Polygon(r) for r in snapshot["rings"][:1]] or [Polygon()]
    minx, miny, maxx, maxy = parcel[0].bounds
    for ring in snapshot["rings"][1:]:
        bx = Polygon(ring).bounds
        minx, miny, maxx, maxy = min(minx, bx[0]), min(miny, bx[1]), max(maxx, bx[2]), max(maxy, bx[3])
    # the parcel takes at most 60 % of the frame either way, leaving room for its neighbours
    scale = _nice_scale(max((maxx - minx) * 1000.0 / (0.6 * width), (maxy - miny) * 1000.0 / (0.6 * height), 1.0))
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    k = 1000.0 / scale  # mm per metre
    frame_w, frame_h = width / k, height / k
    view = box(cx - frame_w / 2, cy - frame_h / 2, cx + frame_w / 2, cy + frame_h / 2)

    def to_mm(x: float, y: float) -> tuple[float, float]:
        return round((x - view.bounds[0]) * k, 2), round((y - view.bounds[1]) * k, 2)

    d = Drawing(width, height, scale=scale)
    d.shapes.append(Shape([(0, 0), (width, 0), (width, height), (0, height)], fill=(255, 255, 255), width=0.4))
    for nb in snapshot["neighbours"]:
        for ring in nb["rings"]:
            clipped = Polygon(ring).intersection(view)
            for g in getattr(clipped, "geoms", [clipped]):
                if isinstance(g, Polygon) and not g.is_empty:
                    d.shapes.append(Shape([to_mm(*c) for c in g.exterior.coords], fill=(236, 236, 236),
                                          stroke=(120, 120, 120), width=0.2))
        label_at = shape({"type": "Polygon", "coordinates": nb["rings"][:1]}).intersection(view)
        if not label_at.is_empty:
            pt = label_at.representative_point()
            d.labels.append(Label(nb["code"], *to_mm(pt.x, pt.y), size=2.0, color=(90, 90, 90)))
    for ring in snapshot["rings"]:
        d.shapes.append(Shape([to_mm(*c) for c in ring], fill=(255, 236, 200), stroke=(200, 0, 0), width=0.5))
    centre = Polygon(snapshot["rings"][0]).representative_point()
    d.labels.append(Label(snapshot["code"], *to_mm(centre.x, centre.y), size=3.0, color=(160, 0, 0)))
    d.labels.append(Label(f"{snapshot['area_mu']:.2f}亩", to_mm(centre.x, centre.y)[0],
                          to_mm(centre.x, centre.y)[1] - 4.2, size=2.6, color=(160, 0, 0)))
    step = max(1, math.ceil(len(snapshot["corners"]) / 24))  # label at most ~24 corners on the map
    for i, c in enumerate(snapshot["corners"]):
        x, y = to_mm(c["y"], c["x"])
        d.shapes.append(Shape([(x - 0.5, y - 0.5), (x + 0.5, y - 0.5), (x + 0.5, y + 0.5), (x - 0.5, y + 0.5)],
                              fill=(200, 0, 0), stroke=(200, 0, 0), width=0.1))
        if i % step == 0:
            d.labels.append(Label(c["name"], x + 1.2, y + 1.0, size=2.2, anchor="start", color=(200, 0, 0)))
    _north_arrow(d, width - 10, height - 18)
    _scale_bar(d, scale, 6, 6, width * 0.3)
    d.labels.append(Label(f"比例尺 1:{scale}", width - 4, 4, size=2.6, anchor="end"))
    d.labels.append(Label(f"CGCS2000 3°带 第{snapshot['zone']}带（EPSG:{snapshot['epsg']}）", 4, height - 5,
                          size=2.4, anchor="start"))
    return d


def _north_arrow(d: Drawing, x: float, y: float) -> None:
    d.shapes.append(Shape([(x, y + 10), (x - 3, y), (x, y + 2.5)], fill=(0, 0, 0), width=0.2))
    d.shapes.append(Shape([(x, y + 10), (x + 3, y), (x, y + 2.5)], fill=(255, 255, 255), width=0.2))
    d.labels.append(Label("北", x, y + 11.5, size=3.2))


def _scale_bar(d: Drawing, scale: int, x: float, y: float, max_mm: float) -> None:
    metres = _bar_length(scale, max_mm)
    length = metres * 1000.0 / scale
    half = length / 2
    d.shapes.append(Shape([(x, y), (x + half, y), (x + half, y + 1.5), (x, y + 1.5)], fill=(0, 0, 0), width=0.2))
    d.shapes.append(Shape([(x + half, y), (x + length, y), (x + length, y + 1.5), (x + half, y + 1.5)],
                          fill=(255, 255, 255), width=0.2))
    text = f"{metres:g} 米"
    d.labels.append(Label("0", x, y + 2.5, size=2.2))
    d.labels.append(Label(text, x + length, y + 2.5, size=2.2))
