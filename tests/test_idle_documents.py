"""The legal documents of the 闲置土地处置 procedure, through the doors, from an empty database.

A city administrator creates parcels over the API (a holder registered by a figures import,
contracts and facts by ETag-checked PATCHes), a county officer scans, opens the cases and
steps them; then issues, per case, the documents of the procedure: 调查通知书, 认定书,
情况告知书, 听证权利告知书, 征缴土地闲置费决定书 or 收回国有建设用地使用权决定书, 送达回证.
Checked: numbers 机关代字〔年份〕N号 increase per office and year; the DOCX (opened with
python-docx) and the PDF (opened with pypdf) carry the holder, parcel code, article numbers
and number, and the 宗地图; a document the facts do not support is refused naming the
missing fact; periods that run from the service show in the deadlines.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from docx import Document as open_docx
from fastapi.testclient import TestClient
from pypdf import PdfReader
from shapely.geometry import mapping
from sqlalchemy import text

from api.app import create_app
from hggis import clock
from hggis.db.session import transaction
from hggis.idle.documents import next_serial
from tests.access_helpers import make_user
from tests.factories import HUANGZHOU, credit_code, parcel_code, square
from tests.workbench_helpers import PASSWORD, add_web_user

TODAY = clock.today()
T = TODAY - dt.timedelta(days=90)  # the cases are opened 90 days ago, each step dated since
RECOVER, NEIGHBOUR, FEE = parcel_code(1), parcel_code(2), parcel_code(3)
WUXUE = parcel_code(4, "421182")
HOLDER, HOLDER_NAME = credit_code(8801), "黄州闲置测试实业有限公司"


def day(n: int) -> str:
    return (T + dt.timedelta(days=n)).isoformat()


def _import_holder(client: TestClient, headers: dict[str, str]) -> None:
    sheet = f"统一社会信用代码,企业名称,所属县（市、区）,年度,税收（万元）\n{HOLDER},{HOLDER_NAME},黄州区,2024,12.5\n"
    r = client.post("/api/imports/figures", headers=headers, files={"file": ("企业.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 200, r.text


def _parcel(client: TestClient, headers: dict[str, str], code: str, geom: Any, facts: dict[str, Any]) -> None:
    r = client.post("/api/parcels", headers=headers,
                    json={"code": code, "geometry": mapping(geom), "status": "supplied", "reason": "出让供地"})
    assert r.status_code == 201, r.text
    etag = client.get(f"/api/parcels/{code}", headers=headers).headers["ETag"]
    r = client.patch(f"/api/parcels/{code}", headers={**headers, "If-Match": etag},
                     json={"contract_kind": "出让", "reason": "登记出让合同", **facts})
    assert r.status_code == 200, r.text


def build_cases(client: TestClient, engine, admin: dict[str, str], officer: dict[str, str]) -> dict[str, int]:  # noqa: ANN001
    """The parcels, holder, scan and cases of these tests, through the API; {parcel code: case id}."""
    with engine.connect() as conn:
        wuxue = conn.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) p "
                                  "FROM counties WHERE adcode = '421182') s")).one()
    _import_holder(client, admin)
    lon, lat = HUANGZHOU
    start_2y, start_1y = (T - dt.timedelta(days=900)).isoformat(), (T - dt.timedelta(days=400)).isoformat()
    _parcel(client, admin, RECOVER, square(lon, lat, 100),
            {"holder_credit_code": HOLDER, "contract_no": "黄出让〔2022〕7号", "agreed_start_date": start_2y,
             "land_price": "900"})
    # 20 m east of RECOVER: a neighbour on its 宗地图
    _parcel(client, admin, NEIGHBOUR, square(lon + 0.00125, lat, 80),
            {"contract_no": "黄出让〔2022〕8号", "agreed_start_date": (TODAY + dt.timedelta(days=300)).isoformat()})
    _parcel(client, admin, FEE, square(lon + 0.01, lat, 100),
            {"holder_credit_code": HOLDER, "contract_no": "黄出让〔2023〕2号", "agreed_start_date": start_1y})
    _parcel(client, admin, WUXUE, square(wuxue[0], wuxue[1], 100),
            {"holder_credit_code": HOLDER, "contract_no": "武出让〔2023〕1号", "agreed_start_date": start_1y,
             "land_price": "300"})
    r = client.post("/api/idle/scans", json={"as_of": T.isoformat()}, headers=officer)
    assert r.status_code == 201, r.text
    r = client.post(f"/api/idle/scans/{r.json()['id']}/cases", headers=officer,
                    json={"opened_on": T.isoformat(), "reason": "扫描发现疑似闲置"})
    assert r.status_code == 201 and r.json()["opened"] == 3, r.text
    listed = client.get("/api/idle/cases", headers=officer).json()["items"]
    return {c["parcel_code"]: c["id"] for c in listed}


@pytest.fixture
def world(clean_db):
    admin = make_user(clean_db, "admin", "city_admin")
    officer = make_user(clean_db, "officer", "county_officer", counties=["421102", "421182"])
    with TestClient(create_app(clean_db)) as client:
        cases = build_cases(client, clean_db, admin.headers, officer.headers)
        yield client, officer.headers, admin.headers, cases


def _issue(client: TestClient, h: dict[str, str], case_id: int, kind: str, on: int, served: int | None = None,
           status: int = 201, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "issued_on": day(on), "reason": f"出具{kind}", **extra}
    if served is not None:
        body |= {"served_on": day(served), "service_method": "direct", "served_to": "张三"}
    r = client.post(f"/api/idle/cases/{case_id}/documents", headers=h, json=body)
    assert r.status_code == status, r.text
    return _readable(r.json())


def _readable(body: dict[str, Any]) -> dict[str, Any]:
    """A 422's detail is a list of {loc, msg, type} (api/errors.py); the messages joined, to read."""
    if isinstance(body.get("detail"), list):
        return {**body, "detail": "；".join(str(d.get("msg", d)) for d in body["detail"])}
    return body


def _step(client: TestClient, h: dict[str, str], case_id: int, action: str, on: int, number: str | None = None,
          **extra: Any) -> None:
    docs = [{"kind": "文书", "number": number}] if number else []
    r = client.post(f"/api/idle/cases/{case_id}/steps", headers=h,
                    json={"action": action, "on": day(on), "reason": f"办理{action}", "documents": docs, **extra})
    assert r.status_code == 200, r.text


def _docx_text(data: bytes) -> tuple[str, int]:
    doc = open_docx(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join(parts), len(doc.inline_shapes)


def _download(client: TestClient, h: dict[str, str], case_id: int, doc: dict[str, Any]) -> tuple[str, int, PdfReader]:
    r = client.get(f"/api/idle/cases/{case_id}/documents/{doc['id']}.docx", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    text_, pictures = _docx_text(r.content)
    p = client.get(f"/api/idle/cases/{case_id}/documents/{doc['id']}.pdf", headers=h)
    assert p.status_code == 200 and p.content.startswith(b"%PDF")
    return text_, pictures, PdfReader(io.BytesIO(p.content))


def test_the_documents_of_a_recovery_case(world):
    client, h, _admin, cases = world
    case = cases[RECOVER]
    notice = _issue(client, h, case, "investigation_notice", 1, served=3)
    assert notice["number"] == f"黄州自然资闲〔{day(1)[:4]}〕1号"
    assert notice["due_kind"] == "reply" and notice["due_on"] == day(33)  # 30 days from the service (第六条)
    _step(client, h, case, "issue_notice", 1, notice["number"])

    # the reply window shows in the deadlines while it runs, waiting on the holder
    due = client.get("/api/idle/deadlines", params={"as_of": day(10)}, headers=h).json()["items"]
    reply = [d for d in due if d["kind"] == "document_reply"]
    assert len(reply) == 1 and reply[0]["due_on"] == day(33) and reply[0]["waiting_on"] == "holder"
    assert notice["number"] in reply[0]["detail"] and reply[0]["parcel_code"] == RECOVER

    finding = _issue(client, h, case, "finding", 40)  # not served yet
    # a recovery decision needs a served 认定书 and the hearing notice: refused, naming both
    refused = _issue(client, h, case, "recovery_decision", 41, status=422)["detail"]
    assert "已送达的《闲置土地认定书》" in refused and "《听证权利告知书》" in refused
    r = client.post(f"/api/idle/cases/{case}/documents/{finding['id']}/service", headers=h,
                    json={"served_on": day(41), "service_method": "post", "reason": "邮寄送达，签收回执已归档"})
    assert r.status_code == 200 and r.json()["served_on"] == day(41), r.text
    again = client.post(f"/api/idle/cases/{case}/documents/{finding['id']}/service", headers=h,
                        json={"served_on": day(42), "service_method": "direct"})
    assert again.status_code == 409 and "不能改写" in _readable(again.json())["detail"]
    _step(client, h, case, "issue_finding", 41, finding["number"])
    _step(client, h, case, "publish", 42)

    situation = _issue(client, h, case, "situation_notice", 43, served=44)
    hearing = _issue(client, h, case, "hearing_notice", 45, served=46)
    assert hearing["due_kind"] == "hearing_request"
    served = T + dt.timedelta(days=46)
    hearing_due = dt.date.fromisoformat(hearing["due_on"])
    assert 7 <= (hearing_due - served).days <= 9 and hearing_due.weekday() < 5  # five working days
    early = _issue(client, h, case, "recovery_decision", 47, status=422)["detail"]
    assert "听证申请期限" in early and "尚未届满" in early
    decision = _issue(client, h, case, "recovery_decision", 60, served=61)
    assert decision["due_kind"] == "deregistration" and decision["due_on"] == day(91)
    _step(client, h, case, "decide_disposal", 60, decision["number"], kind="recovery_without_compensation")
    receipt = _issue(client, h, case, "service_receipt", 62, proves_document_id=decision["id"])

    numbers = [d["number"] for d in (notice, finding, situation, hearing, decision, receipt)]
    year = day(1)[:4] if day(1)[:4] == day(62)[:4] else None
    if year:  # one year: one sequence 1..6 of the 黄州 office
        assert numbers == [f"黄州自然资闲〔{year}〕{n}号" for n in range(1, 7)]

    listed = client.get(f"/api/idle/cases/{case}/documents", headers=h).json()["items"]
    assert [d["kind"] for d in listed] == ["investigation_notice", "finding", "situation_notice", "hearing_notice",
                                           "recovery_decision", "service_receipt"]

    text_, pictures, pdf = _download(client, h, case, decision)
    for needle in (HOLDER_NAME, RECOVER, decision["number"], "第十四条第（二）项", "第十七条", "收回国有建设用地使用权决定书",
                   NEIGHBOUR, "EPSG:4526", "J1", finding["number"]):
        assert needle in text_, needle
    assert pictures == 1  # the 宗地图
    assert len(pdf.pages) == 2
    pdf_text = "".join(page.extract_text() for page in pdf.pages)
    for needle in (RECOVER, "第十四条第（二）项", decision["number"], HOLDER_NAME):
        assert needle in pdf_text, needle

    text_, pictures, pdf = _download(client, h, case, notice)
    assert "第五条" in text_ and "30日内" in text_ and pictures == 1
    text_, pictures, _ = _download(client, h, case, hearing)
    assert "第十五条" in text_ and "5个工作日内" in text_ and "听证" in text_
    text_, pictures, pdf = _download(client, h, case, receipt)
    assert pictures == 0 and decision["number"] in text_ and "张三" in text_ and "直接送达" in text_
    assert len(pdf.pages) == 1

    # the corner coordinates are in zone 38 with the zone prefix: X ~3.37e6 (north), Y 38xxxxxx (east)
    content = client.get(f"/api/idle/cases/{case}/documents/{decision['id']}", headers=h).json()["content"]
    corner = content["map"]["corners"][0]
    assert 3.3e6 < corner["x"] < 3.5e6 and 38_400_000 < corner["y"] < 38_700_000
    assert [n["code"] for n in content["map"]["neighbours"]] == [NEIGHBOUR]

    # deregistration runs from the decision's service: today it is still running
    due = client.get("/api/idle/deadlines", headers=h).json()["items"]
    assert any(d["kind"] == "document_deregistration" and d["case_id"] == case and d["due_on"] == day(91)
               for d in due)


def test_fee_decision_needs_the_land_price(world):
    client, h, admin, cases = world
    case = cases[FEE]
    notice = _issue(client, h, case, "investigation_notice", 1, served=2)
    finding = _issue(client, h, case, "finding", 35, served=36)
    hearing = _issue(client, h, case, "hearing_notice", 37, served=38, status=422)["detail"]
    assert "出让或划拨价款" in hearing and "land_price" in hearing

    refused = _issue(client, h, case, "fee_decision", 50, status=422)["detail"]
    assert refused.startswith("不能出具《征缴土地闲置费决定书》") and "出让或划拨价款" in refused

    etag = client.get(f"/api/parcels/{FEE}", headers=admin).headers["ETag"]
    r = client.patch(f"/api/parcels/{FEE}", headers={**admin, "If-Match": etag},
                     json={"land_price": "1234.50", "reason": "补录出让价款"})
    assert r.status_code == 200, r.text
    hearing = _issue(client, h, case, "hearing_notice", 37, served=38)
    # idle one full year, not two: no recovery without compensation (第十四条第（二）项)
    too_early = _issue(client, h, case, "recovery_decision", 50, status=409)["detail"]
    assert "未满2年" in too_early and "第十四条第（二）项" in too_early
    fee = _issue(client, h, case, "fee_decision", 50, served=51)
    assert fee["due_kind"] == "payment" and fee["due_on"] == day(81)
    text_, pictures, pdf = _download(client, h, case, fee)
    for needle in ("第十四条第（一）项", "246.90 万元", "1,234.50 万元", "百分之二十", HOLDER_NAME, FEE, fee["number"],
                   "不得列入生产成本", finding["number"]):
        assert needle in text_, needle
    assert pictures == 1 and len(pdf.pages) == 2
    # numbers continue one office sequence across cases (this test's own office-year only)
    serials = [int(d["number"].split("〕")[1][:-1]) for d in (notice, finding, hearing, fee)]
    assert serials == sorted(serials) and len(set(serials)) == 4


def test_numbers_run_per_office_and_year(world, clean_db):
    client, h, _admin, cases = world
    hz = _issue(client, h, cases[RECOVER], "investigation_notice", 1, served=2)
    wx = _issue(client, h, cases[WUXUE], "investigation_notice", 1, served=2)
    hz2 = _issue(client, h, cases[FEE], "investigation_notice", 2)
    year = day(1)[:4]
    assert hz["number"] == f"黄州自然资闲〔{year}〕1号"
    assert wx["number"] == f"武穴自然资闲〔{year}〕1号"  # another office: its own sequence
    assert hz2["number"] == f"黄州自然资闲〔{day(2)[:4]}〕{2 if day(2)[:4] == year else 1}号"
    # zone 39 for 武穴 (east of 115.5°E)
    content = client.get(f"/api/idle/cases/{cases[WUXUE]}/documents/{wx['id']}", headers=h).json()["content"]
    assert content["map"]["epsg"] == 4527 and 39_000_000 < content["map"]["corners"][0]["y"] < 40_000_000
    # a new year starts at 1 again; the office's counter is one row, so concurrent issuers queue on it
    with transaction(clean_db, "test", "sequence") as conn:
        assert next_serial(conn, "421102", 2099) == 1
        assert next_serial(conn, "421102", 2099) == 2
        assert next_serial(conn, "421182", 2099) == 1


def test_issued_documents_are_append_only_and_audited(world, clean_db, owner_engine):
    client, h, _admin, cases = world
    doc = _issue(client, h, cases[RECOVER], "investigation_notice", 1, served=2)
    for statement in (f"UPDATE idle_documents SET recipient = 'x' WHERE id = {doc['id']}",
                      f"DELETE FROM idle_documents WHERE id = {doc['id']}"):
        with pytest.raises(Exception, match="issued legal document"):
            with owner_engine.begin() as conn:
                conn.execute(text(statement))
    with clean_db.connect() as conn:
        rows = conn.execute(text("SELECT action, actor FROM history WHERE table_name = 'idle_documents'")).all()
    assert [r.action for r in rows] == ["insert"] and rows[0].actor.startswith("officer")


def test_refusals_name_the_missing_fact(world):
    client, h, _admin, cases = world
    case = cases[RECOVER]
    r = _issue(client, h, case, "finding", 5, status=422)["detail"]
    assert "已送达的《闲置土地调查通知书》" in r
    notice = _issue(client, h, case, "investigation_notice", 1)  # not served
    r = _issue(client, h, case, "service_receipt", 5, status=422, proves_document_id=notice["id"])["detail"]
    assert r.startswith("不能出具《送达回证》") and "送达日期和送达方式" in r
    r = _issue(client, h, case, "service_receipt", 5, status=422)["detail"]
    assert "所证明送达的文书" in r
    r = client.post(f"/api/idle/cases/{case}/documents", headers=h,
                    json={"kind": "finding", "reason": "测试", "served_on": day(3)})
    assert r.status_code == 422 and "service_method" in r.text
    future = client.post(f"/api/idle/cases/{case}/documents", headers=h,
                         json={"kind": "investigation_notice", "reason": "测试",
                               "issued_on": (TODAY + dt.timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and "今天之后" in _readable(future.json())["detail"]
    unknown = client.post(f"/api/idle/cases/{case}/documents", headers=h, json={"kind": "nonsense", "reason": "测试"})
    assert unknown.status_code == 422


def _signed_in(engine) -> TestClient:  # noqa: ANN001
    add_web_user(engine, "web-officer", "county_officer", counties=["421102"])
    web = TestClient(create_app(engine))
    token = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text).group(1)
    r = web.post("/login", data={"username": "web-officer", "password": PASSWORD, "csrf": token, "next": "/"},
                 follow_redirects=False)
    assert r.status_code == 303, r.text
    return web


def test_the_case_page_issues_lists_and_downloads(world, clean_db):
    client, h, _admin, cases = world
    case = cases[RECOVER]
    web = _signed_in(clean_db)
    page = web.get(f"/cases/{case}")
    assert page.status_code == 200 and 'id="issue-document"' in page.text and "尚未出具文书" in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    form = {"csrf": token, "kind": "investigation_notice", "issued_on": day(1), "served_on": day(2),
            "service_method": "direct", "served_to": "李四", "reason": "发出调查通知书"}
    r = web.post(f"/cases/{case}/documents", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = web.get(r.headers["location"])
    number = f"黄州自然资闲〔{day(1)[:4]}〕1号"
    assert "已出具文书" in page.text and number in page.text and "李四 签收" in page.text
    links = re.findall(r'href="(/api/idle/cases/\d+/documents/\d+\.(?:docx|pdf))"', page.text)
    assert len(links) == 2
    for link in links:  # the session signs the downloads in, no token needed
        got = web.get(link)
        assert got.status_code == 200 and len(got.content) > 10_000
    # a fee decision the case cannot support yet: the page says which facts are missing
    refused = web.post(f"/cases/{case}/documents", data={**form, "kind": "fee_decision", "served_on": "",
                                                         "service_method": ""})
    assert refused.status_code == 422 and "已送达的《闲置土地认定书》" in refused.text
    # the reply window (30 days from day 2) ended 58 days ago; with no later document it stays in the queue
    queue = web.get("/cases")
    assert "文书送达后的期限（1）" in queue.text and number in queue.text


def test_concurrent_issuers_of_one_office_get_distinct_numbers(clean_db):
    """The second issuer waits on the office-year row until the first commits, then takes the next number."""
    import threading

    first_took = threading.Event()
    got: dict[str, int] = {}

    def first() -> None:
        with transaction(clean_db, "a", "sequence") as conn:
            got["a"] = next_serial(conn, "421102", 2098)
            first_took.set()
            conn.execute(text("SELECT pg_sleep(0.3)"))

    def second() -> None:
        first_took.wait()
        with transaction(clean_db, "b", "sequence") as conn:
            got["b"] = next_serial(conn, "421102", 2098)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {"a": 1, "b": 2}


def test_the_office_data_is_editable_and_numbers_follow_it(world, clean_db):
    client, h, _admin, cases = world
    offices = {o["adcode"]: o for o in client.get("/api/idle/document-offices", headers=h).json()["items"]}
    assert offices["421102"]["code_prefix"] == "黄州自然资闲" and offices["421182"]["gk_epsg"] == 4527
    assert len(offices) == 11  # ten counties and 龙感湖
    r = client.patch("/api/idle/document-offices/421102", headers=h,
                     json={"code_prefix": "黄州自然资规闲", "reason": "机关代字调整"})
    try:
        assert r.status_code == 200 and r.json()["version"] == offices["421102"]["version"] + 1, r.text
        doc = _issue(client, h, cases[RECOVER], "investigation_notice", 1, served=2)
        assert doc["number"].startswith("黄州自然资规闲〔")
        other = make_user(clean_db, "other", "county_officer", counties=["421182"])
        assert client.patch("/api/idle/document-offices/421102", headers=other.headers,
                            json={"code_prefix": "X", "reason": "越权"}).status_code == 403
        with clean_db.connect() as conn:
            changed = conn.execute(text("SELECT reason FROM history WHERE table_name = 'idle_document_offices' "
                                        "AND action = 'update'")).scalars().all()
        assert changed == ["机关代字调整"]
    finally:  # office rows are reference data, kept between tests: restore the default
        r = client.patch("/api/idle/document-offices/421102", headers=h,
                         json={"code_prefix": "黄州自然资闲", "reason": "恢复默认机关代字"})
        assert r.status_code == 200
