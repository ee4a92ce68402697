"""Synthetic DEMs with known answers, and parcels placed on them, for the terrain tests."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import Polygon
from sqlalchemy.engine import Connection

from hggis.parcels import ParcelInput, create_parcel
from tests.factories import parcel_code

PLANE_SLOPE_DEG = math.degrees(math.atan(0.1))  # 10 m per 100 m: 5.7106°
# 黄州 (parcels of tests.factories.add_parcel start at 114.88°E 30.45°N)
WEST, SOUTH, EAST, NORTH = 114.874, 30.444, 114.905, 30.462


def to_crs(epsg: int | str) -> Transformer:
    return Transformer.from_crs("EPSG:4490", epsg, always_xy=True)


def from_crs(epsg: int | str) -> Transformer:
    return Transformer.from_crs(epsg, "EPSG:4490", always_xy=True)


def projected_grid(epsg: int, res: float = 10.0, bounds4490=(WEST, SOUTH, EAST, NORTH)) -> tuple[Affine, int, int]:
    """A north-up grid in ``epsg`` covering the lon/lat box (snapped to whole pixels)."""
    t = to_crs(epsg)
    xs, ys = t.transform([bounds4490[0], bounds4490[2], bounds4490[0], bounds4490[2]],
                         [bounds4490[1], bounds4490[1], bounds4490[3], bounds4490[3]])
    left, right = math.floor(min(xs) / res) * res, math.ceil(max(xs) / res) * res
    bottom, top = math.floor(min(ys) / res) * res, math.ceil(max(ys) / res) * res
    return from_origin(left, top, res, res), int(round((top - bottom) / res)), int(round((right - left) / res))


def geographic_grid(res_deg: float = 0.0001, bounds4490=(WEST, SOUTH, EAST, NORTH)) -> tuple[Affine, int, int]:
    west, south, east, north = bounds4490
    w = int(math.ceil((east - west) / res_deg))
    h = int(math.ceil((north - south) / res_deg))
    return from_origin(west, north, res_deg, res_deg), h, w


def pixel_centres(transform: Affine, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return transform @ (cols, rows)


def write_dem(
    path: Path,
    z: np.ndarray,
    transform: Affine,
    crs: str | None = "EPSG:4547",
    nodata: float | None = -9999.0,
    dtype: str = "float32",
    tiled: bool = False,
) -> Path:
    profile = dict(driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype=dtype, transform=transform)
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
        z = np.where(np.isnan(z), nodata, z)
    if tiled:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(z.astype(dtype), 1)
    return path


Surface = Callable[[np.ndarray, np.ndarray], np.ndarray]


def dem_from_function(path: Path, epsg: int, f: Surface, res: float = 10.0, **kw) -> Path:
    """A DEM in ``epsg`` whose elevation at each pixel centre is ``f(x, y)`` (CRS coordinates)."""
    transform, h, w = projected_grid(epsg, res) if epsg not in (4490, 4326) else geographic_grid()
    x, y = pixel_centres(transform, h, w)
    return write_dem(path, f(x, y), transform, crs=f"EPSG:{epsg}", **kw)


def local_plane(lon0: float, lat0: float, gx: float = 0.06, gy: float = 0.08, base: float = 100.0) -> Surface:
    """A plane of gradient (gx, gy) m/m in a local transverse Mercator (scale ≈ 1) at lon0/lat0.

    For geographic DEMs: the elevation is a true plane on the ground, independent of how
    the code under test converts degrees to metres.
    """
    tm = Transformer.from_crs("EPSG:4490", f"+proj=tmerc +lon_0={lon0} +lat_0={lat0} +k=1 +ellps=GRS80", always_xy=True)

    def f(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        e, n = tm.transform(lon, lat)
        return base + gx * e + gy * n

    return f


def add_shape(conn: Connection, serial: int, geom_4490: Polygon, status: str = "reserve") -> int:
    return create_parcel(conn, ParcelInput(code=parcel_code(serial), geometry=geom_4490, status=status))


def shape_in(epsg: int, geom: Polygon) -> Polygon:
    """A polygon given in ``epsg`` coordinates, as EPSG:4490 lon/lat."""
    t = from_crs(epsg)
    return shapely.transform(shapely.segmentize(geom, 5.0), lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def in_crs(epsg: int, geom_4490: Polygon) -> Polygon:
    t = to_crs(epsg)
    return shapely.transform(geom_4490, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def polygon_mean_x2(poly: Polygon, x0: float) -> float:
    """Exact mean of (x − x0)² over a polygon (Green's theorem), for analytic expectations."""
    def ring_terms(coords: np.ndarray) -> tuple[float, float]:
        x, y = coords[:, 0] - x0, coords[:, 1]
        x1, y1 = x[1:], y[1:]
        x_, y_ = x[:-1], y[:-1]
        cross = x_ * y1 - x1 * y_
        return cross.sum() / 2.0, (cross * (x_**2 + x_ * x1 + x1**2)).sum() / 12.0

    area, ixx = ring_terms(np.asarray(poly.exterior.coords))
    for ring in poly.interiors:
        a, i = ring_terms(np.asarray(ring.coords))
        area, ixx = area + a, ixx + i
    return ixx / area

