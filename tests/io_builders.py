"""Builders of survey files for the import/export tests, written with pyogrio/geopandas/openpyxl
into tmp dirs at test time (no binary fixtures in the repository)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import Polygon, box

from hggis.access.policy import Principal
from hggis.geo import area_mu, gcj02_to_wgs84_geom, transformer, wgs84_to_gcj02_geom

# Points well inside three counties (checked against the committed boundaries).
HUANGZHOU = (114.88, 30.45)  # 黄州区 421102, zone 38
HUANGMEI = (115.94, 30.07)  # 黄梅县 421127, zone 39
WUXUE = (115.56, 29.88)  # 武穴市 421182, zone 39

CITY_ADMIN = Principal(username="io-admin", role="city_admin")


def officer(*counties: str) -> Principal:
    return Principal(username="io-officer", role="county_officer", counties=frozenset(counties))


def code(serial: int, adcode: str = "421102") -> str:
    return f"{adcode}001001GB{serial:05d}"


def lonlat_square(lon: float, lat: float, side_m: float = 80.0) -> Polygon:
    dlat = side_m / 110_850.0
    dlon = side_m / (110_850.0 * math.cos(math.radians(lat)))
    return box(lon, lat, lon + dlon, lat + dlat)


def lots(origin: tuple[float, float], n: int, side_m: float = 80.0, gap_deg: float = 0.0015) -> list[Polygon]:
    """n lon/lat squares in a row starting at ``origin`` (EPSG:4490)."""
    return [lonlat_square(origin[0] + i * gap_deg, origin[1], side_m) for i in range(n)]


def project(geoms: list[Any], epsg: int) -> list[Any]:
    """EPSG:4490 lon/lat → ``epsg`` (4526/4527 get the zone prefix in the easting)."""
    t = transformer(4490, epsg)

    def f(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return [shapely.transform(g, f) for g in geoms]


def declared_mu(geoms_lonlat: list[Any]) -> list[float]:
    return [round(area_mu(g), 4) for g in geoms_lonlat]


def write_shapefile(
    path: Path,
    geoms: list[Any],
    columns: dict[str, list[Any]],
    epsg: int | None,
    *,
    encoding: str | None = "UTF-8",
    cpg: bool = True,
) -> Path:
    """A Shapefile with the given CRS (None: no .prj) and DBF encoding (with or without .cpg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df = gpd.GeoDataFrame(columns, geometry=geoms, crs=epsg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "crs was not provided", "laundered field name": on purpose
        pyogrio.write_dataframe(df, path, encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if epsg is None:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def zip_shapefile(shp: Path) -> bytes:
    """The parts of a Shapefile zipped together, as an upload carries them."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in shp.parent.glob(shp.stem + ".*"):
            zf.write(part, part.name)
    return buf.getvalue()


def swap_xy(geoms: list[Any]) -> list[Any]:
    return [shapely.transform(g, lambda xy: xy[:, ::-1]) for g in geoms]


def to_gcj02(geoms: list[Any]) -> list[Any]:
    return [wgs84_to_gcj02_geom(g) for g in geoms]


def from_gcj02(geoms: list[Any]) -> list[Any]:
    return [gcj02_to_wgs84_geom(g) for g in geoms]


def bowtie(lon: float, lat: float, side_m: float = 80.0) -> Polygon:
    """A self-intersecting 'figure eight' polygon (refused even by --fix: area changes a lot)."""
    sq = lonlat_square(lon, lat, side_m)
    x0, y0, x1, y1 = sq.bounds
    return Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


def spiked(lon: float, lat: float, side_m: float = 80.0) -> Polygon:
    """A square whose last two vertices are swapped, which makes a tiny self-intersecting lobe at
    one corner: ST_MakeValid changes its area by far less than 1 %, so --fix accepts it."""
    sq = lonlat_square(lon, lat, side_m)
    x0, y0, x1, y1 = sq.bounds
    ex, ey = (x1 - x0) * 0.01, (y1 - y0) * 0.01
    return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1 - ey), (x0 + ex, y1)])


MACHENG_OPEN_COUNTRY = (114.93, 31.05)  # 麻城市 421181, zone 38: room for a large grid of lots


def survey_grid(path: Path, n: int, origin: tuple[float, float] = MACHENG_OPEN_COUNTRY, adcode: str = "421181") -> Path:
    """A large valid survey: n 40 m squares on a 45 m grid in EPSG:4547, GBK attributes (宗地代码, 地类)."""
    x0, y0 = transformer(4490, 4547).transform(*origin)
    cols = int(math.ceil(math.sqrt(n)))
    i = np.arange(n)
    xs, ys = x0 + (i % cols) * 45.0, y0 + (i // cols) * 45.0
    geoms = shapely.box(xs, ys, xs + 40.0, ys + 40.0)
    codes = [f"{adcode}{j // 100000 + 1:03d}{j // 10000 % 10 + 1:03d}GB{j % 100000:05d}" for j in range(n)]
    return write_shapefile(path, list(geoms), {"宗地代码": codes, "地类": ["0601"] * n}, 4547, encoding="GBK")
