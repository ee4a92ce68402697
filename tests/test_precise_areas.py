"""Areas are served and shown to 0.01 亩 everywhere (AREA_DECIMALS), and totals add up to their parts.

At 0.1 亩 a 599.95 亩 reserve read as 600.0, across the plan's threshold; an officer comparing with
the survey saw a different figure in the API, the OGC layer, the tiles and the page.
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping

from api.app import create_app
from hggis.geo import AREA_DECIMALS, ellipsoidal_area_m2, m2_to_mu, total_mu
from tests.access_helpers import make_user
from tests.factories import HUANGZHOU, parcel_code, square
from tests.maps_helpers import tile_of
from tests.mvt import decode


def _side_with_a_second_decimal(lon: float, lat: float) -> tuple[float, float]:
    """A square side whose area in 亩 has a non-zero second decimal, so 0.1 亩 rounding would show."""
    side = 100.0
    while True:
        mu = m2_to_mu(ellipsoidal_area_m2(square(lon, lat, side)))
        if round(mu, 2) != round(mu, 1) and abs(round(mu, 2) - mu) < 0.004:
            return side, mu
        side += 0.37


@pytest.fixture
def offered(clean_db):
    """Two parcels on offer, posted through the API by an administrator."""
    admin = make_user(clean_db, "area_admin", "city_admin")
    headers = {"Authorization": f"Bearer {admin.token}"}
    made = []
    with TestClient(create_app(clean_db)) as client:
        for serial in (1, 2):
            lon, lat = HUANGZHOU[0] + serial * 0.004, HUANGZHOU[1]
            side, mu = _side_with_a_second_decimal(lon, lat)
            code = parcel_code(serial)
            r = client.post("/api/parcels", headers=headers, json={
                "code": code, "geometry": mapping(square(lon, lat, side)), "status": "on_offer", "reason": "挂牌出让"})
            assert r.status_code == 201, r.text
            made.append((code, mu, lon, lat))
        yield client, headers, made


def test_api_ogc_tiles_export_and_page_carry_two_decimals(offered):
    client, headers, made = offered
    for code, mu, lon, lat in made:
        want = round(mu, AREA_DECIMALS)
        one = client.get(f"/api/parcels/{code}", headers=headers).json()
        assert one["properties"]["area_mu"] == pytest.approx(want, abs=1e-9), one["properties"]
        item = client.get(f"/ogc/collections/available_land/items/{code}").json()
        assert item["properties"]["area_mu"] == pytest.approx(want, abs=1e-9)
        z, x, y = tile_of(lon + 0.0002, lat + 0.0002, 15)
        layer = decode(client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf").content)["parcels"]
        areas = {f.properties["code"]: f.properties["area_mu"] for f in layer.features}
        assert areas[code] == pytest.approx(want, abs=1e-6)
        page = client.get(f"/parcels/{code}").text
        assert f"{want:.2f}" in page
    exported = client.get("/api/exports/parcels?format=csv", headers=headers)
    assert exported.status_code == 200, exported.text
    rows = {r["code"]: float(r["area_mu"]) for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))}
    for code, mu, _, _ in made:
        assert abs(rows[code] - mu) < 0.00005  # the export keeps 4 decimals, for comparison with surveys


def test_totals_are_the_sum_of_the_parts_as_shown():
    parts = [0.004, 0.004, 0.004, 599.946]
    shown = [round(p, AREA_DECIMALS) for p in parts]
    assert total_mu(parts) == round(sum(shown), AREA_DECIMALS) == 599.95
