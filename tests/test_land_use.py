"""Who uses land: holders by default, occupancies refining it, through the doors a land office has."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import text

from api.app import create_app
from hggis.geo import area_mu
from hggis.io.figures_import import SHEET_NAME
from tests.access_helpers import make_user
from tests.factories import credit_code
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile, zip_shapefile

FIGURE_HEADERS = ["统一社会信用代码", "企业名称", "所属县（市、区）", "年度", "税收（万元）", "营业收入（万元）",
                  "工业增加值（万元）", "综合能耗（吨标准煤）", "用电量（万千瓦时）", "主要污染物排放量（吨）",
                  "研发经费（万元）", "年平均职工人数（人）"]


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def _xlsx(header: list[str], rows: list[list[object]], title: str = SHEET_NAME) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _figures(codes: list[str], names: list[str], year: int = 2024) -> bytes:
    rows = [[c, n, "黄州区", year, 120 + 10 * k, 5000, 1500, 800, 300, 2.5, 90, 60 + k]
            for k, (c, n) in enumerate(zip(codes, names, strict=True))]
    return _xlsx(FIGURE_HEADERS, rows)


def _survey(tmp_path, n: int, holders: list[str | None], names: list[str | None] | None = None) -> tuple[bytes, list]:
    geoms = lots(HUANGZHOU, n, side_m=120)
    attrs = {"宗地代码": [code(i + 1) for i in range(n)], "状态": ["已投产"] * n, "统一社会信用代码": holders}
    if names is not None:
        attrs["权利人"] = names
    shp = write_shapefile(tmp_path / "survey.shp", project(geoms, 4547), attrs, 4547, encoding="GBK")
    return zip_shapefile(shp), geoms


def test_firms_holding_imported_parcels_are_evaluated_on_their_land(client, clean_db, tmp_path):
    """Empty database → parcels with holder codes (firms not yet known) → figures → evaluation: all evaluated."""
    admin = make_user(clean_db, "land-admin", "city_admin")
    holders = [credit_code(8101 + k) for k in range(5)]
    # the fifth firm holds two parcels; the figures come after the parcels
    data, geoms = _survey(tmp_path, 6, holders + [holders[4]])
    r = client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 6 and sorted(r.json()["holders_registered"]) == sorted(holders)

    names = [f"黄州制造{k}有限公司" for k in range(5)]
    idle_firm = credit_code(8199)  # reports figures but holds no land
    r = client.post("/api/imports/figures", files={"file": ("年度数据.xlsx", _figures(holders + [idle_firm], names + ["无地企业"]))},
                    headers=admin.headers)
    assert r.status_code == 200, r.text
    r = client.post("/api/evaluation/runs", json={"year": 2024, "proceed": True}, headers=admin.headers)
    assert r.status_code == 201, r.text
    run = r.json()["run_id"]
    results = client.get(f"/api/evaluation/runs/{run}/results?limit=100", headers=admin.headers).json()
    by_code = {x["credit_code"]: x for x in results["items"]}
    expected = {h: area_mu(geoms[k]) for k, h in enumerate(holders)}
    expected[holders[4]] += area_mu(geoms[5])
    for h in holders:
        assert by_code[h]["land_mu"] == pytest.approx(expected[h], rel=1e-4), h
        assert by_code[h]["evaluated"] is True, by_code[h]
    assert by_code[holders[0]]["name"] == names[0]  # the figures sheet named the registered holder
    assert by_code[idle_firm]["evaluated"] is False and "用地" in by_code[idle_firm]["reason"]


def test_a_lessee_from_the_occupancy_import_takes_its_share_from_the_holder(client, clean_db, tmp_path):
    admin = make_user(clean_db, "land-admin2", "city_admin")
    holder, lessee = credit_code(8201), credit_code(8202)
    data, geoms = _survey(tmp_path, 1, [holder], ["黄州主业有限公司"])
    assert client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers).status_code == 200
    assert client.post("/api/imports/figures", files={"file": ("f.xlsx", _figures([holder, lessee], ["黄州主业有限公司", "承租科技有限公司"]))},
                       headers=admin.headers).status_code == 200
    sheet = _xlsx(["宗地代码", "统一社会信用代码", "份额", "角色", "起始日期", "终止日期"],
                  [[code(1), lessee, 0.4, "承租", "2024-01-01", None]], title="用地企业")
    r = client.post("/api/imports/occupancies", files={"file": ("用地企业.xlsx", sheet)}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1
    run = client.post("/api/evaluation/runs", json={"year": 2024, "proceed": True},
                      headers=admin.headers).json()["run_id"]
    land = client.get(f"/api/evaluation/runs/{run}/results?limit=10", headers=admin.headers).json()["items"]
    by_code = {x["credit_code"]: x for x in land}
    # default rule: a lessee-only firm is merged into the holder, which then counts the whole parcel
    assert by_code[lessee]["evaluated"] is False and by_code[lessee]["merged_into"] == by_code[holder]["enterprise_id"]
    assert by_code[holder]["land_mu"] == pytest.approx(area_mu(geoms[0]), rel=1e-4)
    with clean_db.connect() as conn:
        rows = dict(conn.execute(text(
            "SELECT l.role || ':' || l.occupant_id, l.share FROM evaluation_land l WHERE l.run_id = :r"), {"r": run}).all())
    assert sorted(round(v, 6) for v in rows.values()) == [0.4, 0.6]


def test_shares_above_100_percent_are_refused_naming_the_parcel(client, clean_db, tmp_path):
    admin = make_user(clean_db, "land-admin3", "city_admin")
    holder, a, b = credit_code(8301), credit_code(8302), credit_code(8303)
    data, _ = _survey(tmp_path, 1, [holder], ["权利人公司"])
    client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers)
    client.post("/api/imports/figures", files={"file": ("f.xlsx", _figures([a, b], ["甲公司", "乙公司"]))}, headers=admin.headers)
    sheet = _xlsx(["宗地代码", "统一社会信用代码", "份额", "角色"],
                  [[code(1), a, 0.7, "承租"], [code(1), b, 0.5, "承租"]], title="用地企业")
    r = client.post("/api/imports/occupancies", files={"file": ("超额.xlsx", sheet)}, headers=admin.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert code(1) in str(body["bad_rows"]) and "超过" in str(body["bad_rows"])
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM occupancies")).scalar_one() == 0


def test_occupancy_api_with_version_checks_and_history(client, clean_db, tmp_path):
    admin = make_user(clean_db, "land-admin4", "city_admin")
    holder, lessee = credit_code(8401), credit_code(8402)
    data, _ = _survey(tmp_path, 1, [holder], ["权利人公司"])
    client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers)
    client.post("/api/imports/figures", files={"file": ("f.xlsx", _figures([lessee], ["承租公司"]))}, headers=admin.headers)
    url = f"/api/parcels/{code(1)}/occupancies"
    listed = client.get(url, headers=admin.headers).json()
    assert [(o["credit_code"], o["role"], o["share"], o["implied"]) for o in listed["items"]] == [(holder, "holder", 1.0, True)]
    r = client.post(url, json={"credit_code": lessee, "share": 0.25, "role": "lessee", "valid_from": "2024-03-01"},
                    headers=admin.headers)
    assert r.status_code == 201, r.text
    occ = r.json()
    listed = {o["credit_code"]: o for o in client.get(url, headers=admin.headers).json()["items"]}
    assert listed[holder]["share"] == pytest.approx(0.75) and listed[lessee]["share"] == pytest.approx(0.25)
    too_much = client.post(url, json={"credit_code": holder, "share": 0.9, "role": "holder"}, headers=admin.headers)
    assert too_much.status_code == 422 and code(1) in too_much.text
    stale = client.patch(f"/api/occupancies/{occ['id']}", json={"share": 0.3, "version": occ["version"] + 1},
                         headers=admin.headers)
    assert stale.status_code == 409
    ok = client.patch(f"/api/occupancies/{occ['id']}", json={"valid_to": "2024-12-31", "version": occ["version"]},
                      headers=admin.headers)
    assert ok.status_code == 200 and ok.json()["valid_to"] == "2024-12-31"
    gone = client.request("DELETE", f"/api/occupancies/{occ['id']}", json={"version": ok.json()["version"]},
                          headers=admin.headers)
    assert gone.status_code == 204
    with clean_db.connect() as conn:
        actions = [r[0] for r in conn.execute(text(
            "SELECT action FROM history WHERE table_name = 'occupancies' ORDER BY id")).all()]
    assert actions == ["insert", "update", "delete"]


def test_officers_cannot_write_occupancies_of_another_county(client, clean_db, tmp_path):
    admin = make_user(clean_db, "land-admin5", "city_admin")
    officer = make_user(clean_db, "land-wuxue", "county_officer", counties=["421182"])
    holder = credit_code(8501)
    data, _ = _survey(tmp_path, 1, [holder], ["黄州公司"])
    client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers)
    r = client.post(f"/api/parcels/{code(1)}/occupancies", json={"credit_code": holder, "share": 1.0, "role": "holder"},
                    headers=officer.headers)
    assert r.status_code in (403, 404)
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM occupancies")).scalar_one() == 0


def test_the_cli_imports_occupancies_from_a_gbk_csv_and_refuses_bad_rows(cli, clean_db, tmp_path):
    holder, lessee = credit_code(8601), credit_code(8602)
    data, _ = _survey(tmp_path, 2, [holder, holder], ["主业公司", "主业公司"])
    (tmp_path / "z.zip").write_bytes(data)
    assert cli("import", "parcels", str(tmp_path / "z.zip")).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(("宗地代码,统一社会信用代码,企业名称,份额（%）,角色\n"
                     f"{code(1)},{lessee},承租公司,30,承租\n"
                     f"{code(2)},{lessee},承租公司,三成,承租\n"
                     f"{code(9)},{lessee},承租公司,10,租赁\n").encode("gbk"))
    r = cli("import", "occupancies", str(bad))
    assert r.exit_code == 1
    assert "第 3 行" in r.stderr and "份额" in r.stderr and "第 4 行" in r.stderr and code(9) in r.stderr
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM occupancies")).scalar_one() == 0
    good = tmp_path / "good.csv"
    good.write_bytes(("宗地代码,统一社会信用代码,企业名称,份额（%）,角色,起始日期\n"
                      f"{code(1)},{lessee},承租公司,30,承租,2024-07-01\n").encode("gbk"))
    r = cli("import", "occupancies", str(good))
    assert r.exit_code == 0, r.output
    assert "新增 1" in r.stdout
    with clean_db.connect() as conn:
        share, since, name = conn.execute(text(
            "SELECT o.share, o.valid_from, e.name FROM occupancies o JOIN enterprises e ON e.id = o.enterprise_id")).one()
    assert float(share) == 0.3 and str(since) == "2024-07-01" and name == "承租公司"


def test_the_database_refuses_shares_above_100_percent_on_any_path(clean_db, tmp_path):
    """The deferred trigger of migration 0014, for a write that skips hggis.occupancies."""
    from sqlalchemy.exc import IntegrityError

    from hggis.db.session import transaction
    from hggis.enterprises import EnterpriseInput, create_enterprise
    from tests.factories import add_parcel

    with transaction(clean_db, "test") as conn:
        pid = add_parcel(conn, 1, status="producing")
        a, b = (create_enterprise(conn, EnterpriseInput(credit_code(8700 + k), f"企业{k}", "421102")) for k in (1, 2))
    with pytest.raises(IntegrityError, match="超过 1"):
        with transaction(clean_db, "test") as conn:
            conn.execute(text("INSERT INTO occupancies (parcel_id, enterprise_id, share, role) VALUES "
                              "(:p, :a, 0.6, 'lessee'), (:p, :b, 0.6, 'lessee')"), {"p": pid, "a": a, "b": b})
    # consecutive periods are fine: 0.6 until June, another 0.6 from July
    with transaction(clean_db, "test") as conn:
        conn.execute(text("INSERT INTO occupancies (parcel_id, enterprise_id, share, role, valid_to) VALUES "
                          "(:p, :a, 0.6, 'lessee', '2024-06-30')"), {"p": pid, "a": a})
        conn.execute(text("INSERT INTO occupancies (parcel_id, enterprise_id, share, role, valid_from) VALUES "
                          "(:p, :b, 0.6, 'lessee', '2024-07-01')"), {"p": pid, "b": b})


def test_the_parcel_page_records_ends_and_removes_an_occupancy(clean_db, tmp_path):
    import re

    from tests.workbench_helpers import PASSWORD, add_web_user

    add_web_user(clean_db, "land-page-officer", "county_officer", counties=["421102"])
    admin = make_user(clean_db, "land-admin6", "city_admin")
    holder, lessee = credit_code(8801), credit_code(8802)
    with TestClient(create_app(clean_db)) as api:
        data, _ = _survey(tmp_path, 1, [holder], ["权利人公司"])
        api.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers)
        api.post("/api/imports/figures", files={"file": ("f.xlsx", _figures([lessee], ["承租公司"]))}, headers=admin.headers)
    with TestClient(create_app(clean_db)) as web:
        login = web.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
        web.post("/login", data={"username": "land-page-officer", "password": PASSWORD, "csrf": token, "next": "/"})
        page = web.get(f"/parcels/{code(1)}").text
        assert "权利人公司" in page and "100.0%" in page and 'id="occupancy-form"' in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        bad = web.post(f"/parcels/{code(1)}/occupancies", data={"csrf": csrf, "credit_code": lessee, "share_pct": "120"})
        assert bad.status_code == 422 and "不超过 1" in bad.text
        r = web.post(f"/parcels/{code(1)}/occupancies", follow_redirects=False,
                     data={"csrf": csrf, "credit_code": lessee, "role": "lessee", "share_pct": "35", "valid_from": "2024-01-01"})
        assert r.status_code == 303, r.text
        page = web.get(f"/parcels/{code(1)}").text
        table = page.split('id="occupants-table"')[1].split("</table>")[0]
        assert "承租公司" in table and "35.0%" in table and "65.0%" in table
        occ_id, version = re.search(r'/occupancies/(\d+)/end".*?name="version" value="(\d+)"', table, re.S).groups()
        r = web.post(f"/parcels/{code(1)}/occupancies/{occ_id}/end", follow_redirects=False,
                     data={"csrf": csrf, "version": version, "valid_to": "2024-12-31"})
        assert r.status_code == 303
        stale = web.post(f"/parcels/{code(1)}/occupancies/{occ_id}/delete", data={"csrf": csrf, "version": version})
        assert stale.status_code == 409 and "已被他人修改" in stale.text
        r = web.post(f"/parcels/{code(1)}/occupancies/{occ_id}/delete", follow_redirects=False,
                     data={"csrf": csrf, "version": str(int(version) + 1)})
        assert r.status_code == 303
        history = web.get(f"/parcels/{code(1)}").text.split('id="history"')[1]
        assert "登记用地企业" in history and "用地企业终止使用" in history and "删除误录" in history


def test_the_parcels_import_writes_lessees_from_mapped_columns(client, clean_db, tmp_path):
    admin = make_user(clean_db, "land-admin7", "city_admin")
    holder, a, b = credit_code(8901), credit_code(8902), credit_code(8903)
    geoms = lots(HUANGZHOU, 2, side_m=120)
    attrs = {"宗地代码": [code(1), code(2)], "状态": ["已投产"] * 2, "统一社会信用代码": [holder, holder],
             "承租企业": ["甲公司；乙公司", None], "承租份额": ["30%；20%", None],
             "承租企业统一社会信用代码": [f"{a}；{b}", None]}
    shp = write_shapefile(tmp_path / "z.shp", project(geoms, 4547), attrs, 4547, encoding="GBK")
    r = client.post("/api/imports/parcels", files={"file": ("宗地.zip", zip_shapefile(shp))}, headers=admin.headers)
    assert r.status_code == 200, r.text
    listed = {o["credit_code"]: o for o in client.get(f"/api/parcels/{code(1)}/occupancies", headers=admin.headers).json()["items"]}
    assert listed[a]["share"] == pytest.approx(0.3) and listed[a]["name"] == "甲公司"
    assert listed[b]["share"] == pytest.approx(0.2) and listed[holder]["share"] == pytest.approx(0.5)
    # a later file that lists 90 % more on the same parcel is refused with the feature named
    attrs2 = {"宗地代码": [code(1)], "承租企业统一社会信用代码": [credit_code(8904)], "承租份额": ["90%"]}
    shp2 = write_shapefile(tmp_path / "y.shp", project(geoms[:1], 4547), attrs2, 4547, encoding="GBK")
    r = client.post("/api/imports/parcels", files={"file": ("追加.zip", zip_shapefile(shp2))}, headers=admin.headers)
    assert r.status_code == 422 and code(1) in r.text and "超过 1" in r.text
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM occupancies")).scalar_one() == 2
