"""Web upload of imports (restricted, size-limited, same report), template and export downloads."""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import text

from api.app import create_app
from hggis.io.figures_import import SHEET_NAME
from tests.access_helpers import make_user
from tests.factories import credit_code
from tests.io_builders import HUANGMEI, HUANGZHOU, bowtie, code, lots, project, write_shapefile, zip_shapefile


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def _survey_zip(tmp_path, origin, adcode, n=2, extra=None) -> bytes:
    geoms = lots(origin, n) + (extra or [])
    codes = [code(i + 1, adcode) for i in range(len(geoms))]
    shp = write_shapefile(tmp_path / "survey.shp", project(geoms, 4547), {"宗地代码": codes}, 4547, encoding="GBK")
    return zip_shapefile(shp)


def test_upload_parcels_dry_run_then_apply(client, clean_db, tmp_path):
    admin = make_user(clean_db, "io-web-admin", "city_admin")
    data = _survey_zip(tmp_path, HUANGZHOU, "421102")
    files = {"file": ("黄州宗地.zip", data, "application/zip")}
    r = client.post("/api/imports/parcels", files=files, data={"dry_run": "true"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "dry_run" and body["to_insert"] == 2 and body["file_name"] == "黄州宗地.zip"
    r = client.post("/api/imports/parcels", files=files, headers=admin.headers)
    assert r.status_code == 200 and r.json()["inserted"] == 2
    log = client.get("/api/imports", headers=admin.headers).json()
    assert [(x["status"], x["file_name"]) for x in log] == [("applied", "黄州宗地.zip"), ("dry_run", "黄州宗地.zip")]
    detail = client.get(f"/api/imports/{log[0]['id']}", headers=admin.headers).json()
    assert detail["report"]["read"]["crs"] == "EPSG:4547"


def test_refused_upload_returns_422_with_the_same_report(client, clean_db, tmp_path):
    admin = make_user(clean_db, "io-web-admin2", "city_admin")
    data = _survey_zip(tmp_path, HUANGZHOU, "421102", extra=[bowtie(HUANGZHOU[0] + 0.01, HUANGZHOU[1])])
    r = client.post("/api/imports/parcels", files={"file": ("bad.zip", data)}, headers=admin.headers)
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == "refused" and body["errors"] == 1
    assert body["issues"][0]["code"] == code(3) and body["issues"][0]["kind"] == "geometry"
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0


def test_upload_is_restricted(client, clean_db, tmp_path):
    data = _survey_zip(tmp_path, HUANGZHOU, "421102")
    assert client.post("/api/imports/parcels", files={"file": ("a.zip", data)}).status_code == 401
    pm = make_user(clean_db, "io-web-pm", "park_manager", parks=[_park(clean_db)])
    assert client.post("/api/imports/parcels", files={"file": ("a.zip", data)}, headers=pm.headers).status_code == 403
    # a county officer of 黄梅 uploading 黄州's parcels: each feature refused for scope
    hm = make_user(clean_db, "io-web-hm", "county_officer", counties=["421127"])
    r = client.post("/api/imports/parcels", files={"file": ("a.zip", data)}, headers=hm.headers)
    assert r.status_code == 422 and {i["kind"] for i in r.json()["issues"]} == {"scope"}
    own = _survey_zip(tmp_path / "own", HUANGMEI, "421127")
    assert client.post("/api/imports/parcels", files={"file": ("b.zip", own)}, headers=hm.headers).status_code == 200


def _park(engine) -> int:
    from tests.factories import add_park

    with engine.begin() as conn:
        return add_park(conn, "测试园区", "421102")


def test_upload_size_limit(client, clean_db, tmp_path):
    admin = make_user(clean_db, "io-web-admin3", "city_admin")
    client.app.state.upload_max_bytes = 1000
    data = _survey_zip(tmp_path, HUANGZHOU, "421102", n=20)
    assert len(data) > 1000
    r = client.post("/api/imports/parcels", files={"file": ("big.zip", data)}, headers=admin.headers)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM imports")).scalar_one() == 0


def test_bare_shp_upload_is_refused_with_advice(client, clean_db, tmp_path):
    admin = make_user(clean_db, "io-web-admin4", "city_admin")
    r = client.post("/api/imports/parcels", files={"file": ("a.shp", b"\0" * 100)}, headers=admin.headers)
    assert r.status_code == 422 and ".zip" in r.text


def test_figures_upload_and_template(client, clean_db, tmp_path):
    admin = make_user(clean_db, "io-web-admin5", "city_admin")
    t = client.get("/api/imports/template")
    assert t.status_code == 200 and t.headers["content-type"].startswith("application/vnd.openxmlformats")
    new = credit_code(7000)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    ws.append(["统一社会信用代码", "企业名称", "所属县（市、区）", "年度", "税收（元）"])
    ws.append([new, "武穴医药有限公司", "武穴市", 2024, 500000])
    ws.append(["123", "坏代码", "武穴市", 2024, 1])
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("税务局.xlsx", buf.getvalue())}
    r = client.post("/api/imports/figures", files=files, headers=admin.headers)
    assert r.status_code == 422 and r.json()["bad_row_numbers"] == [3]
    r = client.post("/api/imports/figures", files=files, data={"skip_bad": "true"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["enterprises_created"] == 1
    with clean_db.connect() as conn:
        tax = conn.execute(text("SELECT y.tax_paid FROM enterprise_years y JOIN enterprises e ON e.id = y.enterprise_id "
                                "WHERE e.credit_code = :c"), {"c": new}).scalar_one()
    assert float(tax) == 50.0


def test_export_downloads_respect_scope_and_public_view(client, clean_db, tmp_path):
    admin = make_user(clean_db, "io-web-admin6", "city_admin")
    client.post("/api/imports/parcels", files={"file": ("s.zip", _survey_zip(tmp_path, HUANGZHOU, "421102"))},
                headers=admin.headers)
    r = client.get("/api/exports/parcels", params={"format": "shp", "crs": 4547, "encoding": "gbk"}, headers=admin.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert "fields.csv" in zf.namelist() and zf.read("parcels.cpg").strip() == b"GBK"
    pub = client.get("/api/exports/parcels", params={"format": "geojson"})
    assert pub.status_code == 200
    feats = pub.json()["features"]
    assert feats == []  # reserve parcels are not public; only land on offer is
    assert client.get("/api/exports/cases").status_code == 403
    assert client.get("/api/exports/parcels", params={"crs": 3857}, headers=admin.headers).status_code == 422
    assert client.get("/api/exports/users").status_code == 404
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"rank": 1}, "geometry": {"type": "Polygon", "coordinates": [[[114.88, 30.45], [114.881, 30.45], [114.881, 30.451], [114.88, 30.45]]]}}]}
    assert client.post("/api/exports/sites", params={"format": "csv"}, json=fc).status_code == 401
    s = client.post("/api/exports/sites", params={"format": "csv"}, json=fc, headers=admin.headers)
    assert s.status_code == 200 and b"POLYGON" in s.content


def test_cookie_session_upload_needs_the_csrf_token(client, clean_db, tmp_path):
    from hggis.access.users import start_session, user_id
    from hggis.db.session import transaction

    make_user(clean_db, "io-web-session", "city_admin")
    with transaction(clean_db, "test setup", "session") as conn:
        sid, csrf = start_session(conn, user_id(conn, "io-web-session"))
    client.cookies.set("hggis_session", sid)
    files = {"file": ("s.zip", _survey_zip(tmp_path, HUANGZHOU, "421102"))}
    assert client.post("/api/imports/parcels", files=files, data={"dry_run": "true"}).status_code == 403
    r = client.post("/api/imports/parcels", files=files, data={"dry_run": "true"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["status"] == "dry_run"
