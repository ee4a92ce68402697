"""Slope from synthetic DEMs with known answers; no database needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from pyproj import Geod

from hggis.terrain.dem import DemError, block_windows, open_dem, window_count
from hggis.terrain.slope import SLOPE_NODATA, horn_slope_deg, write_slope
from tests.terrain_helpers import (
    PLANE_SLOPE_DEG,
    dem_from_function,
    geographic_grid,
    local_plane,
    pixel_centres,
    projected_grid,
    write_dem,
)


def _slope(tmp_path, dem, block_size=1024, **kw):
    info = open_dem(dem, **kw)
    out = tmp_path / f"{dem.stem}_slope.tif"
    write_slope(info, out, block_size)
    with rasterio.open(out) as ds:
        data = ds.read(1)
        assert ds.profile["tiled"] and ds.compression is not None
        assert ds.crs is not None and ds.transform == info.transform
    return np.where(data == SLOPE_NODATA, np.nan, data)


@pytest.mark.parametrize("epsg", [4547, 4526])
def test_plane_in_gauss_kruger_has_5_71_degrees_everywhere(tmp_path, epsg):
    """10 m per 100 m (here 6 east + 8 north), including the raster's edges and corners."""
    dem = dem_from_function(tmp_path / f"plane_{epsg}.tif", epsg, lambda x, y: 100 + 0.06 * (x - x.min()) + 0.08 * (y - y.min()))
    slope = _slope(tmp_path, dem, block_size=64)
    assert PLANE_SLOPE_DEG == pytest.approx(5.7106, abs=1e-4)
    assert np.nanmax(np.abs(slope - PLANE_SLOPE_DEG)) < 0.01
    assert not np.isnan(slope).any()


def test_plane_in_geographic_dem_at_30_5_north(tmp_path):
    """A lon/lat DEM: the per-row metre spacing must make a true 10 % plane read 5.71°."""
    bounds = (114.88, 30.48, 114.92, 30.52)
    transform, h, w = geographic_grid(0.0001, bounds)
    lon, lat = pixel_centres(transform, h, w)
    z = local_plane(114.90, 30.50)(lon, lat)
    dem = write_dem(tmp_path / "plane_4490.tif", z, transform, crs="EPSG:4490", dtype="float64")
    slope = _slope(tmp_path, dem, block_size=100)
    assert np.abs(slope - PLANE_SLOPE_DEG).max() < 0.1
    assert np.median(np.abs(slope - PLANE_SLOPE_DEG)) < 0.01
    # treating degrees as if they were equal-sized would be far off: cos(30.5°) ≈ 0.86
    naive = math.degrees(math.atan(math.hypot(0.06, 0.08 * 11086 / 9600)))
    assert abs(naive - PLANE_SLOPE_DEG) > 0.3


def test_pixel_spacing_of_geographic_dem_matches_geodesic_distances(tmp_path):
    transform, h, w = geographic_grid(0.0005, (114.0, 29.0, 116.0, 32.0))
    dem = write_dem(tmp_path / "g.tif", np.zeros((h, w)), transform, crs="EPSG:4490")
    info = open_dem(dem)
    geod = Geod(ellps="GRS80")
    for row in (0, h // 2, h - 1):
        dx, dy = info.row_spacing_m(row, 1)
        lat = transform.f + transform.e * (row + 0.5)
        east = geod.inv(115.0, lat, 115.0005, lat)[2]
        north = geod.inv(115.0, lat - 0.00025, 115.0, lat + 0.00025)[2]
        assert dx[0] == pytest.approx(east, rel=1e-6)
        assert dy[0] == pytest.approx(north, rel=1e-6)


def test_flat_dem_has_zero_slope(tmp_path):
    dem = dem_from_function(tmp_path / "flat.tif", 4547, lambda x, y: np.full(x.shape, 42.0))
    slope = _slope(tmp_path, dem, block_size=50)
    assert np.nanmax(slope) == 0.0


def test_nodata_hole_keeps_plane_slope_around_it_and_has_no_slope_inside(tmp_path):
    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    z = 100 + 0.06 * (x - x.min()) + 0.08 * (y - y.min())
    z[50:60, 70:90] = np.nan
    dem = write_dem(tmp_path / "hole.tif", z, transform)
    slope = _slope(tmp_path, dem, block_size=32)
    assert np.isnan(slope[50:60, 70:90]).all()
    rest = np.delete(slope.ravel(), np.flatnonzero(np.isnan(slope.ravel())))
    assert rest.size == slope.size - 200
    assert np.abs(rest - PLANE_SLOPE_DEG).max() < 0.01


def test_horn_kernel_on_a_steep_known_cell():
    """A 3×3 window rising 1 m per 1 m east: 45°."""
    z = np.array([[0.0, 1.0, 2.0]] * 3)
    assert horn_slope_deg(z, np.array([1.0]), np.array([1.0]))[0, 0] == pytest.approx(45.0)


def test_windowed_slope_equals_single_window(tmp_path):
    rng = np.random.default_rng(7)
    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    z = 50 + 20 * np.sin((x - x.min()) / 170.0) * np.cos((y - y.min()) / 90.0) + rng.normal(0, 0.5, x.shape)
    z[rng.random(z.shape) < 0.02] = np.nan  # scattered holes
    z[:5, :] = np.nan
    dem = write_dem(tmp_path / "rough.tif", z, transform)
    tiny = _slope(tmp_path, dem, block_size=7)
    whole = _slope(tmp_path, dem, block_size=max(h, w))
    assert np.array_equal(np.isnan(tiny), np.isnan(whole))
    assert np.array_equal(np.nan_to_num(tiny), np.nan_to_num(whole))
    assert np.nanmax(tiny) > 5  # a real surface, not a trivial one


def test_block_size_bounds_every_window(tmp_path):
    """Memory is bounded by the window: no window handed on is larger than block_size²."""
    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    dem = write_dem(tmp_path / "p.tif", 0.1 * (x - x.min()), transform)
    seen = []
    write_slope(open_dem(dem), tmp_path / "s.tif", 40, sink=lambda win, e, s: seen.append((win, e.shape, s.shape)))
    assert len(seen) == window_count(h, w, 40) == len(list(block_windows(h, w, 40)))
    assert all(max(e) <= 40 and e == s and (win.height, win.width) == e for win, e, s in seen)
    assert sum(e[0] * e[1] for _, e, _ in seen) == h * w


def test_dem_without_crs_is_refused_with_the_file_name_and_a_hint(tmp_path):
    transform, h, w = projected_grid(4547)
    dem = write_dem(tmp_path / "no_crs_dem.tif", np.zeros((h, w)), transform, crs=None)
    with pytest.raises(DemError) as exc:
        open_dem(dem)
    assert "no_crs_dem.tif" in str(exc.value) and "--crs" in str(exc.value)
    assert open_dem(dem, crs="EPSG:4547").crs.to_epsg() == 4547
    with pytest.raises(DemError, match="not a coordinate reference system"):
        open_dem(dem, crs="EPSG:999999")


def test_unreadable_and_missing_files_are_refused(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(DemError, match="bad.tif: not a readable raster"):
        open_dem(bad)
    with pytest.raises(DemError, match="no such file"):
        open_dem(tmp_path / "missing.tif")


def test_footprint_of_a_gauss_kruger_dem_is_in_cgcs2000(tmp_path):
    transform, h, w = projected_grid(4547)
    dem = write_dem(tmp_path / "p.tif", np.zeros((h, w)), transform)
    fp = open_dem(dem).footprint()
    minx, miny, maxx, maxy = fp.bounds
    assert 114.87 < minx < 114.875 and 114.905 < maxx < 114.91
    assert 30.44 < miny < 30.444 and 30.462 < maxy < 30.466
