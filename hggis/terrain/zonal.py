"""Per-parcel zonal statistics (mean/max slope, mean elevation) over a raster, window by window.

How a parcel meets the grid, stated once because every figure depends on it:

- **Pixel-centre rule.** A cell belongs to a parcel when its centre lies inside the
  parcel (``rasterio.features.rasterize`` with ``all_touched=False``). Boundary cells are
  neither clipped nor weighted. If parcels overlap, a shared cell counts for one of them.
- **Parcels smaller than a cell** (no cell centre inside): the statistics are the values of
  the cell under the parcel's centroid (or, for a shape whose centroid falls outside it, a
  point on its surface); ``method = 'centroid'`` and ``cells = 0`` record this.
- **Coverage** is valid cells / cells of the parcel, where cells outside the DEM's extent
  count as cells without data. Statistics come from valid cells only; coverage < 1 marks
  them partial, coverage 0 means not covered.

Parcels are transformed to the DEM's CRS (pyproj, ``always_xy``). For each window, only
the parcels whose envelope meets it (an STRtree query) are burnt into one int32 label
raster, and sums, counts and maxima are accumulated per label with ``numpy.bincount`` /
``numpy.maximum.at``. Memory is one window plus a few arrays of length n_parcels, whatever
the raster size; no parcel ever gets a mask of the whole raster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.features import rasterize
from rasterio.windows import Window, transform as window_transform
from shapely import STRtree

from hggis.geo import CGCS2000_EPSG
from hggis.terrain.dem import DEFAULT_BLOCK_SIZE, GDAL_CACHE_MB, DemInfo, block_windows, read_elevation
from hggis.terrain.slope import Progress, read_slope


@dataclass
class ParcelShapes:
    """Parcels in the DEM's CRS, with an index for window queries."""

    ids: np.ndarray  # parcel ids (int64), in label order: label k+1 is ids[k]
    geoms: np.ndarray  # shapely (multi)polygons in the DEM's CRS
    points: np.ndarray  # (n, 2) fallback points (centroid, or a point on the surface)
    tree: STRtree

    @classmethod
    def from_cgcs2000(cls, ids: Iterable[int], geoms_4490: Iterable, dem_crs: CRS) -> ParcelShapes:
        """Transform EPSG:4490 lon/lat geometries (shapely) to the DEM's CRS."""
        ids_arr = np.asarray(list(ids), dtype=np.int64)
        geoms = np.asarray(list(geoms_4490), dtype=object)
        if len(geoms) == 0:
            return cls(ids=ids_arr, geoms=geoms, points=np.empty((0, 2)), tree=STRtree(geoms))
        if CRS.from_epsg(CGCS2000_EPSG) != dem_crs:
            to_dem = Transformer.from_crs(CRS.from_epsg(CGCS2000_EPSG), dem_crs, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_dem.transform(xy[:, 0], xy[:, 1])))
        centroids = shapely.centroid(geoms)
        fallback = np.where(shapely.contains_properly(geoms, centroids), centroids, shapely.point_on_surface(geoms))
        points = shapely.get_coordinates(fallback).reshape(-1, 2)
        return cls(ids=ids_arr, geoms=geoms, points=points, tree=STRtree(geoms))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class ZonalResult:
    """Statistics per parcel, aligned with ``ParcelShapes.ids``."""

    parcel_ids: np.ndarray
    cells: np.ndarray
    valid_cells: np.ndarray
    mean_slope: np.ndarray  # NaN: no valid cell
    max_slope: np.ndarray
    mean_elevation: np.ndarray
    coverage: np.ndarray
    method: np.ndarray  # 'cells' or 'centroid'

    def rows(self) -> list[dict]:
        """One dict per parcel with None for missing figures (for storage and reports)."""

        def val(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return [
            {
                "parcel_id": int(self.parcel_ids[k]),
                "cells": int(self.cells[k]),
                "valid_cells": int(self.valid_cells[k]),
                "mean_slope_deg": val(self.mean_slope[k]),
                "max_slope_deg": val(self.max_slope[k]),
                "mean_elevation_m": val(self.mean_elevation[k]),
                "terrain_coverage": float(self.coverage[k]),
                "method": str(self.method[k]),
            }
            for k in range(len(self.parcel_ids))
        ]


class ZonalAccumulator:
    """Sums, counts and maxima per parcel, fed one window at a time."""

    def __init__(self, shapes: ParcelShapes, info: DemInfo) -> None:
        self.shapes = shapes
        self.info = info
        n = len(shapes) + 1  # label 0 = no parcel
        self.cells = np.zeros(n, np.int64)
        self.valid = np.zeros(n, np.int64)
        self.sum_slope = np.zeros(n)
        self.sum_elev = np.zeros(n)
        self.max_slope = np.full(n, -np.inf)
        # fallback point values, filled when the window containing the point passes by
        self.point_elev = np.full(len(shapes), np.nan)
        self.point_slope = np.full(len(shapes), np.nan)
        cols, rows = ~info.transform @ (shapes.points[:, 0], shapes.points[:, 1])
        self.point_rows = np.floor(rows).astype(np.int64)
        self.point_cols = np.floor(cols).astype(np.int64)

    def parcels_in(self, window: Window) -> np.ndarray:
        """Indices of parcels whose envelope meets the window."""
        left, bottom, right, top = rasterio.windows.bounds(window, self.info.transform)
        found = self.shapes.tree.query(shapely.box(min(left, right), min(bottom, top), max(left, right), max(bottom, top)))
        return np.sort(found)  # fixed burn order: where parcels overlap, the later one wins in every window

    def add(self, window: Window, elev: np.ndarray, slope: np.ndarray, candidates: np.ndarray | None = None) -> None:
        if candidates is None:
            candidates = self.parcels_in(window)
        if len(candidates) == 0:
            return
        self._sample_points(window, elev, slope)
        labels = rasterize(
            ((self.shapes.geoms[k], int(k) + 1) for k in candidates),
            out_shape=elev.shape,
            transform=window_transform(window, self.info.transform),
            fill=0,
            all_touched=False,
            dtype="int32",
        )
        inside = labels > 0
        if not inside.any():
            return
        lab = labels[inside]
        n = len(self.cells)
        self.cells += np.bincount(lab, minlength=n)
        e, s = elev[inside], slope[inside]
        ok = np.isfinite(e) & np.isfinite(s)
        lab, e, s = lab[ok], e[ok], s[ok]
        self.valid += np.bincount(lab, minlength=n)
        self.sum_elev += np.bincount(lab, weights=e, minlength=n)
        self.sum_slope += np.bincount(lab, weights=s, minlength=n)
        np.maximum.at(self.max_slope, lab, s)

    def _sample_points(self, window: Window, elev: np.ndarray, slope: np.ndarray) -> None:
        r0, c0 = int(window.row_off), int(window.col_off)
        r, c = self.point_rows - r0, self.point_cols - c0
        hit = (r >= 0) & (r < elev.shape[0]) & (c >= 0) & (c < elev.shape[1])
        if hit.any():
            self.point_elev[hit] = elev[r[hit], c[hit]]
            self.point_slope[hit] = slope[r[hit], c[hit]]

    def _cells_beyond_edge(self, cells: np.ndarray) -> np.ndarray:
        """Cell counts of parcels reaching past the raster, counted on the unbounded grid."""
        left, top = self.info.transform.c, self.info.transform.f
        right = left + self.info.transform.a * self.info.width
        bottom = top + self.info.transform.e * self.info.height
        grid = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
        out = cells.copy()
        outside = ~shapely.within(self.shapes.geoms, grid) if len(self.shapes) else np.empty(0, bool)
        inv = ~self.info.transform
        for k in np.flatnonzero(outside):
            geom = self.shapes.geoms[k]
            minx, miny, maxx, maxy = geom.bounds
            cols, rows = inv @ (np.array([minx, maxx]), np.array([maxy, miny]))
            c0, r0 = int(np.floor(cols.min())), int(np.floor(rows.min()))
            win = Window(c0, r0, int(np.ceil(cols.max())) - c0 + 1, int(np.ceil(rows.max())) - r0 + 1)
            mask = rasterize(
                [(geom, 1)],
                out_shape=(int(win.height), int(win.width)),
                transform=window_transform(win, self.info.transform),
                fill=0,
                all_touched=False,
                dtype="uint8",
            )
            out[k] = int(mask.sum())
        return out

    def result(self) -> ZonalResult:
        cells = self._cells_beyond_edge(self.cells[1:])
        valid = self.valid[1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_slope = np.where(valid > 0, self.sum_slope[1:] / valid, np.nan)
            mean_elev = np.where(valid > 0, self.sum_elev[1:] / valid, np.nan)
            coverage = np.where(cells > 0, valid / np.maximum(cells, 1), 0.0)
        max_slope = np.where(valid > 0, self.max_slope[1:], np.nan)
        method = np.where(cells > 0, "cells", "centroid").astype(object)
        small = cells == 0
        point_ok = small & np.isfinite(self.point_elev) & np.isfinite(self.point_slope)
        mean_slope[small] = np.where(point_ok[small], self.point_slope[small], np.nan)
        max_slope[small] = mean_slope[small]
        mean_elev[small] = np.where(point_ok[small], self.point_elev[small], np.nan)
        coverage[small] = point_ok[small].astype(float)
        return ZonalResult(
            parcel_ids=self.shapes.ids,
            cells=cells,
            valid_cells=valid,
            mean_slope=mean_slope,
            max_slope=max_slope,
            mean_elevation=mean_elev,
            coverage=np.clip(coverage, 0.0, 1.0),
            method=method,
        )


def zonal_from_files(
    info: DemInfo,
    slope_path: str,
    shapes: ParcelShapes,
    block_size: int = DEFAULT_BLOCK_SIZE,
    progress: Progress | None = None,
) -> ZonalResult:
    """Statistics of ``shapes`` from a DEM and its slope raster; windows without parcels are skipped."""
    acc = ZonalAccumulator(shapes, info)
    windows = list(block_windows(info.height, info.width, block_size))
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(info.path) as dem, rasterio.open(slope_path) as slope_ds:
        if (slope_ds.width, slope_ds.height) != (info.width, info.height):
            raise ValueError(f"slope raster {slope_path} does not match the DEM grid {info.path.name}")
        for done, window in enumerate(windows, start=1):
            candidates = acc.parcels_in(window)
            if len(candidates):
                elev = read_elevation(dem, info, window)
                acc.add(window, elev, read_slope(slope_ds, window), candidates)
            if progress is not None:
                progress(done, len(windows))
    return acc.result()

