"""The terrain routes: officers see DEMs and coverage; the public sees slope of land on offer only."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from hggis.access.policy import operator
from hggis.db.session import transaction
from hggis.terrain.service import import_dem
from tests.access_helpers import make_user
from tests.factories import add_parcel, add_park, parcel_code
from tests.terrain_helpers import PLANE_SLOPE_DEG, dem_from_function


@pytest.fixture
def terrain_db(clean_db, tmp_path):
    dem = dem_from_function(tmp_path / "plane.tif", 4547, lambda x, y: 0.1 * (y - y.min()))
    with transaction(clean_db, "test") as conn:
        add_parcel(conn, 1, status="on_offer", side_m=200)
        add_parcel(conn, 2, status="reserve", side_m=200)
        add_parcel(conn, 9, status="reserve", side_m=200)  # east of the DEM
    import_dem(clean_db, dem, operator(), name="黄州2m", out_dir=tmp_path / "var")
    return clean_db


@pytest.fixture
def client(terrain_db):
    with TestClient(create_app(terrain_db)) as c:
        yield c


def test_public_sees_slope_of_land_on_offer_only(client):
    on_offer = client.get(f"/api/terrain/parcels/{parcel_code(1)}")
    assert on_offer.status_code == 200
    body = on_offer.json()
    assert body["mean_slope_deg"] == pytest.approx(PLANE_SLOPE_DEG, abs=0.01)
    assert body["terrain_status"] == "full" and "dem_name" not in body
    reserve = client.get(f"/api/terrain/parcels/{parcel_code(2)}")
    assert reserve.status_code == 404
    assert client.get("/api/terrain/parcels/not-a-code").status_code == 422
    assert client.get("/api/terrain/dems").status_code == 401
    assert client.get("/api/terrain/status").status_code == 401


def test_officers_see_dems_status_and_reserves(client, terrain_db):
    admin = make_user(terrain_db, "admin1", "city_admin")
    dems = client.get("/api/terrain/dems", headers=admin.headers)
    assert dems.status_code == 200
    [dem] = dems.json()
    assert dem["name"] == "黄州2m" and dem["crs"] == "EPSG:4547" and dem["parcels"] == 2
    assert "slope_path" not in dem and "source_path" not in dem
    st = client.get("/api/terrain/status", headers=admin.headers).json()
    assert (st["active"], st["full"], st["not_covered"]) == (3, 2, 1)
    assert st["not_covered_parcels"] == [parcel_code(9)]
    reserve = client.get(f"/api/terrain/parcels/{parcel_code(2)}", headers=admin.headers).json()
    assert reserve["dem_name"] == "黄州2m" and reserve["terrain_stale"] is False
    assert np.isclose(reserve["max_slope_deg"], PLANE_SLOPE_DEG, atol=0.01)


def test_county_scope_and_park_manager_refusal(client, terrain_db):
    wuxue = make_user(terrain_db, "wuxue1", "county_officer", counties=["421182"])
    assert client.get(f"/api/terrain/parcels/{parcel_code(2)}", headers=wuxue.headers).status_code == 404
    st = client.get("/api/terrain/status", headers=wuxue.headers).json()
    assert st["active"] == 0
    with transaction(terrain_db, "test") as conn:
        park = add_park(conn)
    pm = make_user(terrain_db, "pm1", "park_manager", parks=[park])
    assert client.get("/api/terrain/dems", headers=pm.headers).status_code == 403
