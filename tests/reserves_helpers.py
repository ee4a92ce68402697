"""Builders for reserves and site-finder tests: parcels laid out in metres, constraint layers.

Shapes are drawn in the Gauss-Krüger plane EPSG:4547 (the one the finder measures
adjacency in) and stored in EPSG:4490, so a gap of 0.3 m or 1 m between two boxes is that
gap in the finder's plane, up to sub-millimetre curvature.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
from pyproj import Geod, Transformer
from shapely.geometry import Point, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.geo import M2_PER_MU, to_cgcs2000
from hggis.parcels import ParcelInput, create_parcel
from hggis.reserves.constraints import ImportResult, import_layer_frame

# Origins (GK EPSG:4547 metres) well inside a county, by adcode.
_FWD = Transformer.from_crs(4490, 4547, always_xy=True)
ORIGINS = {
    "421102": _FWD.transform(114.88, 30.45),  # 黄州
    "421181": _FWD.transform(115.03, 31.17),  # 麻城
    "421182": _FWD.transform(115.50, 29.93),  # 武穴 (west of 115.5°E: still zone 38)
}
ADMIN = Principal(username="test-admin", role="city_admin")
_serials = itertools.count(1)
_GEOD = Geod(ellps="GRS80")


def gk_box(x: float, y: float, w: float, h: float, adcode: str = "421102") -> BaseGeometry:
    """A w × h metre box whose south-west corner is (x, y) metres from the county's origin."""
    ox, oy = ORIGINS[adcode]
    return to_cgcs2000(box(ox + x, oy + y, ox + x + w, oy + y + h), "EPSG:4547")


def gk_point(x: float, y: float, adcode: str = "421102") -> tuple[float, float]:
    ox, oy = ORIGINS[adcode]
    p = to_cgcs2000(Point(ox + x, oy + y), "EPSG:4547")
    return p.x, p.y


def hand_mu(geom: BaseGeometry) -> float:
    """Ellipsoidal area in 亩 computed outside the database (the 'hand sum')."""
    area, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(area) / M2_PER_MU


def code_for(adcode: str, serial: int | None = None) -> str:
    return f"{adcode}001001GB{serial if serial is not None else next(_serials):05d}"


def add(conn: Connection, geom: BaseGeometry, status: str = "reserve", adcode: str = "421102", **kw) -> str:  # noqa: ANN003
    code = code_for(adcode)
    create_parcel(conn, ParcelInput(code=code, geometry=geom, status=status, **kw))
    return code


def add_layer(
    conn: Connection, geoms: list[BaseGeometry], name: str, kind: str = "生态保护红线", role: str | None = None,
    principal: Principal = ADMIN, adcode: str | None = None,
) -> ImportResult:
    frame = gpd.GeoDataFrame({"名称": [f"{name}{i}" for i in range(len(geoms))]}, geometry=geoms, crs=4490)
    return import_layer_frame(conn, principal, frame, name=name, kind=kind, role=role, adcode=adcode)


def set_slope(conn: Connection, code: str, mean: float, maximum: float) -> None:
    """Terrain statistics for a parcel, as hggis.terrain stores them (current geometry)."""
    dem_id = conn.execute(text("SELECT id FROM dems WHERE name = 'test-dem'")).scalar_one_or_none()
    if dem_id is None:
        dem_id = conn.execute(
            text(
                """
                INSERT INTO dems (name, source_name, source_path, source_bytes, checksum_sha256, crs, crs_kind,
                                  crs_from_file, width, height, res_x, res_y, pixel_size_m, bounds, valid_fraction,
                                  slope_path, imported_by)
                VALUES ('test-dem', 'test.tif', '/dev/null', 0, repeat('0', 64), 'EPSG:4547', 'projected', true,
                        1, 1, 10, 10, 10, ST_MakeEnvelope(114, 29, 117, 32, 4490), 1, '/dev/null', 'test')
                RETURNING id
                """
            )
        ).scalar_one()
    conn.execute(
        text(
            """
            INSERT INTO parcel_terrain (parcel_id, terrain_dem_id, mean_slope_deg, max_slope_deg, mean_elevation_m,
                                        terrain_coverage, cells, valid_cells, method, geom_md5)
            SELECT id, :dem, :mean, :max, 30, 1, 100, 100, 'cells', md5(ST_AsEWKB(geom)) FROM parcels WHERE code = :c
            """
        ),
        {"dem": dem_id, "mean": mean, "max": maximum, "c": code},
    )
