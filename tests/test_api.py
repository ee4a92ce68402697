"""The first API and the home page, over a real database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from hggis.db.session import transaction
from tests.factories import add_parcel, add_park


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def test_health_reports_postgis_and_migration(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["postgis_version"].startswith("3.")
    assert body["migration"]["up_to_date"] is True


def test_counties_geojson_has_real_boundaries(client):
    fc = client.get("/api/counties").json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == 11
    by_code = {f["properties"]["adcode"]: f for f in fc["features"]}
    assert by_code["421171"]["geometry"] is None
    assert by_code["421102"]["geometry"]["type"] == "MultiPolygon"
    assert "crs" not in by_code["421102"]["geometry"]  # RFC 7946: CRS84 implied, no crs member
    assert by_code["421102"]["properties"]["name"] == "黄州区"


def test_parcels_paging_is_stable_and_complete(client, clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        park = add_park(conn)
        for serial in range(1, 8):
            add_parcel(conn, serial, status="on_offer", park_id=park)
    seen, url = [], "/api/parcels?limit=3"
    while url:
        page = client.get(url).json()
        assert page["numberMatched"] == 7
        seen += [f["properties"]["code"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == sorted(seen) and len(set(seen)) == 7
    first = client.get("/api/parcels?limit=1").json()["features"][0]
    assert first["properties"]["park"] == "测试园区" and first["properties"]["status_label"] == "挂牌出让中"
    assert 14 <= first["properties"]["area_mu"] <= 16  # a ~100 m square is ~15 亩


def test_parcels_bbox_filter(client, clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        add_parcel(conn, 1, status="on_offer")  # near 114.883
        add_parcel(conn, 9, status="on_offer")  # near 114.907
        add_parcel(conn, 2, status="producing")  # not public: never listed to anonymous callers
    fc = client.get("/api/parcels?bbox=114.880,30.44,114.890,30.46").json()
    assert client.get("/api/parcels").json()["numberMatched"] == 2
    assert [f["properties"]["code"][-2:] for f in fc["features"]] == ["01"]


@pytest.mark.parametrize(
    "query",
    ["bbox=1,2,3", "bbox=a,b,c,d", "bbox=115,31,114,30", "limit=0", "limit=100000", "offset=-1", "status=xx", "adcode=110101"],
)
def test_bad_parameters_get_422(client, query):
    response = client.get(f"/api/parcels?{query}")
    assert response.status_code == 422, response.text


def test_home_page_in_chinese_lists_holdings(client, clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        add_parcel(conn, 1)
    html = client.get("/").text
    assert "系统概况" in html and "标准地储备" in html
    assert "示例数据" not in html  # not demo data here
    assert 'href="/docs"' in html


def test_docs_are_served_offline(client):
    html = client.get("/docs").text
    assert "/assets/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert client.get("/assets/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"].startswith("黄冈")
