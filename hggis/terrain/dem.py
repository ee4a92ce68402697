"""Opening a DEM: its CRS, grid, nodata, footprint, and pixel sizes in metres.

A DEM can arrive in a Gauss-Krüger zone (EPSG:4547/4548, or zone-prefixed 4526/4527), in
another projected CRS, or in geographic coordinates (EPSG:4490/4326). Slope needs the
horizontal spacing in metres, so this module turns the grid into metres per row:

- projected CRS: the pixel size times the CRS's linear unit. The Gauss-Krüger grid scale
  factor (at most 1.0003 inside a 3° zone) is ignored: it changes slopes by < 0.01°.
- geographic CRS: the spacing varies with latitude, so it is computed per row on the CRS's
  ellipsoid: east-west ``N(φ)·cos φ·Δλ`` and north-south ``M(φ)·Δφ`` (prime-vertical and
  meridional radii of curvature at the row's centre latitude).

Elevations are taken to be metres. Only north-up grids (no rotation) are accepted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from shapely.geometry import Polygon, box

from hggis.errors import Invalid
from hggis.geo import CGCS2000_EPSG

DEFAULT_BLOCK_SIZE = 1024  # pixels per side of a processing window (multiple of the 256-px output tile)
GDAL_CACHE_MB = 256  # GDAL's block cache during terrain work (its default is 5 % of RAM)


class DemError(Invalid):
    """A DEM that cannot be used, with a message naming the file and what to do."""


@dataclass(frozen=True)
class DemInfo:
    """What the terrain code needs to know about a DEM file."""

    path: Path
    crs: CRS
    crs_from_file: bool
    transform: Affine
    width: int
    height: int
    nodata: float | None
    metres_per_unit: float  # projected: metres per CRS linear unit; geographic: unused (1.0)

    @property
    def is_geographic(self) -> bool:
        return self.crs.is_geographic

    @property
    def crs_label(self) -> str:
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.crs.to_wkt()

    @property
    def res(self) -> tuple[float, float]:
        return abs(self.transform.a), abs(self.transform.e)

    def row_spacing_m(self, row0: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """East-west and north-south pixel spacing in metres for rows ``row0 … row0+rows-1``."""
        if not self.is_geographic:
            dx = np.full(rows, self.res[0] * self.metres_per_unit)
            dy = np.full(rows, self.res[1] * self.metres_per_unit)
            return dx, dy
        ellipsoid = self.crs.ellipsoid
        assert ellipsoid is not None  # a geographic CRS always names its ellipsoid
        a = ellipsoid.semi_major_metre
        b = ellipsoid.semi_minor_metre
        e2 = 1.0 - (b * b) / (a * a)
        unit = self.crs.axis_info[0].unit_conversion_factor  # radians per angular unit
        centre_y = self.transform.f + self.transform.e * (np.arange(row0, row0 + rows) + 0.5)
        phi = centre_y * unit
        w = 1.0 - e2 * np.sin(phi) ** 2
        n_radius = a / np.sqrt(w)  # prime vertical
        m_radius = a * (1.0 - e2) / w**1.5  # meridional
        dx = n_radius * np.cos(phi) * self.res[0] * unit
        dy = m_radius * self.res[1] * unit
        return dx, dy

    def centre_pixel_size_m(self) -> float:
        dx, _ = self.row_spacing_m(self.height // 2, 1)
        return float(dx[0])

    def footprint(self, densify: int = 64) -> Polygon:
        """The DEM's extent as an EPSG:4490 polygon (edges densified, so curved in lon/lat)."""
        left, top = self.transform.c, self.transform.f
        right = left + self.transform.a * self.width
        bottom = top + self.transform.e * self.height
        outline = box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
        step = max(abs(right - left), abs(top - bottom)) / densify
        outline = shapely.segmentize(outline, step)
        to_4490 = Transformer.from_crs(self.crs, CRS.from_epsg(CGCS2000_EPSG), always_xy=True)
        return shapely.transform(outline, lambda xy: np.column_stack(to_4490.transform(xy[:, 0], xy[:, 1])))


def _parse_crs(text: str, path: Path) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception:  # pyproj raises CRSError; any failure means the same to the user
        raise DemError(f"DEM {path.name}: --crs {text!r} is not a coordinate reference system (try EPSG:4547)") from None


def open_dem(path: str | Path, crs: str | None = None, nodata: float | None = None) -> DemInfo:
    """Inspect a DEM file; ``crs``/``nodata`` override (or supply) what the file declares."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DemError(f"DEM {path}: no such file")
    try:
        with rasterio.open(path) as ds:
            file_crs, transform, width, height = ds.crs, ds.transform, ds.width, ds.height
            file_nodata = ds.nodata
    except RasterioIOError as exc:
        raise DemError(f"DEM {path.name}: not a readable raster ({exc})") from None
    if crs is not None:
        dem_crs, from_file = _parse_crs(crs, path), False
    elif file_crs is None:
        raise DemError(
            f"DEM {path.name} has no coordinate reference system; give it with --crs "
            "(e.g. --crs EPSG:4547 for CGCS2000 Gauss-Krüger zone 38, EPSG:4490 for lon/lat)"
        )
    else:
        dem_crs, from_file = CRS.from_user_input(file_crs.to_wkt()), True
    if transform.b != 0 or transform.d != 0:
        raise DemError(f"DEM {path.name} is rotated or sheared; warp it north-up first (gdalwarp)")
    if transform.is_identity:
        raise DemError(f"DEM {path.name} has no georeferencing (identity geotransform)")
    if not (dem_crs.is_projected or dem_crs.is_geographic):
        raise DemError(f"DEM {path.name}: CRS {dem_crs.name} is neither projected nor geographic")
    metres = 1.0
    if dem_crs.is_projected:
        metres = dem_crs.axis_info[0].unit_conversion_factor
    return DemInfo(
        path=path,
        crs=dem_crs,
        crs_from_file=from_file,
        transform=transform,
        width=width,
        height=height,
        nodata=nodata if nodata is not None else file_nodata,
        metres_per_unit=metres,
    )


def sha256_of(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def block_windows(height: int, width: int, block_size: int) -> Iterator[Window]:
    """Row-major windows of at most ``block_size`` × ``block_size`` pixels covering the grid."""
    if block_size < 1:
        raise ValueError("block_size must be positive")
    for row in range(0, height, block_size):
        for col in range(0, width, block_size):
            yield Window(col, row, min(block_size, width - col), min(block_size, height - row))


def window_count(height: int, width: int, block_size: int) -> int:
    return math.ceil(height / block_size) * math.ceil(width / block_size)


def read_elevation(ds: rasterio.DatasetReader, info: DemInfo, window: Window, halo: int = 0) -> np.ndarray:
    """Band 1 over ``window`` grown by ``halo`` pixels, as float64 with NaN for no data.

    Cells of the halo that fall outside the raster are NaN as well, so the slope kernel
    treats the raster's edge like a nodata hole.
    """
    r0, c0 = int(window.row_off) - halo, int(window.col_off) - halo
    h, w = int(window.height) + 2 * halo, int(window.width) + 2 * halo
    out = np.full((h, w), np.nan)
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r0 + h, info.height), min(c0 + w, info.width)
    if rr1 <= rr0 or cc1 <= cc0:
        return out
    read_win = Window(cc0, rr0, cc1 - cc0, rr1 - rr0)
    raw = ds.read(1, window=read_win)
    invalid = ~np.isfinite(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, bool)
    if info.nodata is not None and not math.isnan(info.nodata):
        invalid |= raw == np.asarray(info.nodata).astype(raw.dtype)
    data = raw.astype("float64")
    if MaskFlags.per_dataset in ds.mask_flag_enums[0] and MaskFlags.nodata not in ds.mask_flag_enums[0]:
        invalid |= ds.read_masks(1, window=read_win) == 0
    data[invalid] = np.nan
    out[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = data
    return out
