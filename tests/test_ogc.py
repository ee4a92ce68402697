"""OGC API – Features at /ogc: documents, paging, bbox, CRS (Part 2), errors and access."""

from __future__ import annotations

import base64
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import CONFIDENTIAL_FIELDS
from hggis.db.session import transaction
from hggis.features import LAYERS
from hggis.ogc.counting import number_matched
from hggis.parcels import ParcelInput, create_parcel
from tests.access_helpers import make_user
from tests.factories import parcel_code, square
from tests.ogc_helpers import REF_4547_EN, REF_CODE, REF_LAT, REF_LON, SECRET_CONTRACT, SECRET_HOLDER, seed_land

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


@pytest.fixture
def land(clean_db):
    return seed_land(clean_db)


def codes(fc: dict) -> list[str]:
    return [f["id"] for f in fc["features"]]


def rel(doc: dict, name: str) -> str | None:
    return next((link["href"] for link in doc["links"] if link["rel"] == name), None)


def vertices(geometry: dict) -> list[list[float]]:
    return [pt for polygon in geometry["coordinates"] for ring in polygon for pt in ring]


# --- documents -------------------------------------------------------------------------


def test_landing_page_links_the_api_conformance_and_collections(client):
    r = client.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    by_rel = {link["rel"]: link for link in r.json()["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(by_rel)
    assert by_rel["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert by_rel["data"]["href"].endswith("/ogc/collections")
    assert client.get(by_rel["conformance"]["href"]).status_code == 200


def test_conformance_declares_the_exact_classes(client):
    assert client.get("/ogc/conformance").json()["conformsTo"] == [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    ]


def test_openapi_document_is_3_0_and_describes_the_items_parameters(client):
    r = client.get("/ogc/api")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = r.json()
    assert doc["openapi"].startswith("3.0.")
    assert set(doc["paths"]) == {
        "/", "/conformance", "/api", "/collections", "/collections/{collectionId}",
        "/collections/{collectionId}/items", "/collections/{collectionId}/items/{featureId}",
    }
    names = {p["$ref"].rsplit("/", 1)[1] for p in doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]}
    assert {"bbox", "bbox-crs", "crs", "limit", "offset", "cursor", "f"} <= names
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 10_000)
    # every $ref resolves inside the document
    refs = set(re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc)))
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            node = node[part]
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")  # FastAPI's own stays as is
    assert "swagger-ui" in client.get("/ogc/api?f=html").text


def test_collections_for_the_public(client, land):
    doc = client.get("/ogc/collections").json()
    ids = [c["id"] for c in doc["collections"]]
    assert ids == ["counties", "parks", "available_land"]
    land_doc = next(c for c in doc["collections"] if c["id"] == "available_land")
    assert land_doc["storageCrs"] == EPSG.format(4490)
    assert land_doc["crs"][0] == CRS84 and {EPSG.format(c) for c in (4490, 4547, 4548, 4526, 4527)} <= set(land_doc["crs"])
    minx, miny, maxx, maxy = land_doc["extent"]["spatial"]["bbox"][0]
    assert 114.8 < minx < maxx < 115.7 and 29.8 < miny < maxy < 30.6  # CRS84 lon/lat around the seeded land
    assert land_doc["extent"]["spatial"]["crs"] == CRS84
    assert {link["rel"] for link in land_doc["links"]} >= {"self", "items"}
    one = client.get("/ogc/collections/available_land").json()
    assert one["id"] == "available_land" and rel(one, "self").endswith("/ogc/collections/available_land?f=json")


# --- items, paging, bbox ---------------------------------------------------------------


def test_items_defaults_and_shape(client, land):
    r = client.get("/ogc/collections/available_land/items")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    assert r.headers["content-crs"] == f"<{CRS84}>"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == fc["numberReturned"] == len(land.on_offer) + 1  # + the one in 武穴
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fc["timeStamp"])
    assert codes(fc) == sorted(codes(fc))
    assert rel(fc, "next") is None and rel(fc, "prev") is None
    first = fc["features"][0]
    assert first["id"] == first["properties"]["code"] and first["geometry"]["type"] == "MultiPolygon"
    assert "crs" not in first["geometry"]


def test_paging_links_are_complete_and_stable(client, land, clean_db):
    total = len(land.on_offer) + 1
    seen, url, pages = [], "/ogc/collections/available_land/items?limit=3", []
    while url:
        fc = client.get(url).json()
        assert fc["numberMatched"] == total + (1 if pages else 0)  # one parcel is added after page 1
        assert fc["numberReturned"] == len(fc["features"]) <= 3
        pages.append(fc)
        seen += codes(fc)
        url = rel(fc, "next")
        if len(pages) == 1:  # a parcel appearing before the cursor must not shift later pages
            with transaction(clean_db, "test", "insert during paging") as conn:
                create_parcel(conn, ParcelInput(code=parcel_code(0), geometry=square(114.87, 30.45, 80), status="on_offer"))
    assert len(pages) == 3 and seen == sorted(seen) and len(set(seen)) == total
    assert parcel_code(0) not in seen
    # prev of page 2 is the three features just before it (page 1), and before those the inserted one
    back = client.get(rel(pages[1], "prev")).json()
    assert codes(back) == codes(pages[0])
    assert codes(client.get(rel(back, "prev")).json()) == [parcel_code(0)]
    # next/prev keep the other parameters
    assert "limit=3" in rel(pages[0], "next") and rel(pages[0], "prev") is None
    # offset paging gives the same rows, and its prev link goes back by offset
    by_offset = client.get("/ogc/collections/available_land/items?limit=3&offset=4").json()
    assert codes(by_offset)[0] == sorted(seen + [parcel_code(0)])[4]
    assert "offset=1" in rel(by_offset, "prev")


def test_bbox_selects_by_intersection_in_crs84_and_4490(client, land):
    # the first three parcels in 黄州 lie at lon 114.883, 114.886, 114.889 (each ~0.001° wide)
    box84 = "114.8825,30.4495,114.8875,30.4505"
    fc = client.get(f"/ogc/collections/available_land/items?bbox={box84}").json()
    assert codes(fc) == land.on_offer[:2] and fc["numberMatched"] == 2
    # the same box in EPSG:4490 is given latitude first
    box4490 = "30.4495,114.8825,30.4505,114.8875"
    same = client.get(f"/ogc/collections/available_land/items?bbox={box4490}&bbox-crs={EPSG.format(4490)}").json()
    assert codes(same) == codes(fc)
    # and longitude first it is refused (latitude 114.88 is impossible)
    wrong = client.get(f"/ogc/collections/available_land/items?bbox={box84}&bbox-crs={EPSG.format(4490)}")
    assert wrong.status_code == 400 and "latitude" in wrong.json()["description"]


def test_single_item(client, land):
    r = client.get(f"/ogc/collections/available_land/items/{land.on_offer[0]}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    assert r.headers["content-crs"] == f"<{CRS84}>"
    feature = r.json()
    assert feature["type"] == "Feature" and feature["id"] == land.on_offer[0]
    assert {link["rel"] for link in feature["links"]} == {"self", "alternate", "collection"}
    assert client.get("/ogc/collections/available_land/items/421102001001GB99999").status_code == 404
    park = client.get(f"/ogc/collections/parks/items/{land.park_id}").json()
    assert park["id"] == land.park_id and park["properties"]["name"] == "OGC测试园区"
    assert client.get("/ogc/collections/parks/items/not-a-number").status_code == 404
    assert client.get("/ogc/collections/nowhere/items").status_code == 404


# --- CRS (Part 2) ------------------------------------------------------------------------


def _ref_vertex(geometry: dict, expected: tuple[float, float], tol: float) -> list[float]:
    near = [v for v in vertices(geometry) if abs(v[0] - expected[0]) < tol and abs(v[1] - expected[1]) < tol]
    assert near, f"no vertex near {expected} in {vertices(geometry)}"
    return near[0]


def test_crs_4547_returns_northing_easting_of_the_reference_point(client, land):
    url = f"/ogc/collections/available_land/items/{REF_CODE}?crs={EPSG.format(4547)}"
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{EPSG.format(4547)}>"
    easting, northing = REF_4547_EN
    vertex = _ref_vertex(r.json()["geometry"], (northing, easting), 1.0)  # EPSG:4547 axis order: X north, Y east
    assert vertex == pytest.approx([northing, easting], abs=0.01)
    # zone-prefixed EPSG:4526 adds 38 000 000 to the easting
    r = client.get(f"/ogc/collections/available_land/items/{REF_CODE}?crs={EPSG.format(4526)}")
    assert _ref_vertex(r.json()["geometry"], (northing, 38e6 + easting), 1.0) == pytest.approx(
        [northing, 38e6 + easting], abs=0.01)
    # EPSG:4490 is latitude first; CRS84 longitude first (same CGCS2000 numbers)
    lat_lon = client.get(f"/ogc/collections/available_land/items/{REF_CODE}?crs={EPSG.format(4490)}").json()
    assert _ref_vertex(lat_lon["geometry"], (REF_LAT, REF_LON), 1e-9) == [REF_LAT, REF_LON]
    lon_lat = client.get(f"/ogc/collections/available_land/items/{REF_CODE}").json()
    assert _ref_vertex(lon_lat["geometry"], (REF_LON, REF_LAT), 1e-9) == [REF_LON, REF_LAT]


def test_bbox_crs_4547_finds_the_reference_parcel(client, land):
    easting, northing = REF_4547_EN
    box = f"{northing - 5},{easting - 5},{northing + 5},{easting + 5}"  # northing, easting order
    url = f"/ogc/collections/available_land/items?bbox={box}&bbox-crs={EPSG.format(4547)}&crs={EPSG.format(4547)}"
    r = client.get(url)
    assert r.status_code == 200 and codes(r.json()) == [REF_CODE]
    assert r.headers["content-crs"] == f"<{EPSG.format(4547)}>"
    next_or_self = [link["href"] for link in r.json()["links"] if link["rel"] == "self"][0]
    assert "bbox-crs=" in next_or_self and "crs=" in next_or_self
    # the same numbers easting first are outside the area of EPSG:4547: refused with a hint
    swapped = client.get(f"/ogc/collections/available_land/items?bbox={easting - 5},{northing - 5},"
                         f"{easting + 5},{northing + 5}&bbox-crs={EPSG.format(4547)}")
    assert swapped.status_code == 400 and "swapped" in swapped.json()["description"]
    # a box 1 km further north finds nothing
    far = f"{northing + 1000},{easting - 5},{northing + 1010},{easting + 5}"
    empty = client.get(f"/ogc/collections/available_land/items?bbox={far}&bbox-crs={EPSG.format(4547)}").json()
    assert empty["features"] == [] and empty["numberMatched"] == 0


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=115,31,114,30", "bbox"),
        ("bbox=114,30,115,31&bbox=114,30,115,31", "bbox"),
        ("crs=http://www.opengis.net/def/crs/EPSG/0/4326", "crs"),
        ("crs=EPSG:4547", "crs"),
        ("bbox=114,30,115,31&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", "bbox-crs"),
        ("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490", "bbox-crs"),
        ("cursor=notacursor", "cursor"),
        ("cursor=WyJhIiwiNDIxMTAyMDAxMDAxR0IwMDAwMSJd&offset=2", "cursor"),
        ("datetime=yesterday", "datetime"),
        ("f=xml", "f"),
        ("bbbox=114,30,115,31", "bbbox"),
    ],
)
def test_invalid_parameters_get_400_naming_the_parameter(client, query, parameter):
    r = client.get(f"/ogc/collections/available_land/items?{query}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "InvalidParameterValue" and f"'{parameter}'" in body["description"]


def test_unsupported_crs_message_lists_the_supported_ones(client, land):
    r = client.get(f"/ogc/collections/available_land/items/{REF_CODE}?crs=http://www.opengis.net/def/crs/EPSG/0/3857")
    assert r.status_code == 400
    assert "unsupported CRS" in r.json()["description"] and EPSG.format(4547) in r.json()["description"]
    assert client.get("/ogc/collections?limit=3").status_code == 400  # unknown parameter here


def test_valid_datetime_is_accepted(client, land):
    r = client.get("/ogc/collections/available_land/items?datetime=2024-01-01T00:00:00Z/..")
    assert r.status_code == 200 and r.json()["numberMatched"] == len(land.on_offer) + 1


# --- numberMatched ------------------------------------------------------------------------


def test_number_matched_rule(clean_db, land):
    where = "parcels p WHERE p.status = 'on_offer'"
    with clean_db.connect() as conn:
        assert number_matched(conn, where, {}, known_total=5).exact == 5
        exact = number_matched(conn, where, {})
        assert exact.exact == len(land.on_offer) + 1 and exact.estimate is None
        capped = number_matched(conn, where, {}, cap=3)  # more than the cap: omitted, estimate given
        assert capped.exact is None and capped.estimate is not None and capped.estimate >= 4


def test_page_over_the_count_cap_omits_number_matched(client, land, monkeypatch):
    import hggis.ogc.counting as counting

    monkeypatch.setattr(counting, "EXACT_CAP", 2)
    fc = client.get("/ogc/collections/available_land/items?limit=3").json()
    assert "numberMatched" not in fc and fc["numberMatchedEstimate"] >= 3 and fc["numberReturned"] == 3
    last = client.get("/ogc/collections/available_land/items?limit=100").json()  # the page proves the total
    assert last["numberMatched"] == len(land.on_offer) + 1


# --- HTML ------------------------------------------------------------------------------------


def test_html_pages_in_chinese_without_external_assets(client, land):
    pages = {
        "/ogc?f=html": "入口",
        "/ogc/collections?f=html": "要素集合",
        "/ogc/collections/available_land?f=html": "可请求的坐标系",
        "/ogc/collections/available_land/items?f=html&limit=3": "下一页",
        f"/ogc/collections/available_land/items/{land.on_offer[0]}?f=html": "宗地代码",
        "/ogc/conformance?f=html": "符合的标准类",
    }
    for url, phrase in pages.items():
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        assert phrase in r.text, url
        assert not re.search(r'(src|href)="(https?:)?//(?!testserver)', r.text), url
    browser = client.get("/ogc/collections/available_land/items", headers={"Accept": "text/html,*/*"})
    assert browser.headers["content-type"].startswith("text/html")
    assert browser.headers["content-crs"] == f"<{CRS84}>"
    bad = client.get("/ogc/collections/available_land/items?f=html&limit=0")
    assert bad.status_code == 400 and "limit" in bad.text


# --- access ---------------------------------------------------------------------------------


FORBIDDEN = set(LAYERS["parcels_officer"].public_fields) - set(LAYERS["parcels"].public_fields)


def _sweep(client, headers=None) -> tuple[dict[str, set[str]], str]:
    """Every feature of every listed collection (JSON and HTML): property names per collection, all text."""
    fields: dict[str, set[str]] = {}
    texts = [client.get("/ogc/collections", headers=headers).text]
    for coll in client.get("/ogc/collections", headers=headers).json()["collections"]:
        url = f"/ogc/collections/{coll['id']}/items?limit=4"
        while url:
            r = client.get(url, headers=headers)
            texts.append(r.text)
            for f in r.json()["features"]:
                fields.setdefault(coll["id"], set()).update(f["properties"])
                item = client.get(f"/ogc/collections/{coll['id']}/items/{f['id']}?f=html", headers=headers)
                texts.append(item.text)
            url = rel(r.json(), "next")
        texts.append(client.get(f"/ogc/collections/{coll['id']}/items?f=html", headers=headers).text)
    return fields, "\n".join(texts)


def test_anonymous_sweep_finds_no_confidential_field(client, land):
    fields, everything = _sweep(client)
    assert set(fields) == {"counties", "parks", "available_land"}
    for cid, names in fields.items():
        assert names <= set(LAYERS[{"available_land": "parcels"}.get(cid, cid)].public_fields), cid
        assert not names & FORBIDDEN and not names & CONFIDENTIAL_FIELDS
    for secret in (SECRET_HOLDER, SECRET_CONTRACT, "1234.5", land.supplied, *land.reserve):
        assert secret not in everything
    # restricted collections do not exist for the public
    assert client.get("/ogc/collections/parcels").status_code == 404
    assert client.get("/ogc/collections/parcels/items").status_code == 404
    assert client.get(f"/ogc/collections/parcels/items/{land.supplied}").status_code == 404
    assert client.get(f"/ogc/collections/available_land/items/{land.reserve[0]}").status_code == 404


def test_officer_sees_all_parcels_of_their_county_only(client, land, clean_db):
    officer = make_user(clean_db, "ogc.huangzhou", "county_officer", counties=["421102"])
    admin = make_user(clean_db, "ogc.admin", "city_admin")
    ids = [c["id"] for c in client.get("/ogc/collections", headers=officer.headers).json()["collections"]]
    assert ids == ["counties", "parks", "available_land", "parcels", "idle_cases", "constraints"]
    fc = client.get("/ogc/collections/parcels/items?limit=100", headers=officer.headers).json()
    mine = set(codes(fc))
    assert land.supplied in mine and set(land.reserve) <= mine and land.wuxue not in mine
    supplied = client.get(f"/ogc/collections/parcels/items/{land.supplied}", headers=officer.headers).json()
    assert supplied["properties"]["holder"] == SECRET_HOLDER
    assert supplied["properties"]["contract_no"] == SECRET_CONTRACT
    assert client.get(f"/ogc/collections/parcels/items/{land.wuxue}", headers=officer.headers).status_code == 404
    everything = client.get("/ogc/collections/parcels/items?limit=100", headers=admin.headers).json()
    assert land.wuxue in codes(everything) and everything["numberMatched"] == len(mine) + 1
    # land on offer is the same public view for a signed-in user (no officer fields there)
    offer = client.get("/ogc/collections/available_land/items", headers=officer.headers).json()
    assert land.wuxue in codes(offer) and "holder" not in offer["features"][0]["properties"]


def test_park_manager_sees_their_park(client, land, clean_db):
    manager = make_user(clean_db, "ogc.park", "park_manager", parks=[land.park_id])
    fc = client.get("/ogc/collections/parcels/items?limit=100", headers=manager.headers).json()
    assert set(codes(fc)) == {*land.on_offer[:-1], *land.reserve, land.supplied}  # not the two outside the park


def test_bad_token_is_401_not_public(client, land):
    r = client.get("/ogc/collections", headers={"Authorization": "Bearer hggis_nope_nope"})
    assert r.status_code == 401


def test_cursor_is_opaque_base64_of_the_last_id(client, land):
    fc = client.get("/ogc/collections/available_land/items?limit=2").json()
    cursor = re.search(r"cursor=([^&]+)", rel(fc, "next")).group(1)
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert raw == ["a", codes(fc)[-1]]
    with client.app.state.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() > 2


def test_idle_cases_and_constraint_layers_for_signed_in_users(client, land, clean_db):
    import datetime as dt

    import geopandas as gpd

    from hggis.access.policy import operator
    from hggis.idle.cases import open_case
    from hggis.reserves.constraints import import_layer_frame

    admin = operator()
    with transaction(clean_db, admin.actor, "ogc test: a case and a constraint layer") as conn:
        case_id = open_case(conn, admin, land.supplied, dt.date(2024, 3, 1), "测试：超过约定动工日期一年未动工")
        farmland = gpd.GeoDataFrame({"名称": ["测试基本农田"]}, geometry=[square(114.95, 30.46, 300)], crs=4490)
        import_layer_frame(conn, admin, farmland, name="测试永久基本农田", kind="永久基本农田")
    officer = make_user(clean_db, "ogc.idle", "county_officer", counties=["421102"])
    manager = make_user(clean_db, "ogc.idlepark", "park_manager", parks=[land.park_id])

    public_ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert "idle_cases" not in public_ids and "constraints" not in public_ids
    assert client.get("/ogc/collections/idle_cases/items").status_code == 404
    assert client.get("/ogc/collections/constraints/items").status_code == 404

    ids = [c["id"] for c in client.get("/ogc/collections", headers=officer.headers).json()["collections"]]
    assert ids == ["counties", "parks", "available_land", "parcels", "idle_cases", "constraints"]
    cases = client.get("/ogc/collections/idle_cases/items", headers=officer.headers).json()
    assert [f["id"] for f in cases["features"]] == [case_id] and cases["numberMatched"] == 1
    props = cases["features"][0]["properties"]
    assert props["parcel_code"] == land.supplied and props["state_label"] == "疑似闲置（待调查）"
    assert props["holder"] == SECRET_HOLDER and cases["features"][0]["geometry"]["type"] == "MultiPolygon"
    one = client.get(f"/ogc/collections/idle_cases/items/{case_id}?crs={EPSG.format(4547)}", headers=officer.headers)
    assert one.status_code == 200 and one.headers["content-crs"] == f"<{EPSG.format(4547)}>"
    assert 3_300_000 < vertices(one.json()["geometry"])[0][0] < 3_500_000  # northing first
    layers = client.get("/ogc/collections/constraints/items", headers=officer.headers).json()
    assert layers["numberReturned"] == 1
    feature = layers["features"][0]["properties"]
    assert feature["layer"] == "测试永久基本农田" and feature["attributes"]["名称"] == "测试基本农田"
    far = client.get("/ogc/collections/constraints/items?bbox=115.5,30.0,115.6,30.1", headers=officer.headers).json()
    assert far["features"] == []

    # a park manager reads the cases of their park, but has no grant on constraint layers
    assert client.get("/ogc/collections/idle_cases/items", headers=manager.headers).json()["numberMatched"] == 1
    assert client.get("/ogc/collections/constraints/items", headers=manager.headers).status_code == 404
