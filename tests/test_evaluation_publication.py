"""The stages of an evaluation year through the doors: from an empty database, import parcels and
figures, publish the land areas, record and answer a correction, score, put the results on 公示,
lodge objections (API and CLI), uphold one, correct the figures by import, re-run (the new run
supersedes the old), refuse a late objection with the dates, and make the year final."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from api.app import create_app
from hggis import clock
from hggis.db.session import transaction
from hggis.io.figures_import import SHEET_NAME
from tests.access_helpers import make_user
from tests.evaluation_helpers import db  # noqa: F401
from tests.factories import add_park, credit_code
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile, zip_shapefile
from tests.workbench_helpers import PASSWORD, add_web_user

YEAR = 2024
FIRMS = 4  # firm k holds parcel k; firm 4 is the one whose tax is disputed


def _parcels_zip(tmp_path, codes: list[str]) -> bytes:
    geoms = lots(HUANGZHOU, FIRMS)
    shp = write_shapefile(
        tmp_path / "parcels.shp", project(geoms, 4547),
        {"ZDDM": [code(i + 1) for i in range(FIRMS)], "QLR": [f"公示测试企业{i + 1}" for i in range(FIRMS)],
         "TYSHXYDM": codes, "YQMC": ["公示园区"] * FIRMS, "ZT": ["已投产"] * FIRMS},
        4547, encoding="GBK")
    return zip_shapefile(shp)


def _figures_xlsx(codes: list[str], tax_of_last: float) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    ws.append(["统一社会信用代码", "年度", "税收（万元）", "营业收入（万元）", "工业增加值（万元）", "工业总产值（万元）",
               "综合能耗（吨标准煤）", "用电量（万千瓦时）", "研发经费（万元）", "年平均从业人员（人）", "规上企业"])
    for i, c in enumerate(codes):
        tax = tax_of_last if i == len(codes) - 1 else 100.0 + 40 * i
        ws.append([c, YEAR, tax, 5000.0, 1000.0, 5000.0, 300.0, 200.0, 50.0, 80, "是" if i < 3 else "否"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def world(db, tmp_path):  # noqa: F811
    with transaction(db, "test", "reference data: the park (parks arrive by migration or demo)") as conn:
        park = add_park(conn, "公示园区", "421102")
    users = {
        "admin": make_user(db, "pub-admin", "city_admin"),
        "county": make_user(db, "pub-county", "county_officer", counties=["421102"]),
        "park": make_user(db, "pub-park", "park_manager", parks=[park]),
    }
    codes = [credit_code(8100 + i) for i in range(FIRMS)]
    with TestClient(create_app(db)) as client:
        yield client, users, park, codes, tmp_path


def _ok(r, status=200):  # noqa: ANN001
    assert r.status_code == status, r.text
    return r.json()


def test_publication_objection_rerun_final_through_the_doors(world, db, cli, monkeypatch):
    client, users, park, codes, tmp_path = world
    admin, parkm, county = users["admin"].headers, users["park"].headers, users["county"].headers
    _ok(client.post("/api/imports/parcels", files={"file": ("宗地.zip", _parcels_zip(tmp_path, codes))}, headers=admin))
    _ok(client.post("/api/imports/figures", files={"file": ("数据.xlsx", _figures_xlsx(codes, 20.0))}, headers=admin))

    # (a) publish the land areas; the park manager exports their park's list
    assert client.post(f"/api/evaluation/years/{YEAR}/land-list", json={}, headers=parkm).status_code == 403
    listed = _ok(client.post(f"/api/evaluation/years/{YEAR}/land-list", json={"reason": "年度评价前公布"}, headers=admin), 201)
    assert listed["n_items"] == FIRMS and listed["total_land_mu"] > 30
    mine = _ok(client.get(f"/api/evaluation/years/{YEAR}/land-list?park_id={park}", headers=parkm))
    assert len(mine["items"]) == FIRMS
    by_code = {i["credit_code"]: i for i in mine["items"]}
    assert by_code[codes[0]]["result_list"] == "above" and by_code[codes[3]]["result_list"] == "below"  # 规上企业 column
    assert by_code[codes[0]]["figures"]["tax_paid"] == 100.0 and by_code[codes[0]]["parcel_codes"] == [code(1)]
    x = client.get(f"/api/evaluation/years/{YEAR}/land-list.xlsx?park_id={park}", headers=parkm)
    assert x.status_code == 200 and "filename*=UTF-8''" in x.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["说明", "规上企业", "规下企业", "租赁企业（无自有用地）", "更正申请"]
    assert [r[1] for r in wb["规上企业"].iter_rows(min_row=2, values_only=True)] == codes[:3]
    assert wb["规上企业"]["F1"].value == "本企业用地（亩）" and wb["规上企业"]["F2"].value == pytest.approx(
        by_code[codes[0]]["own_land_mu"])

    # a correction request blocks scoring until it is answered
    eid = {c: i["enterprise_id"] for c, i in by_code.items()}
    corr = _ok(client.post(f"/api/evaluation/years/{YEAR}/land-corrections",
                           json={"enterprise_id": eid[codes[1]], "statement": "宗地实际面积应为 10 亩", "claimed_land_mu": 10},
                           headers=parkm), 201)
    refused = client.post("/api/evaluation/runs", json={"year": YEAR}, headers=admin)
    assert refused.status_code == 409 and f"#{corr['id']}" in refused.text and "未答复" in refused.text
    assert client.post(f"/api/evaluation/land-corrections/{corr['id']}/answer",
                       json={"decision": "rejected", "answer": "x"}, headers=parkm).status_code == 403
    _ok(client.post(f"/api/evaluation/land-corrections/{corr['id']}/answer",
                    json={"decision": "rejected", "answer": "面积按三调椭球面积计算，与登记一致"}, headers=admin))

    # (b) score; (c) 公示
    run1 = _ok(client.post("/api/evaluation/runs", json={"year": YEAR}, headers=admin), 201)["run_id"]
    assert client.get(f"/api/evaluation/runs/{run1}", headers=admin).json()["land_list_id"] == listed["id"]
    today = clock.today()
    notice = _ok(client.post(f"/api/evaluation/runs/{run1}/notice", json={}, headers=admin), 201)
    assert notice["starts_on"] == today.isoformat() and notice["ends_on"] == (today + dt.timedelta(days=6)).isoformat()
    assert client.get(f"/api/evaluation/runs/{run1}", headers=admin).json()["stage_label"].startswith("公示中")
    before = _ok(client.get(f"/api/evaluation/runs/{run1}/results/{eid[codes[3]]}", headers=admin))
    assert before["figures"]["tax_paid"] == 20.0

    # objections: the park's own (API), and a firm's written one recorded by county staff (CLI)
    assert client.post(f"/api/evaluation/years/{YEAR}/objections", headers=county, json={
        "enterprise_id": eid[codes[3]], "channel": "park", "statement": "x"}).status_code == 403
    ob1 = _ok(client.post(f"/api/evaluation/years/{YEAR}/objections", headers=parkm, json={
        "enterprise_id": eid[codes[3]], "channel": "park", "subject": "figures",
        "statement": "税务局数据漏报：实缴税收应为 180 万元（附完税证明）"}), 201)
    res = cli("evaluate", "objection", codes[2], "--year", str(YEAR), "--channel", "firm", "--subject", "classification",
              "--statement", "我公司应列入规上企业", "--received-on", today.isoformat(), "--as", "pub-county")
    assert res.exit_code == 0, res.output
    ob2_id = int(res.output.split("#")[1].split()[0])

    # not final yet: the period runs and both objections are open
    refused = client.post(f"/api/evaluation/years/{YEAR}/final", headers=admin)
    assert refused.status_code == 409
    assert "尚未结束" in refused.text and "2 项异议未答复" in refused.text and f"#{ob1['id']}" in refused.text

    # upheld: the figures are corrected through the import, the year re-run; rejected: with the reason
    _ok(client.post(f"/api/evaluation/objections/{ob1['id']}/answer", headers=admin,
                    json={"decision": "upheld", "answer": "经核实完税证明，异议成立，按 180 万元更正"}))
    res = cli("evaluate", "objection-answer", str(ob2_id), "--decision", "rejected", "--answer", "统计部门规上名录未列入")
    assert res.exit_code == 0, res.output
    assert "尚未更正数据并重新评价" in client.post(f"/api/evaluation/years/{YEAR}/final", headers=admin).text
    _ok(client.post("/api/imports/figures", files={"file": ("更正.xlsx", _figures_xlsx(codes, 180.0))}, headers=admin))
    run2 = _ok(client.post("/api/evaluation/runs", json={"year": YEAR, "reason": "异议更正后重新评价"}, headers=admin), 201)["run_id"]
    assert run2 > run1
    assert client.get(f"/api/evaluation/runs/{run2}", headers=admin).json()["supersedes_run_id"] == run1
    assert client.get(f"/api/evaluation/runs/{run1}", headers=admin).json()["stage_label"] == f"已被批次 #{run2} 替代"
    after = _ok(client.get(f"/api/evaluation/runs/{run2}/results/{eid[codes[3]]}", headers=admin))
    assert after["figures"]["tax_paid"] == 180.0  # alone in 规下, so its total stays the group average of 100
    assert after["indicators"][0]["value"] == pytest.approx(before["indicators"][0]["value"] * 9, rel=1e-4)
    status = _ok(client.get(f"/api/evaluation/years/{YEAR}/status", headers=admin))
    assert status["notice"]["run_id"] == run2 and status["stage"] == "notice"
    assert {o["id"]: (o["status"], o["rerun_id"]) for o in status["objections"]} == {
        ob1["id"]: ("upheld", run2), ob2_id: ("rejected", None)}
    # the park manager sees the objections of their park only
    assert [o["id"] for o in _ok(client.get(f"/api/evaluation/years/{YEAR}/objections", headers=parkm))] == [ob1["id"], ob2_id]

    # after the period: a late objection is refused with the dates; the year becomes final
    monkeypatch.setattr("hggis.clock.today", lambda: today + dt.timedelta(days=7))
    late = client.post(f"/api/evaluation/years/{YEAR}/objections", headers=parkm, json={
        "enterprise_id": eid[codes[0]], "channel": "park", "statement": "迟到的异议"})
    assert late.status_code == 409
    assert f"{today.isoformat()} 至 {(today + dt.timedelta(days=6)).isoformat()}" in late.text and "已结束" in late.text
    res = cli("evaluate", "final", "--year", str(YEAR))
    assert res.exit_code == 0, res.output
    assert client.get(f"/api/evaluation/runs/{run2}", headers=admin).json()["stage_label"] == "已定稿"
    again = client.post("/api/evaluation/runs", json={"year": YEAR}, headers=admin)
    assert again.status_code == 409 and "已定稿" in again.text
    res = cli("evaluate", "status", "--year", str(YEAR))
    assert res.exit_code == 0 and "stage final" in res.output
    # history keeps which run was on notice when, and who answered what
    with db.connect() as conn:
        moves = conn.execute(text("SELECT before->>'run_id', after->>'run_id' FROM history WHERE table_name = "
                                  "'evaluation_notices' AND action = 'update' ORDER BY id")).all()
    assert (str(run1), str(run2)) in [tuple(m) for m in moves]


def test_publication_refusals(world, db):  # noqa: F811
    client, users, park, codes, tmp_path = world
    admin, parkm = users["admin"].headers, users["park"].headers
    assert client.post(f"/api/evaluation/years/{YEAR}/land-list", json={}, headers=admin).status_code == 422  # nothing
    _ok(client.post("/api/imports/parcels", files={"file": ("宗地.zip", _parcels_zip(tmp_path, codes))}, headers=admin))
    _ok(client.post("/api/imports/figures", files={"file": ("数据.xlsx", _figures_xlsx(codes, 20.0))}, headers=admin))
    run = _ok(client.post("/api/evaluation/runs", json={"year": YEAR}, headers=admin), 201)["run_id"]
    # a trial run without a land publication cannot go on 公示
    r = client.post(f"/api/evaluation/runs/{run}/notice", json={}, headers=admin)
    assert r.status_code == 409 and "尚未公布用地面积" in r.text
    _ok(client.post(f"/api/evaluation/years/{YEAR}/land-list", json={}, headers=admin), 201)
    run = _ok(client.post("/api/evaluation/runs", json={"year": YEAR}, headers=admin), 201)["run_id"]
    # objections before the notice, and a notice of an older run, are refused
    r = client.post(f"/api/evaluation/years/{YEAR}/objections", headers=parkm,
                    json={"enterprise_id": 1, "channel": "park", "statement": "x"})
    assert r.status_code == 404 and "尚未公示" in r.text
    assert client.post(f"/api/evaluation/runs/{run - 1}/notice", json={}, headers=admin).status_code == 409
    start = clock.today() + dt.timedelta(days=2)
    n = _ok(client.post(f"/api/evaluation/runs/{run}/notice", json={"starts_on": start.isoformat(), "days": 3},
                        headers=admin), 201)
    assert n["ends_on"] == (start + dt.timedelta(days=2)).isoformat()
    r = client.post(f"/api/evaluation/years/{YEAR}/objections", headers=parkm,
                    json={"enterprise_id": 1, "channel": "park", "statement": "太早"})
    assert r.status_code == 409 and "尚未开始" in r.text and start.isoformat() in r.text
    # a land correction once on notice goes the objection way; a blank answer is refused
    r = client.post(f"/api/evaluation/years/{YEAR}/land-corrections", headers=parkm,
                    json={"enterprise_id": 1, "statement": "面积不对"})
    assert r.status_code == 409 and "作为异议登记" in r.text
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM evaluation_objections")).scalar_one() == 0


def test_publication_page_walks_the_stages(world, db):  # noqa: F811
    """The workbench page: publish, see the list, refused notice shown with the reason."""
    import re

    client, users, park, codes, tmp_path = world
    admin = users["admin"].headers
    _ok(client.post("/api/imports/parcels", files={"file": ("宗地.zip", _parcels_zip(tmp_path, codes))}, headers=admin))
    _ok(client.post("/api/imports/figures", files={"file": ("数据.xlsx", _figures_xlsx(codes, 20.0))}, headers=admin))
    add_web_user(db, "pub-web", "city_admin")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "pub-web", "password": PASSWORD, "csrf": token, "next": "/"})
    page = client.get(f"/evaluation/publication?year={YEAR}")
    assert page.status_code == 200 and "尚未公布" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/evaluation/publication/land-list", data={"csrf": csrf, "year": str(YEAR)}, follow_redirects=True)
    assert r.status_code == 200 and "已公布用地面积" in r.text and codes[0] in r.text
    assert client.get(f"/evaluation/publication/land-list.xlsx?year={YEAR}&park={park}").status_code == 200
    run = _ok(client.post("/api/evaluation/runs", json={"year": YEAR}, headers=admin), 201)["run_id"]
    r = client.post("/evaluation/publication/final", data={"csrf": csrf, "year": str(YEAR)})
    assert r.status_code == 404 and "尚未公示" in r.text
    r = client.post("/evaluation/publication/notice", data={"csrf": csrf, "year": str(YEAR), "run_id": str(run)},
                    follow_redirects=True)
    assert r.status_code == 200 and "公示中" in r.text and "登记异议" in r.text
    assert "税收口径" in client.get("/evaluation/models").text


def test_tenants_form_their_own_list_and_ranking(db):  # noqa: F811
    """A firm leasing all its land is on the tenant list; under own_share it is ranked among tenants."""
    from hggis.access.policy import operator
    from hggis.evaluation.model import create_model, default_params, derive_params
    from hggis.evaluation.results import ResultFilter, list_results
    from hggis.evaluation.runs import run_evaluation
    from tests.evaluation_helpers import add_figures, add_firm, hold, lease

    with transaction(db, "test", "setup") as conn:
        holders = [add_firm(conn, 20 + i) for i in range(3)]
        for i, h in enumerate(holders):
            add_figures(conn, h, tax_paid=100.0 + 50 * i, revenue=3000.0)
            pid = hold(conn, h, 20 + i, side_m=150)
            tenant = add_firm(conn, 30 + i)
            add_figures(conn, tenant, tax_paid=10.0 + i, revenue=3000.0)
            lease(conn, pid, tenant, 0.4)
        params = derive_params(default_params().model_dump(mode="json"), {"lessee_rule": "own_share"})
        mid = create_model(conn, operator(), "租赁企业单独评价", 2024, params)
    run = run_evaluation(db, operator(), 2024, model_id=mid).run_id
    with db.connect() as conn:
        tenants = list_results(conn, operator(), run, ResultFilter(result_list="tenant"))
        above = list_results(conn, operator(), run, ResultFilter(result_list="above"))
    assert tenants["numberMatched"] == 3 and all(i["tenant"] for i in tenants["items"])
    assert sorted(i["rank"] for i in tenants["items"]) == [1, 2, 3] and {i["group_size"] for i in tenants["items"]} == {3}
    assert above["numberMatched"] == 3 and {i["group_size"] for i in above["items"]} == {3}
