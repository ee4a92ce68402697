"""Slope in degrees from a DEM, block by block with a one-pixel halo.

Method: Horn's (1981) 3×3 weighted differences, the one ``gdaldem slope`` and ArcGIS use::

    a b c      dz/dx = ((c + 2f + i) − (a + 2d + g)) / (8·dx)
    d e f      dz/dy = ((g + 2h + i) − (a + 2b + c)) / (8·dy)
    g h i      slope = atan(√(dz/dx² + dz/dy²))

with ``dx``/``dy`` the pixel spacing in metres of the centre row (per row for geographic
DEMs, see ``hggis.terrain.dem``). A plane gives its exact slope.

Missing neighbours (nodata, or outside the raster at its edge) are filled by reflecting
the opposite neighbour through the centre (``2e − opposite``). When both of a pair are
missing, an edge neighbour takes the centre value (no gradient that way) and a corner is
extrapolated from the plane through its two orthogonal neighbours (``a = b + d − e``).
This keeps planes exact up to the edge, the corners and around holes, where ``gdaldem``
would leave nodata; a cell whose own elevation is missing has no slope.

Memory is bounded by the window: each window of ``block_size``² pixels is read with its
halo, computed in float64, and written as float32 into a tiled, compressed GeoTIFF, so a
20 000 × 20 000 DEM needs a few hundred MB (GDAL's cache included), not the 3.2 GB of the
whole grid in float64.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS as RioCRS
from rasterio.windows import Window

from hggis.terrain.dem import DEFAULT_BLOCK_SIZE, GDAL_CACHE_MB, DemInfo, block_windows, read_elevation, window_count

SLOPE_NODATA = -9999.0
SLOPE_PROFILE = {
    "driver": "GTiff",
    "dtype": "float32",
    "count": 1,
    "nodata": SLOPE_NODATA,
    "tiled": True,
    "blockxsize": 256,
    "blockysize": 256,
    "compress": "deflate",
    "predictor": 3,  # floating-point predictor: smooth fields compress better
    "zlevel": 1,  # fast: higher levels gain little on float data and cost time in the import
    "bigtiff": "if_safer",
    "num_threads": "all_cpus",
}

BlockSink = Callable[[Window, np.ndarray, np.ndarray], None]
Progress = Callable[[int, int], None]


def _fill(n: np.ndarray, opposite: np.ndarray, centre: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Neighbour ``n`` with missing cells reflected through the centre, else ``fallback``."""
    missing = np.isnan(n)
    if not missing.any():
        return n
    reflected = np.where(np.isnan(opposite), fallback, 2.0 * centre - opposite)
    return np.where(missing, reflected, n)


def horn_slope_deg(z: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Slope in degrees of the interior of ``z`` (padded by one pixel; NaN = missing).

    ``dx``/``dy`` hold the spacing in metres of each output row. Returns an array of
    shape ``(rows-2, cols-2)``, NaN where the centre elevation is missing.
    """
    e = z[1:-1, 1:-1]
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    if np.isnan(z).any():
        b, h = _fill(b, h, e, e), _fill(h, b, e, e)
        d, f = _fill(d, f, e, e), _fill(f, d, e, e)
        a, i = _fill(a, i, e, b + d - e), _fill(i, a, e, f + h - e)
        c, g = _fill(c, g, e, b + f - e), _fill(g, c, e, d + h - e)
    gx = ((c + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * dx[:, None])
    gy = ((g + 2.0 * h + i) - (a + 2.0 * b + c)) / (8.0 * dy[:, None])
    return np.degrees(np.arctan(np.hypot(gx, gy)))


@dataclass
class SlopeSummary:
    """Facts gathered while computing slope, stored with the DEM."""

    cells: int = 0
    valid_cells: int = 0
    elevation_min: float | None = None
    elevation_max: float | None = None
    windows: int = 0
    seconds: float = 0.0

    @property
    def valid_fraction(self) -> float:
        return self.valid_cells / self.cells if self.cells else 0.0

    def add(self, elev: np.ndarray) -> None:
        self.cells += elev.size
        ok = np.isfinite(elev)
        n = int(ok.sum())
        self.valid_cells += n
        self.windows += 1
        if n:
            lo, hi = float(np.nanmin(elev)), float(np.nanmax(elev))
            self.elevation_min = lo if self.elevation_min is None else min(self.elevation_min, lo)
            self.elevation_max = hi if self.elevation_max is None else max(self.elevation_max, hi)


def slope_window(ds: rasterio.DatasetReader, info: DemInfo, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (NaN = no data) and slope in degrees for one window."""
    z = read_elevation(ds, info, window, halo=1)
    dx, dy = info.row_spacing_m(int(window.row_off), int(window.height))
    return z[1:-1, 1:-1], horn_slope_deg(z, dx, dy)


def write_slope(
    info: DemInfo,
    out_path: Path,
    block_size: int = DEFAULT_BLOCK_SIZE,
    sink: BlockSink | None = None,
    progress: Progress | None = None,
) -> SlopeSummary:
    """Compute the slope raster of ``info`` into ``out_path``, window by window.

    ``sink(window, elevation, slope)`` sees every window (zonal statistics ride along the
    same pass); ``progress(done, total)`` is called after each window. The file appears
    atomically: it is written under a temporary name and renamed when complete.
    """
    import time

    started = time.perf_counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f"{out_path.name}.{os.getpid()}.part")
    profile = dict(
        SLOPE_PROFILE,
        width=info.width,
        height=info.height,
        crs=RioCRS.from_wkt(info.crs.to_wkt()),
        transform=info.transform,
    )
    summary = SlopeSummary()
    total = window_count(info.height, info.width, block_size)
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(info.path) as src, rasterio.open(
            tmp, "w", **profile
        ) as dst:
            for done, window in enumerate(block_windows(info.height, info.width, block_size), start=1):
                elev, slope = slope_window(src, info, window)
                summary.add(elev)
                if sink is not None:
                    sink(window, elev, slope)
                dst.write(np.where(np.isnan(slope), SLOPE_NODATA, slope).astype("float32"), 1, window=window)
                if progress is not None:
                    progress(done, total)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary


def read_slope(ds: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """A window of a slope raster written by ``write_slope``, NaN for no data."""
    data = ds.read(1, window=window, out_dtype="float64")
    data[data == SLOPE_NODATA] = np.nan
    return data
