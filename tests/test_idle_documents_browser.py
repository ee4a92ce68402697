"""Issuing a document on the case page in a real browser: the form, the number, the downloads.

Headless Chromium (Playwright) on a live server; requests outside localhost fail the test.
The cases are built through the API (tests/test_idle_documents.build_cases).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from docx import Document as open_docx
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect, sync_playwright

from api.app import create_app
from tests.access_helpers import make_user
from tests.test_idle_documents import HOLDER_NAME, RECOVER, build_cases, day
from tests.workbench_helpers import CHROMIUM, CHROMIUM_ARGS, add_web_user, live_server, shot, sign_in, watch_page


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_officer_issues_and_downloads_a_notice_on_the_case_page(clean_db, browser) -> None:  # noqa: ANN001
    admin = make_user(clean_db, "admin", "city_admin")
    officer = make_user(clean_db, "officer", "county_officer", counties=["421102", "421182"])
    with TestClient(create_app(clean_db)) as client:
        case = build_cases(client, clean_db, admin.headers, officer.headers)[RECOVER]
    web_user = add_web_user(clean_db, "doc-officer", "county_officer", counties=["421102"])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    watch = watch_page(context, pg)
    with live_server(clean_db) as base:
        sign_in(pg, base, web_user)
        pg.goto(f"{base}/cases/{case}")
        pg.get_by_text("出具文书", exact=True).first.click()  # the summary opens the form
        form = pg.locator("#issue-document")
        form.get_by_label("文书种类").select_option(label="闲置土地调查通知书")
        form.get_by_label("文书日期").fill(day(1))
        form.get_by_label("送达日期（可空，稍后登记）").fill(day(2))
        form.get_by_label("送达方式").select_option(label="直接送达")
        form.get_by_label("签收人（可空）").fill("王五")
        form.get_by_label("办理意见").fill("发出调查通知书，直接送达")
        form.get_by_role("button", name="出具文书").click()
        expect(pg.get_by_role("status")).to_contain_text("已出具文书")
        number = f"黄州自然资闲〔{day(1)[:4]}〕1号"
        table = pg.locator("#issued-documents")
        expect(table).to_contain_text(number)
        expect(table).to_contain_text("王五 签收")
        shot(pg, "idle-documents-case-page")
        # the step 发出《闲置土地调查通知书》 offers the issued notice as its document
        step = pg.locator("#step-issue_notice")
        expect(step.get_by_label("文号")).to_have_value(number)
        with pg.expect_download() as info:
            table.get_by_role("link", name="DOCX").click()
        data = info.value.path().read_bytes()
        doc = open_docx(io.BytesIO(data))
        text = "\n".join(p.text for p in doc.paragraphs)
        assert number in text and HOLDER_NAME in text and "第五条" in text
        assert len(doc.inline_shapes) == 1
        with pg.expect_download() as info:
            table.get_by_role("link", name="PDF").click()
        assert info.value.path().read_bytes().startswith(b"%PDF")
    watch.assert_clean()
    context.close()
