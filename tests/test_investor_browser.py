"""The investor's walk in a real browser (desktop and a 390×844 phone): land map → parcel page →
commitments for a chosen size → the 地块推介 PDF → an enquiry; then the park's officer answers it.

Headless Debian Chromium driven by Playwright; every request that does not go to localhost
is aborted and fails the test, as do console errors, JavaScript errors and failed requests.
The land map is being reworked: the walk follows a link with href /parcels/<code> when the
map page offers one, otherwise it opens the parcel's share link (its stable public URL) as
an investor who was sent it would. Screenshots go to test-artifacts/investor/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pypdf import PdfReader
from sqlalchemy import text

from hggis.access.policy import operator
from hggis.config import PROJECT_ROOT
from hggis.db.session import transaction
from hggis.demo.loader import load_demo
from hggis.investor.terms import set_offer, set_park_contacts
from tests.workbench_helpers import CHROMIUM, CHROMIUM_ARGS, Watch, add_web_user, live_server, sign_in, watch_page

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "investor"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PHONE_NO = "0713-8391234"


@pytest.fixture(scope="module")
def site(engine) -> Iterator[dict]:  # noqa: ANN001
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    with engine.connect() as conn:
        code, park_id = conn.execute(text(
            "SELECT p.code, p.park_id FROM parcels p JOIN control_indicators ci ON ci.parcel_id = p.id "
            "WHERE p.status = 'on_offer' AND p.park_id IS NOT NULL AND ci.investment_intensity IS NOT NULL "
            "ORDER BY p.id LIMIT 1")).one()
    with transaction(engine, "test setup", "发布挂牌出让公告") as conn:
        set_offer(conn, operator(), code, {"start_price": "960", "supply_method": "挂牌", "listing_start": "2026-11-25",
                                           "listing_end": "2026-12-25"})
        set_park_contacts(conn, operator(), park_id, {"contact_office": "招商服务中心", "contact_person": "陈主任",
                                                      "contact_phone": PHONE_NO})
    manager = add_web_user(engine, "inv-web-manager", "park_manager", parks=[park_id])
    with live_server(engine) as base:
        yield {"base": base, "engine": engine, "code": code, "manager": manager}
    wipe_data(engine)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser: Browser, viewport: str) -> tuple[Page, Watch, object]:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN", accept_downloads=True,
                                  is_mobile=viewport == "phone", has_touch=viewport == "phone")
    pg = context.new_page()
    return pg, watch_page(context, pg), context


def _shot(pg: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _open_parcel_from_the_map(pg: Page, base: str, code: str) -> str:
    """Follow /maps/land → /parcels/<code>; the share link when the map offers no such link (said in the result)."""
    pg.goto(f"{base}/maps/land")
    pg.wait_for_load_state("networkidle")
    link = pg.locator(f'a[href="/parcels/{code}"], a[href$="/parcels/{code}"]')
    if link.count() and link.first.is_visible():
        link.first.click()
        pg.wait_for_load_state()
        return "map link"
    pg.goto(f"{base}/parcels/{code}")
    return "share link"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_an_investor_walks_to_a_parcel_its_sheet_and_an_enquiry_and_the_office_answers(site, browser, viewport):
    base, code, engine = site["base"], site["code"], site["engine"]
    pg, watch, context = _page(browser, viewport)
    how = _open_parcel_from_the_map(pg, base, code)
    print(f"[{viewport}] reached the parcel page by {how}")
    expect(pg.locator("h1")).to_contain_text(code)
    expect(pg.locator("#offer-terms")).to_contain_text("960.00 万元")
    expect(pg.locator("#park-info")).to_contain_text(PHONE_NO)
    expect(pg.locator("#indicators")).to_contain_text("固定资产投资强度")
    assert pg.locator('meta[property="og:title"]').get_attribute("content").endswith(f"（{code}）")
    assert pg.locator("#share-url").input_value() == f"{base}/parcels/{code}"
    expect(pg.locator("#parcel-inset.leaflet-on")).to_be_visible()  # the map with its surroundings drew
    _shot(pg, f"{viewport}-1-parcel")

    # commitments for a 10-亩 project (part of the parcel)
    pg.locator("#mu").fill("10")
    pg.locator("#commit-form button").click()
    pg.wait_for_load_state()
    expect(pg.locator("#commitments caption")).to_contain_text("项目用地 10.00 亩")
    expect(pg.locator('#commitments tr[data-field="investment_intensity"]')).to_contain_text("万元")

    # the printable sheet
    with pg.expect_download() as dl:
        pg.locator("#sheet-link").click()
    path = Path(dl.value.path())
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    sheet = PdfReader(io.BytesIO(data))
    assert len(sheet.pages) == 1 and code in sheet.pages[0].extract_text()
    (ARTIFACTS / f"{viewport}-sheet-{code}.pdf").write_bytes(data)

    # an enquiry, after reading the page a while (the form refuses instant posts)
    pg.locator("#enq-name").fill(f"赵女士（{viewport}）")
    pg.locator("#enq-firm").fill("黄冈某某装备有限公司")
    pg.locator("#enq-contact").fill("13800001111")
    pg.locator("#enq-mu").fill("50")
    pg.locator("#enq-project").fill(f"新建智能装备生产线，计划投资 2 亿元（{viewport}）")
    pg.wait_for_timeout(3200)
    pg.locator("#enquiry-form button[type=submit]").click()
    pg.wait_for_load_state()
    expect(pg.locator("#enquiry-sent")).to_be_visible()
    _shot(pg, f"{viewport}-2-enquiry-sent")
    watch.assert_clean()
    context.close()

    # the park's 招商 officer answers it
    pg, watch, context = _page(browser, viewport)
    sign_in(pg, base, site["manager"])
    pg.goto(f"{base}/enquiries?status=open")
    article = pg.locator("article.enquiry", has_text=f"赵女士（{viewport}）")
    expect(article).to_be_visible()
    article.locator("textarea[name=answer]").fill("欢迎考察，已安排招商专员联系您。")
    article.locator(".answer-form button[type=submit]").click()
    pg.wait_for_load_state()
    expect(pg.locator("p.notice")).to_contain_text("已保存")
    done = pg.locator("article.enquiry", has_text=f"赵女士（{viewport}）")
    expect(done).to_contain_text("已答复")
    _shot(pg, f"{viewport}-3-officer-answered")
    watch.assert_clean()
    context.close()
    with engine.connect() as conn:
        status, answer = conn.execute(text("SELECT status, answer FROM enquiries WHERE name = :n"),
                                      {"n": f"赵女士（{viewport}）"}).one()
    assert status == "answered" and answer.startswith("欢迎考察")
