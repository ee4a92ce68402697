"""Development facts (开工、停工、竣工、建筑面积、投资、交地、监管号) from files, all rows or none."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis import clock
from tests.access_helpers import make_user
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile, zip_shapefile
from tests.test_land_use import _xlsx

HEADER = ["宗地代码", "交地日期", "实际开工日期", "停工日期", "竣工日期", "建筑占地面积（m²）", "总建筑面积（m²）",
          "累计完成投资（元）", "合同电子监管号"]


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def _parcels(client, admin, tmp_path, n: int = 3, extra: dict | None = None) -> None:
    geoms = lots(HUANGZHOU, n, side_m=120)
    attrs = {"宗地代码": [code(i + 1) for i in range(n)], "状态": ["在建"] * n, **(extra or {})}
    shp = write_shapefile(tmp_path / "z.shp", project(geoms, 4547), attrs, 4547, encoding="GBK")
    r = client.post("/api/imports/parcels", files={"file": ("宗地.zip", zip_shapefile(shp))}, headers=admin.headers)
    assert r.status_code == 200, r.text


def _facts(conn, serial: int):
    return conn.execute(text(
        "SELECT delivered_on, started_on, halted_since, completed_on, built_footprint_m2, floor_area_m2, "
        "investment_to_date, supervision_no, version FROM parcels WHERE code = :c"), {"c": code(serial)}).one()


def test_the_parcels_import_reads_development_facts_from_mapped_columns(client, clean_db, tmp_path):
    admin = make_user(clean_db, "facts-admin0", "city_admin")
    _parcels(client, admin, tmp_path, 2, {"开工日期": ["2023-03-01", None], "建筑面积": [12000.0, None]})
    with clean_db.connect() as conn:
        first, second = _facts(conn, 1), _facts(conn, 2)
    assert first.started_on == dt.date(2023, 3, 1) and first.floor_area_m2 == 12000.0
    assert second.started_on is None and second.floor_area_m2 is None


def test_a_development_facts_sheet_updates_parcels_and_history(client, clean_db, tmp_path):
    admin = make_user(clean_db, "facts-admin", "city_admin")
    _parcels(client, admin, tmp_path)
    sheet = _xlsx(HEADER, [
        [code(1), "2022-12-20", "2023-03-01", "2024-05-01", None, 2500, 9000, 35_000_000, "4211022023B00123"],
        [code(2), None, "2023/6/1", None, "2024年9月30日", None, None, None, None],
    ], title="开发建设情况")
    dry = client.post("/api/imports/facts", files={"file": ("批后监管台账.xlsx", sheet)}, data={"dry_run": "true"},
                      headers=admin.headers)
    assert dry.status_code == 200 and dry.json()["status"] == "dry_run" and dry.json()["updated"] == 2
    with clean_db.connect() as conn:
        assert _facts(conn, 1).started_on is None
    r = client.post("/api/imports/facts", files={"file": ("批后监管台账.xlsx", sheet)}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 2
    with clean_db.connect() as conn:
        one, two, three = _facts(conn, 1), _facts(conn, 2), _facts(conn, 3)
        reasons = {row[0] for row in conn.execute(text(
            "SELECT reason FROM history WHERE table_name = 'parcels' AND action = 'update'")).all()}
    assert one.delivered_on == dt.date(2022, 12, 20) and one.halted_since == dt.date(2024, 5, 1)
    assert one.built_footprint_m2 == 2500 and one.floor_area_m2 == 9000
    assert float(one.investment_to_date) == 3500.0  # 元 → 万元
    assert one.supervision_no == "4211022023B00123"
    assert two.started_on == dt.date(2023, 6, 1) and two.completed_on == dt.date(2024, 9, 30)
    assert three.version == 1  # not in the sheet: untouched
    assert reasons == {"导入开发建设情况表 批后监管台账.xlsx"}
    # the same sheet again changes nothing; an empty cell never blanks a stored fact
    again = client.post("/api/imports/facts", files={"file": ("批后监管台账.xlsx", sheet)}, headers=admin.headers).json()
    assert again["updated"] == 0 and again["unchanged"] == 2
    blank = _xlsx(["宗地代码", "实际开工日期", "停工日期"], [[code(1), None, None]], title="开发建设情况")
    client.post("/api/imports/facts", files={"file": ("空.xlsx", blank)}, headers=admin.headers)
    with clean_db.connect() as conn:
        assert _facts(conn, 1).halted_since == dt.date(2024, 5, 1)


def test_bad_rows_are_all_named_and_nothing_is_written(client, clean_db, tmp_path):
    admin = make_user(clean_db, "facts-admin2", "city_admin")
    officer = make_user(clean_db, "facts-wuxue", "county_officer", counties=["421182"])
    _parcels(client, admin, tmp_path)
    tomorrow = (clock.today() + dt.timedelta(days=2)).isoformat()
    sheet = _xlsx(HEADER, [
        [code(1), None, "2023-03-01", None, "2022-01-01", None, None, None, None],  # completed before started
        [code(2), None, tomorrow, None, None, None, None, None, None],  # a fact in the future
        [code(3), None, None, None, None, 10_000_000, None, None, None],  # footprint larger than the land
        [code(9), None, "2023-03-01", None, None, None, None, None, None],  # no such parcel
        [code(1).replace("GB", "GB"), None, None, None, None, -5, None, None, None],  # negative (and duplicate)
    ], title="开发建设情况")
    r = client.post("/api/imports/facts", files={"file": ("坏.xlsx", sheet)}, headers=admin.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["bad_row_numbers"] == [2, 3, 4, 5, 6]
    text_ = str(body["bad_rows"])
    assert code(9) in text_ and "竣工日期" in text_
    with clean_db.connect() as conn:
        assert all(_facts(conn, k).version == 1 for k in (1, 2, 3))
    ok = _xlsx(["宗地代码", "实际开工日期"], [[code(1), "2023-03-01"]], title="开发建设情况")
    r = client.post("/api/imports/facts", files={"file": ("越权.xlsx", ok)}, headers=officer.headers)
    assert r.status_code == 422 and "管辖范围" in r.text


def test_the_imports_page_takes_a_facts_sheet_through_dry_run_and_confirmation(client, clean_db, tmp_path):
    import re

    from tests.workbench_helpers import PASSWORD, add_web_user

    admin = make_user(clean_db, "facts-admin3", "city_admin")
    add_web_user(clean_db, "facts-page-officer", "county_officer", counties=["421102"])
    _parcels(client, admin, tmp_path, 2)
    sheet = _xlsx(["宗地代码", "实际开工日期", "累计完成投资（万元）"],
                  [[code(1), "2023-05-01", 1200], [code(2), "2023-06-01", 800]], title="开发建设情况")
    with TestClient(create_app(clean_db)) as web:
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text).group(1)
        web.post("/login", data={"username": "facts-page-officer", "password": PASSWORD, "csrf": token, "next": "/"})
        form = web.get("/imports").text
        assert "开发建设情况表" in form and "用地企业表" in form
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        r = web.post("/imports/upload", data={"csrf": csrf, "kind": "facts"},
                     files={"file": ("台账.xlsx", sheet)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        report = web.get(r.headers["location"]).text
        assert "试运行" in report and "开发建设情况表" in report and "0 / 2 / 0" in report
        with clean_db.connect() as conn:
            assert _facts(conn, 1).started_on is None
        done = web.post(r.headers["location"] + "/confirm", data={"csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303
        assert "已导入" in web.get(done.headers["location"]).text
    with clean_db.connect() as conn:
        assert _facts(conn, 1).started_on == dt.date(2023, 5, 1) and float(_facts(conn, 2).investment_to_date) == 800


def test_halted_land_from_the_import_files_gets_the_sanction_of_53号令(client, clean_db, tmp_path):
    """Empty database → parcels with their contract (ledger) → facts sheet (停工) → idle scan: 20 % fee."""
    admin = make_user(clean_db, "facts-admin4", "city_admin")
    extra = {"出让价款": [1000.0, 800.0, 600.0], "约定开工日期": ["2022-03-01"] * 3, "供地方式": ["出让"] * 3}
    _parcels(client, admin, tmp_path, 3, extra)
    sheet = _xlsx(["宗地代码", "实际开工日期", "停工日期", "建筑占地面积（m²）", "累计完成投资（万元）"], [
        [code(1), "2022-05-01", "2024-03-01", 1000, 100],  # halted for more than one full year by 2025-07-01
        [code(2), "2022-05-01", "2023-03-01", 1000, 100],  # more than two full years: recovery
        [code(3), "2022-05-01", None, 9000, 5000],  # building on: not idle
    ], title="开发建设情况")
    assert client.post("/api/imports/facts", files={"file": ("台账.xlsx", sheet)}, headers=admin.headers).status_code == 200
    r = client.post("/api/idle/scans", json={"as_of": "2025-07-01"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    items = client.get(f"/api/idle/scans/{r.json()['id']}/results", headers=admin.headers).json()["items"]
    found = {i["parcel_code"]: i for i in items}
    assert found[code(1)]["rule_code"] == "idle_halted" and float(found[code(1)]["fee_amount"]) == 200.0
    assert found[code(2)]["rule_code"] == "idle_halted_2y" and "无偿收回" in found[code(2)]["legal_basis"]
    assert code(3) not in found
