"""The idle-land API and CLI over a real database: scope (403), refusals (409/422/404), public listing."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from api.app import create_app
from hggis.config import get_settings
from hggis.db.session import transaction
from tests.access_helpers import make_user
from tests.factories import parcel_code
from tests.idle_helpers import D, a_park, add_holder, contracted

P1, P2, P3 = parcel_code(1), parcel_code(2), parcel_code(3)


@pytest.fixture
def world(clean_db):
    park_a, park_b = a_park(clean_db, "甲园区"), a_park(clean_db, "乙园区")
    with transaction(clean_db, "test", "setup") as conn:
        firm = add_holder(conn, 1, "黄冈某某实业有限公司")
        contracted(conn, 1, D(2022, 1, 1), park_id=park_a, holder_id=firm, land_price="1234.50")
        contracted(conn, 2, D(2022, 1, 1), park_id=park_b)
        contracted(conn, 3, D(2022, 1, 1), park_id=park_a)
    users = {
        "admin": make_user(clean_db, "admin", "city_admin"),
        "officer": make_user(clean_db, "officer", "county_officer", counties=["421102"]),
        "mgr_a": make_user(clean_db, "mgr-a", "park_manager", parks=[park_a]),
        "mgr_b": make_user(clean_db, "mgr-b", "park_manager", parks=[park_b]),
    }
    with TestClient(create_app(clean_db)) as client:
        yield client, users, (park_a, park_b)


def _h(users, who):  # noqa: ANN001, ANN202
    return users[who].headers


def _steps(client, users, case_id, steps):  # noqa: ANN001, ANN202
    for action, on, extra in steps:
        body = {"action": action, "on": on, "reason": f"依法办理：{action}", **extra}
        if action in ("issue_notice", "issue_finding", "decide_disposal", "record_recovery"):
            body["documents"] = [{"kind": "文书", "number": f"{action}-{case_id}"}]
        r = client.post(f"/api/idle/cases/{case_id}/steps", json=body, headers=_h(users, "officer"))
        assert r.status_code == 200, (action, r.text)
    return r.json()


TO_LISTED = [("issue_notice", "2024-03-10", {}), ("issue_finding", "2024-04-20", {}), ("publish", "2024-04-25", {})]


def test_scan_results_and_diff_over_http(world):
    client, users, _ = world
    assert client.post("/api/idle/scans", json={"as_of": "2025-06-30"}).status_code == 401
    assert client.post("/api/idle/scans", json={"as_of": "2025-13-01"}, headers=_h(users, "officer")).status_code == 422
    assert client.post("/api/idle/scans", json={"as_of": "2025-06-30"}, headers=_h(users, "mgr_a")).status_code == 403
    first = client.post("/api/idle/scans", json={"as_of": "2023-06-30"}, headers=_h(users, "officer")).json()
    second = client.post("/api/idle/scans", json={"as_of": "2025-06-30"}, headers=_h(users, "officer")).json()
    assert second["candidates"] == 3 and second["parcels_scanned"] == 3
    mine = client.get(f"/api/idle/scans/{second['id']}/results", headers=_h(users, "mgr_a")).json()
    assert mine["total"] == 2 and {i["parcel_code"] for i in mine["items"]} == {P1, P3}
    item = next(i for i in mine["items"] if i["parcel_code"] == P1)
    assert item["rule_code"] == "idle_not_started_2y" and item["fee_amount"] == "246.90"
    assert "《闲置土地处置办法》" in item["legal_basis"] and item["days"] == (D(2025, 6, 30) - D(2023, 1, 2)).days + 1
    assert item["next_deadline"] == "2023-07-30"  # found by the first scan (2023-06-30) + 30 days
    assert client.get(f"/api/idle/scans/{second['id']}/results?category=xx", headers=_h(users, "mgr_a")).status_code == 422
    diff = client.get(f"/api/idle/scans/{second['id']}/diff?against={first['id']}", headers=_h(users, "officer")).json()
    assert {c["change"] for c in diff["changes"]} == {"changed"} and len(diff["changes"]) == 3
    assert client.get("/api/idle/scans/9999", headers=_h(users, "officer")).status_code == 404


def test_flag_case_recovery_reserve_reoffer_over_http(world, clean_db):
    client, users, (park_a, park_b) = world
    denied = client.post("/api/idle/flags", json={"parcel_code": P1, "note": "无人施工"}, headers=_h(users, "mgr_b"))
    assert denied.status_code == 403
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idle_flags")).scalar() == 0
    flag = client.post("/api/idle/flags", json={"parcel_code": P1, "note": "围挡内无施工迹象", "document_ref": "photo-17.jpg",
                                                "on": "2024-02-28"}, headers=_h(users, "mgr_a"))
    assert flag.status_code == 201
    flag_id = flag.json()["id"]
    assert client.post(f"/api/idle/flags/{flag_id}/confirm", json={"reason": "越权确认"},
                       headers=_h(users, "mgr_a")).status_code == 403
    confirmed = client.post(f"/api/idle/flags/{flag_id}/confirm", json={"reason": "核实属实，立案", "on": "2024-03-01"},
                            headers=_h(users, "officer"))
    case_id = confirmed.json()["case_id"]
    # illegal and bad steps
    early = client.post(f"/api/idle/cases/{case_id}/steps", headers=_h(users, "officer"),
                        json={"action": "issue_finding", "on": "2024-03-05", "reason": "跳步",
                              "documents": [{"kind": "闲置土地认定书", "number": "1"}]})
    assert early.status_code == 409 and "调查通知书" in early.json()["detail"]
    assert client.post(f"/api/idle/cases/{case_id}/steps", headers=_h(users, "officer"),
                       json={"action": "fly", "on": "2024-03-05", "reason": "x1"}).status_code == 422
    assert client.post("/api/idle/cases/99999/steps", headers=_h(users, "officer"),
                       json={"action": "publish", "on": "2024-03-05", "reason": "x1"}).status_code == 404
    assert client.post(f"/api/idle/cases/{case_id}/steps", headers=_h(users, "mgr_a"),
                       json={"action": "publish", "on": "2024-03-05", "reason": "x1"}).status_code == 403
    final = _steps(client, users, case_id, TO_LISTED + [
        ("decide_disposal", "2024-05-10", {"kind": "recovery_without_compensation"}),
        ("record_recovery", "2024-06-20", {}),
        ("to_reserve", "2024-06-25", {}),
        ("reoffer", "2024-07-01", {"indicators": {"investment_intensity": "230", "far_min": "1.2"}}),
    ])
    assert final["state"] == "reoffered" and final["parcel_status"] == "on_offer"
    seen = client.get(f"/api/idle/cases/{case_id}", headers=_h(users, "mgr_a"))
    assert seen.status_code == 200 and len(seen.json()["events"]) == 8 and seen.json()["flags"][0]["id"] == flag_id
    assert client.get(f"/api/idle/cases/{case_id}", headers=_h(users, "mgr_b")).status_code == 403
    assert client.get("/api/idle/cases", headers=_h(users, "mgr_b")).json()["items"] == []
    assert client.get("/api/idle/flags", headers=_h(users, "mgr_a")).json()["items"][0]["case_state"] == "reoffered"
    assert client.get("/api/idle/cases").status_code == 401


def test_public_listing_exposes_only_its_fields(world, clean_db):
    client, users, _ = world
    ids = {}
    for serial in (1, 2, 3):
        r = client.post("/api/idle/cases", headers=_h(users, "admin"),
                        json={"parcel_code": parcel_code(serial), "opened_on": "2024-03-01", "reason": "扫描发现"})
        assert r.status_code == 201, r.text
        ids[serial] = r.json()["id"]
    _steps(client, users, ids[1], TO_LISTED)
    _steps(client, users, ids[3], TO_LISTED)
    _steps(client, users, ids[3], [("decide_disposal", "2024-05-10", {"kind": "fee_collected"}),
                                   ("close", "2024-06-30", {"paid_on": "2024-06-01"})])
    # parcel 2 (another park, same county) stays at 'suspected': not published
    body = client.get("/api/idle/public-listing").json()
    assert len(body["items"]) == 1
    item = body["items"][0]
    assert set(item) == {"location", "holder_name", "idle_since"}
    assert set(item["location"]) == {"county", "park", "parcel_code", "lon", "lat"}
    assert item["holder_name"] == "黄冈某某实业有限公司" and item["idle_since"] == "2023-01-02"
    assert item["location"]["parcel_code"] == P1 and item["location"]["county"] == "黄州区"
    assert 114.8 < item["location"]["lon"] < 115.0 and 30.4 < item["location"]["lat"] < 30.5
    raw = client.get("/api/idle/public-listing").text
    for secret in ("1234.5", "246.9", "fee", "land_price", "reason", "HT-1"):
        assert secret not in raw
    assert client.get("/api/idle/public-listing?adcode=421182").json()["items"] == []
    assert client.get("/api/idle/public-listing?adcode=11").status_code == 422
    # recovered land drops off the listing
    _steps(client, users, ids[1], [("decide_disposal", "2024-05-10", {"kind": "recovery_without_compensation"}),
                                   ("record_recovery", "2024-06-20", {})])
    assert client.get("/api/idle/public-listing").json()["items"] == []


def test_deadlines_json_csv_xlsx_over_http(world):
    client, users, _ = world
    r = client.post("/api/idle/cases", headers=_h(users, "officer"),
                    json={"parcel_code": P1, "opened_on": "2025-01-01", "reason": "扫描发现"})
    assert r.status_code == 201
    rows = client.get("/api/idle/deadlines?as_of=2025-02-01", headers=_h(users, "officer")).json()["items"]
    assert [(x["kind"], x["parcel_code"]) for x in rows] == [("investigation_overdue", P1)]
    csv_r = client.get("/api/idle/deadlines?as_of=2025-02-01&format=csv", headers=_h(users, "officer"))
    assert csv_r.headers["content-type"].startswith("text/csv") and "调查逾期" in csv_r.text
    x = client.get("/api/idle/deadlines?as_of=2025-02-01&format=xlsx", headers=_h(users, "mgr_a"))
    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws["D3"].value == P1 and ws["C3"].value == -1
    assert client.get("/api/idle/deadlines?as_of=2025-02-01", headers=_h(users, "mgr_b")).json()["items"] == []
    assert client.get("/api/idle/deadlines?format=pdf", headers=_h(users, "officer")).status_code == 422


def test_cli_scan_cases_deadlines(clean_db, tmp_path, monkeypatch):
    from hggis.cli import app

    monkeypatch.setenv("DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        with transaction(clean_db, "test", "setup") as conn:
            contracted(conn, 1, D(2023, 6, 30), land_price="1000")
        runner = CliRunner()
        out = runner.invoke(app, ["idle", "scan", "--as-of", "2024-07-01"])
        assert out.exit_code == 0, out.output
        assert "1 candidates" in out.stdout and "idle_not_started_1y" in out.stdout and "200.00" in out.stdout
        opened = runner.invoke(app, ["idle", "cases", "open", P1, "--on", "2024-07-02", "--reason", "扫描发现"])
        assert opened.exit_code == 0 and "case #1 opened" in opened.stdout
        early = runner.invoke(app, ["idle", "cases", "step", "1", "issue_finding", "--on", "2024-07-03",
                                    "--reason", "跳步", "--doc", "闲置土地认定书:1"])
        assert early.exit_code == 1 and early.stderr.startswith("error: 案件 #1 当前为“疑似闲置（待调查）”")
        ok = runner.invoke(app, ["idle", "cases", "step", "1", "issue_notice", "--on", "2024-07-03",
                                 "--reason", "调查", "--doc", "闲置土地调查通知书:黄闲调〔2024〕1号:2024-07-03"])
        assert ok.exit_code == 0 and "已发出调查通知书" in ok.stdout
        shown = runner.invoke(app, ["idle", "cases", "show", "1"])
        assert "黄闲调〔2024〕1号" in shown.stdout and "扫描发现" in shown.stdout
        xlsx = tmp_path / "d.xlsx"
        dl = runner.invoke(app, ["idle", "deadlines", "--as-of", "2024-09-01", "--xlsx", str(xlsx)])
        assert dl.exit_code == 0 and xlsx.exists() and P1 in dl.stdout
        missing = runner.invoke(app, ["idle", "cases", "step", "99", "publish", "--reason", "x"])
        assert missing.exit_code == 1 and missing.stderr.strip() == "error: no idle-land case 99"
    finally:
        get_settings.cache_clear()
