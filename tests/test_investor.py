"""The investor's parcel page, its API, the 地块推介 PDF and the enquiry form, through the doors.

Start: the demo data set (what ``hggis demo load`` writes). An officer publishes the offer
terms and the park's contacts over the API, the city administrator imports reference layers
(a port, a rail freight station) through the existing constraint-layer import; an anonymous visitor then reads the page, the API and the PDF, and sends an
enquiry through the public form, whose defences are tried one by one. Officers list,
answer and close enquiries within their scope.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text

from api.app import create_app
from hggis import clock
from hggis.config import get_settings
from hggis.demo.loader import load_demo
from hggis.investor.enquiries import form_token
from tests.access_helpers import make_user

PHONE = "0713-8866123"
ARTIFACTS = Path("test-artifacts/investor")


@pytest.fixture(scope="module")
def site(engine):
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=7)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.code, p.park_id, p.adcode, p.area_mu, ST_X(ST_Centroid(p.geom)) AS lon, ST_Y(ST_Centroid(p.geom)) AS lat "
            "FROM parcels p JOIN control_indicators ci ON ci.parcel_id = p.id "
            "WHERE p.status = 'on_offer' AND p.park_id IS NOT NULL AND ci.investment_intensity IS NOT NULL "
            "AND ci.far_min IS NOT NULL AND ci.tax_per_mu IS NOT NULL ORDER BY p.id LIMIT 1")).mappings().one()
        other_park = conn.execute(text("SELECT min(id) FROM parks WHERE id <> :k"), {"k": row["park_id"]}).scalar_one()
        producing = conn.execute(text("SELECT code FROM parcels WHERE status = 'producing' ORDER BY id LIMIT 1")).scalar_one()
    users = {
        "admin": make_user(engine, "inv-admin", "city_admin"),
        "officer": make_user(engine, "inv-officer", "county_officer", counties=[row["adcode"]]),
        "manager": make_user(engine, "inv-manager", "park_manager", parks=[row["park_id"]]),
        "stranger": make_user(engine, "inv-stranger", "park_manager", parks=[other_park]),
    }
    with TestClient(create_app(engine)) as client:
        yield {"client": client, "engine": engine, "parcel": dict(row), "producing": producing,
               "h": {k: u.headers for k, u in users.items()}}
    wipe_data(engine)


def _msgs(r) -> str:  # noqa: ANN001
    detail = r.json()["detail"]
    return "；".join(d["msg"] for d in detail) if isinstance(detail, list) else str(detail)


def _publish(site) -> None:  # noqa: ANN001
    c, h, p = site["client"], site["h"], site["parcel"]
    r = c.put(f"/api/parcels/{p['code']}/offer", headers=h["officer"], json={
        "start_price": "1288.5", "supply_method": "挂牌", "listing_start": "2026-11-20", "listing_end": "2026-12-20",
        "term_years": 50, "version": 0, "reason": "发布挂牌出让公告"})
    assert r.status_code == 200, r.text
    r = c.put(f"/api/parks/{p['park_id']}/contacts", headers=h["officer"], json={
        "contact_office": "园区招商局", "contact_person": "王科长", "contact_phone": PHONE,
        "contact_email": "zhaoshang@example.cn", "reason": "登记招商联系方式"})
    assert r.status_code == 200, r.text
    for kind, name, geometry in (
        ("港口", "测试港", {"type": "Point", "coordinates": [p["lon"] + 0.006, p["lat"]]}),
        ("铁路", "测试货运站", {"type": "Point", "coordinates": [p["lon"], p["lat"] + 0.02]}),
    ):
        fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": name}, "geometry": geometry}]}
        r = c.post("/api/constraint-layers", headers=h["admin"], data={"name": f"{kind}参考层", "kind": kind, "reason": "交通参考图层"},
                   files={"file": (f"{kind}.geojson", json.dumps(fc, ensure_ascii=False).encode(), "application/geo+json")})
        assert r.status_code == 201, r.text


def test_an_investor_reads_terms_indicators_commitments_contacts_and_distances(site):
    c, p = site["client"], site["parcel"]
    _publish(site)
    view = c.get(f"/api/parcels/{p['code']}/investor", params={"mu": "10"}).json()
    assert view["offer"]["start_price"] == 1288.5 and view["offer"]["supply_method"] == "挂牌"
    values = {i["field"]: i["value"] for i in view["indicators"]}
    commits = {x["field"]: x["value"] for x in view["commitments"]}
    assert commits["investment_intensity"] == pytest.approx(values["investment_intensity"] * 10)
    assert commits["tax_per_mu"] == pytest.approx(values["tax_per_mu"] * 10)
    assert commits["floor_area_min"] == round(values["far_min"] * 10 * 2000 / 3)
    assert view["park"]["contact_phone"] == PHONE and view["park"]["level"]
    port = next(d for d in view["distances"] if d["kind"] == "港口")
    assert 0.2 < port["km"] < 0.7 and port["summary"].startswith("距最近港口") and "测试港" in port["summary"]
    rail = next(d for d in view["distances"] if d["kind"] == "铁路")
    assert 1.9 < rail["km"] < 2.4 and "测试货运站" in rail["summary"]
    # the whole parcel by default
    whole = c.get(f"/api/parcels/{p['code']}/investor").json()
    assert whole["project_mu"] == pytest.approx(round(p["area_mu"], 2))
    page = c.get(f"/parcels/{p['code']}")
    assert page.status_code == 200
    for expected in ("投资指南", "1,288.50 万元", "挂牌", PHONE, "王科长", "距最近港口", "固定资产投资强度",
                     'property="og:title"', f'/parcels/{p["code"]}/sheet.pdf', "复制链接", 'id="enquiry-form"'):
        assert expected in page.text, expected
    assert "更多信息请联系所在园区" not in page.text
    sized = c.get(f"/parcels/{p['code']}", params={"mu": "10"}).text
    assert re.search(r"项目用地 10\.00 亩", sized)
    bad = c.get(f"/parcels/{p['code']}", params={"mu": "-3"})
    assert bad.status_code == 200 and "项目用地应大于 0" in bad.text


def test_offer_terms_and_contacts_keep_history_and_refuse_bad_values(site):
    c, h, p, eng = site["client"], site["h"], site["parcel"], site["engine"]
    r = c.put(f"/api/parcels/{p['code']}/offer", headers=h["officer"], json={"supply_method": "抽签", "reason": "试试"})
    assert r.status_code == 422 and "supply_method" in r.text and "供地方式" in _msgs(r)
    r = c.put(f"/api/parcels/{p['code']}/offer", headers=h["officer"],
              json={"listing_start": "2026-12-20", "listing_end": "2026-12-01", "reason": "试试"})
    assert r.status_code == 422 and "listing_end" in r.text
    r = c.put(f"/api/parcels/{site['producing']}/offer", headers=h["admin"], json={"start_price": 1, "reason": "试试"})
    assert r.status_code == 422 and "挂牌出让" in _msgs(r)
    assert c.put(f"/api/parcels/{p['code']}/offer", json={"start_price": 1, "reason": "试试"}).status_code == 401
    assert c.put(f"/api/parcels/{p['code']}/offer", headers=h["stranger"],
                 json={"start_price": 1, "reason": "试试"}).status_code == 403
    r = c.put(f"/api/parks/{p['park_id']}/contacts", headers=h["officer"], json={"contact_email": "no-at", "reason": "试试"})
    assert r.status_code == 422 and "contact_email" in r.text
    with eng.connect() as conn:
        reasons = conn.execute(text("SELECT table_name, reason FROM history WHERE table_name IN "
                                    "('parcel_offers', 'parks') AND reason IS NOT NULL")).all()
    got = {(t, r_) for t, r_ in reasons}
    assert ("parcel_offers", "发布挂牌出让公告") in got and ("parks", "登记招商联系方式") in got


def test_the_sheet_is_a_one_page_chinese_pdf_with_map_and_contacts(site):
    c, p = site["client"], site["parcel"]
    r = c.get(f"/parcels/{p['code']}/sheet.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"sheet-{p['code']}.pdf").write_bytes(r.content)
    pdf = PdfReader(io.BytesIO(r.content))
    assert len(pdf.pages) == 1
    body = pdf.pages[0].extract_text()
    for expected in (p["code"], "地块推介", "控制指标", "固定资产投资强度", PHONE, "比例尺", "北", "起始价", "港口",
                     f"/parcels/{p['code']}"):
        assert expected in body, expected
    assert c.get(f"/parcels/{site['producing']}/sheet.pdf").status_code == 404


def _form(code: str, **over: str) -> dict[str, str]:
    base = {"name": "李先生", "firm": "某某新材料有限公司", "contact": "13912345678", "project": "年产 5 万吨新材料",
            "land_need_mu": "80", "form_token": form_token(code, clock.now() - dt.timedelta(seconds=30)), "website": ""}
    return base | over


def test_an_enquiry_goes_to_the_parks_office_and_the_form_defends_itself(site, monkeypatch):
    c, h, p = site["client"], site["h"], site["parcel"]
    code = p["code"]
    anon = TestClient(c.app)
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?enquiry=sent#enquiry")
    assert "咨询已提交" in anon.get(f"/parcels/{code}?enquiry=sent").text
    # the same again: a repeat
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code))
    assert r.status_code == 409 and "请勿重复提交" in r.text
    # a bot fills the hidden field
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code, project="另一个项目", website="http://spam"))
    assert r.status_code == 422 and "疑似自动提交" in r.text
    # sent back at once after the page was served
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code, project="快", form_token=form_token(code)))
    assert r.status_code == 422 and "提交过快" in r.text
    # a forged or foreign token
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code, project="伪造", form_token="1.abc"))
    assert r.status_code == 422 and "表单已失效" in r.text
    # oversized, with the values kept in the form
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code, project="很" * 2500))
    assert r.status_code == 422 and "项目简介过长" in r.text and "李先生" in r.text
    r = anon.post(f"/parcels/{code}/enquiries", data=_form(code, name=""))
    assert r.status_code == 422 and "请填写姓名" in r.text
    # land not on offer: no form
    assert anon.post(f"/parcels/{site['producing']}/enquiries", data=_form(site["producing"])).status_code == 404
    # the per-address limit
    monkeypatch.setenv("HGGIS_ENQUIRY_PER_HOUR", "3")
    get_settings.cache_clear()
    try:
        answers = [anon.post(f"/parcels/{code}/enquiries", data=_form(code, project=f"项目 {i}"), follow_redirects=False)
                   for i in range(4)]
    finally:
        monkeypatch.delenv("HGGIS_ENQUIRY_PER_HOUR")
        get_settings.cache_clear()
    assert [a.status_code for a in answers] == [303, 303, 429, 429]  # one accepted before: 3 an hour
    assert "提交过于频繁" in answers[-1].text and "每小时最多 3 条" in answers[-1].text
    # never visible anonymously
    assert anon.get("/api/enquiries").status_code == 401
    assert "13912345678" not in anon.get(f"/parcels/{code}").text
    # the park's office sees it, a manager of another park does not
    mine = c.get("/api/enquiries", headers=h["manager"]).json()
    assert mine["total"] >= 1 and all(e["code"] == code or e["park_id"] == p["park_id"] for e in mine["items"])
    first = next(e for e in mine["items"] if e["project"] == "年产 5 万吨新材料")
    assert first["status"] == "open" and first["land_need_mu"] == 80.0 and "sender_hash" not in first
    assert c.get("/api/enquiries", headers=h["stranger"]).json()["total"] == 0
    assert c.get(f"/api/enquiries/{first['id']}", headers=h["stranger"]).status_code == 404
    assert c.post(f"/api/enquiries/{first['id']}/answer", headers=h["stranger"], json={"answer": "x"}).status_code == 404
    r = c.post(f"/api/enquiries/{first['id']}/answer", headers=h["manager"], json={"answer": "欢迎来园区考察，已安排对接。"})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    counts = {x["park_id"]: x for x in c.get("/api/enquiries/counts", headers=h["officer"]).json()}
    assert counts[p["park_id"]]["answered"] == 1 and counts[p["park_id"]]["open"] >= 1
    r = c.post(f"/api/enquiries/{first['id']}/close", headers=h["officer"], json={"reason": "项目已落地对接"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = c.post(f"/api/enquiries/{first['id']}/answer", headers=h["manager"], json={"answer": "再答"})
    assert r.status_code == 409
    with site["engine"].connect() as conn:
        actions = conn.execute(text("SELECT action, actor, reason FROM history WHERE table_name = 'enquiries' "
                                    "AND object_id = :i ORDER BY id"), {"i": str(first["id"])}).all()
        stored = conn.execute(text("SELECT sender_hash FROM enquiries WHERE id = :i"), {"i": first["id"]}).scalar_one()
    assert [a.action for a in actions] == ["insert", "update", "update"]
    assert actions[0].actor.startswith("public") and actions[2].reason == "项目已落地对接"
    assert "testclient" not in stored and len(stored) == 64  # the address only as a salted hash


def test_the_workbench_lists_enquiries_and_the_dashboard_counts_them(site):
    c, h = site["client"], site["h"]
    page = c.get("/enquiries", headers=h["manager"])
    assert page.status_code == 200 and "投资咨询" in page.text and 'id="enquiry-counts"' in page.text
    assert "李先生" in page.text
    assert "李先生" not in c.get("/enquiries", headers=h["stranger"]).text
    anon = TestClient(c.app).get("/enquiries", follow_redirects=False)
    assert anon.status_code in (303, 401)
    dash = c.get("/dashboard", headers=h["officer"])
    assert dash.status_code == 200
    section = dash.text.split('id="dashboard-enquiries"', 1)[1].split("</section>", 1)[0]
    row = re.search(r"<tr><td><a href=\"/enquiries\">([^<]+)</a></td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>"
                    r"<td class=\"num\">(\d+)</td>", section)
    assert row is not None
    with site["engine"].connect() as conn:
        park, expected = conn.execute(text(
            "SELECT k.name, count(*) FILTER (WHERE q.status = 'open') FROM enquiries q JOIN parks k ON k.id = q.park_id "
            "WHERE k.id = :k GROUP BY k.name"), {"k": site["parcel"]["park_id"]}).one()
    assert row.group(1) == park and int(row.group(2)) == expected >= 1 and int(row.group(4)) == 1


def test_an_officer_sets_the_offer_terms_on_the_parcel_page(site):
    from tests.workbench_helpers import PASSWORD, add_web_user

    eng, p = site["engine"], site["parcel"]
    user = add_web_user(eng, "inv-web-officer", "county_officer", counties=[p["adcode"]])
    client = TestClient(site["client"].app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf": token, "next": "/"},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/parcels/{p['code']}")
    assert 'id="offer-form"' in page.text and "投资指南" in page.text  # the officer sees what investors see, too
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    version = re.search(r'action="/parcels/[^"]+/offer".*?name="version" value="(\d+)"', page.text, re.S).group(1)
    form = {"csrf": csrf, "version": version, "start_price": "1500", "supply_method": "拍卖", "listing_start": "2026-12-01",
            "listing_end": "2026-12-31", "term_years": "50", "note": "", "reason": "调整起始价"}
    bad = client.post(f"/parcels/{p['code']}/offer", data=form | {"supply_method": "抽签"})
    assert bad.status_code == 422 and "未保存" in bad.text and "供地方式" in bad.text
    ok = client.post(f"/parcels/{p['code']}/offer", data=form, follow_redirects=False)
    assert ok.status_code == 303 and "saved_offer=" in ok.headers["location"]
    public = TestClient(site["client"].app).get(f"/parcels/{p['code']}").text
    assert "1,500.00 万元" in public and "拍卖" in public
    stale = client.post(f"/parcels/{p['code']}/offer", data=form | {"start_price": "1"})
    assert stale.status_code == 409 and "已被他人修改" in stale.text
    with eng.connect() as conn:
        row = conn.execute(text("SELECT actor, reason FROM history WHERE table_name = 'parcel_offers' ORDER BY id DESC LIMIT 1")).one()
    assert row.actor.startswith("inv-web-officer") and row.reason == "调整起始价"
