"""The evaluation API: roles, scope, runs, results, explanations, models, Excel download."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text

from api.app import create_app
from hggis.db.session import transaction
from tests.access_helpers import make_user
from tests.evaluation_helpers import add_figures, add_firm, db, hold  # noqa: F401
from tests.factories import add_park


@pytest.fixture
def world(db):  # noqa: ANN001, ANN201
    """Two parks in 黄州 and one in 浠水, three firms each; users of every role."""
    parks = {}
    with transaction(db, "test", "setup") as conn:
        serial = 0
        for key, (name, adcode) in {"p1": ("甲园区", "421102"), "p2": ("乙园区", "421102"), "p3": ("丙园区", "421125")}.items():
            parks[key] = add_park(conn, name, adcode)
            for k in range(3):
                serial += 1
                eid = add_firm(conn, serial, parks[key], adcode=adcode, name=f"{name}企业{k}")
                add_figures(conn, eid, tax_paid=50.0 + 10 * serial, revenue=3000.0, output=3000.0)
                hold(conn, eid, serial, park_id=parks[key])
    users = {
        "admin": make_user(db, "admin1", "city_admin"),
        "county": make_user(db, "county1", "county_officer", counties=["421102"]),
        "park": make_user(db, "park1", "park_manager", parks=[parks["p1"]]),
    }
    with TestClient(create_app(db)) as client:
        yield client, users, parks


def test_anonymous_gets_401_everywhere(world):
    client, _, _ = world
    for path in ("/api/evaluation/runs", "/api/evaluation/models", "/api/evaluation/policies",
                 "/api/evaluation/runs/1/results", "/api/evaluation/quality?year=2024"):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/evaluation/runs", json={"year": 2024}).status_code == 401


def test_only_city_admin_runs_and_creates_models(world):
    client, users, _ = world
    for who in ("county", "park"):
        assert client.post("/api/evaluation/runs", json={"year": 2024}, headers=users[who].headers).status_code == 403
        r = client.post("/api/evaluation/models", json={"name": "x", "valid_from": 2024, "changes": {}},
                        headers=users[who].headers)
        assert r.status_code == 403
    r = client.post("/api/evaluation/runs", json={"year": 2024, "reason": "年度评价"}, headers=users["admin"].headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["n_evaluated"] == 9 and body["model_id"] == 1
    runs = client.get("/api/evaluation/runs", headers=users["park"].headers).json()
    assert [x["id"] for x in runs] == [body["run_id"]] and runs[0]["reason"] == "年度评价"


def test_results_are_scoped_and_filtered(world):
    client, users, parks = world
    run = client.post("/api/evaluation/runs", json={"year": 2024}, headers=users["admin"].headers).json()["run_id"]
    url = f"/api/evaluation/runs/{run}/results"
    everyone = client.get(url, headers=users["admin"].headers).json()
    assert everyone["numberMatched"] == 9
    mine = client.get(url, headers=users["park"].headers).json()
    assert mine["numberMatched"] == 3 and {i["park_id"] for i in mine["items"]} == {parks["p1"]}
    county = client.get(url, headers=users["county"].headers).json()
    assert county["numberMatched"] == 6 and {i["adcode"] for i in county["items"]} == {"421102"}
    # filters, paging and allow-listed parameters
    a_only = client.get(url + "?class_code=A&size_group=above", headers=users["admin"].headers).json()
    assert a_only["numberMatched"] >= 1 and {i["class_code"] for i in a_only["items"]} == {"A"}
    page = client.get(url + "?limit=4&offset=4&sort=total_score", headers=users["admin"].headers).json()
    assert page["numberReturned"] == 4
    for bad in ("class_code=X", "sort=tax_paid;drop", "limit=0", "size_group=big", "adcode=110101"):
        assert client.get(f"{url}?{bad}", headers=users["admin"].headers).status_code == 422, bad
    # one result outside the scope: 403; inside: the explanation
    other = next(i for i in everyone["items"] if i["park_id"] != parks["p1"])
    own = mine["items"][0]
    assert client.get(f"{url}/{other['enterprise_id']}", headers=users["park"].headers).status_code == 403
    expl = client.get(f"{url}/{own['enterprise_id']}", headers=users["park"].headers).json()
    assert expl["score_detail"][0]["key"] == "tax_per_mu" and expl["placement"]["group_size"] == 9
    assert client.get(f"{url}/999999", headers=users["admin"].headers).status_code == 404
    assert client.get("/api/evaluation/runs/999/results", headers=users["admin"].headers).status_code == 404


def test_park_and_county_aggregates_are_scoped(world):
    client, users, parks = world
    run = client.post("/api/evaluation/runs", json={"year": 2024}, headers=users["admin"].headers).json()["run_id"]
    assert len(client.get(f"/api/evaluation/runs/{run}/parks", headers=users["admin"].headers).json()) == 3
    mine = client.get(f"/api/evaluation/runs/{run}/parks", headers=users["park"].headers).json()
    assert [p["park_id"] for p in mine] == [parks["p1"]]
    assert client.get(f"/api/evaluation/runs/{run}/counties", headers=users["park"].headers).json() == []
    county = client.get(f"/api/evaluation/runs/{run}/counties", headers=users["county"].headers).json()
    assert [c["adcode"] for c in county] == ["421102"] and county[0]["n_evaluated"] == 6
    ranked = client.get(f"/api/evaluation/runs/{run}/parks", headers=users["admin"].headers).json()
    assert [p["rank"] for p in ranked] == [1, 2, 3]
    assert ranked[0]["industrial_tax_per_mu"] >= ranked[1]["industrial_tax_per_mu"] >= ranked[2]["industrial_tax_per_mu"]


def test_excel_download_is_scoped(world):
    client, users, parks = world
    run = client.post("/api/evaluation/runs", json={"year": 2024}, headers=users["admin"].headers).json()["run_id"]
    r = client.get(f"/api/evaluation/runs/{run}/report.xlsx", headers=users["park"].headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    names = [row[1] for row in wb["规上企业"].iter_rows(min_row=2, values_only=True)]
    assert len(names) == 3 and all(n.startswith("甲园区") for n in names)
    assert [row[1] for row in wb["园区"].iter_rows(min_row=2, values_only=True)] == ["甲园区"]


def test_models_and_policies_over_the_api(world, db):
    client, users, _ = world
    h = users["admin"].headers
    assert [m["id"] for m in client.get("/api/evaluation/models", headers=users["park"].headers).json()] == [1]
    r = client.post("/api/evaluation/models", headers=h, json={
        "name": "2025版", "valid_from": 2025, "base_model_id": 1,
        "changes": {"quotas.0.cumulative": 0.3, "min_land_mu": 5}, "reason": "市政府2025年新办法"})
    assert r.status_code == 201, r.text
    assert r.json()["params"]["quotas"][0]["cumulative"] == 0.3 and r.json()["params"]["min_land_mu"] == 5
    bad = client.post("/api/evaluation/models", headers=h, json={
        "name": "坏", "valid_from": 2025, "changes": {"score_cap": -1}})
    assert bad.status_code == 422 and "score_cap" in bad.text
    with db.connect() as conn:
        hist = conn.execute(text("SELECT actor, reason FROM history WHERE table_name = 'evaluation_models' "
                                 "AND action = 'insert' ORDER BY id DESC LIMIT 1")).one()
    assert hist.actor == "admin1 (city_admin)" and hist.reason == "市政府2025年新办法"
    p = client.post("/api/evaluation/policies", headers=h, json={
        "class_code": "D", "category": "水价", "measure": "差别化水价", "valid_from": 2025,
        "price_item": "差别化水价", "price_delta": 0.5, "price_unit": "元/吨"})
    assert p.status_code == 201
    listed = client.get("/api/evaluation/policies?year=2025", headers=users["county"].headers).json()
    assert any(x["id"] == p.json()["id"] for x in listed)
    assert client.post("/api/evaluation/policies", headers=users["county"].headers, json={
        "class_code": "D", "category": "x", "measure": "y", "valid_from": 2025}).status_code == 403


def test_blocking_quality_gives_409_with_the_findings(world, db):
    client, users, parks = world
    with transaction(db, "test", "bad figures") as conn:
        eid = add_firm(conn, 50, parks["p1"], name="坏数据企业")
        add_figures(conn, eid, tax_paid=5000.0, revenue=3000.0, output=3000.0)
        hold(conn, eid, 50, park_id=parks["p1"])
    r = client.post("/api/evaluation/runs", json={"year": 2024}, headers=users["admin"].headers)
    assert r.status_code == 409
    assert r.json()["detail"]["blocking_issues"][0]["check_code"] == "tax_gt_revenue"
    q = client.get("/api/evaluation/quality?year=2024", headers=users["park"].headers).json()
    assert not q["run_would_start"] and q["summary"]["blocking_issues"] == 1
    ok = client.post("/api/evaluation/runs", json={"year": 2024, "proceed": True}, headers=users["admin"].headers)
    assert ok.status_code == 201 and ok.json()["reasons"] == {"quality": 1}
    stored = client.get(f"/api/evaluation/runs/{ok.json()['run_id']}/quality", headers=users["admin"].headers).json()
    assert [s["name"] for s in stored if s["blocking"]] == ["坏数据企业"]


def test_compare_over_the_api(world, db):
    client, users, _ = world
    with db.connect() as conn:
        ids = [r.id for r in conn.execute(text("SELECT id FROM enterprises ORDER BY id"))]
    with transaction(db, "test", "2023") as conn:
        for k, eid in enumerate(ids):
            add_figures(conn, eid, year=2023, tax_paid=200.0 - 10 * k, revenue=3000.0, output=3000.0)
    for year in (2023, 2024):
        assert client.post("/api/evaluation/runs", json={"year": year}, headers=users["admin"].headers).status_code == 201
    data = client.get("/api/evaluation/compare?year_from=2023&year_to=2024", headers=users["park"].headers).json()
    assert (data["year_from"], data["year_to"]) == (2023, 2024)
    assert sum(sum(v.values()) for v in data["transitions"].values()) == 3  # the park manager's three firms
    assert client.get("/api/evaluation/compare?year_from=2019&year_to=2024", headers=users["admin"].headers).status_code == 404
