"""Coordinate reference systems of the OGC API (Part 2: CRS by reference).

Storage is CGCS2000 (EPSG:4490). Responses may be asked for in CRS84, EPSG:4490 or one of
the four CGCS2000 3-degree Gauss-Krüger codes that 黄冈's survey data uses.

Axis order follows the CRS definition, as OGC API – Features Part 2 requires: CRS84 is
longitude, latitude; EPSG:4490 is latitude, longitude; EPSG:4547/4548/4526/4527 are
northing (X), easting (Y). The same order applies to ``bbox`` values given with
``bbox-crs``. PostGIS always works in x = east, y = north, so coordinates of the
north-first systems are flipped on the way out and swapped on the way in.

CRS84 output carries the stored CGCS2000 numbers unchanged: PROJ treats CGCS2000 ↔ WGS 84
as a null transformation (the real difference is centimetres to decimetres), as does the
GeoJSON layer of hggis.features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hggis.ogc.errors import invalid

EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
STORAGE_SRID = 4490


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int  # PostGIS SRID of the coordinates (4490 for CRS84 too: same numbers)
    title: str
    north_first: bool  # first axis points north (EPSG definition)
    geographic: bool
    decimals: int  # 7 decimals of a degree ≈ 1 cm; 3 decimals of a metre = 1 mm
    bounds: tuple[float, float, float, float]  # where a bbox may lie (east-first), so PROJ never fails

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header value: the URI in angle brackets."""
        return f"<{self.uri}>"


WORLD = (-180.0, -90.0, 180.0, 90.0)
# Gauss-Krüger: easting 500 km ± 500 km around the central meridian, northing 0–6500 km
# (equator to 58°N): a generous frame around China in which the projection is well defined.
GK = (0.0, 0.0, 1_000_000.0, 6_500_000.0)


def _zone(zone: int) -> tuple[float, float, float, float]:
    return (GK[0] + zone * 1_000_000, GK[1], GK[2] + zone * 1_000_000, GK[3])


CRS84 = Crs(CRS84_URI, STORAGE_SRID, "WGS 84 经纬度（经度在前，与 CGCS2000 数值相同）", False, True, 7, WORLD)
SUPPORTED: tuple[Crs, ...] = (
    CRS84,
    Crs(EPSG_URI.format(code=4490), 4490, "CGCS2000 地理坐标（纬度在前）", True, True, 7, WORLD),
    Crs(EPSG_URI.format(code=4547), 4547, "CGCS2000 3度带 中央经线 114°E（无带号，X北 Y东）", True, False, 3, GK),
    Crs(EPSG_URI.format(code=4548), 4548, "CGCS2000 3度带 中央经线 117°E（无带号，X北 Y东）", True, False, 3, GK),
    Crs(EPSG_URI.format(code=4526), 4526, "CGCS2000 3度带 第38带（带号，X北 Y东）", True, False, 3, _zone(38)),
    Crs(EPSG_URI.format(code=4527), 4527, "CGCS2000 3度带 第39带（带号，X北 Y东）", True, False, 3, _zone(39)),
)
BY_URI: dict[str, Crs] = {c.uri: c for c in SUPPORTED}
STORAGE_CRS = BY_URI[EPSG_URI.format(code=STORAGE_SRID)]
SUPPORTED_URIS: list[str] = [c.uri for c in SUPPORTED]


def parse_crs(value: str | None, parameter: str) -> Crs:
    """The CRS named by a ``crs``/``bbox-crs`` value (absent: CRS84); 400 for any other."""
    if value is None:
        return CRS84
    crs = BY_URI.get(value.strip())
    if crs is None:
        raise invalid(parameter, f"unsupported CRS {value!r}; supported: {', '.join(SUPPORTED_URIS)}")
    return crs


def geometry_json_sql(geom_sql: str, crs: Crs) -> str:
    """SQL of the GeoJSON geometry of ``geom_sql`` (stored in 4490) in ``crs``'s axis order."""
    expr = geom_sql if crs.srid == STORAGE_SRID else f"ST_Transform({geom_sql}, {crs.srid})"
    if crs.north_first:
        expr = f"ST_FlipCoordinates({expr})"
    # options 0: no "crs" member (the Content-Crs header says it) and no per-geometry bbox
    return f"ST_AsGeoJSON({expr}, {crs.decimals}, 0)::json"


BBox = tuple[float, float, float, float]  # min x (east), min y (north), max x, max y in the CRS's SRID


def parse_bbox(value: str | None, crs: Crs) -> BBox | None:
    """``bbox`` as lower and upper corner in ``crs``'s axis order, returned east-first.

    Six numbers (with heights) are accepted; heights are ignored.
    """
    if value is None:
        return None
    try:
        numbers = [float(p) for p in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise invalid("bbox", "four numbers are required: lower corner, upper corner (comma separated)")
    lower, upper = (numbers[0:2], numbers[2:4]) if len(numbers) == 4 else (numbers[0:2], numbers[3:5])
    if crs.north_first:
        lower, upper = lower[::-1], upper[::-1]
    minx, miny = lower
    maxx, maxy = upper
    if minx > maxx or miny > maxy:
        raise invalid("bbox", "the lower corner must not exceed the upper corner (axis order of bbox-crs)")
    x0, y0, x1, y1 = crs.bounds
    if not (x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1):
        if crs.geographic:
            raise invalid("bbox", "longitude must lie in [-180, 180] and latitude in [-90, 90]")
        raise invalid(
            "bbox",
            f"outside the area where {crs.uri} is defined here: easting {x0:.0f}–{x1:.0f} m, "
            f"northing {y0:.0f}–{y1:.0f} m (axis order northing, easting; are the axes swapped?)",
        )
    return minx, miny, maxx, maxy


def envelope_sql(crs: Crs) -> str:
    """SQL of the ``bbox`` (params :bx0 :by0 :bx1 :by1, east-first) as a 4490 polygon.

    A projected box is densified before the transformation, so its curved edges in
    longitude/latitude are followed to better than 1/32 of its size.
    """
    box = f"ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, {crs.srid})"
    if crs.srid == STORAGE_SRID:
        return box
    return (
        f"ST_Transform(ST_Segmentize({box}, GREATEST(:bx1 - :bx0, :by1 - :by0, 1.0) / 32.0), {STORAGE_SRID})"
    )


def bbox_params(bbox: BBox) -> dict[str, float]:
    return dict(zip(("bx0", "by0", "bx1", "by1"), bbox, strict=True))
