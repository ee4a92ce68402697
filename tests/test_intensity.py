"""开发区土地集约利用评价 through the doors: parcels and figures imported, run by the CLI, read by the API and XLSX."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import operator
from hggis.db.session import transaction
from hggis.errors import Invalid
from hggis.intensity.model import create_model, default_model
from tests.access_helpers import make_user
from tests.factories import add_park
from tests.intensity_helpers import YEAR, areas, build_park
from tests.test_maps import _overlay

M2 = 2000.0 / 3.0


@pytest.fixture
def world(clean_db):
    admin = make_user(clean_db, "admin", "city_admin")
    with TestClient(create_app(clean_db)) as client:
        park = build_park(clean_db, client, admin.headers)
        with transaction(clean_db, "test setup", "园区名录") as conn:
            other_park = add_park(conn, "另一园区")
        other = make_user(clean_db, "pm-other", "park_manager", parks=[other_park])
        manager = make_user(clean_db, "pm", "park_manager", parks=[park.park_id])
        yield client, park, {"admin": admin.headers, "manager": manager.headers, "other": other.headers}


def _by_key(result: dict) -> dict[str, dict]:
    return {i["key"]: i for i in result["indicators"]}


def test_a_year_evaluated_from_imported_parcels_and_figures(world, clean_db, cli, tmp_path):
    client, park, h = world
    out = tmp_path / "集约评价.xlsx"
    result = cli("intensity", "run", "--year", str(YEAR), "--xlsx", str(out))
    assert result.exit_code == 0, result.output
    assert "集约测试园区" in result.output
    run = client.get("/api/intensity/runs", headers=h["admin"]).json()[0]
    rows = client.get(f"/api/intensity/runs/{run['id']}/results", headers=h["admin"]).json()
    assert [(r["name"], r["rank"]) for r in rows] == [("集约测试园区", 1), ("另一园区", None)]
    assert rows[1]["score"] is None  # a park without parcels is listed, not scored
    got = rows[0]
    a = areas(clean_db)
    supplied = a[1] + a[2] + a[3] + a[6]
    built = a[1] + a[2]
    ind = _by_key(got)
    assert ind["supply_rate"]["value"] == pytest.approx(supplied / sum(a.values()), rel=1e-6)
    assert ind["built_rate"]["value"] == pytest.approx(built / supplied, rel=1e-6)
    assert ind["industrial_rate"]["value"] == pytest.approx(1.0)
    assert ind["far"]["value"] == pytest.approx(18000 / (built * M2), rel=1e-6)
    assert ind["building_coefficient"]["value"] == pytest.approx(8000 / (built * M2), rel=1e-6)
    assert ind["investment_intensity"]["value"] == pytest.approx(4500 / built, rel=1e-6)
    # 工业用地地均税收: taxes of firms holding industrial land in the park over its built industrial land
    assert ind["industrial_tax_per_mu"]["value"] == pytest.approx(325 / built, rel=1e-6)
    # 出让 share of the supplied land: parcel 6 was 划拨
    assert ind["paid_use_rate"]["value"] == pytest.approx((a[1] + a[2] + a[3]) / supplied, rel=1e-6)
    # due by the end of 2024: parcels 1, 2 (completed), 3 and 6 (not): half disposed, by area
    assert ind["due_disposal_rate"]["value"] == pytest.approx((a[1] + a[2]) / supplied, rel=1e-6)
    # idle parcel 6 has no disposal recorded
    assert ind["idle_disposal_rate"]["value"] == pytest.approx(0.0)
    assert ind["high_tech_rate"]["enabled"] is False and ind["high_tech_rate"]["value"] is None
    # standardised by the ideal value, capped at 1; the score is 100 × Σ weight × standardised
    for i in ind.values():
        if i["enabled"]:
            assert i["standardised"] == pytest.approx(min(i["value"] / i["ideal"], 1.0), abs=1e-4)
    assert got["score"] == pytest.approx(100 * sum(i["weight"] * i["standardised"] for i in ind.values() if i["enabled"]),
                                         abs=0.01)
    assert 0 < got["score"] < 100 and got["rank"] == 1
    pot = got["potentials"]
    assert pot["expansion_mu"] == pytest.approx(a[4] + a[5], abs=0.01)
    assert pot["management_idle_mu"] == pytest.approx(a[6], abs=0.01)
    assert pot["management_due_mu"] == pytest.approx(a[3] + a[6], abs=0.01)
    # supplied 2022–2024 (parcels 1, 2, 3): 尚可供地年数 = unsupplied / yearly average
    yearly = (a[1] + a[2] + a[3]) / 3
    assert pot["supply_years"] == pytest.approx((a[4] + a[5]) / yearly, abs=0.1)
    assert pot["intensity_floor_m2"] == pytest.approx(1.0 * built * M2 - 18000, abs=1)
    # the XLSX written by the CLI, and the same report over the API
    for content in (out.read_bytes(),
                    client.get(f"/api/intensity/runs/{run['id']}/report.xlsx", headers=h["admin"]).content):
        wb = load_workbook(io.BytesIO(content))
        assert wb.sheetnames == ["封面", "园区得分", "潜力测算", "基础数据"]
        sheet = wb["园区得分"]
        header = [c.value for c in sheet[1]]
        row = [c.value for c in sheet[2]]
        assert row[1] == "集约测试园区" and row[header.index("集约度分值")] == pytest.approx(got["score"])
        cover = [[c.value for c in r] for r in wb["封面"].iter_rows()]
        assert any(r[2] == "土地供应率" and r[8] == "未核实" and r[9] == "未核实" for r in cover if len(r) > 9)


def test_runs_keep_their_history_and_reads_are_scoped(world, clean_db):
    client, park, h = world
    first = client.post("/api/intensity/runs", headers=h["admin"], json={"year": YEAR})
    assert first.status_code == 201, first.text
    # a parcel completes its buildings: the next run differs, the first stays as it was
    with transaction(clean_db, "test", "竣工") as conn:
        conn.execute(text("UPDATE parcels SET floor_area_m2 = 30000 WHERE code LIKE '%00001'"))
    second = client.post("/api/intensity/runs", headers=h["admin"], json={"year": YEAR, "reason": "复核"}).json()
    runs = client.get("/api/intensity/runs", params={"year": YEAR}, headers=h["admin"]).json()
    assert [r["id"] for r in runs] == [second["run_id"], first.json()["run_id"]]
    a, b = (client.get(f"/api/intensity/runs/{r['id']}/results", headers=h["admin"]).json()[0] for r in runs[::-1])
    assert _by_key(b)["far"]["value"] > _by_key(a)["far"]["value"]
    seen = {who: [r["name"] for r in client.get(f"/api/intensity/runs/{second['run_id']}/results",
                                                   headers=h[who]).json()] for who in ("manager", "other")}
    assert seen == {"manager": [park.name], "other": ["另一园区"]}
    refused = client.post("/api/intensity/runs", headers=h["manager"], json={"year": YEAR})
    assert refused.status_code == 403
    assert client.get("/api/intensity/runs").status_code == 401
    early = client.post("/api/intensity/runs", headers=h["admin"], json={"year": 2019})
    assert early.status_code == 404 and "2019" in early.text
    with clean_db.connect() as conn:
        models = conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'intensity_models'")).scalar_one()
    assert models == 0  # the default version came with the migration (wiped history); runs are not audited rows


def test_model_versions_are_checked_data(clean_db):
    params = default_model()["params"]
    params["indicators"][0]["weight"] = 0.5
    with pytest.raises(Invalid, match="sum to"):
        with transaction(clean_db, "test", "新版本") as conn:
            create_model(conn, operator(), "权重错误", 2025, params)
    params = default_model()["params"]
    auction = next(i for i in params["indicators"] if i["key"] == "auction_rate")
    auction["enabled"] = True
    with pytest.raises(Invalid, match="auction_rate"):
        with transaction(clean_db, "test", "新版本") as conn:
            create_model(conn, operator(), "无数据指标", 2025, params)
    with transaction(clean_db, "test", "新版本") as conn:
        mid = create_model(conn, operator(), "2025 版", 2025, default_model()["params"])
    with clean_db.connect() as conn:
        logged = conn.execute(text("SELECT actor, reason FROM history WHERE table_name = 'intensity_models' "
                                   "AND object_id = :i"), {"i": str(mid)}).one()
    assert logged.reason == "新版本"


def test_cli_refusal_is_one_line(cli):
    result = cli("intensity", "run", "--year", "2024")
    assert result.exit_code == 1
    assert "no park" in result.output


def test_the_page_and_the_map_show_the_run(world, clean_db):
    client, park, h = world
    run = client.post("/api/intensity/runs", headers=h["admin"], json={"year": YEAR}).json()
    with transaction(clean_db, "test setup", "园区范围") as conn:  # the outline, as the park register holds it
        conn.execute(text("UPDATE parks SET boundary = (SELECT ST_Multi(ST_Expand(ST_Extent(geom)::geometry, 0.001)) "
                          "FROM parcels) WHERE id = :p"), {"p": park.park_id})
    page = client.get("/intensity", headers=h["manager"])
    assert page.status_code == 200
    assert park.name in page.text and "另一园区" not in page.text and "运行评价" not in page.text
    admin_page = client.get("/intensity", headers=h["admin"]).text
    assert 'id="run-form"' in admin_page and "report.xlsx" in admin_page
    html = client.get("/maps/intensity", params={"year": YEAR}, headers=h["manager"])
    assert html.status_code == 200
    assert "cdn" not in html.text.lower()
    score = client.get(f"/api/intensity/runs/{run['run_id']}/results", headers=h["admin"]).json()[0]["score"]
    parks = _overlay(html.text, "parks")
    assert [(f["properties"]["name"], f["properties"]["score"]) for f in parks["features"]] == [(park.name, score)]
    assert client.get("/maps/intensity", follow_redirects=False).status_code in (303, 401)
