"""Map pages rendered by the app: offline assets, the frame, access, filters, base maps, GCJ-02."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.assets import ASSET_MOUNTS, npm_packages
from hggis.access.policy import CONFIDENTIAL_FIELDS, PUBLIC, operator
from hggis.config import Settings
from hggis.geo import AREA_DECIMALS
from hggis.mapdata.common import DataNote, to_gcj02
from hggis.mapdata.land import LandFilter
from maps import clusters, evaluation, idle, land
from maps.assets import LOCAL, UnknownAsset, external_urls, localize
from maps.base import BasemapError, Header, MapFrame, basemap_from
from tests.maps_helpers import add_user, load_maps_demo

MAP_PATHS = ["/maps/clusters", "/maps/land", "/maps/evaluation", "/maps/idle"]


@pytest.fixture(scope="module")
def demo(engine):
    from tests.conftest import wipe_data

    load_maps_demo(engine)
    token, _sid = add_user(engine, "maps_admin", "city_admin")
    with TestClient(create_app(engine)) as client:
        yield client, engine, {"Authorization": f"Bearer {token}"}
    wipe_data(engine)


def _overlay_data(page: str) -> list[dict]:
    """The GeoJSON each overlay of a page carries (HGGIS.geojson(map, <data>, <opts>))."""
    found = []
    for m in re.finditer(r"HGGIS\.geojson\(\w+, (\{.*?\}),\s*\n\s*(\{.*?\})\);", page, re.S):
        found.append({"data": json.loads(m.group(1)), "opts": json.loads(m.group(2))})
    return found


def _overlay(page: str, register: str) -> dict:
    for o in _overlay_data(page):
        if o["opts"].get("register") == register:
            return o["data"]
    raise AssertionError(f"no overlay {register}")


# --- offline assets ------------------------------------------------------------------------------

def test_every_map_page_has_no_external_url_and_its_assets_are_served(demo):
    client, _engine, auth = demo
    for path in MAP_PATHS + ["/dashboard"]:
        r = client.get(path, headers=auth)
        assert r.status_code == 200, (path, r.text[:300])
        assert external_urls(r.text) == [], path
        assert "cdn" not in r.text.lower() and "unpkg" not in r.text.lower(), path
        local = re.findall(r'(?:src|href)="(/(?:assets|static)/[^"]+)"', r.text)
        assert local, path
        for url in set(local):
            assert client.get(url).status_code == 200, url


def test_folium_resources_are_rewritten_or_refused():
    import folium
    from folium.plugins import Fullscreen, MiniMap

    m = folium.Map(tiles=None)
    Fullscreen().add_to(m)
    localize(m)
    html = m.get_root().render()
    assert "/assets/leaflet/leaflet.js" in html and "leaflet.fullscreen/Control.FullScreen.js" in html
    assert external_urls(html) == []
    with pytest.raises(UnknownAsset):
        m2 = folium.Map(tiles=None)
        MiniMap().add_to(m2)
        localize(m2)


def test_every_local_asset_exists_in_node_modules():
    for url in LOCAL.values():
        prefix = next(p for p in sorted(ASSET_MOUNTS, key=len, reverse=True) if url.startswith(p + "/"))
        assert (ASSET_MOUNTS[prefix] / url[len(prefix) + 1:]).is_file(), url
    assert {"leaflet", "leaflet.vectorgrid", "chart.js", "jquery", "bootstrap"} <= set(npm_packages())


def test_external_urls_finds_cdn_links_and_allows_tile_servers():
    page = ('<script src="https://cdn.jsdelivr.net/npm/x.js"></script><link href="//unpkg.com/y.css">'
            '<svg xmlns="http://www.w3.org/2000/svg"></svg> "http://t{s}.tianditu.gov.cn/vec_w/wmts?tk=1"')
    assert external_urls(page, ["http://t{s}.tianditu.gov.cn/"]) == [
        "https://cdn.jsdelivr.net/npm/x.js", "//unpkg.com/y.css"]


# --- the frame ----------------------------------------------------------------------------------------

def test_map_frame_has_legend_layers_scale_fullscreen_print_note_and_demo_label(demo):
    client, _engine, _auth = demo
    page = client.get("/maps/clusters").text
    for needle in ("L.control.layers", "L.control.scale", "L.control.fullscreen", "hg-legend", "打印",
                   "@media print", "数据日期：", "年", "示例数据", 'lang="zh-CN"', "产业集群分布图"):
        assert needle in page or needle in client.get("/static/hggis-maps.css").text, needle


def _tile_opts(page: str, register: str) -> tuple[str, dict]:
    """(URL, options) of a vector-tile overlay of a page (HGGIS.vectorTiles(map, <url>, <opts>))."""
    for m in re.finditer(r"HGGIS\.vectorTiles\(\w+, (\".*?\"),\s*\n\s*(\{.*?\})\);", page, re.S):
        opts = json.loads(m.group(2))
        if opts.get("register") == register:
            return json.loads(m.group(1)), opts
    raise AssertionError(f"no tile overlay {register}")


def _list(client, query: str = "", **headers) -> dict:
    r = client.get("/maps/land/list.json" + (f"?{query}" if query else ""), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_popups_state_area_in_mu_to_two_decimals(demo):
    client, engine, _auth = demo
    page = client.get("/maps/land").text
    with engine.connect() as conn:
        expected = dict(conn.execute(text(
            "SELECT code, round(area_mu::numeric, 2)::float8 FROM parcels WHERE status = 'on_offer' AND retired_at IS NULL "
            "ORDER BY area_mu DESC, code LIMIT 200"
        )).all())
    got = {r["code"]: r["area_mu"] for r in _list(client)["rows"]}
    assert got == expected
    _url, opts = _tile_opts(page, "land")
    assert ["area_mu", "面积", "mu"] in opts["popup"]["fields"]
    assert ["code", "详情", "parcel"] in opts["popup"]["fields"]  # the popup links to the parcel page
    assert "mu: function (v) { return num(v, HGGIS.areaDecimals)" in client.get("/static/hggis-maps.js").text
    assert f"HGGIS.areaDecimals = {AREA_DECIMALS};" in page and AREA_DECIMALS == 2


# --- the maps' content ----------------------------------------------------------------------------------

def test_cluster_map_shows_parks_clusters_and_counties(demo):
    client, engine, _auth = demo
    page = client.get("/maps/clusters").text
    with engine.connect() as conn:
        n_parks = conn.execute(text("SELECT count(*) FROM parks WHERE boundary IS NOT NULL")).scalar()
        n_counties = conn.execute(text("SELECT count(*) FROM counties WHERE boundary IS NOT NULL")).scalar()
        top = conn.execute(text(
            "SELECT k.name, round((sum(y.output) / 10000.0)::numeric, 1)::float8 FROM parks k JOIN enterprises e "
            "ON e.park_id = k.id JOIN enterprise_years y ON y.enterprise_id = e.id AND y.year = 2024 "
            "GROUP BY k.name ORDER BY 2 DESC LIMIT 1")).one()
    assert len(_overlay(page, "parks")["features"]) == n_parks
    assert len(_overlay(page, "counties")["features"]) == n_counties
    outputs = {f["properties"]["name"]: f["properties"]["output_yi"] for f in _overlay(page, "park_markers")["features"]}
    assert outputs[top[0]] == top[1]
    tiers = _overlay(page, "clusters")["features"]
    assert any("麻城石材" in f["properties"]["clusters"] for f in tiers)
    filtered = client.get("/maps/clusters?industry=pharma_chem").text
    assert {f["properties"]["industry_code"] for f in _overlay(filtered, "parks")["features"]} == {"pharma_chem"}
    assert client.get("/maps/clusters?industry=nonsense").status_code == 422
    assert client.get("/maps/clusters?year=1999").status_code == 422


def test_public_park_output_is_withheld_below_the_disclosure_threshold(demo):
    _client, engine, _auth = demo
    from hggis.mapdata.clusters import cluster_map

    with engine.connect() as conn:
        few = conn.execute(text(
            "SELECT e.park_id FROM enterprises e JOIN enterprise_years y ON y.enterprise_id = e.id AND y.year = 2024 "
            "WHERE e.park_id IS NOT NULL AND y.output IS NOT NULL GROUP BY e.park_id ORDER BY count(*) LIMIT 1"
        )).scalar()
        conn.execute(text("UPDATE enterprises SET park_id = NULL WHERE park_id = :k AND id NOT IN "
                          "(SELECT id FROM enterprises WHERE park_id = :k ORDER BY id LIMIT 2)"), {"k": few})
        public = {f["properties"]["id"]: f["properties"] for f in cluster_map(conn, PUBLIC).parks["features"]}
        officer = {f["properties"]["id"]: f["properties"] for f in cluster_map(conn, operator()).parks["features"]}
        conn.rollback()
    assert public[few]["output_yi"] is None and public[few]["output_withheld"] is True
    assert officer[few]["output_yi"] is not None


def test_land_map_filters_and_site_finder(demo):
    client, engine, _auth = demo
    with engine.connect() as conn:
        adcode, n = conn.execute(text(
            "SELECT adcode, count(*) FROM parcels WHERE status = 'on_offer' GROUP BY adcode ORDER BY 2 DESC LIMIT 1")).one()
        n_range = conn.execute(text(
            "SELECT count(*) FROM parcels WHERE status = 'on_offer' AND adcode = :a AND area_mu BETWEEN 10 AND 40"),
            {"a": adcode}).scalar()
        intensity = conn.execute(text(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ci.investment_intensity)::float8 FROM parcels p "
            "JOIN control_indicators ci ON ci.parcel_id = p.id WHERE p.status = 'on_offer'")).scalar()
        n_intensity = conn.execute(text(
            "SELECT count(*) FROM parcels p LEFT JOIN control_indicators ci ON ci.parcel_id = p.id "
            "WHERE p.status = 'on_offer' AND p.retired_at IS NULL AND coalesce(ci.investment_intensity, 0) <= :x"),
            {"x": intensity}).scalar()
    page = client.get(f"/maps/land?adcode={adcode}").text
    assert f"可供土地 {n} 宗" in page and _list(client, f"adcode={adcode}")["total"] == n
    url, _opts = _tile_opts(page, "land")
    assert f"adcode={adcode}" in url  # the polygons are the same land as the clusters and list
    assert _list(client, f"adcode={adcode}&min_mu=10&max_mu=40")["total"] == n_range
    assert 0 < _list(client, f"max_intensity={intensity}")["total"] == n_intensity
    assert f"可供土地 {n_intensity} 宗" in client.get(f"/maps/land?max_intensity={intensity}").text
    page = client.get(f"/maps/land?adcode={adcode}&min_mu=20&max_mu=400&sites=true").text
    sites = _overlay(page, "sites")["features"]
    assert sites and all(20 <= s["properties"]["area_mu"] <= 400 for s in sites)
    assert [s["properties"]["site_rank"] for s in sites] == list(range(1, len(sites) + 1))
    assert client.get("/maps/land?min_mu=50&max_mu=10").status_code == 422
    assert client.get("/maps/land?adcode=999999").status_code == 422
    assert client.get("/maps/land?sites=true").status_code == 422  # the finder needs an area range
    for bad in ("bbox=1,2,3", "bbox=10,50,0,40", "sort=holder", "adcode=999999", "max_tax=-1"):
        r = client.get(f"/maps/land/list.json?{bad}")
        assert r.status_code == 422, (bad, r.text)
    assert client.get("/maps/land/clusters.json?zoom=9&industry=nope").status_code == 422


def test_land_clusters_add_up_to_the_land_on_offer_at_every_zoom(demo):
    client, engine, _auth = demo
    with engine.connect() as conn:
        n, area = conn.execute(text(
            "SELECT count(*), sum(area_mu) FROM parcels WHERE status = 'on_offer' AND retired_at IS NULL")).one()
    previous = 0
    for zoom in (7, 9, 11, 12):
        clusters = client.get(f"/maps/land/clusters.json?zoom={zoom}").json()["clusters"]
        assert sum(c["count"] for c in clusters) == n
        assert sum(c["area_mu"] for c in clusters) == pytest.approx(area, abs=0.05 * len(clusters) + 0.01)
        assert all(sum(c["industries"].values()) == c["count"] for c in clusters)
        assert len(clusters) >= previous  # finer grid, more groups
        previous = len(clusters)
    # a view of one cluster holds that cluster's land
    c = clusters[0]
    (s, w), (nn, e) = c["bounds"]
    inside = client.get(f"/maps/land/list.json?bbox={w},{s},{e},{nn}").json()
    assert inside["total"] >= c["count"]


def test_public_maps_show_no_confidential_field(demo):
    client, engine, _auth = demo
    with engine.connect() as conn:
        price = conn.execute(text("SELECT land_price::text FROM parcels WHERE status = 'on_offer' "
                                  "AND land_price IS NOT NULL LIMIT 1")).scalar()
        holder = conn.execute(text("SELECT e.name FROM parcels p JOIN enterprises e ON e.id = p.holder_id "
                                   "WHERE p.status = 'producing' LIMIT 1")).scalar()
    for path in ("/maps/clusters", "/maps/land", "/maps/land?min_mu=10&max_mu=500&sites=true"):
        page = client.get(path).text
        for o in _overlay_data(page):
            for f in o["data"]["features"]:
                assert not set(f["properties"]) & CONFIDENTIAL_FIELDS, (path, set(f["properties"]) & CONFIDENTIAL_FIELDS)
        for name in CONFIDENTIAL_FIELDS:
            assert f'"{name}"' not in page, (path, name)
        if price:
            assert price not in page
        assert holder not in page


def test_restricted_maps_need_sign_in_and_respect_scope(demo):
    client, engine, auth = demo
    for path in ("/maps/evaluation", "/maps/idle", "/dashboard"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (303, 307) and r.headers["location"].startswith("/login"), path
    with engine.connect() as conn:
        park = conn.execute(text("SELECT park_id FROM parcels WHERE park_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
        in_park = conn.execute(text("SELECT count(*) FROM evaluation_results WHERE park_id = :k AND run_id = "
                                    "(SELECT max(id) FROM evaluation_runs)"), {"k": park}).scalar()
    token, _ = add_user(engine, "maps_pm", "park_manager", parks=[park])
    page = client.get("/maps/evaluation", headers={"Authorization": f"Bearer {token}"}).text
    parks = _overlay(page, "parks")["features"]
    assert [f["properties"]["park_id"] for f in parks] == [park]
    assert in_park > 0
    admin = client.get("/maps/evaluation", headers=auth).text
    assert len(_overlay(admin, "parks")["features"]) > 1


def test_evaluation_map_uses_the_latest_run_of_the_year(demo):
    client, engine, auth = demo
    with engine.connect() as conn:
        expected = dict(conn.execute(text(
            """
            SELECT p.code, coalesce(r.class_code, '-')
            FROM (SELECT max(id) AS run FROM evaluation_runs WHERE year = 2024) x
            CROSS JOIN parcels p
            JOIN LATERAL (SELECT enterprise_id FROM evaluation_land l WHERE l.run_id = x.run AND l.parcel_id = p.id
                          ORDER BY l.land_mu DESC, l.enterprise_id LIMIT 1) u ON TRUE
            JOIN evaluation_results r ON r.run_id = x.run AND r.enterprise_id = u.enterprise_id
            WHERE p.retired_at IS NULL
            """)).all())
    page = client.get("/maps/evaluation?year=2024", headers=auth).text
    assert "2024 年度评价" in page
    if len(expected) > Settings().hggis_map_inline_max:
        assert "/tiles/evaluation/{z}/{x}/{y}.pbf?run=" in page
    else:
        got = {f["properties"]["code"]: f["properties"]["class_code"] for f in _overlay(page, "parcels")["features"]}
        assert got == expected
    assert client.get("/maps/evaluation?year=2019", headers=auth).status_code == 422


def test_idle_map_shows_the_scan_and_cases_by_rule_and_state(demo):
    client, engine, auth = demo
    with engine.connect() as conn:
        n_candidates = conn.execute(text("SELECT count(DISTINCT parcel_id) FROM idle_scan_results")).scalar()
        n_cases = conn.execute(text("SELECT count(*) FROM idle_cases")).scalar()
        rule = conn.execute(text("SELECT rule_code FROM idle_scan_results GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
        n_rule = conn.execute(text("SELECT count(DISTINCT parcel_id) FROM idle_scan_results WHERE rule_code = :r"), {"r": rule}).scalar()
    page = client.get("/maps/idle?as_of=2025-07-01", headers=auth).text
    cands = _overlay(page, "candidates")["features"]
    assert len(cands) == n_candidates and len(_overlay(page, "cases")["features"]) == n_cases
    assert all(f["properties"]["days_idle"] is None or f["properties"]["days_idle"] >= 0 for f in cands)
    assert any(f["properties"].get("next_deadline") for f in cands)
    page = client.get(f"/maps/idle?rule={rule}&state=suspected", headers=auth).text
    assert len(_overlay(page, "candidates")["features"]) == n_rule
    assert {f["properties"]["state"] for f in _overlay(page, "cases")["features"]} <= {"suspected"}
    assert client.get("/maps/idle?state=bogus", headers=auth).status_code == 422


# --- base maps and GCJ-02 -----------------------------------------------------------------------------

def test_basemap_configuration():
    assert basemap_from(Settings(hggis_basemap="none")).sources == ()
    with pytest.raises(BasemapError):
        basemap_from(Settings(hggis_basemap="tianditu", tianditu_key=None))
    tdt = basemap_from(Settings(hggis_basemap="tianditu", tianditu_key="abc123"))
    layers = {s.name: s.url for s in tdt.sources}
    assert set(layers) == {"天地图 矢量", "天地图 矢量注记", "天地图 影像", "天地图 影像注记"}
    assert all("tk=abc123" in u and "TILEMATRIXSET=w" in u for u in layers.values())
    assert "LAYER=cva" in layers["天地图 矢量注记"] and "LAYER=img" in layers["天地图 影像"]
    assert basemap_from(Settings(hggis_basemap="amap")).shift == "gcj02"


def test_tianditu_page_allows_only_the_tile_server():
    basemap = basemap_from(Settings(hggis_basemap="tianditu", tianditu_key="k"))
    page = MapFrame(Header("t", DataNote("2025-01-01", False, None)), None, basemap).render()
    urls = re.findall(r"https?://[^\"' ]+", page)
    assert urls and all("tianditu.gov.cn" in u for u in urls)
    assert external_urls(page, basemap.url_prefixes()) == []


def _first_coord(geom: dict) -> tuple[float, float]:
    c = geom["coordinates"]
    while isinstance(c[0], list):
        c = c[0]
    return c[0], c[1]


def test_amap_base_map_shifts_every_overlay_to_gcj02(demo, monkeypatch):
    from pyproj import Geod

    client, engine, _auth = demo
    plain = client.get("/maps/land").text
    plain_rows = _list(client)["rows"]
    plain_clusters = client.get("/maps/land/clusters.json?zoom=9").json()["clusters"]
    monkeypatch.setenv("HGGIS_BASEMAP", "amap")
    from hggis.config import get_settings

    get_settings.cache_clear()
    try:
        shifted = client.get("/maps/land").text
        shifted_rows = _list(client)["rows"]
        shifted_clusters = client.get("/maps/land/clusters.json?zoom=9").json()["clusters"]
        tiles_url = None
        with engine.connect() as conn:
            page = land.build(conn, PUBLIC, LandFilter())
            assert "webrd0" in page
            frame = MapFrame(Header("t", DataNote(None, False, None)), None)
            frame.tiles("x", "/tiles/parcels/{z}/{x}/{y}.pbf", "parcels", {})
            tiles_url = frame.render()
    finally:
        get_settings.cache_clear()
    assert "shift=gcj02" in tiles_url and "shift=gcj02" in _tile_opts(shifted, "land")[0]
    before = {r["code"]: _first_coord(r["outline"]) for r in plain_rows}
    after = {r["code"]: _first_coord(r["outline"]) for r in shifted_rows}
    assert [(c["lat"], c["lon"]) for c in plain_clusters] != [(c["lat"], c["lon"]) for c in shifted_clusters]
    geod = Geod(ellps="WGS84")
    for code, (lon, lat) in list(before.items())[:20]:
        lon2, lat2 = after[code]
        assert 0.004 < lon2 - lon < 0.007 and -0.004 < lat2 - lat < -0.001  # east and south
        _az, _baz, dist = geod.inv(lon, lat, lon2, lat2)
        assert 500 < dist < 620, dist  # ≈ 550 m near 黄冈 (domain.md §2)
    counties = _overlay(shifted, "counties")["features"]
    assert counties and _first_coord(counties[0]["geometry"]) != _first_coord(_overlay(plain, "counties")["features"][0]["geometry"])


def test_to_gcj02_keeps_properties_and_structure():
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"a": 1}, "geometry": {
        "type": "MultiPolygon", "coordinates": [[[[115.0, 30.5], [115.01, 30.5], [115.01, 30.51], [115.0, 30.5]]]]}}]}
    out = to_gcj02(fc)
    assert out["features"][0]["properties"] == {"a": 1}
    ring = out["features"][0]["geometry"]["coordinates"][0][0]
    assert len(ring) == 4 and ring[0] == ring[-1] and ring[0][0] > 115.0


def test_builders_refuse_nothing_for_a_city_admin(demo):
    _client, engine, _auth = demo
    with engine.connect() as conn:
        for page in (clusters.build(conn, operator()), evaluation.build(conn, operator()), idle.build(conn, operator())):
            assert page.startswith("<!DOCTYPE html>") and external_urls(page) == []


def test_staff_of_every_role_open_the_public_land_map_and_their_idle_map(demo):
    """Issue 17 item 1: staff were refused (403) the public 招商地图 and park managers the idle map."""
    client, engine, _ = demo
    with engine.connect() as conn:
        park, adcode = conn.execute(text("SELECT park_id, adcode FROM parcels WHERE park_id IS NOT NULL LIMIT 1")).one()
    pm, _ = add_user(engine, "maps_pm17", "park_manager", parks=[park])
    officer, _ = add_user(engine, "maps_off17", "county_officer", counties=[adcode])
    for token in (pm, officer):
        h = {"Authorization": f"Bearer {token}"}
        assert client.get("/maps/land", headers=h).status_code == 200
        assert client.get("/maps/idle", headers=h).status_code == 200
