"""The intensity page, its map and the 腾笼换鸟 page in a real browser (park manager, demo data).

Headless Chromium, every request outside localhost aborted; the what-if form is filled and
submitted, the before/after table read, and the database checked unchanged afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import text

from hggis.access.policy import operator
from hggis.demo.loader import load_demo
from hggis.evaluation.runs import run_evaluation
from hggis.intensity.runs import run_intensity
from maps.intensity import SCORE_COLORS
from tests.test_whatif import fingerprint
from tests.workbench_helpers import CHROMIUM, CHROMIUM_ARGS, add_web_user, live_server, nav, shot, sign_in, watch_page


@pytest.fixture(scope="module")
def site(engine) -> Iterator[dict]:  # noqa: ANN001
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=11)
    ev = run_evaluation(engine, operator(), 2024, proceed=True).run_id
    run_intensity(engine, operator(), 2024)
    with engine.connect() as conn:
        park = conn.execute(text(
            "SELECT p.park_id FROM evaluation_results r JOIN evaluation_land l ON l.run_id = r.run_id "
            "AND l.enterprise_id = r.enterprise_id JOIN parcels p ON p.id = l.parcel_id "
            "WHERE r.run_id = :r AND r.class_code = 'D' AND p.park_id IS NOT NULL "
            "GROUP BY p.park_id ORDER BY count(*) DESC, p.park_id LIMIT 1"), {"r": ev}).scalar_one()
        name = conn.execute(text("SELECT name FROM parks WHERE id = :p"), {"p": park}).scalar_one()
    user = add_web_user(engine, "in-manager", "park_manager", parks=[park])
    with live_server(engine) as base:
        yield {"base": base, "engine": engine, "user": user, "park": name}
    wipe_data(engine)


def test_a_park_manager_reads_the_evaluation_and_tries_a_swap(site):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        watch = watch_page(context, page)
        sign_in(page, site["base"], site["user"])
        nav(page, "园区集约评价")
        expect(page.locator("#parks")).to_contain_text(site["park"])
        shot(page, "intensity-page")
        page.get_by_role("link", name="评价地图").click()
        page.wait_for_load_state()
        scored = ", ".join(f'path.leaflet-interactive[fill="{c}"]' for c in SCORE_COLORS)
        expect(page.locator(scored).first).to_be_visible()  # the park, coloured by its score class
        shot(page, "intensity-map")
        before = fingerprint(site["engine"])
        page.go_back()
        page.wait_for_load_state()
        nav(page, "腾笼换鸟测算")
        page.get_by_label("候选项目名称").fill("新材料项目")
        page.get_by_label("承诺固定资产投资（万元）").fill("50000")
        page.get_by_label("预计年税收（万元）").fill("3000")
        page.get_by_label("预计年产值（万元）").fill("150000")
        page.get_by_label("用地需求（亩）").fill("1")
        page.get_by_role("button", name="测算").click()
        page.wait_for_load_state()
        table = page.locator("#whatif-table")
        expect(table).to_contain_text("园区亩均税收")
        expect(table).to_contain_text("土地集约利用评价分值")
        expect(page.locator("#whatif-result")).to_contain_text("未保存任何数据")
        shot(page, "whatif-result")
        watch.assert_clean()
        browser.close()
    assert fingerprint(site["engine"]) == before
