"""Forms, dashboard and maps follow the caller's scope (issue 17, defect 5).

Through the real pages: users sign in with passwords on /login over the demo data in a real
PostGIS. A county officer is offered only their county and its parks, a park manager only
their park and its county, a city administrator everything.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import operator
from hggis.demo.loader import load_demo
from tests.workbench_helpers import PASSWORD, add_web_user

PARK = 1
COUNTY = "421102"


@pytest.fixture(scope="module")
def site(engine) -> Iterator[dict]:  # noqa: ANN001
    from hggis.evaluation.runs import run_evaluation
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    run_evaluation(engine, operator(), 2024, proceed=True)
    users = {
        "manager": add_web_user(engine, "sf-manager", "park_manager", parks=[PARK]),
        "officer": add_web_user(engine, "sf-officer", "county_officer", counties=[COUNTY]),
        "admin": add_web_user(engine, "sf-admin", "city_admin"),
    }
    with engine.connect() as conn:
        facts = {
            "counties": set(conn.execute(text("SELECT adcode FROM counties")).scalars()),
            "parks": {str(i) for i in conn.execute(text("SELECT id FROM parks")).scalars()},
            "officer_parks": {str(i) for i in conn.execute(text("SELECT id FROM parks WHERE adcode = :a"),
                                                            {"a": COUNTY}).scalars()},
            "park_county": conn.execute(text("SELECT adcode FROM parks WHERE id = :p"), {"p": PARK}).scalar_one(),
            "park_name": conn.execute(text("SELECT name FROM parks WHERE id = :p"), {"p": PARK}).scalar_one(),
        }
    yield {"app": create_app(engine), "engine": engine, "users": users, **facts}
    wipe_data(engine)


def client_for(site: dict, who: str) -> TestClient:
    client = TestClient(site["app"])
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": site["users"][who].username, "password": PASSWORD,
                                    "csrf": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def options_of(page: str, name: str) -> set[str]:
    """The non-empty option values of every <select name=…> of the page (there may be several)."""
    found: set[str] = set()
    selects = re.findall(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert selects, f"no select {name} on the page"
    for body in selects:
        found |= {v for v in re.findall(r'<option value="([^"]*)"', body) if v}
    return found


FORMS = [  # (page, select name, what it lists)
    ("/search", "adcode", "counties"), ("/search", "park_id", "parks"),
    ("/reserves", "adcode", "counties"), ("/reserves", "park_id", "parks"), ("/reserves", "near_park", "parks"),
    ("/evaluation", "park_id", "parks"),
]


@pytest.mark.parametrize(("path", "name", "kind"), FORMS)
def test_officer_is_offered_only_their_county_and_its_parks(site, path, name, kind):
    page = client_for(site, "officer").get(path)
    assert page.status_code == 200, page.text[:300]
    expected = {COUNTY} if kind == "counties" else site["officer_parks"]
    assert expected and options_of(page.text, name) == expected


@pytest.mark.parametrize(("path", "name", "kind"), FORMS)
def test_manager_is_offered_only_their_park_and_its_county(site, path, name, kind):
    page = client_for(site, "manager").get(path)
    assert page.status_code == 200, page.text[:300]
    expected = {site["park_county"]} if kind == "counties" else {str(PARK)}
    assert options_of(page.text, name) == expected


@pytest.mark.parametrize(("path", "name", "kind"), FORMS)
def test_admin_is_offered_every_county_and_park(site, path, name, kind):
    page = client_for(site, "admin").get(path)
    assert page.status_code == 200, page.text[:300]
    assert options_of(page.text, name) == site[kind]


def test_a_choice_outside_the_scope_is_not_applied(site):
    """A hand-made URL naming another county's park is ignored, not answered with that park's data."""
    other = sorted(site["parks"] - site["officer_parks"])[0]
    page = client_for(site, "officer").get(f"/search?park_id={other}")
    assert page.status_code == 200
    assert f'<option value="{other}"' not in page.text
    assert f'value="{other}" selected' not in page.text



# ---- maps open on the caller's area; a legend of one value says that value -------------------


def _fit_bounds(page: str) -> list[list[float]]:
    """The [[south, west], [north, east]] the page's map is fitted to (folium's fitBounds call)."""
    found = re.findall(r"\.fitBounds\(\s*(\[\[.*?\]\])", page, re.S)
    assert len(found) == 1, f"one initial view expected, found {found}"
    return json.loads(found[0])


def _extent(site: dict, sql: str, **params) -> list[list[float]]:  # noqa: ANN003
    with site["engine"].connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(g) AS e FROM ({sql}) s) t"),
            params).one()
    return [[y0, x0], [y1, x1]]


def _close(a: list[list[float]], b: list[list[float]]) -> bool:
    return all(abs(p - q) < 1e-6 for pa, pb in zip(a, b, strict=True) for p, q in zip(pa, pb, strict=True))


MAPS = ["/maps/evaluation", "/maps/idle", "/maps/land"]


@pytest.mark.parametrize("path", MAPS)
def test_manager_map_opens_on_their_park(site, path):
    page = client_for(site, "manager").get(path)
    assert page.status_code == 200, page.text[:300]
    park = _extent(site, "SELECT boundary AS g FROM parks WHERE id = :p", p=PARK)
    city = _extent(site, "SELECT boundary AS g FROM counties")
    assert not _close(park, city)
    assert _close(_fit_bounds(page.text), park)


@pytest.mark.parametrize("path", MAPS)
def test_officer_map_opens_on_their_county_and_admin_on_the_city(site, path):
    county = _extent(site, "SELECT boundary AS g FROM counties WHERE adcode = :a", a=COUNTY)
    city = _extent(site, "SELECT boundary AS g FROM counties")
    if path == "/maps/land":  # the city-wide 招商地图 opens fitted to the land on offer (issue 14)
        city = _extent(site, "SELECT geom AS g FROM parcels WHERE status = 'on_offer' AND retired_at IS NULL")
    assert _close(_fit_bounds(client_for(site, "officer").get(path).text), county)
    assert _close(_fit_bounds(client_for(site, "admin").get(path).text), city)


def test_land_map_filtered_to_a_county_opens_on_that_county(site):
    other = sorted(site["counties"] - {COUNTY, "421171"})[0]  # 421171 has no outline of its own
    county = _extent(site, "SELECT boundary AS g FROM counties WHERE adcode = :a", a=other)
    assert _close(_fit_bounds(client_for(site, "manager").get(f"/maps/land?adcode={other}").text), county)


def _legend_rows(page: str, title: str) -> list[str]:
    legend = json.loads(re.search(r"div\.innerHTML = (\".*?\");", page, re.S).group(1))
    section = re.search(rf"<h4>{title}</h4>(.*?)</section>", legend, re.S)
    assert section, f"no legend section {title}"
    return [html.unescape(re.sub(r"<[^>]+>", "", row)) for row in re.findall(r"<div>.*?</div>", section.group(1))]


def test_manager_evaluation_legend_names_their_park_value_once(site):
    page = client_for(site, "manager").get("/maps/evaluation").text
    rows = _legend_rows(page, "园区亩均税收")
    with site["engine"].connect() as conn:
        tax = conn.execute(text(
            "SELECT coalesce(industrial_tax_per_mu, tax_per_mu) FROM evaluation_aggregates "
            "WHERE level = 'park' AND park_id = :k ORDER BY run_id DESC LIMIT 1"), {"k": PARK}).scalar_one()
    assert rows == [f"{round(tax, 2):g} 万元/亩"], rows
    admin_rows = _legend_rows(client_for(site, "admin").get("/maps/evaluation").text, "园区亩均税收")
    assert len(admin_rows) > 1
    for row in admin_rows:  # no class whose two ends are the same number
        ends = re.findall(r"[\d.]+", row)
        assert len(ends) < 2 or ends[0] != ends[1], admin_rows


def test_tax_classes_of_repeated_values_merge():
    from hggis.mapdata.evaluation import quantile_breaks
    from maps.evaluation import tax_colors, tax_legend

    assert quantile_breaks([5.36]) == [] and quantile_breaks([5.36, 5.36, 5.36]) == []
    assert tax_legend([], [5.36]) == [("sw", tax_colors([])[0], "5.36 万元/亩")]
    breaks = quantile_breaks([1, 1, 1, 5])
    assert breaks == [5]
    assert [label for _, _, label in tax_legend(breaks, [1, 1, 1, 5])] == ["< 5 万元/亩", "≥ 5 万元/亩"]
    assert len(set(tax_colors(breaks))) == 2
    assert quantile_breaks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [3, 5, 7, 9]


# ---- the dashboard of a park or county is not the city's --------------------------------------


def _output_table_counties(page: str) -> list[str]:
    section = re.search(r"<h2>规上工业产值（.*?</table>", page, re.S).group(0)
    return [html.unescape(n) for n in re.findall(r"<tr><td>([^<]+)</td>", section)]


def test_manager_dashboard_states_the_park_and_labels_city_targets(site):
    page = client_for(site, "manager").get("/dashboard")
    assert page.status_code == 200, page.text[:300]
    text_ = page.text
    assert f"本园区：{site['park_name']}" in text_
    assert "本园区规上工业总产值" in text_ and "全市目标" in text_ and "占全市目标" in text_
    kpis = re.search(r'<div class="kpi".*?<div class="dash-grid">', text_, re.S).group(0)
    assert "完成 " not in kpis, "a park is not shown as completing the city's target"
    assert "超千亿县市区" not in kpis, "a county indicator does not apply to a park"
    assert "本园区工业总产值" in kpis and "本园区标准地储备" in kpis
    with site["engine"].connect() as conn:
        county = conn.execute(text("SELECT name FROM counties WHERE adcode = :a"), {"a": site["park_county"]}).scalar_one()
    assert _output_table_counties(text_) == [county]


def test_officer_dashboard_lists_their_county_only(site):
    page = client_for(site, "officer").get("/dashboard").text
    with site["engine"].connect() as conn:
        county = conn.execute(text("SELECT name FROM counties WHERE adcode = :a"), {"a": COUNTY}).scalar_one()
    assert f"本县（市、区）：{county}" in page and "本县超千亿" in page and "占全市目标" in page
    assert _output_table_counties(page) == [county]


def test_admin_dashboard_measures_the_city_against_its_targets(site):
    page = client_for(site, "admin").get("/dashboard").text
    assert "范围：全市" in page and "完成 " in page and "超千亿县市区" in page
    assert 'id="scope-note"' not in page and "占全市目标" not in page
    assert len(_output_table_counties(page)) == len(site["counties"])


def test_manager_dashboard_workbook_says_city_targets(site):
    from io import BytesIO

    from openpyxl import load_workbook

    r = client_for(site, "manager").get("/dashboard.xlsx")
    assert r.status_code == 200
    cover = load_workbook(BytesIO(r.content))["概览"]
    cells = [str(c.value) for row in cover.iter_rows() for c in row if c.value is not None]
    assert any(site["park_name"] in c for c in cells)
    assert any(c.startswith("全市目标；本范围占") for c in cells)
    assert not any(c.startswith("完成目标") for c in cells)
