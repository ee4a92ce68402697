"""Bad input through the real API: always a 4xx naming the field, never a 500, nothing written.

Each case is one of the defects reported against the API (huge offsets, NUL bytes, full-width
digits, unknown or huge ids, NaN literals, self-intersecting geometry, history answers that
told out-of-scope objects from missing ones, OPTIONS and 405 answers without a true Allow).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.db.session import transaction
from hggis.parcels import ParcelInput, create_parcel
from tests.access_helpers import make_user
from tests.factories import add_parcel, add_park, parcel_code, square
from tests.live_server import free_port

HUGE = 10**20  # past bigint: PostgreSQL refused it as "bigint out of range"
PAST_INT4 = 2**31  # past the integer ids
BOW_TIE = {"type": "Polygon", "coordinates": [[[114.88, 30.45], [114.89, 30.46], [114.89, 30.45],
                                               [114.88, 30.46], [114.88, 30.45]]]}


@pytest.fixture
def world(clean_db):
    """A parcel in 黄州 and one in 麻城, an admin and a 黄州 county officer."""
    with transaction(clean_db, "test setup", "world") as conn:
        park_hz = add_park(conn, "黄州测试园", "421102")
        park_mc = add_park(conn, "麻城测试园", "421181")
        add_parcel(conn, 1, status="on_offer", park_id=park_hz)
        create_parcel(conn, ParcelInput(code=parcel_code(1, "421181"), geometry=square(115.02, 31.17, 100),
                                        status="producing", park_id=park_mc))
    admin = make_user(clean_db, "admin", "city_admin")
    officer = make_user(clean_db, "officer-hz", "county_officer", counties=["421102"])
    with TestClient(create_app(clean_db)) as client:
        yield {"client": client, "engine": clean_db, "admin": admin.headers, "officer": officer.headers,
               "hz": parcel_code(1, "421102"), "mc": parcel_code(1, "421181")}


def _written(engine) -> tuple[int, int, int]:
    """History rows, parcels and the sum of parcel versions: any write changes one of them."""
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT (SELECT count(*) FROM history), (SELECT count(*) FROM parcels), "
            "(SELECT coalesce(sum(version), 0) FROM parcels)"
        )).one()


def _assert_validation_body(body: dict) -> None:
    """The body of every 422 matches the OpenAPI HTTPValidationError schema."""
    assert isinstance(body["detail"], list) and body["detail"], body
    for item in body["detail"]:
        assert isinstance(item["msg"], str) and isinstance(item["type"], str), item
        assert isinstance(item["loc"], list) and all(isinstance(p, str | int) for p in item["loc"]), item


def _names(body: dict, field: str) -> bool:
    """True if some entry of a 422/400 body names ``field`` in its location or message."""
    detail = body.get("detail", body.get("description", ""))
    if isinstance(detail, list):
        return any(field in [str(p) for p in item.get("loc", [])] or field in item.get("msg", "") for item in detail)
    return field in json.dumps(body, ensure_ascii=False)


def _refused(r, field: str, status: int = 422) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    if status == 422:
        _assert_validation_body(body)
    assert _names(body, field), body
    return body


def _version(client, code, headers) -> int:
    return client.get(f"/api/parcels/{code}", headers=headers).json()["properties"]["version"]


# --- huge offsets on every paged list -----------------------------------------------------

LISTS = [
    ("/api/parks", None),
    ("/api/parcels", None),
    ("/api/parcels", "admin"),
    ("/api/constraint-layers/1/features", "admin"),
    ("/api/idle/scans/1/results", "admin"),
    ("/api/idle/cases", "admin"),
    ("/api/idle/flags", "admin"),
    ("/api/evaluation/runs/1/results", "admin"),
]


@pytest.mark.parametrize("offset", [HUGE, PAST_INT4])
@pytest.mark.parametrize(("path", "who"), LISTS)
def test_huge_offset_is_422_naming_offset(world, path, who, offset):
    headers = world[who] if who else {}
    _refused(world["client"].get(path, params={"offset": offset}, headers=headers), "offset")


@pytest.mark.parametrize("offset", [HUGE, PAST_INT4])
def test_huge_offset_on_ogc_items_is_400_naming_offset(world, offset):
    r = world["client"].get("/ogc/collections/parks/items", params={"offset": offset, "f": "json"})
    _refused(r, "offset", status=400)


def test_full_width_digits_in_ogc_limit_are_400(world):
    _refused(world["client"].get("/ogc/collections/parks/items", params={"limit": "１０", "f": "json"}), "limit", 400)


# --- NUL bytes ------------------------------------------------------------------------------

NUL_QUERIES = [
    ("/tiles/parcels/14/13450/6766.pbf?industry=%00", "industry", None),
    ("/search?q=%00", "q", "admin"),
    ("/api/parcels?status=%00", "status", None),
    ("/api/parks?adcode=4211%00", "adcode", None),
    ("/api/sites?industry=%00", "industry", "admin"),
    ("/api/idle/cases?state=%00", "state", "admin"),
    ("/api/idle/flags?status=%00", "status", "admin"),
    ("/api/reserves/indicators/proposal?industry=%00", "industry", "admin"),
    ("/api/exports/parcels?format=%00", "format", "admin"),
    ("/ogc/collections/parks/items?f=json&bbox=%00", "bbox", None),
]


@pytest.mark.parametrize(("url", "field", "who"), NUL_QUERIES)
def test_nul_in_query_is_422_naming_the_parameter(world, url, field, who):
    headers = {"Accept": "application/json", **(world[who] if who else {})}
    _refused(world["client"].get(url, headers=headers), field)


def test_nul_in_a_page_query_is_a_chinese_422_page(world):
    r = world["client"].get("/search?q=%00", headers={**world["admin"], "Accept": "text/html"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "请求无效" in r.text and "字段 q" in r.text


@pytest.mark.parametrize("field", ["contract_no", "reason", "intended_industry"])
def test_nul_in_patch_body_is_422_naming_the_field_and_nothing_written(world, field):
    client, code = world["client"], world["hz"]
    before = _written(world["engine"])
    body = {"version": _version(client, code, world["admin"]), "reason": "改合同号", field: "合同\x00号"}
    _refused(client.patch(f"/api/parcels/{code}", json=body, headers=world["admin"]), field)
    assert _written(world["engine"]) == before


def test_nul_in_flag_note_is_422_naming_note(world):
    before = _written(world["engine"])
    r = world["client"].post("/api/idle/flags", headers=world["admin"],
                             json={"parcel_code": world["hz"], "note": "现场\x00照片"})
    _refused(r, "note")
    assert _written(world["engine"]) == before


def test_nul_in_model_note_is_422_naming_note(world):
    r = world["client"].post("/api/evaluation/models", headers=world["admin"],
                             json={"name": "NUL", "valid_from": 2030, "base_model_id": 1, "changes": {}, "note": "\x00"})
    _refused(r, "note")


# --- codes, ids, numbers ------------------------------------------------------------------

def test_full_width_digits_in_parcel_code_are_422_naming_code(world):
    before = _written(world["engine"])
    code = "４２１１０２００１００１GB00099"  # 19 characters, but not ASCII digits
    body = {"code": code, "status": "reserve", "reason": "全角数字",
            "geometry": json.loads(json.dumps(square(114.95, 30.47, 80).__geo_interface__))}
    _refused(world["client"].post("/api/parcels", json=body, headers=world["admin"]), "code")
    assert _written(world["engine"]) == before
    assert world["client"].get(f"/api/parcels/{code}", headers=world["admin"]).status_code == 404
    assert world["client"].get(f"/api/history/parcels/{code}", headers=world["admin"]).status_code == 404


@pytest.mark.parametrize("holder_id", [999_999, HUGE, PAST_INT4])
def test_unknown_or_huge_holder_id_is_422_naming_holder_id(world, holder_id):
    client, code = world["client"], world["hz"]
    before = _written(world["engine"])
    body = {"version": _version(client, code, world["admin"]), "reason": "指定用地单位", "holder_id": holder_id}
    _refused(client.patch(f"/api/parcels/{code}", json=body, headers=world["admin"]), "holder_id")
    assert _written(world["engine"]) == before


@pytest.mark.parametrize("path", ["/api/idle/cases/{}", "/api/evaluation/runs/{}", "/api/evaluation/models/{}",
                                  "/api/imports/{}", "/api/idle/scans/{}"])
def test_ids_past_integer_are_422_naming_the_id(world, path):
    r = world["client"].get(path.format(PAST_INT4), headers=world["admin"])
    assert r.status_code == 422, r.text
    _assert_validation_body(r.json())
    assert r.json()["detail"][0]["loc"][0] == "path"


def test_park_id_past_integer_is_422(world):
    _refused(world["client"].get("/api/parcels", params={"park_id": PAST_INT4}), "park_id")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_literal_is_422_with_a_json_body_naming_the_field(world, literal):
    client, code = world["client"], world["hz"]
    before = _written(world["engine"])
    raw = f'{{"version": {_version(client, code, world["admin"])}, "reason": "x1", "built_footprint_m2": {literal}}}'
    r = client.patch(f"/api/parcels/{code}", content=raw,
                     headers={**world["admin"], "Content-Type": "application/json"})
    _refused(r, "built_footprint_m2")
    assert _written(world["engine"]) == before


def test_nan_inside_model_params_is_422(world):
    raw = '{"name": "NaN 模型", "valid_from": 2030, "base_model_id": 1, "changes": {"weights": {"tax": NaN}}}'
    r = world["client"].post("/api/evaluation/models", content=raw,
                             headers={**world["admin"], "Content-Type": "application/json"})
    _refused(r, "tax")


# --- geometry -----------------------------------------------------------------------------

def test_self_intersecting_geometry_in_patch_is_422_like_post(world):
    client, code = world["client"], world["hz"]
    before = _written(world["engine"])
    body = {"version": _version(client, code, world["admin"]), "reason": "改边界", "geometry": BOW_TIE}
    patched = _refused(client.patch(f"/api/parcels/{code}", json=body, headers=world["admin"]), "geometry")
    posted = _refused(client.post("/api/parcels", headers=world["admin"], json={
        "code": parcel_code(77), "status": "reserve", "reason": "新增", "geometry": BOW_TIE}), "geometry")
    assert "Self-intersection" in patched["detail"][0]["msg"] and "Self-intersection" in posted["detail"][0]["msg"]
    assert _written(world["engine"]) == before


# --- every 422 has the documented shape ----------------------------------------------------

def test_route_raised_422s_match_the_openapi_schema(world):
    client = world["client"]
    answers = [
        client.get("/api/parcels", params={"status": "nonsense"}),  # a route's own HTTPException
        client.get("/api/parcels", params={"bbox": "1,2"}),
        client.patch(f"/api/parcels/{world['hz']}", headers={**world["admin"], "If-Match": "abc"}, json={"reason": "x1"}),
    ]
    for r, field in zip(answers, ("status", "bbox", "If-Match"), strict=True):
        _refused(r, field)
    schema = client.get("/openapi.json").json()
    item = schema["components"]["schemas"]["ValidationError"]
    assert set(item["required"]) == {"loc", "msg", "type"}
    patch = schema["paths"]["/api/parcels/{code}"]["patch"]["responses"]
    assert {"401", "403", "404", "409", "422", "428"} <= set(patch)


# --- history: out of scope is the same 404 as missing -------------------------------------

def test_history_of_out_of_scope_object_is_the_same_404_as_a_missing_one(world):
    client, officer = world["client"], world["officer"]
    assert client.get(f"/api/history/parcels/{world['hz']}", headers=officer).status_code == 200
    missing_code = parcel_code(999, "421181")
    for existing, missing in ((world["mc"], missing_code), ("2", "999999"), (str(HUGE), str(PAST_INT4))):
        a = client.get(f"/api/history/parcels/{existing}", headers=officer)
        b = client.get(f"/api/history/parcels/{missing}", headers=officer)
        assert (a.status_code, b.status_code) == (404, 404), (existing, a.text, b.text)
        assert a.json() == {"detail": f"no parcels object {existing}"}
        assert b.json() == {"detail": f"no parcels object {missing}"}
    # The admin sees the 麻城 parcel's history: it exists.
    assert client.get(f"/api/history/parcels/{world['mc']}", headers=world["admin"]).status_code == 200


# --- OPTIONS and 405 ----------------------------------------------------------------------

@pytest.mark.parametrize(("path", "allow"), [
    ("/api/parcels", {"GET", "POST", "OPTIONS"}),
    ("/api/parcels/{hz}", {"GET", "PATCH", "OPTIONS"}),
    ("/api/history/parcels/{hz}", {"GET", "OPTIONS"}),
])
def test_options_answers_204_with_every_method_of_the_path(world, path, allow):
    r = world["client"].options(path.format(hz=world["hz"]))
    assert r.status_code == 204 and r.content == b""
    assert set(r.headers["allow"].split(", ")) == allow


def test_405_lists_every_method_of_the_path(world):
    r = world["client"].delete(f"/api/parcels/{world['hz']}", headers=world["admin"])
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH", "OPTIONS"}


def test_options_on_an_unknown_path_is_404(world):
    assert world["client"].options("/api/nothing-here").status_code == 404


# --- a fault of ours: a clean 500, the connection survives --------------------------------

def test_unexpected_error_is_a_json_500_and_the_connection_stays_open(clean_db):
    app = create_app(clean_db)

    @app.get("/api/test-fault")
    def fault() -> None:
        raise RuntimeError("a bug, not bad input")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        conn = http.client.HTTPConnection(urlsplit(f"http://127.0.0.1:{port}").netloc, timeout=10)
        conn.request("GET", "/api/test-fault")
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 500 and "detail" in body and "RuntimeError" not in json.dumps(body)
        assert r.getheader("connection") != "close"
        conn.request("GET", "/api/health")  # the same connection
        again = conn.getresponse()
        assert again.status == 200 and json.loads(again.read())["status"] == "ok"
        conn.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- the database's own refusals: 4xx naming the column or constraint ---------------------

DB_REFUSALS = {
    # case: (SQL run inside an audited transaction, expected status, the field named)
    "foreign_key": ("INSERT INTO parks (name, adcode, level) VALUES ('无此县园区', '421199', '省级')", 422, "adcode"),
    "check": ("INSERT INTO parks (name, adcode, level) VALUES ('级别不对', '421102', '宇宙级')", 422, "level"),
    "range": ("SELECT id FROM parks ORDER BY id OFFSET CAST('100000000000000000000' AS numeric)::bigint", 422, "out of range"),
    "unique": ("INSERT INTO parks (name, adcode, level) SELECT name, adcode, level FROM parks LIMIT 1", 409, "name"),
}


@pytest.mark.parametrize("case", sorted(DB_REFUSALS))
def test_database_refusals_are_4xx_naming_the_field_and_nothing_written(world, case):
    app = create_app(world["engine"])
    sql, status, field = DB_REFUSALS[case]

    @app.post("/api/test-db-refusal")
    def refusal_route() -> dict:
        with transaction(world["engine"], "test", "database refusal") as conn:
            conn.execute(text(sql))
        return {}

    before = _written(world["engine"])
    with TestClient(app) as client:
        r = client.post("/api/test-db-refusal")
    assert r.status_code == status, r.text
    assert field in r.text, r.text
    if status == 422:
        _assert_validation_body(r.json())
    assert _written(world["engine"]) == before


def test_nul_text_reaching_the_driver_is_422(world):
    """The last line: NUL that slipped past the door is refused by the driver, and reported."""
    app = create_app(world["engine"])

    @app.get("/api/test-db-nul")
    def nul_route() -> dict:
        with world["engine"].connect() as conn:
            conn.execute(text("SELECT CAST(:t AS text)"), {"t": "a\x00b"})
        return {}

    with TestClient(app) as client:
        r = client.get("/api/test-db-nul")
    assert r.status_code == 422 and "NUL" in r.json()["detail"][0]["msg"]
