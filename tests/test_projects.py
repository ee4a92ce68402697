"""The project pipeline through the doors: a county's Excel list in, the dashboard's counts and
their drill-down out, edits with versions, moves between lists with date and who."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from api.app import create_app
from tests.access_helpers import make_user
from tests.factories import credit_code
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile, zip_shapefile

HEADER = ["项目名称", "所属县（市、区）", "清单类别", "投资方", "统一社会信用代码", "产业集群", "所属产业",
          "协议投资额（万元）", "到位资金（万元）", "到位资金截至日期", "包保领导", "包保领导职务", "签约日期",
          "开工日期", "投产日期", "计划开工日期", "计划投产日期", "重点项目", "集中开工批次", "宗地代码"]
ROWS = [
    ["甲新材料项目", "黄州区", "新建类", "甲科技有限公司", credit_code(501), "黄州电子信息材料", "光电子信息",
     50000, 20000, "2025-06-30", "张三", "副区长", "2025-02-01", "2025-03-01", "2025-11-30", "2025-03-31",
     "2025-12-31", "是", "2025Q1", code(1)],
    ["乙装备项目", "421102", "续建类", "乙机械有限公司", None, None, "装备制造", 12000, None, None, "李四", "局长",
     "2024-05-01", "2025-08-01", None, "2025-06-30", None, "否", "2025年第三季度", None],
    ["丙石材项目", "麻城市", "前期类", "丙石业有限公司", None, "麻城石材", "建材家居", 30000, 6000, "2025-12-01",
     "王五", "副市长", "2025-09-01", None, None, "2025-10-01", None, "是", None, None],
    ["丁谋划项目", "麻城市", "谋划类", None, None, None, None, None, None, None, None, None, None, None, None,
     None, None, None, None, None],
]


def xlsx(header: list[str], rows: list[list[object]], title: str = "项目清单") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def _parcels(client, admin, tmp_path, n: int = 2) -> None:
    geoms = lots(HUANGZHOU, n, side_m=120)
    shp = write_shapefile(tmp_path / "z.shp", project(geoms, 4547),
                          {"宗地代码": [code(i + 1) for i in range(n)], "状态": ["在建"] * n}, 4547, encoding="GBK")
    r = client.post("/api/imports/parcels", files={"file": ("宗地.zip", zip_shapefile(shp))}, headers=admin.headers)
    assert r.status_code == 200, r.text


def _import(client, user, content: bytes, name: str = "黄冈项目清单.xlsx", **data):
    return client.post("/api/imports/projects", files={"file": (name, content)}, data=data, headers=user.headers)


def _names(client, user, url: str) -> set[str]:
    r = client.get(url, headers=user.headers)
    assert r.status_code == 200, r.text
    return {p["name"] for p in r.json()["items"]}


def test_a_project_list_gives_the_dashboard_counts_and_their_projects(client, clean_db, tmp_path):
    admin = make_user(clean_db, "pj-admin", "city_admin")
    _parcels(client, admin, tmp_path)
    r = _import(client, admin, xlsx(HEADER, ROWS))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 4 and r.json()["status"] == "applied"

    d = client.get("/api/dashboard/projects", params={"year": 2025}, headers=admin.headers)
    assert d.status_code == 200, d.text
    d = d.json()
    t = d["total"]
    assert (t["started"], t["producing"], t["signed"]) == (2, 1, 2)
    assert t["signed_investment_yi"] == 8.0 and t["funds_in_place_yi"] == 2.6
    assert t["funds_rate_pct"] == 32.5  # (20000 + 6000) / (50000 + 30000)
    assert (t["start_met"], t["start_due"], t["start_rate_pct"]) == (2, 3, 66.7)
    assert (t["nodes_met"], t["nodes_due"], t["performance_rate_pct"]) == (1, 3, 33.3)
    huangzhou = next(c for c in d["counties"] if c["adcode"] == "421102")
    macheng = next(c for c in d["counties"] if c["adcode"] == "421181")
    assert (huangzhou["started"], macheng["started"], macheng["signed_investment_yi"]) == (2, 0, 3.0)
    assert d["targets"]["started"]["target"] == 400 and d["targets"]["started"]["applies_to"] == "全市"
    assert d["targets"]["signed_investment_yi"]["target"] == 2000
    assert d["targets"]["funds_rate_pct"]["target"] == 40 and macheng["meets"]["funds_rate_pct"] is False
    assert 2025 in d["years"] and 2024 in d["years"]

    # each figure drills down to exactly the projects it counts
    assert _names(client, admin, t["drill"]["start_met"]) == {"甲新材料项目", "乙装备项目"}
    assert _names(client, admin, t["drill"]["nodes_met"]) == {"甲新材料项目"}
    assert _names(client, admin, t["drill"]["signed"]) == {"甲新材料项目", "丙石材项目"}
    assert _names(client, admin, huangzhou["drill"]["started"]) == {"甲新材料项目", "乙装备项目"}
    assert _names(client, admin, macheng["drill"]["start_due"]) == {"丙石材项目"}
    for name, total in t.items():
        if name in d["labels"]:
            listed = client.get(t["drill"][name], headers=admin.headers).json()["total"]
            assert listed == total, name

    # the detail: the investor registered as an enterprise, the parcel linked, the funds series, the first move
    page = client.get("/api/projects", params={"q": "甲新材料"}, headers=admin.headers).json()
    one = client.get(f"/api/projects/{page['items'][0]['id']}", headers=admin.headers)
    detail = one.json()
    assert one.headers["ETag"].strip("W/") == '"1"'
    assert detail["parcels"][0]["code"] == code(1)
    assert detail["funds"] == [{"on_date": "2025-06-30", "amount_wan": 20000.0}] and detail["funds_in_place_pct"] == 40.0
    assert detail["moves"][0]["to_kind"] == "new" and detail["moves"][0]["moved_by"].startswith("pj-admin")
    assert detail["batch"] == "2025Q1" and detail["is_key"] is True and detail["leader_name"] == "张三"
    with clean_db.connect() as conn:
        firm = conn.execute(text("SELECT name, adcode FROM enterprises WHERE credit_code = :c"),
                            {"c": credit_code(501)}).one()
    assert tuple(firm) == ("甲科技有限公司", "421102")
    other = client.get("/api/projects", params={"batch": "2025Q3"}, headers=admin.headers).json()
    assert [p["name"] for p in other["items"]] == ["乙装备项目"]  # 2025年第三季度 read as 2025Q3


def test_a_second_list_moves_projects_and_adds_funds_with_history(client, clean_db):
    admin = make_user(clean_db, "pj-admin2", "city_admin")
    assert _import(client, admin, xlsx(HEADER, [r[:19] + [None] for r in ROWS])).status_code == 200
    later = xlsx(["项目名称", "所属县（市、区）", "清单类别", "到位资金（亿元）", "到位资金截至日期", "清单调整日期"],
                 [["甲新材料项目", "黄州区", "续建类", 3, "2026-01-31", "2026-01-05"]])
    r = _import(client, admin, later, "调整.xlsx")
    assert r.status_code == 200, r.text
    assert (r.json()["updated"], r.json()["inserted"]) == (1, 0)
    pid = client.get("/api/projects", params={"q": "甲新材料"}, headers=admin.headers).json()["items"][0]["id"]
    detail = client.get(f"/api/projects/{pid}", headers=admin.headers).json()
    assert [(m["from_kind"], m["to_kind"], m["moved_on"]) for m in detail["moves"]] == [
        (None, "new", detail["moves"][0]["moved_on"]), ("new", "continuing", "2026-01-05")]
    assert detail["funds"][-1] == {"on_date": "2026-01-31", "amount_wan": 30000.0}  # 亿元 → 万元
    assert detail["signed_investment_wan"] == 50000.0  # not in the second sheet: kept
    with clean_db.connect() as conn:
        reasons = set(conn.execute(text(
            "SELECT reason FROM history WHERE table_name = 'projects' AND action = 'update'")).scalars())
    assert reasons == {"导入项目清单表 调整.xlsx"}


def test_patch_checks_the_version_and_records_the_move(client, clean_db):
    admin = make_user(clean_db, "pj-admin3", "city_admin")
    _import(client, admin, xlsx(HEADER[:19], [r[:19] for r in ROWS]))
    pid = client.get("/api/projects", params={"q": "丁谋划"}, headers=admin.headers).json()["items"][0]["id"]
    r = client.patch(f"/api/projects/{pid}", json={"list_kind": "preparatory", "moved_on": "2026-02-01",
                                                   "leader_name": "赵六", "reason": "调度会"},
                     headers={**admin.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["moves"][-1]["from_kind"] == "planning"
    assert r.json()["moves"][-1]["moved_on"] == "2026-02-01"
    stale = client.patch(f"/api/projects/{pid}", json={"note": "x"}, headers={**admin.headers, "If-Match": '"1"'})
    assert stale.status_code == 409
    future = client.patch(f"/api/projects/{pid}", json={"version": 2, "started_on": "2099-01-01"}, headers=admin.headers)
    assert future.status_code == 422 and "started_on" in future.text


def test_a_bad_list_names_every_bad_row_and_writes_nothing(client, clean_db):
    admin = make_user(clean_db, "pj-admin4", "city_admin")
    bad = xlsx(HEADER[:17], [
        ROWS[0][:17],
        ["", "黄州区", "新建类"] + [None] * 14,  # no name
        ["戊项目", "北京市", "新建类"] + [None] * 14,  # not a county here
        ["己项目", "黄州区", "在建类"] + [None] * 14,  # not a list
        ["庚项目", "黄州区", "新建类", None, "91421102MA0000000X"] + [None] * 12,  # bad check character
        ["辛项目", "黄州区", "新建类"] + [None] * 10 + ["2025-05-01", "2025-04-01", None, None],  # produced before start
        ["甲新材料项目", "黄州区", "新建类"] + [None] * 14,  # again
        ["壬项目", "黄州区", "新建类", None, None, None, None, "很多"] + [None] * 9,
        ["癸项目", "黄州区", "新建类", None, None, None, None, None, None, None, None, None, "2099-01-01"] + [None] * 4,
    ])
    r = _import(client, admin, bad, "坏清单.xlsx")
    assert r.status_code == 422, r.text
    report = r.json()
    assert report["bad_row_numbers"] == [3, 4, 5, 6, 7, 8, 9, 10]
    reasons = {b["row"]: b["reason"] for b in report["bad_rows"]}
    assert reasons[3] == "必填" and "北京市" in reasons[4] and "在建类" in reasons[5]
    assert "投产日期早于开工日期" in reasons[7] and "第 2 行重复" in reasons[8] and "不能晚于今天" in reasons[10]
    assert report["file_name"] == "坏清单.xlsx" and report["status"] == "refused"
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM projects")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one() == 0


def test_a_county_officer_imports_and_sees_only_their_county(client, clean_db):
    admin = make_user(clean_db, "pj-admin5", "city_admin")
    officer = make_user(clean_db, "pj-officer", "county_officer", counties=["421102"])
    refused = _import(client, officer, xlsx(HEADER[:3], [r[:3] for r in ROWS]))
    assert refused.status_code == 422 and refused.json()["bad_row_numbers"] == [4, 5]
    assert _import(client, admin, xlsx(HEADER[:19], [r[:19] for r in ROWS])).status_code == 200
    assert _names(client, officer, "/api/projects") == {"甲新材料项目", "乙装备项目"}
    d = client.get("/api/dashboard/projects", params={"year": 2025}, headers=officer.headers).json()
    assert [c["adcode"] for c in d["counties"]] == ["421102"] and d["total"]["signed"] == 1
    assert d["targets"]["started"]["progress_pct"] is None and d["targets"]["started"]["share_of_city_pct"] == 0.5
    macheng = client.get("/api/projects", params={"adcode": "421181"}, headers=officer.headers).json()
    assert macheng["total"] == 0
    assert client.get("/api/projects").status_code == 401


def test_the_template_downloads_and_imports_as_is(client, clean_db):
    admin = make_user(clean_db, "pj-admin6", "city_admin")
    r = client.get("/api/projects/template")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    headers = [c.value for c in wb["项目清单"][1]]
    assert headers[:3] == ["项目名称", "所属县（市、区）", "清单类别"] and "协议投资额（万元）" in headers
    ws = wb["项目清单"]
    ws.append(["模板项目", "黄州区", "谋划类"])
    buf = io.BytesIO()
    wb.save(buf)
    done = _import(client, admin, buf.getvalue(), "模板.xlsx")
    assert done.status_code == 200, done.text
    assert done.json()["inserted"] == 1


def test_the_cli_imports_and_lists_a_figure(cli, tmp_path):
    sheet = tmp_path / "清单.xlsx"
    sheet.write_bytes(xlsx(HEADER[:19], [r[:19] for r in ROWS]))
    done = cli("projects", "import", str(sheet))
    assert done.exit_code == 0, done.output
    listed = cli("projects", "list", "--figure", "started", "--year", "2025")
    assert listed.exit_code == 0, listed.output
    assert "共 2 个项目" in listed.output and "甲新材料项目" in listed.output and "丙石材项目" not in listed.output
    board = cli("projects", "dashboard", "--year", "2025")
    assert "新开工 2" in board.output and "资金到位率 32.5%" in board.output
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(xlsx(HEADER[:3], [["某项目", "北京市", "新建类"]]))
    refused = cli("projects", "import", str(bad))
    assert refused.exit_code == 1 and "北京市" in refused.output


def test_the_pages_list_show_and_drill_down(client, clean_db):
    admin = make_user(clean_db, "pj-admin7", "city_admin")
    assert _import(client, admin, xlsx(HEADER[:19], [r[:19] for r in ROWS])).status_code == 200
    listing = client.get("/projects", params={"figure": "started", "year": "2025"}, headers=admin.headers)
    assert listing.status_code == 200, listing.text
    assert "甲新材料项目" in listing.text and "乙装备项目" in listing.text and "丙石材项目" not in listing.text
    assert "新开工项目" in listing.text
    pid = client.get("/api/projects", params={"q": "甲新材料"}, headers=admin.headers).json()["items"][0]["id"]
    detail = client.get(f"/projects/{pid}", headers=admin.headers)
    assert detail.status_code == 200 and "张三" in detail.text and "2025-03-31" in detail.text
    assert client.get("/projects/import", headers=admin.headers, follow_redirects=False).headers["location"] == \
        "/imports?kind=projects"
    assert 'value="projects" checked' in client.get("/imports?kind=projects", headers=admin.headers).text
    assert client.get("/projects", follow_redirects=False).status_code in (303, 401)


def test_the_dashboard_page_links_each_pipeline_figure_to_its_projects(client, clean_db):
    admin = make_user(clean_db, "pj-admin8", "city_admin")
    assert _import(client, admin, xlsx(HEADER[:19], [r[:19] for r in ROWS])).status_code == 200
    figures = f"统一社会信用代码,企业名称,所属县（市、区）,年度,主营业务收入（万元）\n{credit_code(777)},某企业,黄州区,2025,3000\n"
    r = client.post("/api/imports/figures", files={"file": ("f.csv", figures.encode(), "text/csv")}, headers=admin.headers)
    assert r.status_code == 200, r.text
    page = client.get("/dashboard", params={"year": 2025}, headers=admin.headers)
    assert page.status_code == 200, page.text
    assert "项目推进（2025 年" in page.text
    assert '<a href="/projects?figure=started&amp;year=2025&amp;adcode=421102">2</a>' in page.text
    drilled = client.get("/projects?figure=started&year=2025&adcode=421102", headers=admin.headers)
    assert "甲新材料项目" in drilled.text and "乙装备项目" in drilled.text
