"""The workbench in a real browser: each role walks its main path on the demo data.

Headless Debian Chromium driven by Playwright; every request that does not go to localhost
is aborted and fails the test, as do console errors, JavaScript errors and failed
requests. Each walk checks the database afterwards and leaves screenshots under
test-artifacts/workbench/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import text

from hggis import clock
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.demo.loader import load_demo
from hggis.idle.flags import flag_parcel
from tests.workbench_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Watch,
    add_web_user,
    idle_parcel,
    live_server,
    nav,
    shot,
    sign_in,
    survey_zip,
    watch_page,
)

PARK = 1  # 黄冈高新技术产业开发区, in 黄州区
COUNTY = "421102"


@pytest.fixture(scope="module")
def site(engine) -> Iterator[dict]:  # noqa: ANN001
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    users = {
        "manager": add_web_user(engine, "wb-manager", "park_manager", parks=[PARK]),
        "officer": add_web_user(engine, "wb-officer", "county_officer", counties=[COUNTY]),
        "admin": add_web_user(engine, "wb-admin", "city_admin"),
    }
    with live_server(engine) as base:
        yield {"base": base, "engine": engine, "users": users}
    wipe_data(engine)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    watch = watch_page(context, pg)
    yield pg, watch
    context.close()


def test_park_manager_flags_a_plot_for_clearing(site, page) -> None:  # noqa: ANN001
    pg, watch = page
    base, engine, manager = site["base"], site["engine"], site["users"]["manager"]
    code = idle_parcel(engine, PARK)
    sign_in(pg, base, manager)
    nav(pg, "宗地查询")
    pg.get_by_label("宗地代码、企业名称、统一社会信用代码（可部分）、园区或县名").fill(code[-8:])
    pg.get_by_role("button", name="查询").click()
    expect(pg.locator("#results")).to_contain_text(code)
    shot(pg, "manager-1-search")
    pg.get_by_role("link", name=code).click()
    expect(pg.locator("h1")).to_have_text(f"宗地 {code}")
    expect(pg.locator("#edit-form")).to_have_count(0)  # managers do not edit parcels
    pg.get_by_label("现场情况说明").fill("厂房未建，场地荒置一年以上，建议腾笼换鸟")
    pg.get_by_label("照片或文件编号（可选）").fill("园区巡查照片 2024-05-12-03")
    pg.get_by_role("button", name="提交标记").click()
    expect(pg.get_by_role("status")).to_contain_text("已标记为疑似闲置")
    expect(pg.locator("#idle")).to_contain_text("待县级核实")
    shot(pg, "manager-2-flagged")
    with engine.connect() as conn:
        flag = conn.execute(
            text("SELECT f.* FROM idle_flags f JOIN parcels p ON p.id = f.parcel_id WHERE p.code = :c"), {"c": code}
        ).mappings().one()
    assert flag["status"] == "open"
    assert flag["flagged_by"] == "wb-manager (park_manager)"
    assert flag["document_ref"] == "园区巡查照片 2024-05-12-03"
    assert "腾笼换鸟" in flag["note"]
    watch.assert_clean()


def test_county_officer_opens_a_case_from_a_flag_and_takes_it_to_a_finding(site, page) -> None:  # noqa: ANN001
    pg, watch = page
    base, engine, officer = site["base"], site["engine"], site["users"]["officer"]
    code = idle_parcel(engine, PARK)
    manager = Principal("wb-manager", "park_manager", parks=frozenset({PARK}), user_id=site["users"]["manager"].user_id)
    with transaction(engine, manager.actor, "test: flag") as conn:
        flag_id = flag_parcel(conn, manager, code, "围墙内长期无施工", "巡查记录 7 号", clock.today())
    sign_in(pg, base, officer)
    nav(pg, "闲置土地")
    flag = pg.locator(f"#flag-{flag_id}")
    expect(flag).to_contain_text(code)
    shot(pg, "officer-1-queue")
    flag.get_by_label("核实意见").fill("经现场核实，约定动工日期已过一年仍未动工，立案调查")
    flag.get_by_role("button", name="确认并立案").click()
    expect(pg.locator("h1")).to_contain_text("案件 #")
    expect(pg.locator(".subtitle")).to_contain_text("疑似闲置")
    case_id = int(pg.url.split("/cases/")[1].split("?")[0])
    # only the steps the procedure allows are offered: no finding before the notice
    expect(pg.get_by_text("下达《闲置土地认定书》", exact=True)).to_have_count(0)
    pg.get_by_text("发出《闲置土地调查通知书》", exact=True).first.click()
    form = pg.locator("#step-issue_notice")
    form.get_by_label("办理意见").fill("向使用权人发出调查通知书，限期三十日内提交说明")
    form.get_by_label("文号").fill(f"黄州自然资调〔{clock.today().year}〕{case_id}号")
    form.get_by_role("button", name="发出《闲置土地调查通知书》").click()
    expect(pg.get_by_role("status")).to_contain_text("已办理")
    shot(pg, "officer-2-notice")
    pg.get_by_text("下达《闲置土地认定书》", exact=True).first.click()
    form = pg.locator("#step-issue_finding")
    form.get_by_label("办理意见").fill("使用权人未能说明正当理由，认定为闲置土地")
    form.get_by_label("文号").fill(f"黄州自然资认〔{clock.today().year}〕{case_id}号")
    form.get_by_role("button", name="下达《闲置土地认定书》").click()
    expect(pg.locator(".subtitle")).to_contain_text("已下达认定书")
    expect(pg.locator("#documents")).to_contain_text("闲置土地认定书")
    shot(pg, "officer-3-finding")
    with engine.connect() as conn:
        case = conn.execute(text("SELECT * FROM idle_cases WHERE id = :i"), {"i": case_id}).mappings().one()
        events = conn.execute(
            text("SELECT action, actor, documents FROM idle_case_events WHERE case_id = :i ORDER BY seq"), {"i": case_id}
        ).mappings().all()
        flag_row = conn.execute(text("SELECT status, case_id FROM idle_flags WHERE id = :i"), {"i": flag_id}).one()
    assert case["state"] == "finding_issued" and case["source"] == "flag" and case["idle_since"] is not None
    assert [e["action"] for e in events] == ["open", "issue_notice", "issue_finding"]
    assert all(e["actor"] == "wb-officer (county_officer)" for e in events)
    assert events[2]["documents"][0]["kind"] == "闲置土地认定书"
    assert tuple(flag_row) == ("confirmed", case_id)
    watch.assert_clean()


def test_city_admin_runs_an_evaluation_and_downloads_the_excel(site, page) -> None:  # noqa: ANN001
    pg, watch = page
    base, engine, admin = site["base"], site["engine"], site["users"]["admin"]
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM evaluation_runs")).scalar_one()
    sign_in(pg, base, admin)
    nav(pg, "亩均评价")
    run_form = pg.locator("#run-form")
    run_form.get_by_label("评价年度").fill("2024")
    run_form.get_by_label("说明（可选）").fill("2024 年度亩均效益评价（浏览器测试）")
    run_form.get_by_role("button", name="运行评价").click()
    expect(pg.get_by_role("status")).to_contain_text("评价已完成")
    expect(pg.locator("#class-counts")).to_contain_text("规上")
    expect(pg.locator("#results tbody tr")).to_have_count(50)
    shot(pg, "admin-1-results")
    with pg.expect_download() as info:
        pg.locator("#excel-link").click()
    download = info.value
    data = download.path().read_bytes()
    wb = load_workbook(io.BytesIO(data), read_only=True)
    assert any("规上" in name for name in wb.sheetnames), wb.sheetnames
    assert download.suggested_filename.endswith(".xlsx")
    pg.locator("#results tbody tr").first.get_by_role("link").click()
    expect(pg.locator("#score-detail")).to_contain_text("亩均税收")
    shot(pg, "admin-2-explanation")
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT year, actor, reason, n_evaluated FROM evaluation_runs ORDER BY id")).all()
    assert len(runs) == before + 1
    year, actor, reason, n = runs[-1]
    assert (year, actor) == (2024, "wb-admin (city_admin)") and "浏览器测试" in reason and n > 100
    watch.assert_clean()


def test_county_officer_imports_a_shapefile_through_the_dry_run(site, page, tmp_path) -> None:  # noqa: ANN001
    pg, watch = page
    base, engine, officer = site["base"], site["engine"], site["users"]["officer"]
    codes = [f"{COUNTY}099001GB{i:05d}" for i in range(1, 4)]
    archive = survey_zip(tmp_path, codes, (114.905, 30.487), off_by={1: 1.03})
    sign_in(pg, base, officer)
    nav(pg, "数据导入")
    pg.locator("input#file").set_input_files(str(archive))
    pg.get_by_role("button", name="上传并试运行").click()
    expect(pg.locator("#import-status")).to_contain_text("试运行")
    expect(pg.locator("#counts")).to_contain_text("将新增")
    finding = pg.locator("#issues tbody tr")
    expect(finding).to_have_count(1)  # the lot whose declared area is 3 % off, named by FID and code
    expect(finding).to_contain_text(codes[1])
    expect(finding).to_contain_text("面积核对")
    shot(pg, "import-1-dry-run")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels WHERE code = ANY(:c)"), {"c": codes}).scalar_one() == 0
    pg.get_by_role("button", name="确认导入").click()
    expect(pg.locator("#import-status")).to_have_text("已导入")
    shot(pg, "import-2-applied")
    nav(pg, "数据导入")
    expect(pg.locator("#import-log")).to_contain_text("新增宗地测量成果.zip")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, status, round(area_mu::numeric, 2) FROM parcels WHERE code = ANY(:c) ORDER BY code"),
            {"c": codes},
        ).all()
        log = conn.execute(
            text("SELECT dry_run, status, inserted, username FROM imports WHERE file_name = '新增宗地测量成果.zip' ORDER BY id")
        ).all()
        history = conn.execute(
            text("SELECT count(*) FROM history WHERE table_name = 'parcels' AND action = 'insert' AND actor = :a"),
            {"a": "wb-officer (county_officer)"},
        ).scalar_one()
    assert [r.code for r in rows] == codes and {r.status for r in rows} == {"reserve"}
    assert all(11.0 < float(r[2]) < 13.5 for r in rows)  # 90 m squares ≈ 12.2 亩
    assert [tuple(r) for r in log] == [(True, "dry_run", 0, "wb-officer"), (False, "applied", 3, "wb-officer")]
    assert history == 3
    watch.assert_clean()


UNLABELLED_JS = """
() => Array.from(document.querySelectorAll('input:not([type=hidden]):not([hidden]), select, textarea'))
      .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map(el => el.outerHTML.slice(0, 120))
"""


def test_every_page_is_labelled_keyboard_reachable_and_prints_without_forms(site, page) -> None:  # noqa: ANN001
    pg, watch = page
    base, engine = site["base"], site["engine"]
    from hggis.idle.flags import confirm_flag

    officer = Principal("wb-officer", "county_officer", counties=frozenset({COUNTY}))
    manager = Principal("wb-manager", "park_manager", parks=frozenset({PARK}))
    with transaction(engine, manager.actor, "test: flag") as conn:
        flag_id = flag_parcel(conn, manager, idle_parcel(engine, PARK), "无施工", None, clock.today())
    with transaction(engine, officer.actor, "test: case") as conn:
        case_id = confirm_flag(conn, officer, flag_id, "核实属实", clock.today())
    with engine.connect() as conn:
        code = conn.execute(text("SELECT code FROM parcels WHERE park_id = :k AND holder_id IS NOT NULL "
                                 "ORDER BY id LIMIT 1"), {"k": PARK}).scalar_one()
    user_id = site["users"]["officer"].user_id
    pages = ["/", f"/parcels/{code}", "/search?q=GB000", "/cases", f"/cases/{case_id}",
             "/reserves?find=1&min_mu=50&max_mu=300", "/evaluation", "/evaluation/models", "/imports", "/users",
             f"/users/{user_id}"]
    sign_in(pg, base, site["users"]["admin"])
    for path in pages:
        pg.goto(base + path)
        assert pg.evaluate(UNLABELLED_JS) == [], f"{path}: form fields without a label"
        shot(pg, "page-" + (path.strip("/").split("?")[0].replace("/", "-") or "home"))
        pg.keyboard.press("Tab")
        assert pg.evaluate("document.activeElement.textContent") == "跳到正文", path
    for path in (f"/parcels/{code}", f"/cases/{case_id}"):
        pg.goto(base + path)
        actions = pg.locator("section.action").first  # the forms of the page
        assert actions.is_visible() and pg.locator("header nav").is_visible()
        pg.emulate_media(media="print")
        assert actions.is_hidden() and pg.locator("header nav").is_hidden(), f"{path}: forms are not printed"
        assert pg.locator("#history, #timeline").first.is_visible()  # what is printed: the record
        shot(pg, "print-" + path.strip("/").replace("/", "-"))
        pg.emulate_media(media="screen")
    watch.assert_clean()
