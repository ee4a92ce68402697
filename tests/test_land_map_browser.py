"""招商地图 in a real browser, at desktop and phone size: what an investor sees at a glance.

Chromium (Debian's) drives /maps/land on the demo data, the network blocked except this
server. The map opens fitted to the land on offer; at city zoom the land is drawn as
clusters whose counts add up to the database's, coloured by suitable industry with a legend
that lists exactly the colours drawn; a row of the list beside the map takes the map to the
parcel, outlines it and draws it as a polygon from the vector tiles, whose popup links to
the parcel page; the list sorts and follows the view; ``?industry=`` opens the map
pre-filtered; on a 390×844 phone the map fills the screen and the legend, filters and list
open behind buttons.
"""

from __future__ import annotations

import re

from sqlalchemy import text

from hggis.access.policy import CONFIDENTIAL_FIELDS
from hggis.mapdata.land_view import POLYGON_ZOOM
from maps.base import INDUSTRY_COLORS
from tests.test_maps_browser import ARTIFACTS, _clean, _open, browser, server  # noqa: F401 (fixtures)

PHONE = {"width": 390, "height": 844}
ON_OFFER = "status = 'on_offer' AND retired_at IS NULL"


def _drawn(page, after: int = 0) -> None:
    page.wait_for_function("(n) => Number(document.body.dataset.drawn || 0) > n", arg=after, timeout=20000)


def _generation(page) -> int:
    return int(page.evaluate("() => Number(document.body.dataset.drawn || 0)"))


def _rgb(color: str) -> str:
    """'#rrggbb' or 'rgb(r, g, b)' → 'r,g,b'."""
    color = color.strip()
    if color.startswith("#"):
        return ",".join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5))
    return ",".join(re.findall(r"\d+", color)[:3])


def _clusters(page) -> list[dict]:
    return page.evaluate(
        """() => HGGIS.layers.land_clusters.getLayers().map(m => ({count: m.hgCluster.count,
                 industries: m.hgCluster.industries, lat: m.hgCluster.lat, lon: m.hgCluster.lon,
                 colors: m.getElement().querySelector('.hg-cluster').dataset.colors}))"""
    )


def _legend_colors(page) -> set[str]:
    return {_rgb(c) for c in page.evaluate(
        "() => Array.from(document.querySelectorAll('.hg-legend section:last-child .hg-sw'))"
        ".map(s => getComputedStyle(s).backgroundColor)")}


def _rows(page) -> list[dict]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#hg-list-rows tr')).map(tr => ({
                 code: tr.dataset.code, area: Number(tr.children[1].textContent.replace(/,/g, '')),
                 county: tr.children[2].textContent, industry: tr.children[3].textContent,
                 href: tr.querySelector('a').getAttribute('href')}))"""
    )


def test_land_map_opens_fitted_with_clusters_legend_and_list(server, browser):
    base, engine, _sid = server
    page, watch = _open(browser, base, "/maps/land")
    _drawn(page)
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM parcels WHERE {ON_OFFER}")).scalar()
        west, south, east, north = conn.execute(text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM parcels "
            f"WHERE {ON_OFFER}) s")).one()
        industries = set(conn.execute(text(
            f"SELECT DISTINCT coalesce(intended_industry, '') FROM parcels WHERE {ON_OFFER}")).scalars())
        top = conn.execute(text(f"SELECT code FROM parcels WHERE {ON_OFFER} ORDER BY area_mu DESC, code LIMIT 1")).scalar()
    # fitted: the land is in view and fills most of it in one direction
    view = page.evaluate("() => { const b = HGGIS.map.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")
    assert view[0] <= west and view[1] <= south and view[2] >= east and view[3] >= north
    assert max((east - west) / (view[2] - view[0]), (north - south) / (view[3] - view[1])) > 0.5
    # clusters at city zoom, adding up to the land on offer, coloured by industry
    assert page.evaluate("() => HGGIS.map.getZoom()") < POLYGON_ZOOM
    assert page.evaluate("() => document.body.dataset.mode") == "clusters"
    clusters = _clusters(page)
    assert len(clusters) > 1 and sum(c["count"] for c in clusters) == n
    assert not page.evaluate("() => HGGIS.map.hasLayer(HGGIS.layers.land)")
    drawn = {_rgb(c) for cl in clusters for c in cl["colors"].split()}
    assert drawn == _legend_colors(page)  # the legend lists exactly the colours drawn
    assert set().union(*(c["industries"] for c in clusters)) == industries
    assert len(_legend_colors(page)) == len(industries)
    # the list: the whole view, largest first, links to the parcel pages, public fields only
    rows = _rows(page)
    assert rows[0]["code"] == top and rows[0]["href"] == f"/parcels/{top}"
    assert [r["area"] for r in rows] == sorted((r["area"] for r in rows), reverse=True)
    assert f"视野内 {n} 宗" in page.inner_text("#hg-list-count")
    keys = set(page.evaluate("() => Object.keys(HGGIS.land.rows[0])"))
    assert not keys & CONFIDENTIAL_FIELDS
    # the map and list fill the viewport below the header
    box = page.evaluate("() => { const r = HGGIS.map.getContainer().getBoundingClientRect(); return [r.width, r.height, r.bottom]; }")
    assert box[0] > 900 and box[2] >= 899 and box[1] > 700
    page.screenshot(path=str(ARTIFACTS / "land-map-desktop.png"))
    _clean(watch)
    page.context.close()


def test_list_row_takes_the_map_to_the_parcel_drawn_as_a_polygon_with_a_link(server, browser):
    base, engine, _sid = server
    page, watch = _open(browser, base, "/maps/land")
    _drawn(page)
    row = _rows(page)[3]
    gen = _generation(page)
    page.click(f'#hg-list-rows tr[data-code="{row["code"]}"] td:nth-child(2)')
    _drawn(page, gen)
    assert page.evaluate("() => HGGIS.map.getZoom()") >= POLYGON_ZOOM
    assert page.evaluate("() => document.body.dataset.mode") == "polygons"
    assert page.evaluate("() => HGGIS.map.hasLayer(HGGIS.layers.land)")
    assert page.evaluate("() => HGGIS.layers.land_clusters.getLayers().length") == 0
    assert row["code"] in page.evaluate("() => HGGIS.tileFeatureIds(HGGIS.layers.land)")
    assert page.evaluate("() => HGGIS.layers.highlight.getLayers()[0].hgCode") == row["code"]
    # the list followed the map: fewer rows, all in view, the chosen one marked
    assert page.locator(f'#hg-list-rows tr.hg-active[data-code="{row["code"]}"]').count() == 1
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM parcels WHERE {ON_OFFER}")).scalar()
    total = int(re.search(r"视野内 (\d+) 宗", page.inner_text("#hg-list-count")).group(1))
    assert 1 <= total < n
    # click the polygon in the middle of the map like a person: the popup links to the parcel page
    page.wait_for_timeout(300)
    center = page.evaluate("""(code) => { const l = HGGIS.layers.highlight.getLayers()[0];
        const p = HGGIS.map.latLngToContainerPoint(l.getBounds().getCenter());
        const b = HGGIS.map.getContainer().getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }""", row["code"])
    page.mouse.click(center[0], center[1])
    page.wait_for_selector(".leaflet-popup-content a.hg-parcel-link", timeout=5000)
    assert page.get_attribute(".leaflet-popup-content a.hg-parcel-link", "href") == f"/parcels/{row['code']}"
    assert row["code"] in page.inner_text(".leaflet-popup-content")
    page.screenshot(path=str(ARTIFACTS / "land-map-parcel.png"))
    _clean(watch)
    page.context.close()


def test_list_sorts_by_area_county_and_industry(server, browser):
    base, engine, _sid = server
    page, watch = _open(browser, base, "/maps/land")
    _drawn(page)

    def sort(key: str) -> list[dict]:
        before = page.evaluate("() => document.getElementById('hg-list-rows').innerHTML")
        page.click(f'.hg-list button[data-sort="{key}"]')
        page.wait_for_function("(b) => document.getElementById('hg-list-rows').innerHTML !== b", arg=before)
        return _rows(page)

    ascending = sort("area")
    assert [r["area"] for r in ascending] == sorted(r["area"] for r in ascending)
    assert page.get_attribute('.hg-list th:has(button[data-sort="area"])', "aria-sort") == "ascending"
    with engine.connect() as conn:
        county_order = list(conn.execute(text(
            f"SELECT c.name FROM parcels p JOIN counties c ON c.adcode = p.adcode WHERE p.{ON_OFFER.replace(' AND ', ' AND p.')} "
            "ORDER BY c.name, p.area_mu DESC, p.code LIMIT 200")).scalars())
        industry_order = list(conn.execute(text(
            f"SELECT coalesce(i.name, '未指定产业') FROM parcels p LEFT JOIN industries i ON i.code = p.intended_industry "
            f"WHERE p.{ON_OFFER.replace(' AND ', ' AND p.')} ORDER BY i.sort_order NULLS LAST, p.area_mu DESC, p.code "
            "LIMIT 200")).scalars())
    assert [r["county"] for r in sort("county")] == county_order
    assert [r["industry"] for r in sort("industry")] == industry_order
    _clean(watch)
    page.context.close()


def test_industry_in_the_url_opens_the_map_prefiltered(server, browser):
    base, engine, _sid = server
    with engine.connect() as conn:
        code, name, n = conn.execute(text(
            f"SELECT i.code, i.name, count(*) FROM parcels p JOIN industries i ON i.code = p.intended_industry "
            f"WHERE p.{ON_OFFER.replace(' AND ', ' AND p.')} GROUP BY i.code, i.name ORDER BY 3 DESC LIMIT 1")).one()
    page, watch = _open(browser, base, f"/maps/land?industry={code}")
    _drawn(page)
    clusters = _clusters(page)
    assert sum(c["count"] for c in clusters) == n
    assert all(set(c["industries"]) == {code} for c in clusters)
    assert _legend_colors(page) == {_rgb(INDUSTRY_COLORS[code])}
    assert page.inner_text(".hg-legend section:last-child").count("\n") >= 1 and name in page.inner_text(".hg-legend")
    assert {r["industry"] for r in _rows(page)} == {name}
    assert page.input_value('select[name="industry"]') == code
    _clean(watch)
    page.context.close()


def test_phone_layout_keeps_the_map_usable_and_panels_behind_buttons(server, browser):
    base, _engine, _sid = server
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page, watch = _open(browser, base, "/maps/land", context=context)
    _drawn(page)
    box = page.evaluate("() => { const r = HGGIS.map.getContainer().getBoundingClientRect(); return [r.width, r.height]; }")
    assert box[0] == PHONE["width"] and box[1] > 0.7 * PHONE["height"]
    for selector in (".hg-legend", ".hg-filters", ".hg-list"):
        assert not page.is_visible(selector), selector
    page.screenshot(path=str(ARTIFACTS / "land-map-phone.png"))
    page.click('.hg-toggle[data-panel="legend"]')
    assert page.is_visible(".hg-legend")
    page.click('.hg-toggle[data-panel="filters"]')
    assert page.is_visible(".hg-filters") and page.is_visible('select[name="industry"]')
    page.screenshot(path=str(ARTIFACTS / "land-map-phone-panels.png"))
    page.click('.hg-toggle[data-panel="filters"]')
    page.click('.hg-toggle[data-panel="legend"]')
    page.click('.hg-toggle[data-panel="list"]')
    assert page.is_visible(".hg-list")
    gen = _generation(page)
    page.click("#hg-list-rows tr:first-child td:nth-child(2)")
    _drawn(page, gen)
    assert not page.is_visible(".hg-list")  # the list steps aside for the map
    assert page.evaluate("() => HGGIS.map.getZoom()") >= POLYGON_ZOOM
    page.screenshot(path=str(ARTIFACTS / "land-map-phone-parcel.png"))
    _clean(watch)
    context.close()
