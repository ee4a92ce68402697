"""动态巡查: a record of what is seen on site, with JPEG photos whose EXIF time and position are kept.

From an empty database through the doors: parcels by the import API, patrols by the API and
by the phone page in Chromium (a 390 × 844 window), photos generated with Pillow carrying
EXIF GPS tags as a phone camera writes them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import sync_playwright
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from hggis.config import get_settings
from tests.access_helpers import make_user
from tests.io_builders import HUANGZHOU, code
from tests.test_land_use import _survey
from tests.workbench_helpers import CHROMIUM, CHROMIUM_ARGS, add_web_user, live_server, shot, sign_in, watch_page


def jpeg(lon: float | None = None, lat: float | None = None, taken: str = "2026:11:30 10:15:00") -> bytes:
    """A small JPEG with the EXIF tags a phone writes: DateTimeOriginal and the GPS position."""
    image = Image.new("RGB", (64, 48), (120, 160, 90))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = taken
    if lon is not None and lat is not None:
        def dms(v: float) -> tuple[float, float, float]:
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

        gps = exif.get_ifd(0x8825)
        gps[1], gps[2], gps[3], gps[4] = "N", dms(lat), "E", dms(lon)
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture
def world(clean_db, tmp_path):
    admin = make_user(clean_db, "patrol-admin", "city_admin")
    officer = make_user(clean_db, "patrol-officer", "county_officer", counties=["421102"])
    outsider = make_user(clean_db, "patrol-wuxue", "county_officer", counties=["421182"])
    with TestClient(create_app(clean_db)) as client:
        data, geoms = _survey(tmp_path, 1, [None])
        assert client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers).status_code == 200
        yield client, officer, outsider, geoms[0]


def test_a_patrol_keeps_its_photos_position_and_time_and_enters_the_history(world, clean_db):
    client, officer, outsider, geom = world
    inside = shape(geom).centroid
    photos = [("现场1.jpg", jpeg(inside.x, inside.y), "image/jpeg"),
              ("远处.jpg", jpeg(inside.x + 0.01, inside.y), "image/jpeg"),
              ("无定位.jpg", jpeg(), "image/jpeg")]
    r = client.post(f"/api/parcels/{code(1)}/patrols", headers=officer.headers,
                    data={"stage": "halted", "note": "工地停工，塔吊已拆"}, files=[("photos", p) for p in photos])
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["stage_label"] == "停工" and record["observer"].startswith("patrol-officer")
    near, far, unknown = record["photos"]
    taken = dt.datetime.fromisoformat(near["taken_at"].replace("Z", "+00:00"))
    assert near["distance_m"] == 0 and taken == dt.datetime(2026, 11, 30, 10, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert 900 < far["distance_m"] < 1000  # 0.01° of longitude at 30.45°N, from the parcel's edge
    assert unknown["lon"] is None and unknown["distance_m"] is None
    got = client.get(near["url"], headers=officer.headers)
    assert got.status_code == 200 and got.content == photos[0][1] and got.headers["content-type"] == "image/jpeg"
    assert client.get(near["url"], headers=outsider.headers).status_code == 404
    with clean_db.connect() as conn:
        history = conn.execute(text("SELECT action, reason, after ->> 'stage' FROM history WHERE table_name = 'patrols'")).all()
    assert [tuple(h) for h in history] == [("insert", "动态巡查：停工", "halted")]
    listed = client.get(f"/api/parcels/{code(1)}/patrols", headers=officer.headers).json()["items"]
    assert [x["id"] for x in listed] == [record["id"]]


def test_photos_that_are_not_jpeg_or_too_large_are_refused_by_name(world, clean_db, monkeypatch):
    client, officer, outsider, _geom = world
    fake = ("照片.jpg", b"%PDF-1.4 not a photo", "image/jpeg")
    r = client.post(f"/api/parcels/{code(1)}/patrols", headers=officer.headers, data={"stage": "foundation"},
                    files=[("photos", fake)])
    assert r.status_code == 422 and "照片.jpg" in r.text and "JPEG" in r.text
    monkeypatch.setenv("HGGIS_PHOTO_MAX_BYTES", "1000")
    get_settings.cache_clear()
    try:
        big = ("大图.jpg", jpeg() + b"\0" * 2000, "image/jpeg")
        r = client.post(f"/api/parcels/{code(1)}/patrols", headers=officer.headers, data={"stage": "foundation"},
                        files=[("photos", big)])
        assert r.status_code == 422 and "大图.jpg" in r.text and "上限" in r.text
    finally:
        monkeypatch.delenv("HGGIS_PHOTO_MAX_BYTES")
        get_settings.cache_clear()
    r = client.post(f"/api/parcels/{code(1)}/patrols", headers=outsider.headers, data={"stage": "foundation", "note": "x"})
    assert r.status_code == 403
    r = client.post(f"/api/parcels/{code(1)}/patrols", headers=officer.headers, data={"stage": "demolished", "note": "x"})
    assert r.status_code == 422 and "stage" in r.text
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patrols")).scalar_one() == 0


def test_patrol_records_and_photos_cannot_be_rewritten(world, clean_db):
    client, officer, _outsider, _geom = world
    r = client.post(f"/api/parcels/{code(1)}/patrols", headers=officer.headers, data={"stage": "structure", "note": "封顶"},
                    files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))])
    assert r.status_code == 201
    for statement in ("UPDATE patrols SET stage = 'production'", "DELETE FROM patrol_photos", "DELETE FROM patrols"):
        with pytest.raises(DBAPIError, match="append-only"):
            with clean_db.begin() as conn:
                conn.execute(text(statement))


@pytest.fixture
def phone(clean_db, tmp_path) -> Iterator[tuple]:
    admin = make_user(clean_db, "patrol-admin2", "city_admin")
    user = add_web_user(clean_db, "patrol-phone", "county_officer", counties=["421102"])
    with TestClient(create_app(clean_db)) as client:
        data, geoms = _survey(tmp_path, 1, [None])
        assert client.post("/api/imports/parcels", files={"file": ("宗地.zip", data)}, headers=admin.headers).status_code == 200
    with live_server(clean_db) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                      has_touch=True, geolocation={"longitude": HUANGZHOU[0], "latitude": HUANGZHOU[1]},
                                      permissions=["geolocation"])
        page = context.new_page()
        watch = watch_page(context, page)
        yield page, watch, base, user, geoms[0]
        context.close()
        browser.close()


def test_a_patrol_from_a_phone_sized_window_with_a_photo(phone, clean_db, tmp_path):
    page, watch, base, user, geom = phone
    centre = shape(geom).centroid
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(jpeg(centre.x, centre.y))
    sign_in(page, base, user)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="现场巡查").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "现场巡查", page.content()[:3000]
    page.get_by_role("button", name="定位并列出附近宗地").click()
    page.get_by_role("link", name=code(1), exact=False).click()  # the parcel near the phone's position
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"现场巡查：{code(1)}"
    page.get_by_label("主体施工").check()
    page.get_by_label("说明").fill("主体结构施工中，约 30 名工人")
    page.get_by_label("照片（JPEG，可多张）").set_input_files(str(photo))
    page.get_by_role("button", name="提交巡查记录").click()
    page.wait_for_load_state()
    assert "已记录巡查" in page.locator("#patrol-saved").inner_text()
    records = page.locator("#patrol-records").inner_text()
    assert "主体施工" in records and "拍摄位置在宗地内" in records and "现场.jpg" in records
    assert page.locator("#patrol-sketch circle").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392)
        .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ':' + Math.round(e.getBoundingClientRect().right))""")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px): {wide}"
    shot(page, "patrol-phone")
    page.goto(f"{base}/parcels/{code(1)}")
    history = page.locator("#history").inner_text()
    assert "新增巡查记录" in history and "主体施工" in history and "动态巡查" in history
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the parcel page scrolls sideways on a phone"
    shot(page, "patrol-parcel-phone")
    watch.assert_clean()
    with clean_db.connect() as conn:
        stage, lon = conn.execute(text("SELECT stage, device_lon FROM patrols")).one()
    assert stage == "structure" and lon == pytest.approx(HUANGZHOU[0], abs=1e-6)


def test_the_patrol_page_names_a_bad_position_in_chinese_and_writes_nothing(world, clean_db):
    import re

    from tests.workbench_helpers import PASSWORD, add_web_user

    client, *_ = world
    add_web_user(clean_db, "patrol-form", "county_officer", counties=["421102"])
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "patrol-form", "password": PASSWORD, "csrf": token, "next": "/"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"/patrol/{code(1)}").text).group(1)
    r = client.post(f"/patrol/{code(1)}", data={"csrf": csrf, "stage": "foundation", "note": "打桩",
                                                  "device_lon": "东经114", "device_lat": "30.4"})
    assert r.status_code == 422 and "手机位置不是有效的经纬度" in r.text
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patrols")).scalar_one() == 0
