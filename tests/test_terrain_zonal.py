"""Per-parcel terrain statistics against a real PostGIS: DEMs in GK zones and lon/lat,
parcels in EPSG:4490, holes, partial cover, refresh after edits, the audit of imports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text
from typer.testing import CliRunner

from hggis.access.policy import Forbidden, Principal, operator
from hggis.config import get_settings
from hggis.db.session import transaction
from hggis.terrain.dem import DemError, open_dem
from hggis.terrain.service import import_dem, refresh_terrain, terrain_status
from hggis.terrain.slope import write_slope
from hggis.terrain.zonal import ParcelShapes, ZonalAccumulator, zonal_from_files
from tests.factories import HUANGZHOU, add_parcel, square
from tests.terrain_helpers import (
    PLANE_SLOPE_DEG,
    add_shape,
    dem_from_function,
    in_crs,
    local_plane,
    pixel_centres,
    polygon_mean_x2,
    projected_grid,
    shape_in,
    write_dem,
)

ADMIN = operator()


def _terrain(conn, parcel_id: int):
    return conn.execute(
        text("SELECT * FROM parcel_terrain_status WHERE parcel_id = :id"), {"id": parcel_id}
    ).mappings().one()


def _geom(conn, parcel_id: int):
    wkb = conn.execute(text("SELECT ST_AsBinary(geom) FROM parcels WHERE id = :i"), {"i": parcel_id}).scalar_one()
    return shapely.from_wkb(bytes(wkb)).geoms[0]


def _plane(x0: float, y0: float):
    return lambda x, y: 100.0 + 0.06 * (x - x0) + 0.08 * (y - y0)


@pytest.mark.parametrize("epsg", [4547, 4526])
def test_dem_in_gauss_kruger_against_parcels_in_4490(clean_db, tmp_path, epsg):
    """Plane in a GK zone: slope 5.71° on each parcel, mean elevation = plane at the centroid."""
    x0, y0 = in_crs(epsg, shapely.Point(HUANGZHOU)).coords[0]
    f = _plane(x0, y0)
    transform, h, w = projected_grid(epsg)
    x, y = pixel_centres(transform, h, w)
    z = f(x, y)
    dem = write_dem(tmp_path / "plane.tif", z, transform, crs=f"EPSG:{epsg}", dtype="float64")
    with transaction(clean_db, "test") as conn:
        ids = [add_parcel(conn, s, side_m=s * 60 + 40) for s in range(1, 5)]
    report = import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    assert report.parcels == 4 and report.full == 4 and not report.partial and not report.not_covered
    assert report.crs == f"EPSG:{epsg}" and report.pixel_size_m == pytest.approx(10.0)
    with clean_db.connect() as conn:
        for pid in ids:
            row = _terrain(conn, pid)
            assert row["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)
            assert row["max_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)
            poly = in_crs(epsg, _geom(conn, pid))
            # analytic: a plane's mean over a polygon is its value at the centroid; the
            # pixel-centre rule may shift the sampled set by up to half a pixel each way
            assert row["mean_elevation_m"] == pytest.approx(f(poly.centroid.x, poly.centroid.y), abs=0.7)
            # exact, for the stated rule: the cells whose centres lie inside the parcel
            inside = shapely.contains_xy(poly, x, y)
            assert row["mean_elevation_m"] == pytest.approx(float(z[inside].mean()), abs=1e-3)
            assert row["terrain_coverage"] == 1.0 and row["terrain_status"] == "full"
            cells = conn.execute(text("SELECT cells FROM parcel_terrain WHERE parcel_id = :i"), {"i": pid}).scalar()
            assert cells == int(inside.sum())


def test_mean_elevation_of_a_curved_surface_matches_the_analytic_mean(clean_db, tmp_path):
    """z = 50 + 2e-4·(x − x0)² in EPSG:4547 (2 m cells); the mean over a parcel is exact by Green's theorem."""
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    dem = dem_from_function(tmp_path / "bowl.tif", 4547, lambda x, y: 50.0 + 2e-4 * (x - x0) ** 2, res=2.0, dtype="float64")
    with transaction(clean_db, "test") as conn:
        # an L-shaped parcel defined in EPSG:4547, stored in EPSG:4490
        ell = shapely.Polygon([(x0 + 100, y0 + 100), (x0 + 700, y0 + 100), (x0 + 700, y0 + 300),
                               (x0 + 300, y0 + 300), (x0 + 300, y0 + 800), (x0 + 100, y0 + 800)])
        pid = add_shape(conn, 1, shape_in(4547, ell))
    import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        row = _terrain(conn, pid)
        stored = in_crs(4547, _geom(conn, pid))
    expected = 50.0 + 2e-4 * polygon_mean_x2(stored, x0)
    assert expected > 60  # the curvature matters: mean of x² is not x̄²
    assert row["mean_elevation_m"] == pytest.approx(expected, abs=0.2)


def test_geographic_dem_around_30_5_north(clean_db, tmp_path):
    lon0, lat0 = 114.89, 30.453
    dem = dem_from_function(tmp_path / "geo.tif", 4490, local_plane(lon0, lat0), dtype="float64")
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 3, side_m=300)
    report = import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    assert report.crs == "EPSG:4490" and 9.5 < report.pixel_size_m < 9.7
    with clean_db.connect() as conn:
        row = _terrain(conn, pid)
    assert row["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.1)
    assert row["max_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.1)
    assert row["terrain_status"] == "full"


def test_flat_dem_gives_zero_slope_on_parcels(clean_db, tmp_path):
    dem = dem_from_function(tmp_path / "flat.tif", 4547, lambda x, y: np.full(x.shape, 23.5))
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 1, side_m=200)
    import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        row = _terrain(conn, pid)
    assert row["mean_slope_deg"] == 0.0 and row["max_slope_deg"] == 0.0
    assert row["mean_elevation_m"] == pytest.approx(23.5)


def test_nodata_hole_gives_partial_statistics_from_valid_cells(clean_db, tmp_path):
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    f = _plane(x0, y0)
    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    z = f(x, y)
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 1, side_m=250)
        whole = add_parcel(conn, 2, side_m=250)
        poly = in_crs(4547, _geom(conn, pid))
    hole = box(poly.bounds[0] - 50, poly.bounds[1] - 50, poly.centroid.x, poly.bounds[3] + 50)  # west half
    z[shapely.contains_xy(hole, x, y)] = np.nan
    dem = write_dem(tmp_path / "holes.tif", z, transform)
    report = import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    assert [p.code for p in report.partial] == [_code(clean_db, pid)]
    assert report.partial[0].coverage == pytest.approx(0.5, abs=0.05)
    with clean_db.connect() as conn:
        row = _terrain(conn, pid)
        assert _terrain(conn, whole)["terrain_status"] == "full"
    assert row["terrain_status"] == "partial" and row["terrain_coverage"] == pytest.approx(0.5, abs=0.05)
    valid_part = poly.difference(hole)
    assert row["mean_elevation_m"] == pytest.approx(f(valid_part.centroid.x, valid_part.centroid.y), abs=0.3)
    assert row["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)


def _code(engine, pid: int) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT code FROM parcels WHERE id = :i"), {"i": pid}).scalar_one()


def test_dem_not_covering_lists_parcels_outside_and_marks_straddlers_partial(clean_db, tmp_path):
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    transform, h, w = projected_grid(4547, bounds4490=(114.874, 30.444, 114.8875, 30.462))
    x, y = pixel_centres(transform, h, w)
    dem = write_dem(tmp_path / "west.tif", _plane(x0, y0)(x, y), transform)
    with transaction(clean_db, "test") as conn:
        inside = add_parcel(conn, 1, side_m=200)  # 114.883°E
        straddler = add_parcel(conn, 2, side_m=400)  # 114.886°E, crosses the DEM's east edge
        outside = add_parcel(conn, 9, side_m=200)  # 114.907°E
    report = import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    assert report.parcels == 2 and report.full == 1
    assert [p.code for p in report.partial] == [_code(clean_db, straddler)]
    assert report.without_terrain == 1
    with clean_db.connect() as conn:
        poly = in_crs(4547, _geom(conn, straddler))
        left, bottom, right, top = transform.c, transform.f + transform.e * h, transform.c + transform.a * w, transform.f
        share = poly.intersection(box(left, bottom, right, top)).area / poly.area
        row = _terrain(conn, straddler)
        assert 0.2 < share < 0.8
        assert row["terrain_status"] == "partial" and row["terrain_coverage"] == pytest.approx(share, abs=0.03)
        assert row["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)
        assert _terrain(conn, inside)["terrain_status"] == "full"
        assert _terrain(conn, outside)["terrain_status"] == "not_covered"
        status = terrain_status(conn, ADMIN)
    assert (status.active, status.full, status.partial, status.not_covered) == (3, 1, 1, 1)
    assert status.not_covered_parcels == [_code(clean_db, outside)]


def test_parcel_smaller_than_a_pixel_takes_the_value_under_its_centroid(clean_db, tmp_path, monkeypatch, request):
    # a 6 m square is below the default plausible parcel size; this deployment allows it
    monkeypatch.setenv("HGGIS_PARCEL_MIN_MU", "0.01")
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    f = _plane(x0, y0)
    transform, h, w = projected_grid(4547, res=30.0)
    x, y = pixel_centres(transform, h, w)
    dem = write_dem(tmp_path / "coarse.tif", f(x, y), transform)
    # a 6 m square inside one 30 m cell, away from the cell's centre
    col, row = 40, 20
    cx, cy = transform @ (col, row)  # the cell's top-left corner
    tiny = box(cx + 2, cy - 12, cx + 8, cy - 6)
    with transaction(clean_db, "test") as conn:
        pid = add_shape(conn, 1, shape_in(4547, tiny))
    report = import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    assert report.small == 1
    with clean_db.connect() as conn:
        row_ = _terrain(conn, pid)
    cell_centre = transform @ (col + 0.5, row + 0.5)
    assert row_["terrain_method"] == "centroid" and row_["terrain_status"] == "full"
    assert row_["mean_elevation_m"] == pytest.approx(f(*cell_centre), abs=0.01)
    assert row_["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)


def test_windowed_zonal_statistics_equal_a_single_window(clean_db, tmp_path):
    rng = np.random.default_rng(3)
    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    z = 80 + 15 * np.sin((x - x.min()) / 150.0) + 10 * np.cos((y - y.min()) / 70.0) + rng.normal(0, 0.3, x.shape)
    z[rng.random(z.shape) < 0.03] = np.nan
    dem = write_dem(tmp_path / "rough.tif", z, transform, dtype="float64")
    with transaction(clean_db, "test") as conn:
        ids = [add_parcel(conn, s, side_m=80 + 20 * s) for s in range(1, 9)]
        geoms = [_geom(conn, i) for i in ids]
    info = open_dem(dem)
    results = []
    for block in (7, 33, 10_000):
        shapes = ParcelShapes.from_cgcs2000(ids, geoms, info.crs)
        acc = ZonalAccumulator(shapes, info)
        write_slope(info, tmp_path / f"s{block}.tif", block, sink=acc.add)
        results.append(acc.result())
        # the refresh path (reading the written slope raster) gives the same figures
        again = zonal_from_files(info, str(tmp_path / f"s{block}.tif"), shapes, block)
        assert np.array_equal(again.cells, results[-1].cells)
        assert np.allclose(again.mean_slope, results[-1].mean_slope, rtol=1e-6)
    first = results[0]
    assert (first.coverage < 1).any() and (first.cells > 50).all()
    for other in results[1:]:
        assert np.array_equal(first.cells, other.cells) and np.array_equal(first.valid_cells, other.valid_cells)
        for a, b in ((first.mean_slope, other.mean_slope), (first.max_slope, other.max_slope),
                     (first.mean_elevation, other.mean_elevation)):
            assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_refresh_after_a_geometry_edit_recomputes_only_that_parcel(clean_db, tmp_path):
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    f = _plane(x0, y0)
    dem = dem_from_function(tmp_path / "plane.tif", 4547, f)
    with transaction(clean_db, "test") as conn:
        moved = add_parcel(conn, 1, side_m=200)
        kept = add_parcel(conn, 2, side_m=200)
        third = add_parcel(conn, 3, side_m=200)
    import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        before = _terrain(conn, moved)["mean_elevation_m"]
        kept_at = _terrain(conn, kept)["terrain_updated_at"]
    new_geom = square(HUANGZHOU[0] + 0.003, HUANGZHOU[1] + 0.008, 200)  # ~890 m further north
    with transaction(clean_db, "test", "边界更正") as conn:
        conn.execute(text("UPDATE parcels SET geom = ST_Multi(ST_GeomFromText(:w, 4490)) WHERE id = :i"),
                     {"w": new_geom.wkt, "i": moved})
        assert _terrain(conn, moved)["terrain_stale"] is True
        report = refresh_terrain(conn)
        assert report.refreshed == 1 and not report.missing_files
        row = _terrain(conn, moved)
    assert row["terrain_stale"] is False
    poly = in_crs(4547, new_geom)
    assert row["mean_elevation_m"] == pytest.approx(f(poly.centroid.x, poly.centroid.y), abs=0.2)
    assert row["mean_elevation_m"] - before == pytest.approx(0.08 * 890, rel=0.05)
    with clean_db.connect() as conn:
        assert _terrain(conn, kept)["terrain_updated_at"] == kept_at
        assert _terrain(conn, third)["terrain_status"] == "full"
    # moved off every DEM: the old statistics are dropped, not left behind as if current
    with transaction(clean_db, "test", "移出") as conn:
        conn.execute(text("UPDATE parcels SET geom = ST_Multi(ST_GeomFromText(:w, 4490)) WHERE id = :i"),
                     {"w": square(114.88, 30.50, 200).wkt, "i": moved})  # in 黄州, off the DEM
        report = refresh_terrain(conn, [moved])
        assert report.removed == 1
        assert _terrain(conn, moved)["terrain_status"] == "not_covered"


def test_new_parcel_on_a_dem_gets_statistics_on_refresh(clean_db, tmp_path):
    dem = dem_from_function(tmp_path / "plane.tif", 4547, lambda x, y: 0.1 * (y - y.min()))
    import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 4, side_m=150)
        assert _terrain(conn, pid)["terrain_status"] == "not_covered"
        assert refresh_terrain(conn, [pid]).refreshed == 1
        assert _terrain(conn, pid)["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)
        assert refresh_terrain(conn).refreshed == 0  # nothing changed since


def test_best_covering_dem_keeps_the_parcel_and_ties_go_to_the_newest(clean_db, tmp_path):
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    full = dem_from_function(tmp_path / "full.tif", 4547, lambda x, y: np.full(x.shape, 10.0))
    transform, h, w = projected_grid(4547, bounds4490=(114.874, 30.444, 114.8875, 30.462))
    part = write_dem(tmp_path / "part.tif", np.full((h, w), 20.0), transform)
    again = dem_from_function(tmp_path / "full2.tif", 4547, lambda x, y: np.full(x.shape, 30.0))
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 2, side_m=400)  # straddles part.tif's east edge
    a = import_dem(clean_db, full, ADMIN, name="A", out_dir=tmp_path / "var")
    import_dem(clean_db, part, ADMIN, name="B", out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        row = _terrain(conn, pid)
    assert row["terrain_dem_id"] == a.dem_id and row["mean_elevation_m"] == 10.0
    c = import_dem(clean_db, again, ADMIN, name="C", out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        row = _terrain(conn, pid)
    assert row["terrain_dem_id"] == c.dem_id and row["mean_elevation_m"] == 30.0
    # a refresh (forced) applies the same rule across all DEMs
    with transaction(clean_db, "test") as conn:
        refresh_terrain(conn, force=True)
        assert _terrain(conn, pid)["terrain_dem_id"] == c.dem_id


def test_import_is_audited_and_reimport_replaces(clean_db, tmp_path):
    dem = dem_from_function(tmp_path / "plane.tif", 4547, lambda x, y: 0.1 * (y - y.min()))
    officer = Principal(username="wang", role="city_admin")
    first = import_dem(clean_db, dem, officer, name="黄州DEM", out_dir=tmp_path / "var")
    second = import_dem(clean_db, dem, officer, name="黄州DEM", out_dir=tmp_path / "var")
    assert not first.replaced and second.replaced and second.reused_slope and second.dem_id == first.dem_id
    changed = dem_from_function(tmp_path / "plane.tif", 4547, lambda x, y: 0.2 * (y - y.min()))
    third = import_dem(clean_db, changed, officer, name="黄州DEM", reason="更新测绘成果", out_dir=tmp_path / "var")
    assert not third.reused_slope and third.slope_path != first.slope_path
    assert not (tmp_path / "var" / first.slope_path.rsplit("/", 1)[1]).exists()  # the unused raster is removed
    with clean_db.connect() as conn:
        hist = conn.execute(
            text("SELECT action, actor, reason, after FROM history WHERE table_name = 'dems' ORDER BY id")
        ).all()
        assert conn.execute(text("SELECT count(*) FROM dems")).scalar() == 1
    assert [h.action for h in hist] == ["insert", "update", "update"]
    assert all(h.actor == "wang (city_admin)" for h in hist)
    assert hist[0].reason.startswith("导入DEM 黄州DEM") and hist[2].reason == "更新测绘成果"
    assert "checksum_sha256" in hist[2].after and "checksum_sha256" not in hist[1].after


def test_county_officer_updates_own_county_only_and_park_manager_is_refused(clean_db, tmp_path):
    dem = dem_from_function(tmp_path / "flat.tif", 4547, lambda x, y: np.full(x.shape, 5.0))
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 1, side_m=200)
    with pytest.raises(Forbidden):
        import_dem(clean_db, dem, Principal("pm", "park_manager", parks=frozenset({1})), out_dir=tmp_path / "v")
    other = import_dem(clean_db, dem, Principal("li", "county_officer", counties=frozenset({"421182"})), out_dir=tmp_path / "v")
    assert other.parcels == 0
    mine = import_dem(clean_db, dem, Principal("hu", "county_officer", counties=frozenset({"421102"})), out_dir=tmp_path / "v")
    assert mine.parcels == 1
    with clean_db.connect() as conn:
        assert _terrain(conn, pid)["terrain_status"] == "full"


def test_dem_without_crs_is_refused_and_accepted_with_crs(clean_db, tmp_path):
    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    dem = write_dem(tmp_path / "nocrs.tif", 0.1 * (y - y.min()), transform, crs=None)
    with pytest.raises(DemError, match=r"nocrs\.tif has no coordinate reference system.*--crs"):
        import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dems")).scalar() == 0
    report = import_dem(clean_db, dem, ADMIN, crs="EPSG:4547", out_dir=tmp_path / "var")
    assert report.crs == "EPSG:4547" and not report.crs_from_file


@pytest.fixture
def cli_env(clean_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("HGGIS_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield clean_db
    get_settings.cache_clear()


def test_cli_import_status_refresh_list(cli_env, tmp_path):
    from hggis.cli import app

    transform, h, w = projected_grid(4547)
    x, y = pixel_centres(transform, h, w)
    z = 0.1 * (y - y.min())
    dem = write_dem(tmp_path / "nocrs.tif", z, transform, crs=None)
    with transaction(cli_env, "test") as conn:
        add_parcel(conn, 1, side_m=200)
        add_parcel(conn, 9, side_m=200)  # east of the DEM
    runner = CliRunner()
    bad = runner.invoke(app, ["terrain", "import", str(dem), "--no-progress"])
    assert bad.exit_code == 1
    assert bad.stderr.strip().splitlines() == [
        "error: DEM nocrs.tif has no coordinate reference system; give it with --crs "
        "(e.g. --crs EPSG:4547 for CGCS2000 Gauss-Krüger zone 38, EPSG:4490 for lon/lat)"
    ]
    ok = runner.invoke(app, ["terrain", "import", str(dem), "--crs", "EPSG:4547", "--name", "测试DEM"])
    assert ok.exit_code == 0, ok.output
    assert "DEM 测试DEM imported" in ok.stdout and "full 1, partial 0, not covered 0" in ok.stdout
    assert "1 live parcels have no terrain statistics" in ok.stdout
    assert (tmp_path / "var" / "terrain").is_dir() and list((tmp_path / "var" / "terrain").glob("slope_*.tif"))
    st = runner.invoke(app, ["terrain", "status"])
    assert st.exit_code == 0 and "full 1, partial 0, not covered 1" in st.stdout and "421102001001GB00009" in st.stdout
    assert runner.invoke(app, ["terrain", "refresh"]).stdout.startswith("refreshed 0 parcels")
    listed = runner.invoke(app, ["terrain", "list"])
    assert "测试DEM" in listed.stdout and "EPSG:4547" in listed.stdout and "parcels 1" in listed.stdout
    unknown = runner.invoke(app, ["terrain", "refresh", "--parcel", "421102001001GB99999"])
    assert unknown.exit_code == 1 and "unknown parcel code" in unknown.stderr


def test_slope_stays_within_tolerance_for_a_large_parcel_on_real_like_relief(clean_db, tmp_path):
    """A cone of known slope 20°: mean slope of a parcel around its flank ≈ 20° (Horn smooths the apex)."""
    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    cx, cy = x0 + 600, y0 + 400
    dem = dem_from_function(
        tmp_path / "cone.tif", 4547, lambda x, y: 500 - math.tan(math.radians(20)) * np.hypot(x - cx, y - cy), res=5.0
    )
    with transaction(clean_db, "test") as conn:
        flank = add_shape(conn, 1, shape_in(4547, box(cx + 100, cy - 100, cx + 300, cy + 100)))
    import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    with clean_db.connect() as conn:
        row = _terrain(conn, flank)
    assert row["mean_slope_deg"] == pytest.approx(20.0, abs=0.1)
    assert row["max_slope_deg"] == pytest.approx(20.0, abs=0.1)


def test_reimport_of_a_shrunk_dem_hands_parcels_back_to_the_best_other_dem(clean_db, tmp_path):
    wide = (114.874, 30.444, 114.915, 30.462)
    t_wide, h, w = projected_grid(4547, bounds4490=wide)
    t_west, hw, ww = projected_grid(4547, bounds4490=(114.874, 30.444, 114.8875, 30.462))
    with transaction(clean_db, "test") as conn:
        west = add_parcel(conn, 1, side_m=200)
        east = add_parcel(conn, 9, side_m=200)
    var = tmp_path / "var"
    import_dem(clean_db, write_dem(tmp_path / "other.tif", np.full((h, w), 5.0), t_wide), ADMIN, name="other", out_dir=var)
    x1 = import_dem(clean_db, write_dem(tmp_path / "x.tif", np.full((h, w), 7.0), t_wide), ADMIN, name="X", out_dir=var)
    with clean_db.connect() as conn:
        assert {_terrain(conn, p)["mean_elevation_m"] for p in (west, east)} == {7.0}
    x2 = import_dem(clean_db, write_dem(tmp_path / "x.tif", np.full((hw, ww), 9.0), t_west), ADMIN, name="X", out_dir=var)
    assert x2.replaced and x2.dem_id == x1.dem_id and x2.parcels == 1
    with clean_db.connect() as conn:
        assert _terrain(conn, west)["mean_elevation_m"] == 9.0
        moved = _terrain(conn, east)
        assert moved["mean_elevation_m"] == 5.0 and moved["terrain_status"] == "full"
        assert moved["terrain_dem_id"] != x1.dem_id


def test_editing_a_parcel_through_the_service_refreshes_its_terrain(clean_db, tmp_path):
    """update_parcel and split_parcel recompute slope/elevation of the new outlines at once."""
    from hggis.access.policy import operator
    from hggis.parcel_edits import split_parcel, update_parcel
    from tests.factories import parcel_code

    x0, y0 = in_crs(4547, shapely.Point(HUANGZHOU)).coords[0]
    f = _plane(x0, y0)
    dem = dem_from_function(tmp_path / "plane.tif", 4547, f)
    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 1, side_m=200)
    import_dem(clean_db, dem, ADMIN, out_dir=tmp_path / "var")
    new_geom = square(HUANGZHOU[0] + 0.003, HUANGZHOU[1] + 0.008, 200)
    with transaction(clean_db, "test", "边界更正") as conn:
        update_parcel(conn, operator(), parcel_code(1), {"geometry": new_geom}, 1, "边界更正")
        row = _terrain(conn, pid)
    poly = in_crs(4547, new_geom)
    assert row["terrain_stale"] is False
    assert row["mean_elevation_m"] == pytest.approx(f(poly.centroid.x, poly.centroid.y), abs=0.2)
    minx, miny, maxx, maxy = new_geom.bounds
    mid = (minx + maxx) / 2
    halves = [(parcel_code(2), shapely.box(minx, miny, mid, maxy)), (parcel_code(3), shapely.box(mid, miny, maxx, maxy))]
    with transaction(clean_db, "test", "分宗") as conn:
        split_parcel(conn, operator(), parcel_code(1), halves, 2, "分宗")
        ids = conn.execute(text("SELECT id FROM parcels WHERE code = ANY(:c) ORDER BY code"),
                           {"c": [c for c, _ in halves]}).scalars().all()
        assert [_terrain(conn, i)["terrain_status"] for i in ids] == ["full", "full"]
