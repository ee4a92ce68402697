"""块状经济 bases through the doors: from an empty database, import firms' figures, import the bases
and members (a bad file refused whole, every bad row named), read the yearly output, record the
recognition (≥ 10 亿) as a decision with its basis and history, over the API, the CLI and the page."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import text

from api.app import create_app
from hggis.db.session import transaction
from hggis.io.figures_import import SHEET_NAME
from tests.access_helpers import make_user
from tests.factories import add_park, credit_code
from tests.workbench_helpers import PASSWORD, add_web_user

CODES = [credit_code(8400 + i) for i in range(4)]


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _figures(outputs: list[float]) -> bytes:
    rows = [["统一社会信用代码", "企业名称", "所属县（市、区）", "年度", "工业总产值（万元）"]]
    rows += [[c, f"石材企业{i}", "麻城市", 2024, o] for i, (c, o) in enumerate(zip(CODES, outputs, strict=True))]
    return _xlsx({SHEET_NAME: rows})


BASES = [["基地名称", "县（市、区）", "园区", "乡镇", "主导产业"],
         ["麻城石材基地", "麻城市", "麻城经济开发区", None, "石材"],
         ["麻城汽配基地", "麻城市", None, "龙池桥街道", "汽车零配件"]]


@pytest.fixture
def world(clean_db):
    with transaction(clean_db, "test", "reference data: the park") as conn:
        add_park(conn, "麻城经济开发区", "421181")
    admin = make_user(clean_db, "base-admin", "city_admin")
    park = make_user(clean_db, "base-park", "park_manager", parks=[1])
    with TestClient(create_app(clean_db)) as client:
        yield client, admin.headers, park.headers


def test_bases_import_output_recognition_through_the_doors(world, clean_db, cli, tmp_path):
    client, admin, parkm = world
    r = client.post("/api/imports/figures", files={"file": ("产值.xlsx", _figures([60000, 45000, 30000, 5000]))},
                    headers=admin)
    assert r.status_code == 200, r.text

    # a bad file is refused whole, each bad row named with sheet, row, column and reason
    bad = _xlsx({"块状经济基地": BASES + [["无名县基地", "北京市", None, "某镇", "纺织"], ["麻城石材基地", "麻城市", None, "x", "石材"]],
                 "基地成员": [["基地名称", "统一社会信用代码"], ["麻城石材基地", CODES[0]], ["不存在的基地", CODES[1]],
                          ["麻城石材基地", "123"], ["麻城汽配基地", CODES[0]]]})
    r = client.post("/api/bases/import", files={"file": ("基地.xlsx", bad)}, headers=admin)
    assert r.status_code == 422
    named = {(b["sheet"], b["row"]) for b in r.json()["bad_rows"]}
    assert named == {("块状经济基地", 4), ("块状经济基地", 5), ("基地成员", 3), ("基地成员", 4), ("基地成员", 5)}
    assert any("重复" in b["reason"] for b in r.json()["bad_rows"])
    assert client.post("/api/bases/import", files={"file": ("基地.xlsx", bad)}, headers=parkm).status_code == 403
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM industrial_bases")).scalar_one() == 0

    good = _xlsx({"块状经济基地": BASES,
                  "基地成员": [["基地名称", "统一社会信用代码", "加入年度"], ["麻城石材基地", CODES[0], 2020],
                           ["麻城石材基地", CODES[1], 2020], ["麻城汽配基地", CODES[2], None],
                           ["麻城汽配基地", CODES[3], 2025]]})
    r = client.post("/api/bases/import", files={"file": ("基地.xlsx", good)}, headers=admin)
    assert r.status_code == 200 and r.json()["bases_created"] == 2 and r.json()["members_set"] == 4, r.text

    listed = {b["name"]: b for b in client.get("/api/bases?year=2024", headers=parkm).json()}
    assert listed["麻城石材基地"]["output_yi"] == pytest.approx(10.5) and listed["麻城石材基地"]["n_members"] == 2
    assert listed["麻城汽配基地"]["output_yi"] == pytest.approx(3.0) and listed["麻城汽配基地"]["n_members"] == 1  # joins 2025
    assert listed["麻城石材基地"]["recognition"] is None
    assert client.get("/api/bases?year=2024").status_code == 401

    # the decision: only the city, recorded with its basis
    assert client.post("/api/bases/recognitions", json={"year": 2024}, headers=parkm).status_code == 403
    r = client.post("/api/bases/recognitions", json={"year": 2024, "reason": "2024 年度认定"}, headers=admin)
    assert r.status_code == 201, r.text
    assert {d["base_id"]: d["recognised"] for d in r.json()} == {1: True, 2: False}
    listed = {b["name"]: b for b in client.get("/api/bases?year=2024", headers=admin).json()}
    assert listed["麻城石材基地"]["recognition"]["recognised"] and not listed["麻城汽配基地"]["recognition"]["recognised"]

    # figures corrected: the decision in force is stale until decided again (CLI); both stay on record
    r = client.post("/api/imports/figures", files={"file": ("更正.xlsx", _figures([60000, 30000, 30000, 5000]))},
                    headers=admin)
    assert r.status_code == 200
    listed = {b["name"]: b for b in client.get("/api/bases?year=2024", headers=admin).json()}
    assert listed["麻城石材基地"]["recognition"]["stale"] and listed["麻城石材基地"]["output_yi"] == pytest.approx(9.0)
    res = cli("bases", "recognise", "--year", "2024", "--base", "1", "--reason", "数据更正后重新认定")
    assert res.exit_code == 0 and "not recognised" in res.output, res.output
    history = client.get("/api/bases/1/recognitions", headers=admin).json()
    assert [h["recognised"] for h in history] == [False, True]
    assert history[1]["basis"]["members"][1]["output_10k_yuan"] == 45000.0 and history[1]["threshold_yi"] == 10.0
    res = cli("bases", "list", "--year", "2024")
    assert res.exit_code == 0 and "麻城石材基地" in res.output and "未达标" in res.output
    with clean_db.connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'industrial_base_recognitions'")).scalar_one()
    assert audited == 3

    # the page lists the bases with output and status
    add_web_user(clean_db, "base-web", "city_admin")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "base-web", "password": PASSWORD, "csrf": token, "next": "/"})
    page = client.get("/bases?year=2024")
    assert page.status_code == 200 and "麻城石材基地" in page.text and "9.00" in page.text and "未达标" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/bases/recognitions", data={"csrf": csrf, "year": "2024"}, follow_redirects=True)
    assert r.status_code == 200 and "已记录 2024 年度认定结果" in r.text


def test_cli_import_names_bad_rows(cli, clean_db, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(_xlsx({"基地成员": [["基地名称", "统一社会信用代码"], ["没有的基地", CODES[0]]]}))
    res = cli("bases", "import", str(path))
    assert res.exit_code == 1 and "第 2 行" in res.output and "没有这个基地" in res.output
