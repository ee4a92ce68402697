"""The maps in a real browser: headless Chromium (Debian's), the network blocked except this server.

The app runs under uvicorn on a free loopback port with the demo data (plus an evaluation
run, an idle-land scan and its cases). For each map: no console error, no failed request,
no request leaves 127.0.0.1, the drawn features match the database, a click on a parcel
opens a popup with its area in 亩, the public maps carry no confidential field, and a
screenshot is saved under test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import text

from hggis.access.policy import CONFIDENTIAL_FIELDS
from hggis.config import PROJECT_ROOT
from tests.live_server import live_server
from tests.maps_helpers import EVAL_YEAR, add_user, load_maps_demo

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(engine) -> Iterator[tuple[str, object, str]]:
    """The app on a free loopback port (uvicorn in a thread), the demo data loaded, a session id."""
    from tests.conftest import wipe_data

    assert Path(CHROMIUM).exists() or shutil.which("chromium"), "Chromium is installed by scripts/setup-system.sh"
    load_maps_demo(engine)
    _token, sid = add_user(engine, "browser_admin", "city_admin")
    try:
        with live_server(engine) as base:
            yield base, engine, sid
    finally:
        wipe_data(engine)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Watch:
    """What a page did on the network and the console."""

    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def _open(browser, base: str, path: str, session: str | None = None, context=None) -> tuple[Page, Watch]:  # noqa: ANN001
    context = context or browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    if session:
        context.add_cookies([{"name": "hggis_session", "value": session, "url": base}])
    page = context.new_page()
    watch = Watch()

    def guard(route) -> None:  # noqa: ANN001
        url = route.request.url
        if url.startswith("http://127.0.0.1:") or url.startswith("data:"):
            route.continue_()
        else:
            watch.blocked.append(url)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.console_errors.append(str(e)))
    page.on("requestfailed", lambda r: watch.failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: watch.failed.append(f"{r.url} {r.status}") if r.status >= 400 else None)
    page.goto(base + path, wait_until="networkidle")
    page.wait_for_function("() => window.HGGIS && window.HGGIS.map")
    return page, watch


def _clean(watch: Watch) -> None:
    assert watch.blocked == [], f"requests outside 127.0.0.1: {watch.blocked}"
    assert watch.failed == [], f"failed requests: {watch.failed}"
    assert watch.console_errors == [], f"console errors: {watch.console_errors}"


def _shot(page: Page, name: str) -> None:
    path = ARTIFACTS / f"map-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def _drawn(page: Page, register: str) -> tuple[int, int]:
    """(features in the layer, SVG paths of them in the document)."""
    return tuple(page.evaluate(
        """(name) => { const l = HGGIS.layers[name]; const ls = l.getLayers();
                       return [ls.length, ls.filter(x => x._path && document.contains(x._path)).length]; }""",
        register,
    ))


def _tiles_loaded(page: Page, register: str) -> None:
    """Wait until a vector-tile layer has fetched and drawn every tile of the view."""
    page.wait_for_timeout(300)
    page.wait_for_function("(name) => !HGGIS.layers[name].isLoading()", arg=register, timeout=15000)
    page.wait_for_timeout(300)


def _property_keys(page: Page) -> set[str]:
    keys = page.evaluate(
        """() => { const keys = new Set();
                   for (const l of Object.values(HGGIS.layers)) {
                     if (!l.getLayers) continue;
                     for (const f of l.getLayers()) Object.keys(f.feature.properties).forEach(k => keys.add(k)); }
                   return Array.from(keys); }"""
    )
    return set(keys)


def _click_feature(page: Page, register: str, match: str | None = None) -> str:
    """Zoom to a feature of a GeoJSON layer, click it like a person, return the popup's text."""
    point = page.evaluate(
        """([name, code]) => { const l = HGGIS.layers[name];
             const f = l.getLayers().find(x => !code || x.feature.properties.code === code);
             HGGIS.map.fitBounds(f.getBounds(), {maxZoom: 17, animate: false});
             const p = HGGIS.map.latLngToContainerPoint(f.getCenter());
             const box = HGGIS.map.getContainer().getBoundingClientRect();
             return [box.left + p.x, box.top + p.y]; }""",
        [register, match],
    )
    page.wait_for_timeout(300)
    page.mouse.click(point[0], point[1])
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    page.wait_for_timeout(400)  # the popup's fade-in, before any screenshot
    return page.inner_text(".leaflet-popup-content")


def test_cluster_map_in_the_browser(server, browser):
    base, engine, _sid = server
    page, watch = _open(browser, base, "/maps/clusters")
    with engine.connect() as conn:
        parks = conn.execute(text("SELECT count(*) FROM parks WHERE boundary IS NOT NULL")).scalar()
        counties = conn.execute(text("SELECT count(*) FROM counties WHERE boundary IS NOT NULL")).scalar()
        cluster_counties = conn.execute(text(
            "SELECT count(DISTINCT cc.adcode) FROM cluster_counties cc JOIN clusters c ON c.id = cc.cluster_id "
            "JOIN counties co ON co.adcode = cc.adcode WHERE c.tier = '百亿' AND co.boundary IS NOT NULL")).scalar()
    assert _drawn(page, "parks") == (parks, parks)
    assert _drawn(page, "park_markers") == (parks, parks)
    assert _drawn(page, "counties") == (counties, counties)
    assert _drawn(page, "clusters") == (cluster_counties, cluster_counties)
    assert page.locator(".hg-county-label").count() == counties
    assert "示例数据" in page.inner_text(".hg-head") and page.locator(".hg-legend").count() == 1
    assert not _property_keys(page) & CONFIDENTIAL_FIELDS
    _shot(page, "clusters")
    popup = _click_feature(page, "parks")
    assert "亩" in popup and "级别" in popup
    _clean(watch)
    page.context.close()


def test_land_map_in_the_browser(server, browser):
    """The land map's public view (its clusters, list and polygons: tests/test_land_map_browser.py)."""
    base, engine, _sid = server
    page, watch = _open(browser, base, "/maps/land")
    page.wait_for_function("() => Number(document.body.dataset.drawn || 0) > 0", timeout=20000)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM parcels WHERE status = 'on_offer' AND retired_at IS NULL")).scalar()
        code, area = conn.execute(text(
            "SELECT code, round(area_mu::numeric, 2) FROM parcels WHERE status = 'on_offer' ORDER BY area_mu DESC LIMIT 1")).one()
        holders = list(conn.execute(text("SELECT name FROM enterprises ORDER BY id LIMIT 50")).scalars())
    assert page.evaluate("() => HGGIS.layers.land_clusters.getLayers().reduce((s, m) => s + m.hgCluster.count, 0)") == n
    html = page.content()
    assert not any(h in html for h in holders)
    _shot(page, "land")
    page.click(f'#hg-list-rows tr[data-code="{code}"] td:nth-child(2)')
    page.wait_for_function("() => document.body.dataset.mode === 'polygons'", timeout=20000)
    _tiles_loaded(page, "land")
    point = page.evaluate("""() => { const l = HGGIS.layers.highlight.getLayers()[0];
        const p = HGGIS.map.latLngToContainerPoint(l.getBounds().getCenter());
        const b = HGGIS.map.getContainer().getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }""")
    page.mouse.click(point[0], point[1])
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    page.wait_for_timeout(400)
    popup = page.inner_text(".leaflet-popup-content")
    assert code in popup and f"{area} 亩" in popup
    page.screenshot(path=str(ARTIFACTS / "map-land-popup.png"))
    _clean(watch)
    page.context.close()


def test_land_map_site_finder_in_the_browser(server, browser):
    base, _engine, _sid = server
    page, watch = _open(browser, base, "/maps/land?min_mu=30&max_mu=300&sites=true")
    count, paths = _drawn(page, "sites")
    assert count > 0 and paths == count
    _shot(page, "land-sites")
    _clean(watch)
    page.context.close()


def test_evaluation_map_in_the_browser(server, browser):
    base, engine, sid = server
    page, watch = _open(browser, base, f"/maps/evaluation?year={EVAL_YEAR}", sid)
    with engine.connect() as conn:
        run = conn.execute(text("SELECT max(id) FROM evaluation_runs WHERE year = :y"), {"y": EVAL_YEAR}).scalar()
        park_id, parks = conn.execute(text(
            "SELECT (SELECT park_id FROM evaluation_aggregates WHERE run_id = :r AND level = 'park' ORDER BY n_evaluated DESC LIMIT 1), "
            "(SELECT count(*) FROM evaluation_aggregates a JOIN parks k ON k.id = a.park_id WHERE a.run_id = :r AND a.level = 'park' "
            "AND k.boundary IS NOT NULL)"), {"r": run}).one()
        bounds = conn.execute(text(
            "SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM (SELECT ST_Extent(boundary) e FROM parks WHERE id = :k) s"),
            {"k": park_id}).one()
    assert _drawn(page, "parks") == (parks, parks)
    _shot(page, "evaluation")
    # zoom into the park: the parcels come from the evaluation vector tiles
    page.evaluate("""(b) => { HGGIS.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {animate: false});
                              if (HGGIS.map.getZoom() < 14) HGGIS.map.setZoom(14, {animate: false}); }""", list(bounds))
    _tiles_loaded(page, "parcels")
    ids, keys, paths = page.evaluate(
        """() => { const l = HGGIS.layers.parcels;
                   const keys = Object.keys(l._vectorTiles).filter(k => Object.keys(l._vectorTiles[k]._features).length >= 0);
                   const paths = document.querySelectorAll('.leaflet-tile-container svg path').length;
                   return [HGGIS.tileFeatureIds(l), keys, paths]; }""")
    assert ids and paths >= len(ids)
    with engine.connect() as conn:
        expected: set[str] = set()
        for key in keys:
            x, y, z = (int(v) for v in key.split(":"))
            expected |= set(conn.execute(text(
                """
                SELECT p.code FROM parcels p
                JOIN LATERAL (SELECT l.enterprise_id FROM evaluation_land l WHERE l.run_id = :r AND l.parcel_id = p.id
                              ORDER BY l.land_mu DESC, l.enterprise_id LIMIT 1) u ON TRUE
                JOIN evaluation_results r ON r.run_id = :r AND r.enterprise_id = u.enterprise_id
                WHERE p.retired_at IS NULL
                  AND ST_Intersects(p.geom, ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096), 4490))
                """), {"r": run, "z": z, "x": x, "y": y}).scalars())
    assert set(ids) == expected
    _shot(page, "evaluation-parcels")
    code = sorted(ids)[len(ids) // 2]
    with engine.connect() as conn:
        lat, lon, area = conn.execute(text(
            "SELECT ST_Y(ST_PointOnSurface(geom)), ST_X(ST_PointOnSurface(geom)), round(area_mu::numeric, 2) "
            "FROM parcels WHERE code = :c"), {"c": code}).one()
    point = page.evaluate("""([lat, lon]) => { HGGIS.map.setView([lat, lon], 17, {animate: false});
                               const p = HGGIS.map.latLngToContainerPoint([lat, lon]);
                               const box = HGGIS.map.getContainer().getBoundingClientRect();
                               return [box.left + p.x, box.top + p.y]; }""", [lat, lon])
    _tiles_loaded(page, "parcels")
    page.mouse.click(point[0], point[1])
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    page.wait_for_timeout(400)
    popup = page.inner_text(".leaflet-popup-content")
    assert code in popup and f"{area} 亩" in popup and "分类" in popup
    page.screenshot(path=str(ARTIFACTS / "map-evaluation-popup.png"))
    _clean(watch)
    page.context.close()


def test_idle_map_in_the_browser(server, browser):
    base, engine, sid = server
    page, watch = _open(browser, base, "/maps/idle?as_of=2025-07-01", sid)
    with engine.connect() as conn:
        candidates = conn.execute(text("SELECT count(DISTINCT parcel_id) FROM idle_scan_results")).scalar()
        cases = conn.execute(text("SELECT count(*) FROM idle_cases")).scalar()
        code, area = conn.execute(text(
            "SELECT p.code, round(p.area_mu::numeric, 2) FROM idle_scan_results x JOIN parcels p ON p.id = x.parcel_id "
            "WHERE NOT EXISTS (SELECT 1 FROM idle_cases c WHERE c.parcel_id = x.parcel_id) ORDER BY p.area_mu DESC LIMIT 1")).one()
    assert _drawn(page, "candidates") == (candidates, candidates)
    assert _drawn(page, "cases") == (cases, cases)
    _shot(page, "idle")
    popup = _click_feature(page, "candidates", code)  # a candidate without a case (cases are drawn on top)
    assert code in popup and f"{area} 亩" in popup and "触发规则" in popup and "未立案" in popup
    page.screenshot(path=str(ARTIFACTS / "map-idle-popup.png"))
    _clean(watch)
    page.context.close()


def test_restricted_map_sends_an_anonymous_visitor_to_sign_in(server, browser):
    base, _engine, _sid = server
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/maps/evaluation")
    assert "/login" in page.url
    context.close()


def test_dashboard_in_the_browser(server, browser):
    base, _engine, sid = server
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    context.add_cookies([{"name": "hggis_session", "value": sid, "url": base}])
    page = context.new_page()
    watch = Watch()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1:")
               else (watch.blocked.append(route.request.url), route.abort()))
    page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.console_errors.append(str(e)))
    page.on("response", lambda r: watch.failed.append(f"{r.url} {r.status}") if r.status >= 400 else None)
    page.goto(base + "/dashboard", wait_until="networkidle")
    drawn = page.evaluate("() => Array.from(document.querySelectorAll('canvas')).filter(c => Chart.getChart(c)).length")
    assert drawn == 5
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    _clean(watch)
    context.close()
