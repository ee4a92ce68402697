"""The workbench pages over HTTP (no browser): sign-in, scope, CSRF, forms and their errors.

Real demo data in a real PostGIS, real users signing in with passwords through /login.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text

from api.app import create_app
from hggis import clock
from hggis.access.policy import Principal
from hggis.access.users import verify_token
from hggis.db.session import transaction
from hggis.demo.loader import load_demo
from hggis.parcel_edits import update_parcel
from tests.workbench_helpers import PASSWORD, add_web_user

PARK = 1
COUNTY = "421102"
WORKBENCH_MODULES = ("workbench_parcels", "workbench_search", "workbench_users", "workbench_cases",
                     "workbench_reserves", "workbench_evaluation", "workbench_imports")


@pytest.fixture(scope="module")
def site(engine) -> Iterator[dict]:  # noqa: ANN001
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    users = {
        "manager": add_web_user(engine, "pg-manager", "park_manager", parks=[PARK]),
        "officer": add_web_user(engine, "pg-officer", "county_officer", counties=[COUNTY]),
        "admin": add_web_user(engine, "pg-admin", "city_admin"),
    }
    app = create_app(engine)
    yield {"app": app, "engine": engine, "users": users}
    wipe_data(engine)


def client_for(site: dict, who: str | None) -> TestClient:
    client = TestClient(site["app"])
    if who is not None:
        page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post("/login", data={"username": site["users"][who].username, "password": PASSWORD,
                                        "csrf": token, "next": "/"}, follow_redirects=False)
        assert r.status_code == 303, r.text
    return client


def csrf_of(html: str) -> str:
    tokens = set(re.findall(r'name="csrf" value="([^"]*)"', html))
    assert len(tokens) == 1 and "" not in tokens, f"every form carries the session token: {tokens}"
    return tokens.pop()


def one(engine, sql: str, **params):  # noqa: ANN001, ANN201
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def a_parcel(engine, **where) -> str:  # noqa: ANN001
    cond = " AND ".join(f"{k} = :{k}" for k in where) or "TRUE"
    return one(engine, f"SELECT code FROM parcels WHERE retired_at IS NULL AND {cond} ORDER BY id LIMIT 1", **where)[0]


# ---- sign-in, navigation, CSRF ---------------------------------------------------------------


def _workbench_routes(app, method: str) -> list[APIRoute]:  # noqa: ANN001
    found = []

    def walk(routes) -> None:  # noqa: ANN001
        for r in routes:
            if isinstance(r, APIRoute):
                if method in r.methods and r.endpoint.__module__.split(".")[-1] in WORKBENCH_MODULES:
                    found.append(r)
            elif hasattr(r, "original_router"):
                walk(r.original_router.routes)

    walk(app.routes)
    return found


def test_anonymous_visitors_are_sent_to_sign_in_and_come_back(site) -> None:  # noqa: ANN001
    client = client_for(site, None)
    for path in ("/search", "/cases", "/reserves", "/evaluation", "/imports", "/users", "/evaluation/models"):
        r = client.get(path + "?page=2", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}?page=2", path
    r = client.post("/users", data={"username": "intruder", "role": "city_admin"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert one(site["engine"], "SELECT count(*) FROM users WHERE username = 'intruder'")[0] == 0


def test_public_parcel_page_shows_the_public_view_only(site) -> None:  # noqa: ANN001
    client = client_for(site, None)
    engine = site["engine"]
    offered = a_parcel(engine, status="on_offer")
    page = client.get(f"/parcels/{offered}")
    assert page.status_code == 200 and offered in page.text
    assert "使用权人" not in page.text and "变更历史" not in page.text and 'name="csrf"' not in page.text
    private = a_parcel(engine, status="producing")
    assert client.get(f"/parcels/{private}").status_code == 404


def test_navigation_lists_the_pages_of_the_role(site) -> None:  # noqa: ANN001
    def nav(who: str) -> list[str]:
        html = client_for(site, who).get("/").text
        block = html.split('aria-label="主导航"')[1].split("</nav>")[0]
        return re.findall(r">([^<]+)</a>", block)

    assert "数据导入" not in nav("manager") and "用户管理" not in nav("manager") and "亩均评价" in nav("manager")
    assert "数据导入" in nav("officer") and "用户管理" not in nav("officer")
    assert {"宗地查询", "闲置土地", "标准地储备", "亩均评价", "数据导入", "用户管理"} <= set(nav("admin"))


def test_every_workbench_form_post_refuses_a_missing_or_wrong_csrf_token(site) -> None:  # noqa: ANN001
    client = client_for(site, "admin")
    engine = site["engine"]
    code = a_parcel(engine, adcode=COUNTY, status="producing")
    before = one(engine, "SELECT max(id) FROM history")[0]
    posts = _workbench_routes(site["app"], "POST")
    assert len(posts) >= 15
    for route in posts:
        url = re.sub(r"{code}", code, route.path)
        url = re.sub(r"{\w+}", "1", url)
        for token in (None, "forged-token"):
            data = {"reason": "x", "note": "厂房空置", "version": "1", "username": "csrf-probe", "role": "city_admin",
                    "base_id": "1", "year": "2024"}
            if token:
                data["csrf"] = token
            r = client.post(url, data=data, follow_redirects=False)
            assert r.status_code == 403 and "表单已失效" in r.text, f"{url} with csrf={token}: {r.status_code}"
    assert one(engine, "SELECT max(id) FROM history")[0] == before
    assert one(engine, "SELECT count(*) FROM users WHERE username = 'csrf-probe'")[0] == 0


# ---- parcel page ------------------------------------------------------------------------------


def test_parcel_page_shows_facts_history_and_the_officers_edit_form(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    code = one(engine, "SELECT code FROM parcels WHERE adcode = :a AND holder_id IS NOT NULL ORDER BY id LIMIT 1",
               a=COUNTY)[0]
    html = client_for(site, "officer").get(f"/parcels/{code}").text
    holder = one(engine, "SELECT e.name FROM parcels p JOIN enterprises e ON e.id = p.holder_id WHERE p.code = :c", c=code)[0]
    assert holder in html and "亩（椭球面积）" in html
    assert 'id="edit-form"' in html and 'name="version" value="1"' in html
    assert "新增宗地" in html and "示例数据加载程序" in html  # the history, with who and what
    assert 'id="flag-form"' not in html  # flags are the park managers' action
    manager_html = client_for(site, "manager").get(f"/parcels/{a_parcel(engine, park_id=PARK)}").text
    assert 'id="flag-form"' in manager_html and 'id="edit-form"' not in manager_html


def test_park_manager_cannot_open_a_parcel_outside_their_park(site) -> None:  # noqa: ANN001
    other = one(site["engine"], "SELECT code FROM parcels WHERE park_id <> :k AND status = 'producing' LIMIT 1", k=PARK)[0]
    r = client_for(site, "manager").get(f"/parcels/{other}")
    assert r.status_code == 403 and "无权访问" in r.text


def _edit_form(html: str) -> dict[str, str]:
    form = html.split('id="edit-form"')[1].split("</form>")[0]
    data = dict(re.findall(r'<input id="[^"]*" name="([^"]+)" type="(?:text|date)" value="([^"]*)"', form))
    for name, body in re.findall(r'<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = chosen.group(1) if chosen else ""
    data["version"] = re.search(r'name="version" value="(\d+)"', form).group(1)
    data["csrf"] = csrf_of(html)
    return data


def test_officer_edit_saves_with_reason_and_history_labels_it_in_chinese(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "officer")
    code = a_parcel(engine, adcode=COUNTY, status="under_construction")
    data = _edit_form(client.get(f"/parcels/{code}").text)
    data.update({"built_footprint_m2": "4321", "reason": "现场复核已建基底面积"})
    r = client.post(f"/parcels/{code}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303 and "saved=2" in r.headers["location"]
    assert one(engine, "SELECT built_footprint_m2, version FROM parcels WHERE code = :c", c=code) == (4321.0, 2)
    page = client.get(r.headers["location"]).text
    history = page.split('id="history"')[1]
    assert "已建基底面积（平方米）" in history and "4321" in history and "现场复核已建基底面积" in history
    assert "测试pg-officer · pg-officer" in history


def test_edit_errors_are_chinese_next_to_the_field_and_keep_the_input(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "officer")
    code = a_parcel(engine, adcode=COUNTY, status="supplied")
    data = _edit_form(client.get(f"/parcels/{code}").text)
    data.update({"started_on": "2024-13-40", "land_price": "很多", "land_use": "工业", "reason": ""})
    r = client.post(f"/parcels/{code}/edit", data=data)
    assert r.status_code == 422
    assert re.search(r'id="land_use-error"[^>]*>地类应为 GB/T 21010 的四位编码', r.text)
    assert re.search(r'id="started_on-error"[^>]*>日期格式应为', r.text)
    assert re.search(r'id="land_price-error"[^>]*>应为数字', r.text)
    assert re.search(r'id="reason-error"[^>]*>请填写修改原因', r.text)
    assert 'value="2024-13-40"' in r.text and 'value="很多"' in r.text
    assert one(engine, "SELECT version FROM parcels WHERE code = :c", c=code)[0] == 1


def test_a_stale_edit_names_who_changed_the_parcel_and_keeps_the_users_input(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "officer")
    code = one(engine, "SELECT code FROM parcels WHERE adcode = :a AND status = 'producing' ORDER BY id DESC LIMIT 1",
               a=COUNTY)[0]
    data = _edit_form(client.get(f"/parcels/{code}").text)
    colleague = Principal("zhang", "city_admin")
    with transaction(engine, colleague.actor, "核对合同") as conn:
        update_parcel(conn, colleague, code, {"contract_no": "HT-2024-CHANGED"}, 1, "核对合同")
    data.update({"investment_to_date": "9999", "reason": "我的修改"})
    r = client.post(f"/parcels/{code}/edit", data=data)
    assert r.status_code == 409
    stale = r.text.split('class="error stale"')[1].split("</div>")[0]
    assert "zhang（市级管理员）" in stale and "第 1 版" in stale and "第 2 版" in stale
    assert 'value="9999"' in r.text and "我的修改" in r.text  # the input survives
    assert 'name="version" value="2"' in r.text  # saving again is a deliberate decision
    row = one(engine, "SELECT contract_no, version FROM parcels WHERE code = :c", c=code)
    assert tuple(row) == ("HT-2024-CHANGED", 2)


def test_flag_needs_a_note(site) -> None:  # noqa: ANN001
    client = client_for(site, "manager")
    code = a_parcel(site["engine"], park_id=PARK, status="producing")
    token = csrf_of(client.get(f"/parcels/{code}").text)
    r = client.post(f"/parcels/{code}/flag", data={"csrf": token, "note": " "})
    assert r.status_code == 422 and re.search(r'id="note-error"[^>]*>请写明现场所见', r.text)
    assert one(site["engine"], "SELECT count(*) FROM idle_flags f JOIN parcels p ON p.id = f.parcel_id "
                               "WHERE p.code = :c", c=code)[0] == 0


# ---- search -----------------------------------------------------------------------------------


def test_search_is_scoped_sorted_paged_and_downloadable(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "officer")
    county_total = one(engine, "SELECT count(*) FROM parcels WHERE adcode = :a AND retired_at IS NULL", a=COUNTY)[0]
    page = client.get("/search?sort=area_mu&dir=desc")
    assert f"共 <strong>{county_total}</strong> 宗" in page.text
    codes = re.findall(r'<a href="/parcels/(\w+)">', page.text)
    assert len(codes) == 50 and all(c.startswith(COUNTY) for c in codes)
    areas = [float(a) for a in re.findall(r'<td class="num">([\d.]+)</td>\s*<td>', page.text)]
    assert areas == sorted(areas, reverse=True) and len(areas) == 50
    second = re.findall(r'<a href="/parcels/(\w+)">', client.get("/search?sort=area_mu&dir=desc&page=2").text)
    assert not set(codes) & set(second)
    hostile = client.get("/search?sort=p.code;DROP TABLE parcels&dir=sideways&adcode=421181")
    assert hostile.status_code == 200 and f"共 <strong>{county_total}</strong> 宗" in hostile.text
    rows = list(csv.reader(io.StringIO(client.get("/search/export?format=csv").content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["宗地代码", "面积（亩）", "状态"] and len(rows) == county_total + 1
    wb = load_workbook(io.BytesIO(client.get("/search/export?format=xlsx&status=reserve").content))
    sheet = wb.active
    reserve = one(engine, "SELECT count(*) FROM parcels WHERE adcode = :a AND status = 'reserve' AND retired_at IS NULL",
                  a=COUNTY)[0]
    assert sheet["A2"].value == "宗地代码" and sheet.max_row == reserve + 2


def test_search_results_reserves_and_cases_download_as_gis_files(site, tmp_path) -> None:  # noqa: ANN001
    """Shapefile and GeoPackage beside CSV/Excel: the survey standards' field names, Chinese aliases."""
    import zipfile

    import pyogrio

    engine = site["engine"]
    client = client_for(site, "officer")
    page = client.get("/search?status=reserve").text
    assert "format=shp" in page and "format=gpkg" in page
    r = client.get("/search/export?format=shp&status=reserve")
    assert r.status_code == 200
    path = tmp_path / "search.zip"
    path.write_bytes(r.content)
    with zipfile.ZipFile(path) as zf:
        aliases = zf.read("fields.csv").decode("utf-8-sig")
        dbf = next(n for n in zf.namelist() if n.endswith(".dbf"))
    assert "ZDDM,code,宗地代码" in aliases and "ZDMJ" in aliases and dbf
    frame = pyogrio.read_dataframe(f"/vsizip/{path}")
    reserve = one(engine, "SELECT count(*) FROM parcels WHERE adcode = :a AND status = 'reserve' AND retired_at IS NULL",
                  a=COUNTY)[0]
    assert len(frame) == reserve and frame.geometry.notna().all() and str(frame.crs).endswith("4490")
    assert all(str(c).startswith(COUNTY) for c in frame["ZDDM"])
    gpkg = client.get("/search/export?format=gpkg&status=reserve")
    (tmp_path / "s.gpkg").write_bytes(gpkg.content)
    assert len(pyogrio.read_dataframe(tmp_path / "s.gpkg")) == reserve
    for page_url, block in (("/reserves", "reserve-gis"), ("/cases", "cases-gis")):
        html = client.get(page_url).text
        link = re.search(rf'id="{block}".*?href="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")
        got = client.get(link)
        assert got.status_code == 200 and got.content[:2] == b"PK", (page_url, got.status_code)


def test_search_finds_parcels_by_enterprise_name_and_credit_code_within_scope(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    sql = ("SELECT e.name, e.credit_code, p.code FROM parcels p JOIN enterprises e ON e.id = p.holder_id "
           "WHERE p.adcode = :a AND p.park_id {} :k AND p.retired_at IS NULL ORDER BY p.id LIMIT 1")
    name, credit, code = one(engine, sql.format("="), a=COUNTY, k=PARK)
    _, outside_credit, outside_code = one(engine, sql.format("<>"), a=COUNTY, k=PARK)
    officer, manager = client_for(site, "officer"), client_for(site, "manager")
    assert code in officer.get("/search", params={"q": name[:-4]}).text
    assert code in manager.get("/search", params={"q": credit}).text
    assert outside_code in officer.get("/search", params={"q": outside_credit}).text
    outside = manager.get("/search", params={"q": outside_credit}).text
    assert outside_code not in outside and "共 <strong>0</strong> 宗" in outside


def test_search_takes_several_words_and_part_of_a_credit_code(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    name, credit, code, park = one(engine, (
        "SELECT e.name, e.credit_code, p.code, k.name FROM parcels p JOIN enterprises e ON e.id = p.holder_id "
        "JOIN parks k ON k.id = p.park_id WHERE p.adcode = :a AND p.retired_at IS NULL ORDER BY p.id LIMIT 1"), a=COUNTY)
    officer = client_for(site, "officer")
    assert code in officer.get("/search", params={"q": credit[4:14]}).text  # part of the 统一社会信用代码
    both = officer.get("/search", params={"q": f"{park} {name[:2]}"}).text  # park and part of the firm's name
    assert code in both
    rows = re.findall(r'<a href="/parcels/(\w+)">', both)
    total = int(re.search(r"共 <strong>(\d+)</strong> 宗", both).group(1))
    park_total = int(re.search(r"共 <strong>(\d+)</strong> 宗", officer.get("/search", params={"q": park}).text).group(1))
    assert rows and total <= park_total  # a second word narrows, never widens
    none = officer.get("/search", params={"q": f"{name} 不存在的词"}).text
    assert "共 <strong>0</strong> 宗" in none


def test_figures_upload_lists_bad_rows_with_their_reasons(site) -> None:  # noqa: ANN001
    from openpyxl import Workbook

    credit = one(site["engine"], "SELECT credit_code FROM enterprises WHERE adcode = :a ORDER BY id LIMIT 1", a=COUNTY)[0]
    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "企业名称", "所属县（市、区）", "年度", "税收（万元）", "主营业务收入（万元）"])
    ws.append([credit, None, None, 2025, 120.5, 8600])
    ws.append([credit, None, None, 2026, -5, 100])  # a negative tax: refused, with row and column
    buf = io.BytesIO()
    wb.save(buf)
    client = client_for(site, "officer")
    token = csrf_of(client.get("/imports").text)
    r = client.post("/imports/upload", data={"csrf": token, "kind": "figures"},
                    files={"file": ("企业年度数据.xlsx", buf.getvalue(), "application/octet-stream")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/imports/pending/")
    report = client.get(r.headers["location"]).text
    rows = report.split('id="issues"')[1].split("</table>")[0]
    assert "<td class=\"num\">3</td>" in rows and "税收" in rows  # row 3 of the sheet, the tax column
    run = one(site["engine"], "SELECT kind, dry_run FROM imports ORDER BY id DESC LIMIT 1")
    assert tuple(run) == ("figures", True)
    assert client.post(r.headers["location"] + "/discard", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert one(site["engine"], "SELECT count(*) FROM enterprise_years WHERE year IN (2025, 2026)")[0] == 0


# ---- users ------------------------------------------------------------------------------------


def test_users_page_is_for_city_administrators_only(site) -> None:  # noqa: ANN001
    assert client_for(site, "officer").get("/users").status_code == 403


def test_admin_creates_a_user_issues_a_token_once_and_revokes_it(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "admin")
    token = csrf_of(client.get("/users").text)
    bad = client.post("/users", data={"csrf": token, "username": "li-si", "role": "county_officer"})
    assert bad.status_code == 422 and re.search(r'id="counties-error"[^>]*>县级自然资源干部须至少选择', bad.text)
    r = client.post("/users", data={"csrf": token, "username": "li-si", "display_name": "李四", "role": "park_manager",
                                    "parks": ["3"], "password": "long-enough-password"}, follow_redirects=False)
    assert r.status_code == 303
    uid = int(r.headers["location"].split("/users/")[1].split("?")[0])
    assert tuple(one(engine, "SELECT role, park_ids FROM users WHERE id = :u", u=uid)) == ("park_manager", [3])
    issued = client.post(f"/users/{uid}/tokens", data={"csrf": token, "days": "30", "label": "QGIS"})
    secret = re.search(r'<code id="new-token">(hggis_[^<]+)</code>', issued.text).group(1)
    assert issued.headers["cache-control"] == "no-store"
    with engine.begin() as conn:
        assert verify_token(conn, secret).username == "li-si"
    assert secret not in client.get(f"/users/{uid}").text  # shown once
    prefix = secret.split("_")[1]
    r = client.post(f"/users/{uid}/tokens/revoke", data={"csrf": token, "prefix": prefix}, follow_redirects=False)
    assert r.status_code == 303
    with engine.begin() as conn:
        assert verify_token(conn, secret) is None
    r = client.post(f"/users/{uid}/role", data={"csrf": token, "role": "county_officer", "counties": ["421181"]},
                    follow_redirects=False)
    assert r.status_code == 303
    assert tuple(one(engine, "SELECT role, counties, park_ids FROM users WHERE id = :u", u=uid)) == (
        "county_officer", ["421181"], [])


def test_the_last_city_administrator_cannot_demote_themself(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "admin")
    admins = one(engine, "SELECT count(*) FROM users WHERE role = 'city_admin' AND active")[0]
    assert admins == 1
    uid = site["users"]["admin"].user_id
    token = csrf_of(client.get(f"/users/{uid}").text)
    r = client.post(f"/users/{uid}/role", data={"csrf": token, "role": "county_officer", "counties": [COUNTY]})
    assert r.status_code == 422 and "最后一位启用的市级管理员" in r.text
    assert one(engine, "SELECT role FROM users WHERE id = :u", u=uid)[0] == "city_admin"


# ---- reserves, evaluation, imports ------------------------------------------------------------


def test_reserve_ledger_is_scoped_and_the_site_finder_explains_bad_input(site) -> None:  # noqa: ANN001
    client = client_for(site, "officer")
    page = client.get("/reserves")
    ledger = page.text.split('id="ledger"')[1].split("</table>")[0]
    assert "黄州区" in ledger and "麻城市" not in ledger
    bad = client.get("/reserves", params={"find": "1", "min_mu": "300", "max_mu": "50"})
    assert bad.status_code == 422 and re.search(r'id="min_mu-error"[^>]*>最小面积不能大于最大面积', bad.text)
    found = client.get("/reserves", params={"find": "1", "min_mu": "20", "max_mu": "400", "limit": "5"})
    assert found.status_code == 200 and found.text.count('<td class="num">') >= 5 and 'id="sites-data"' in found.text


def test_the_site_finder_downloads_a_site_report_with_map_and_reasons(site) -> None:  # noqa: ANN001
    client = client_for(site, "officer")
    page = client.get("/reserves", params={"find": "1", "min_mu": "20", "max_mu": "400", "limit": "5"}).text
    link = re.search(r'id="site-report" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    r = client.get(link)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["选址报告"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert texts[0] == "招商选址报告" and any("面积区间：20 – 400 亩" in t for t in texts)
    assert any(t.startswith("第 1 名，总分") for t in texts), "each site carries the reasons of its rank"
    assert len(ws._images) == 1 and ws.page_setup.orientation == "landscape" and ws.print_title_rows
    parcels = wb["宗地清单"]
    assert parcels.max_row > 1 and all(re.fullmatch(r"4211\d{8}[GJZ][A-Z]\d{5}", str(c.value)) for c in parcels["B"][1:])
    assert any("示例数据" in t for t in texts)
    assert client.get("/reserves/site-report.xlsx", params={"min_mu": "300", "max_mu": "50"}).status_code == 422


def test_park_manager_sees_their_parks_results_only(site) -> None:  # noqa: ANN001
    from hggis.access.policy import operator
    from hggis.evaluation.runs import run_evaluation

    engine = site["engine"]
    run_id = run_evaluation(engine, operator(), 2024, proceed=True).run_id
    client = client_for(site, "manager")
    page = client.get(f"/evaluation?run={run_id}")
    ids = {int(i) for i in re.findall(r'/evaluation/enterprises/(\d+)\?run=', page.text)}
    assert ids
    parks = {r[0] for r in engine.connect().execute(
        text("SELECT DISTINCT park_id FROM evaluation_results WHERE run_id = :r AND enterprise_id = ANY(:e)"),
        {"r": run_id, "e": sorted(ids)})}
    assert parks == {PARK}
    outsider = one(engine, "SELECT enterprise_id FROM evaluation_results WHERE run_id = :r AND park_id <> :k LIMIT 1",
                   r=run_id, k=PARK)[0]
    assert client.get(f"/evaluation/enterprises/{outsider}?run={run_id}").status_code == 403
    assert 'id="run-form"' not in page.text and 'id="model-form"' not in client.get("/evaluation/models").text


def test_admin_derives_a_new_model_version(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "admin")
    html = client.get("/evaluation/models?base=1").text
    form = html.split('id="model-form"')[1].split("</form>")[0]
    data = dict(re.findall(r'name="([^"]+)" type="text" value="([^"]*)"', form))
    for name, body in re.findall(r'<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        data[name] = re.search(r'<option value="([^"]*)" selected>', body).group(1)
    data.update({"csrf": csrf_of(html), "base_id": "1", "name": "2025 试行版", "valid_from": "2025",
                 "weight_above_0": "40", "quota_A": "0.15"})
    bad = client.post("/evaluation/models", data={**data, "weight_above_1": "二十"})
    assert bad.status_code == 422 and re.search(r'id="weight_above_1-error"[^>]*>应为数字', bad.text)
    try:
        r = client.post("/evaluation/models", data=data, follow_redirects=False)
        assert r.status_code == 303
        params = one(engine, "SELECT params FROM evaluation_models WHERE name = '2025 试行版'")[0]
        assert params["indicators"]["above"][0]["weight"] == 40 and params["quotas"][0]["cumulative"] == 0.15
        assert params["indicators"]["above"][1]["weight"] == 20  # unchanged values are the base's
    finally:  # model versions are reference data that wipe_data keeps: remove ours
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM evaluation_models WHERE name = '2025 试行版'"))


def test_import_upload_refuses_a_bare_shp_with_a_chinese_reason(site, tmp_path) -> None:  # noqa: ANN001
    client = client_for(site, "officer")
    token = csrf_of(client.get("/imports").text)
    r = client.post("/imports/upload", data={"csrf": token, "kind": "parcels"},
                    files={"file": ("parcels.shp", b"not really", "application/octet-stream")})
    assert r.status_code == 422 and re.search(r'id="file-error"[^>]*>Shapefile 请打包为一个 .zip', r.text)
    assert client_for(site, "manager").get("/imports").status_code == 403


def test_a_staged_upload_belongs_to_its_uploader(site, tmp_path) -> None:  # noqa: ANN001
    from tests.workbench_helpers import survey_zip

    archive = survey_zip(tmp_path, [f"{COUNTY}098001GB00001"], (114.93, 30.49))
    officer = client_for(site, "officer")
    token = csrf_of(officer.get("/imports").text)
    r = officer.post("/imports/upload", data={"csrf": token, "kind": "parcels"},
                     files={"file": (archive.name, archive.read_bytes(), "application/zip")}, follow_redirects=False)
    pending = r.headers["location"]
    admin = client_for(site, "admin")
    assert admin.get(pending).status_code == 404
    admin_token = csrf_of(admin.get("/imports").text)
    assert admin.post(pending + "/confirm", data={"csrf": admin_token}).status_code == 404
    assert one(site["engine"], "SELECT count(*) FROM parcels WHERE code = :c", c=f"{COUNTY}098001GB00001")[0] == 0
    r = officer.post(pending + "/discard", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and officer.get(pending).status_code == 404


# ---- idle-land cases ---------------------------------------------------------------------------


def _case_from_flag(site: dict) -> tuple[int, str]:

    from hggis.idle.flags import confirm_flag, flag_parcel
    from tests.workbench_helpers import idle_parcel

    engine = site["engine"]
    code = idle_parcel(engine, PARK)
    manager = Principal("pg-manager", "park_manager", parks=frozenset({PARK}))
    officer = Principal("pg-officer", "county_officer", counties=frozenset({COUNTY}))
    with transaction(engine, manager.actor, "test flag") as conn:
        flag_id = flag_parcel(conn, manager, code, "无施工迹象", None, clock.today())
    with transaction(engine, officer.actor, "test confirm") as conn:
        return confirm_flag(conn, officer, flag_id, "核实属实", clock.today()), code


def _fingerprint(engine) -> tuple:  # noqa: ANN001
    return tuple(one(engine, "SELECT (SELECT max(id) FROM history), (SELECT count(*) FROM idle_case_events), "
                             "(SELECT sum(version) FROM parcels), (SELECT sum(version) FROM idle_cases)"))


def test_case_page_offers_only_the_allowed_steps_and_reading_it_changes_nothing(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    case_id, _code = _case_from_flag(site)
    before = _fingerprint(engine)
    html = client_for(site, "officer").get(f"/cases/{case_id}").text
    forms = set(re.findall(r'id="step-(\w+)"', html))
    assert forms == {"issue_notice", "close_not_idle"}
    assert _fingerprint(engine) == before  # the trials of hggis.idle's transition were rolled back
    manager_html = client_for(site, "manager").get(f"/cases/{case_id}").text
    assert "立案（疑似闲置）" in manager_html and 'id="step-' not in manager_html


def test_case_step_refusals_are_shown_in_chinese_and_change_nothing(site) -> None:  # noqa: ANN001

    engine = site["engine"]
    case_id, _code = _case_from_flag(site)
    client = client_for(site, "officer")
    token = csrf_of(client.get(f"/cases/{case_id}").text)
    before = _fingerprint(engine)
    today = clock.today().isoformat()
    r = client.post(f"/cases/{case_id}/steps/issue_notice", data={"csrf": token, "on": today, "reason": "发出通知"})
    assert r.status_code == 422 and re.search(r'id="doc_kind-issue_notice-error"[^>]*>[^<]*须登记文书', r.text)
    r = client.post(f"/cases/{case_id}/steps/issue_finding",
                    data={"csrf": token, "on": today, "reason": "认定", "doc_kind": "闲置土地认定书", "doc_number": "1号"})
    assert r.status_code == 409 and "须先发出《闲置土地调查通知书》" in r.text
    r = client.post(f"/cases/{case_id}/steps/issue_notice", data={"csrf": token, "on": "明天", "reason": "x"})
    assert r.status_code == 422 and "请填写日期" in r.text and "至少 2 个字" in r.text
    assert _fingerprint(engine) == before
    r = client.post(f"/cases/{case_id}/steps/issue_notice", data={
        "csrf": token, "on": today, "reason": "发出通知", "doc_kind": "闲置土地调查通知书", "doc_number": "调〔2024〕9号"},
        follow_redirects=False)
    assert r.status_code == 303
    assert one(engine, "SELECT state FROM idle_cases WHERE id = :i", i=case_id)[0] == "notice_issued"


def test_queue_lists_waiting_flags_and_a_dismissal_needs_a_reason(site) -> None:  # noqa: ANN001

    from hggis.idle.flags import flag_parcel
    from tests.workbench_helpers import idle_parcel

    engine = site["engine"]
    code = idle_parcel(engine, PARK)
    manager = Principal("pg-manager", "park_manager", parks=frozenset({PARK}))
    with transaction(engine, manager.actor, "test flag") as conn:
        flag_id = flag_parcel(conn, manager, code, "疑似停产", None, clock.today())
    client = client_for(site, "officer")
    page = client.get("/cases")
    assert f'id="flag-{flag_id}"' in page.text and "园区标记待核实" in page.text
    token = csrf_of(page.text)
    r = client.post(f"/cases/flags/{flag_id}/dismiss", data={"csrf": token, "reason": ""})
    assert r.status_code == 422 and re.search(rf'id="reason-{flag_id}-error"[^>]*>请填写核实意见', r.text)
    r = client.post(f"/cases/flags/{flag_id}/dismiss", data={"csrf": token, "reason": "企业已恢复生产"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert tuple(one(engine, "SELECT status, decision_reason FROM idle_flags WHERE id = :i", i=flag_id)) == (
        "dismissed", "企业已恢复生产")


def test_officer_runs_a_scan_and_its_findings_reach_the_parcel_page(site) -> None:  # noqa: ANN001
    engine = site["engine"]
    client = client_for(site, "officer")
    token = csrf_of(client.get("/cases").text)
    r = client.post("/cases/scan", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/cases/scans/")
    scan_id = int(r.headers["location"].rsplit("/", 1)[1])
    adcodes = one(engine, "SELECT adcodes, actor FROM idle_scans WHERE id = :i", i=scan_id)
    assert tuple(adcodes) == ([COUNTY], "pg-officer (county_officer)")
    page = client.get(r.headers["location"]).text
    codes = re.findall(r'<a class="mono" href="/parcels/(\w+)">', page)
    assert codes and all(c.startswith(COUNTY) for c in codes)
    rule = one(engine, "SELECT ru.name_zh FROM idle_scan_results x JOIN idle_rules ru ON ru.code = x.rule_code "
                       "JOIN parcels p ON p.id = x.parcel_id WHERE x.scan_id = :s AND p.code = :c LIMIT 1",
               s=scan_id, c=codes[0])[0]
    parcel = client.get(f"/parcels/{codes[0]}").text.split('id="idle"')[1]
    assert f"扫描 #{scan_id}" in parcel and rule in parcel
    assert 'id="scan-form"' not in client_for(site, "manager").get("/cases").text


def test_people_are_shown_by_name_and_unit_in_the_history(site) -> None:  # noqa: ANN001
    """A user's 单位 entered on the users page appears beside their name wherever they acted."""
    engine = site["engine"]
    admin = client_for(site, "admin")
    page = admin.get("/users").text
    r = admin.post("/users", data={"csrf": csrf_of(page), "username": "wang-ke", "display_name": "王科长",
                                   "unit": "黄州区自然资源和规划局", "phone": "0713-8888888", "role": "county_officer",
                                   "counties": COUNTY, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "黄州区自然资源和规划局 · 电话 0713-8888888" in admin.get(r.headers["location"]).text
    bad = admin.post("/users", data={"csrf": csrf_of(page), "username": "bad-phone", "role": "city_admin",
                                     "phone": "call me"})
    assert bad.status_code == 422
    site["users"]["wang"] = type(site["users"]["officer"])("wang-ke", "county_officer", 0)
    client = client_for(site, "wang")
    code = a_parcel(engine, adcode=COUNTY, status="under_construction")
    data = _edit_form(client.get(f"/parcels/{code}").text)
    data.update({"built_footprint_m2": "1234", "reason": "复核基底面积"})
    assert client.post(f"/parcels/{code}/edit", data=data, follow_redirects=False).status_code == 303
    history = client.get(f"/parcels/{code}").text.split('id="history"')[1]
    assert "王科长（黄州区自然资源和规划局）· wang-ke" in history


def test_the_operation_log_lists_who_did_what_for_administrators(site) -> None:  # noqa: ANN001
    admin = client_for(site, "admin")
    page = admin.get("/oplog", params={"table": "parcels"})
    assert page.status_code == 200
    rows = page.text.split('id="oplog"')[1].split("</table>")[0]
    assert "宗地" in rows and "新增" in rows and "示例数据加载程序" in rows
    assert "users" not in rows.split("<tbody>")[1]  # the table filter holds
    more = re.search(r'href="/oplog\?([^"]+)"', page.text)
    if more:
        older = admin.get("/oplog?" + more.group(1).replace("&amp;", "&"))
        assert older.status_code == 200 and 'id="oplog"' in older.text
    assert client_for(site, "officer").get("/oplog").status_code == 403
    bad = admin.get("/oplog", params={"since": "上个月"})
    assert bad.status_code == 422 and "不可识别" in bad.text
