"""Unit tests of hggis.geo against independent references.

References used, none of them the module's own formula re-typed:
- exact unit definitions (domain.md §1);
- the closed-form area of an ellipsoidal quadrangle (authalic-latitude formula) and an
  equal-area projection, for the ellipsoidal area;
- Krüger's n-series for transverse Mercator (written out here) and the published
  reference point 115°E 30.5°N → EPSG:4547 (596001.31, 3375966.96), for Gauss-Krüger;
- published test vectors of other GCJ-02 implementations and geodesic distances from
  pyproj.Geod, for GCJ-02.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import CRS, Geod
from shapely.geometry import Point, Polygon, box

from hggis import geo
from hggis.geo import (
    GK_ZONES,
    HUANGGANG_BBOX,
    M2_PER_MU,
    area_mu,
    ellipsoidal_area_m2,
    gcj02_to_wgs84,
    gcj02_to_wgs84_arrays,
    gcj02_to_wgs84_geom,
    gcj02_to_wgs84_single_step,
    gk_zone_info_of_crs,
    gk_zone_of_crs,
    guess_crs_from_coords,
    m2_to_mu,
    mu_to_m2,
    to_cgcs2000,
    transformer,
    wgs84_to_gcj02,
    wgs84_to_gcj02_arrays,
    wgs84_to_gcj02_geom,
    zone_for_longitude,
    zone_from_easting,
)

GEOD = Geod(ellps="GRS80")
# GRS80 / CGCS2000 defining constants.
A = 6378137.0
F = 1 / 298.257222101


def dist_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance(s) in metres."""
    _, _, d = GEOD.inv(np.atleast_1d(lon1), np.atleast_1d(lat1), np.atleast_1d(lon2), np.atleast_1d(lat2))
    return np.asarray(d)


# ------------------------------------------------------------------------------- units


def test_mu_definitions():
    assert M2_PER_MU == pytest.approx(666.6666666666666, rel=1e-15)
    assert mu_to_m2(1) == pytest.approx(10_000 / 15, rel=1e-15)
    assert mu_to_m2(15) == pytest.approx(10_000, rel=1e-15)  # 15 亩 = 1 公顷
    assert mu_to_m2(1500) == pytest.approx(1_000_000, rel=1e-15)  # 1500 亩 = 1 km²
    assert m2_to_mu(1_000_000) == pytest.approx(1500, rel=1e-15)
    assert m2_to_mu(10_000) == pytest.approx(15, rel=1e-15)
    # The plan's 500–1000 亩 county reserve is 33.3–66.7 ha.
    assert mu_to_m2(500) / 10_000 == pytest.approx(33.333, abs=1e-3)
    assert mu_to_m2(1000) / 10_000 == pytest.approx(66.667, abs=1e-3)
    assert m2_to_mu(mu_to_m2(123.456)) == pytest.approx(123.456, rel=1e-15)


# ------------------------------------------------------------------------------- area


def quadrangle_area_closed_form(lon1, lat1, lon2, lat2, a=A, f=F) -> float:
    """Area between two parallels and two meridians on the ellipsoid (authalic formula).

    A = Δλ · b² · [q(φ)]_{φ1}^{φ2}, q(φ) = sinφ / (2(1 − e² sin²φ)) + atanh(e sinφ) / (2e).
    """
    e2 = f * (2 - f)
    e = math.sqrt(e2)
    b = a * (1 - f)

    def q(phi):
        s = math.sin(phi)
        return s / (2 * (1 - e2 * s * s)) + math.atanh(e * s) / (2 * e)

    return math.radians(lon2 - lon1) * b * b * (q(math.radians(lat2)) - q(math.radians(lat1)))


def test_closed_form_reference_is_sane():
    # Whole ellipsoid: 4π·R_authalic²; GRS80 surface = 510 065 621.7 km² (Moritz 1980).
    total = quadrangle_area_closed_form(-180, -90, 180, 90)
    assert total / 1e6 == pytest.approx(510_065_621.7, rel=1e-9)


def test_cell_area_matches_closed_form():
    cell = box(115.0, 30.5, 115.01, 30.51)  # ≈ 0.96 km × 1.11 km
    ref = quadrangle_area_closed_form(115.0, 30.5, 115.01, 30.51)
    assert 1.0e6 < ref < 1.1e6
    assert ellipsoidal_area_m2(cell) == pytest.approx(ref, rel=1e-3)
    assert area_mu(cell) == pytest.approx(ref / (10_000 / 15), rel=1e-3)


def test_area_matches_geod_and_equal_area_projection():
    # A ~1 km square laid out in the Gauss-Krüger plane near 115°E 30.5°N.
    e0, n0 = 596_000.0, 3_376_000.0
    sq_gk = Polygon([(e0, n0), (e0 + 1000, n0), (e0 + 1000, n0 + 1000), (e0, n0 + 1000)])
    sq = to_cgcs2000(sq_gk, 4547)
    area = ellipsoidal_area_m2(sq)
    geod_area, _ = GEOD.geometry_area_perimeter(sq)
    assert area == pytest.approx(abs(geod_area), rel=1e-12)
    # Albers equal-area on GRS80 (independent of Geod's geodesic polygon algorithm).
    aea = CRS("+proj=aea +lat_1=29.5 +lat_2=31.5 +lat_0=30 +lon_0=115 +ellps=GRS80 +units=m")
    t = transformer(4490, aea)
    xs, ys = t.transform(*sq.exterior.coords.xy)
    planar = Polygon(zip(xs, ys, strict=True)).area
    assert area == pytest.approx(planar, rel=1e-6)
    # GK scale at 96 km from the CM (k ≈ 1 + y²/2R²) makes the plane area ~0.023 % larger.
    assert 1e6 / area - 1 == pytest.approx(2.27e-4, abs=0.1e-4)
    # Orientation and holes.
    assert ellipsoidal_area_m2(Polygon(list(sq.exterior.coords)[::-1])) == pytest.approx(area)
    assert ellipsoidal_area_m2(Point(115, 30.5)) == 0.0


def test_gauss_kruger_area_error_at_zone_edge_is_about_0_05_percent():
    lon, lat = 115.5, 30.5  # edge of zone 38
    e, n = transformer(4490, 4547).transform(lon, lat)
    sq = to_cgcs2000(box(e - 500, n - 500, e + 500, n + 500), 4547)
    excess = 1e6 / ellipsoidal_area_m2(sq) - 1
    assert 0.04e-2 < excess < 0.06e-2


def test_web_mercator_inflates_area_by_1_35_at_30_5N():
    cell = box(115.0, 30.5, 115.01, 30.51)
    t = transformer(4490, 3857)
    xs, ys = t.transform(*cell.exterior.coords.xy)
    ratio = Polygon(zip(xs, ys, strict=True)).area / ellipsoidal_area_m2(cell)
    assert ratio == pytest.approx(1.35, abs=0.01)
    assert ratio == pytest.approx(1 / math.cos(math.radians(30.505)) ** 2, rel=0.01)


# ------------------------------------------------------------------------------- Gauss-Krüger


def krueger_tm(lon, lat, lon0, false_easting=500_000.0, k0=1.0, a=A, f=F):
    """Transverse Mercator by Krüger's n-series to n⁴ (mm-accurate within a few degrees)."""
    n = f / (2 - f)
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = [
        n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16 + 41 * n**4 / 180,
        13 * n**2 / 48 - 3 * n**3 / 5 + 557 * n**4 / 1440,
        61 * n**3 / 240 - 103 * n**4 / 140,
        49561 * n**4 / 161280,
    ]
    e = 2 * math.sqrt(n) / (1 + n)
    phi, dlam = math.radians(lat), math.radians(lon - lon0)
    t = math.sinh(math.atanh(math.sin(phi)) - e * math.atanh(e * math.sin(phi)))
    xi = math.atan2(t, math.cos(dlam))
    eta = math.atanh(math.sin(dlam) / math.sqrt(1 + t * t))
    x = eta + sum(al * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, al in enumerate(alpha, 1))
    y = xi + sum(al * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, al in enumerate(alpha, 1))
    return false_easting + k0 * big_a * x, k0 * big_a * y


def test_reference_point_epsg4547():
    e, n = transformer(4490, 4547).transform(115.0, 30.5)
    assert e == pytest.approx(596001.31, abs=0.01)
    assert n == pytest.approx(3375966.96, abs=0.01)
    ke, kn = krueger_tm(115.0, 30.5, 114.0)
    assert ke == pytest.approx(596001.31, abs=0.01)
    assert kn == pytest.approx(3375966.96, abs=0.01)
    assert (e, n) == pytest.approx((ke, kn), abs=0.001)


def test_reference_point_prefixed_and_zone_39():
    e, n = transformer("EPSG:4490", "EPSG:4526").transform(115.0, 30.5)
    assert e == pytest.approx(38596001.31, abs=0.01)
    assert n == pytest.approx(3375966.96, abs=0.01)
    e39, n39 = transformer(4490, 4548).transform(115.0, 30.5)
    assert (e39, n39) == pytest.approx(krueger_tm(115.0, 30.5, 117.0), abs=0.001)
    e39p, _ = transformer(4490, 4527).transform(115.0, 30.5)
    assert e39p == pytest.approx(39_000_000 + e39, abs=0.001)


def test_transformer_is_cached_and_lon_lat_ordered():
    assert transformer(4490, 4547) is transformer(4490, 4547)
    # EPSG:4490 declares lat, lon; always_xy makes (lon, lat) the order everywhere.
    lon, lat = transformer(4547, 4490).transform(596001.31, 3375966.96)
    assert (lon, lat) == pytest.approx((115.0, 30.5), abs=1e-7)


def test_to_cgcs2000_round_trip():
    p = to_cgcs2000(Point(596001.3082, 3375966.9601), "EPSG:4547")
    assert (p.x, p.y) == pytest.approx((115.0, 30.5), abs=1e-9)
    p = to_cgcs2000(Point(38596001.3082, 3375966.9601), CRS.from_epsg(4526))
    assert (p.x, p.y) == pytest.approx((115.0, 30.5), abs=1e-9)


@pytest.mark.parametrize(
    "crs, zone, prefixed",
    [
        (4526, 38, True),
        ("EPSG:4527", 39, True),
        (CRS.from_epsg(4547), 38, False),
        ("EPSG:4548", 39, False),
        (CRS.from_epsg(4548).to_wkt(), 39, False),
    ],
)
def test_gk_zone_of_crs_by_code(crs, zone, prefixed):
    z = gk_zone_of_crs(crs)
    assert z is GK_ZONES[zone]
    assert gk_zone_info_of_crs(crs) == (GK_ZONES[zone], prefixed)


ESRI_PRJ_38 = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
# Hand-written WKT1 with nonstandard names and no AUTHORITY anywhere.
CUSTOM_PRJ_39_PREFIXED = (
    'PROJCS["my survey",GEOGCS["cgcs2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",117],PARAMETER["scale_factor",1],'
    'PARAMETER["false_easting",39500000],PARAMETER["false_northing",0],UNIT["metre",1]]'
)


def test_gk_zone_of_prj_without_authority_code():
    assert "AUTHORITY" not in ESRI_PRJ_38 and "AUTHORITY" not in CUSTOM_PRJ_39_PREFIXED
    assert gk_zone_info_of_crs(ESRI_PRJ_38) == (GK_ZONES[38], False)
    assert gk_zone_info_of_crs(CUSTOM_PRJ_39_PREFIXED) == (GK_ZONES[39], True)
    # The parameter path on its own (no EPSG lookup):
    assert geo._match_by_parameters(CRS(ESRI_PRJ_38)) == (GK_ZONES[38], False)
    assert geo._match_by_parameters(CRS(CUSTOM_PRJ_39_PREFIXED)) == (GK_ZONES[39], True)
    proj = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    assert CRS(proj).to_epsg(min_confidence=100) is None
    assert gk_zone_info_of_crs(proj) == (GK_ZONES[39], False)


@pytest.mark.parametrize(
    "crs",
    [
        4490,  # geographic
        3857,  # Web Mercator
        32650,  # WGS 84 / UTM 50N
        2383,  # Xian 1980 / 3-degree GK CM 114E: same parameters, other datum
        2435,  # Beijing 1954 / 3-degree GK CM 114E
        4546,  # CGCS2000 / 3-degree GK CM 111E (zone 37)
        "+proj=tmerc +lon_0=114 +k=0.9996 +x_0=500000 +ellps=GRS80",  # wrong scale
        "+proj=tmerc +lon_0=114 +x_0=39500000 +ellps=GRS80",  # prefix contradicts the CM
        "not a crs",
    ],
)
def test_gk_zone_of_crs_rejects_others(crs):
    assert gk_zone_of_crs(crs) is None


def test_zone_from_easting():
    assert zone_from_easting(38596001.31) == (GK_ZONES[38], True)
    assert zone_from_easting(39307983.10) == (GK_ZONES[39], True)
    assert zone_from_easting(596001.31) is None  # 6 digits: zone unknown
    assert zone_from_easting(37500000.0) is None  # zone 37 is not ours
    assert zone_from_easting(38999999.0) is None  # 500 km from the CM: not a 3° zone
    assert zone_from_easting(float("nan")) is None


@pytest.mark.parametrize(
    "lon, zone",
    [(114.0, 38), (115.0, 38), (115.49, 38), (115.51, 39), (116.2, 39), (112.6, 38), (118.4, 39)],
)
def test_zone_for_longitude(lon, zone):
    assert zone_for_longitude(lon) is GK_ZONES[zone]


def test_zone_for_longitude_outside():
    with pytest.raises(KeyError):
        zone_for_longitude(120.0)


# ------------------------------------------------------------------------------- CRS guessing


def _grid(lon0, lon1, lat0, lat1, n=5):
    lons, lats = np.meshgrid(np.linspace(lon0, lon1, n), np.linspace(lat0, lat1, n))
    return lons.ravel(), lats.ravel()


WEST = _grid(114.6, 115.3, 30.3, 31.3)  # 黄州/团风/麻城/罗田: zone 38
EAST = _grid(115.6, 116.0, 29.8, 30.1)  # 武穴/黄梅: zone 39


def test_guess_degrees():
    g = guess_crs_from_coords(*WEST)
    assert (g.epsg, g.swapped, g.ambiguous) == (4490, False, False)
    assert "4490" in g.reason
    g = guess_crs_from_coords(WEST[1], WEST[0])
    assert (g.epsg, g.swapped) == (4490, True)
    assert g.hint


def test_guess_prefixed_zone_38():
    e, n = transformer(4490, 4526).transform(*WEST)
    assert np.all((e > 38e6) & (e < 39e6))
    g = guess_crs_from_coords(e, n)
    assert (g.epsg, g.candidates, g.swapped) == (4526, (4526,), False)
    assert "38" in g.reason


def test_guess_prefixed_zone_39():
    e, n = transformer(4490, 4527).transform(*EAST)
    g = guess_crs_from_coords(list(e), list(n))
    assert (g.epsg, g.swapped) == (4527, False)


def test_guess_unprefixed_zone_38():
    e, n = transformer(4490, 4547).transform(*WEST)
    assert np.all((e > 300_000) & (e < 700_000)) and np.all((n > 3.3e6) & (n < 3.5e6))
    g = guess_crs_from_coords(e, n)
    assert (g.epsg, g.candidates, g.swapped, g.ambiguous) == (4547, (4547,), False, False)
    assert "38 带" in g.reason


def test_guess_unprefixed_zone_39():
    e, n = transformer(4490, 4548).transform(*EAST)
    g = guess_crs_from_coords(e, n)
    assert (g.epsg, g.candidates) == (4548, (4548,))


def test_guess_unprefixed_ambiguous_with_wide_area():
    e, n = transformer(4490, 4547).transform(*WEST)
    g = guess_crs_from_coords(e, n, bbox=(110.0, 25.0, 120.0, 35.0))
    assert g.epsg is None and g.ambiguous
    assert g.candidates == (4547, 4548)
    assert "无法确定投影带" in g.reason and "4547" in g.reason and "4548" in g.reason


def test_guess_swapped_unprefixed():
    e, n = transformer(4490, 4547).transform(*WEST)
    g = guess_crs_from_coords(n, e)  # survey table order: X = northing first
    assert (g.epsg, g.swapped) == (4547, True)
    assert g.hint and "交换" in g.hint


def test_guess_swapped_prefixed():
    e, n = transformer(4490, 4526).transform(*WEST)
    g = guess_crs_from_coords(n, e)  # x ≈ 3.37e6, y ≈ 38xxxxxx
    assert (g.epsg, g.swapped) == (4526, True)


def test_guess_mixed_prefixes():
    e38, n38 = transformer(4490, 4526).transform(*WEST)
    e39, n39 = transformer(4490, 4527).transform(*EAST)
    g = guess_crs_from_coords(np.r_[e38, e39], np.r_[n38, n39])
    assert g.epsg is None and g.candidates == (4526, 4527)


def test_guess_unknown():
    assert guess_crs_from_coords([1000.0, 2000.0], [5000.0, 6000.0]).epsg is None
    g = guess_crs_from_coords([2.35], [48.85])  # Paris: degrees, not 黄冈
    assert g.epsg is None
    assert guess_crs_from_coords([], []).epsg is None
    # GK-looking metres 250 km south of 黄冈 land inside it in neither zone.
    assert guess_crs_from_coords([596000.0], [3_100_500.0]).epsg is None


# ------------------------------------------------------------------------------- GCJ-02


def test_gcj02_published_vectors():
    # coordtransform-rs tests (same public formula): forward and its one-step inverse.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-9)
    assert gcj02_to_wgs84_single_step(116.404, 39.915) == pytest.approx(
        (116.39775550083061, 39.91359571849836), abs=1e-9
    )
    # geotool (Rust) test near Shanghai, at 黄冈's latitude; implementations agree to ~1 cm.
    assert wgs84_to_gcj02(121.0917077, 30.6107779) == pytest.approx(
        (121.09626935575027, 30.608604331756705), abs=1e-6
    )
    # gcoord (JS) GCJ02 → WGS84, asserted there to 5 decimals.
    assert gcj02_to_wgs84(123.0, 45.0) == pytest.approx((122.99395597, 44.99804071), abs=1e-5)


def test_gcj02_shift_near_huanggang():
    lon, lat = 115.0, 30.5
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon - lon == pytest.approx(0.0053, abs=0.0002)  # east
    assert glat - lat == pytest.approx(-0.0025, abs=0.0002)  # south
    assert 540 <= dist_m(lon, lat, glon, glat)[0] <= 595


def _huanggang_grid(n=15):
    lon0, lat0, lon1, lat1 = 114.4, 29.72, 116.14, 31.61
    return _grid(lon0, lon1, lat0, lat1, n)


def test_gcj02_shift_magnitude_over_huanggang():
    lon, lat = _huanggang_grid()
    glon, glat = wgs84_to_gcj02_arrays(lon, lat)
    d = dist_m(lon, lat, glon, glat)
    assert d.min() >= 530 and d.max() <= 600
    assert np.all(glon > lon) and np.all(glat < lat)


def test_gcj02_round_trip_iterative_and_single_step():
    lon, lat = _huanggang_grid()
    glon, glat = wgs84_to_gcj02_arrays(lon, lat)
    wlon, wlat = gcj02_to_wgs84_arrays(glon, glat)
    err_iter = dist_m(lon, lat, wlon, wlat)
    assert err_iter.max() < 0.5
    assert err_iter.max() < 0.001  # in fact sub-millimetre
    single = np.array([gcj02_to_wgs84_single_step(a, b) for a, b in zip(glon, glat, strict=True)])
    err_single = dist_m(lon, lat, single[:, 0], single[:, 1])
    assert err_single.max() > err_iter.max()
    assert err_single.max() > 1.0  # metre-level: the reason for the iterative inverse


def test_gcj02_scalar_matches_arrays_and_geometry():
    lon, lat = _huanggang_grid(4)
    ga, gb = wgs84_to_gcj02_arrays(lon, lat)
    for i in range(lon.size):
        assert wgs84_to_gcj02(lon[i], lat[i]) == (ga[i], gb[i])
    poly = box(114.9, 30.4, 115.0, 30.5)
    shifted = wgs84_to_gcj02_geom(poly)
    assert shifted.geom_type == "Polygon"
    back = gcj02_to_wgs84_geom(shifted)
    a = np.asarray(poly.exterior.coords)
    b = np.asarray(back.exterior.coords)
    assert dist_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 0.001
    # GCJ-02 is not a rigid shift: its sine terms stretch space by up to ~0.3 %, so even
    # areas measured on unconverted AMap data are off (here +0.26 %).
    rel = ellipsoidal_area_m2(shifted) / ellipsoidal_area_m2(poly) - 1
    assert 0.001 < abs(rel) < 0.005


def test_outside_china_unchanged():
    assert wgs84_to_gcj02(2.3522, 48.8566) == (2.3522, 48.8566)  # Paris
    assert gcj02_to_wgs84(2.3522, 48.8566) == (2.3522, 48.8566)
    lon, lat = wgs84_to_gcj02_arrays([139.9, 151.2], [36.0, -33.9])  # east of 137.8°E, south
    assert list(lon) == [139.9, 151.2] and list(lat) == [36.0, -33.9]


def test_bbox_contains_reference_point():
    lon0, lat0, lon1, lat1 = HUANGGANG_BBOX
    assert lon0 < 115.0 < lon1 and lat0 < 30.5 < lat1
