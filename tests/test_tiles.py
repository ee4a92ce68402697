"""Vector tiles: content against the database, public attributes only, ETag, invalidation, GCJ-02."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import CONFIDENTIAL_FIELDS, PUBLIC, operator
from hggis.db.session import transaction
from hggis.geo import wgs84_to_gcj02
from hggis.mapdata.land import LAND_FIELDS
from hggis.tiles import TILE_LAYERS, gcj_offset, prepare
from tests.maps_helpers import add_user, load_maps_demo, tile_lonlat, tile_of
from tests.mvt import decode

Z = 14


class _Empty:
    features: list = []


@pytest.fixture(scope="module")
def demo(engine):
    from tests.conftest import wipe_data

    load_maps_demo(engine)
    token, _ = add_user(engine, "tiles_admin", "city_admin")
    with TestClient(create_app(engine)) as client:
        yield client, engine, {"Authorization": f"Bearer {token}"}
    wipe_data(engine)


def _busiest_tile(engine, status: str = "on_offer") -> tuple[int, int, int]:
    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM parcels WHERE status = :s ORDER BY id LIMIT 1"
        ), {"s": status}).one()
    return tile_of(lon, lat, Z)


def _codes_in_tile(engine, z: int, x: int, y: int, where: str) -> set[str]:
    """Parcels whose outline intersects the tile (the tile's own box, no buffer)."""
    with engine.connect() as conn:
        return set(conn.execute(text(
            f"SELECT code FROM parcels p WHERE {where} AND ST_Intersects(p.geom, ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490))"
        ), {"z": z, "x": x, "y": y}).scalars())


def test_public_tile_holds_exactly_the_land_on_offer_with_public_attributes(demo):
    client, engine, _auth = demo
    z, x, y = _busiest_tile(engine)
    r = client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(r.content)["parcels"]
    got = {f.properties["code"] for f in layer.features}
    expected = _codes_in_tile(engine, z, x, y, "p.status = 'on_offer' AND p.retired_at IS NULL")
    assert expected and expected <= got  # plus neighbours reaching into the 64-px buffer
    assert set(layer.features[0].properties) <= set(LAND_FIELDS)
    for f in layer.features:
        assert not set(f.properties) & CONFIDENTIAL_FIELDS
        assert f.properties["status"] == "on_offer"
        assert f.geom_type == 3
    with engine.connect() as conn:
        area = conn.execute(text("SELECT round(area_mu::numeric, 2)::float8 FROM parcels WHERE code = :c"),
                            {"c": layer.features[0].properties["code"]}).scalar()
    assert layer.features[0].properties["area_mu"] == area


def test_public_tiles_never_carry_other_statuses(demo):
    client, engine, _auth = demo
    z, x, y = _busiest_tile(engine, "producing")
    layers = decode(client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf").content)
    statuses = {f.properties["status"] for f in layers["parcels"].features} if "parcels" in layers else set()
    assert statuses <= {"on_offer"}
    assert _codes_in_tile(engine, z, x, y, "p.status = 'producing'")


def test_officer_tiles_need_sign_in_and_follow_scope(demo):
    client, engine, auth = demo
    z, x, y = _busiest_tile(engine, "producing")
    assert client.get(f"/tiles/parcels_officer/{z}/{x}/{y}.pbf").status_code == 401
    r = client.get(f"/tiles/parcels_officer/{z}/{x}/{y}.pbf", headers=auth)
    assert r.status_code == 200 and "private" in r.headers["cache-control"]
    layer = decode(r.content)["parcels_officer"]
    expected = _codes_in_tile(engine, z, x, y, "p.retired_at IS NULL")
    assert expected <= {f.properties["code"] for f in layer.features}
    with engine.connect() as conn:
        adcode, county = conn.execute(text("SELECT p.adcode, c.name FROM parcels p JOIN counties c USING (adcode) "
                                           "WHERE p.code = :c"), {"c": layer.features[0].properties["code"]}).one()
    own, _ = add_user(engine, f"tiles_officer_{adcode}", "county_officer", counties=[adcode])
    mine = decode(client.get(f"/tiles/parcels_officer/{z}/{x}/{y}.pbf", headers={"Authorization": f"Bearer {own}"}).content)
    assert {f.properties["county"] for f in mine["parcels_officer"].features} == {county}
    other = "421102" if adcode != "421102" else "421181"
    token, _ = add_user(engine, f"tiles_officer_{other}", "county_officer", counties=[other])
    r = client.get(f"/tiles/parcels_officer/{z}/{x}/{y}.pbf", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert county not in {f.properties["county"] for f in decode(r.content).get("parcels_officer", _Empty()).features}
    assert r.headers["etag"] != client.get(f"/tiles/parcels_officer/{z}/{x}/{y}.pbf", headers=auth).headers["etag"]


def test_evaluation_tiles_carry_the_runs_classes(demo):
    client, engine, auth = demo
    with engine.connect() as conn:
        run = conn.execute(text("SELECT max(id) FROM evaluation_runs")).scalar()
        code, lon, lat, klass = conn.execute(text(
            "SELECT p.code, ST_X(ST_Centroid(p.geom)), ST_Y(ST_Centroid(p.geom)), r.class_code FROM evaluation_land l "
            "JOIN parcels p ON p.id = l.parcel_id JOIN evaluation_results r ON r.run_id = l.run_id "
            "AND r.enterprise_id = l.enterprise_id WHERE l.run_id = :r AND r.class_code = 'D' LIMIT 1"), {"r": run}).one()
    z, x, y = tile_of(lon, lat, Z)
    assert client.get(f"/tiles/evaluation/{z}/{x}/{y}.pbf?run={run}").status_code == 401
    assert client.get(f"/tiles/evaluation/{z}/{x}/{y}.pbf", headers=auth).status_code == 422
    assert client.get(f"/tiles/evaluation/{z}/{x}/{y}.pbf?run=99999", headers=auth).status_code == 422
    layer = decode(client.get(f"/tiles/evaluation/{z}/{x}/{y}.pbf?run={run}", headers=auth).content)["evaluation"]
    by_code = {f.properties["code"]: f.properties for f in layer.features}
    assert by_code[code]["class_code"] == klass == "D"


def test_bad_requests(demo):
    client, _engine, _auth = demo
    assert client.get("/tiles/nope/1/0/0.pbf").status_code == 404
    assert client.get("/tiles/parcels/3/8/0.pbf").status_code == 422
    assert client.get("/tiles/parcels/30/0/0.pbf").status_code == 422
    assert client.get("/tiles/parcels/14/0/0.pbf?shift=mars").status_code == 422
    assert client.get("/tiles/parcels/14/0/0.pbf?adcode=000000").status_code == 422
    low = client.get("/tiles/parcels/5/26/13.pbf")
    assert low.status_code == 200 and low.content == b""  # below the layer's minimum zoom


def test_etag_revalidation_and_invalidation_on_edit(demo):
    client, engine, _auth = demo
    z, x, y = _busiest_tile(engine)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    first = client.get(url)
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, no-cache"
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    with engine.connect() as conn:
        code = decode(first.content)["parcels"].features[0].properties["code"]
    # an officer takes the parcel off the market: the tile must change at once
    with transaction(engine, operator().actor, "地块已出让") as conn:
        conn.execute(text("UPDATE parcels SET status = 'supplied' WHERE code = :c"), {"c": code})
    after = client.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["etag"] != tag
    assert code not in {f.properties["code"] for f in decode(after.content)["parcels"].features}
    # a geometry edit of another parcel in the tile changes the ETag too
    tag2 = after.headers["etag"]
    with transaction(engine, operator().actor, "测绘更正") as conn:
        conn.execute(text("UPDATE parcels SET geom = ST_Multi(ST_Buffer(geom, 0.00001, 'join=mitre')) WHERE code = "
                          "(SELECT code FROM parcels WHERE status = 'on_offer' AND code <> :c AND geom && "
                          "ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490) LIMIT 1)"), {"c": code, "z": z, "x": x, "y": y})
    assert client.get(url).headers["etag"] != tag2
    # a change elsewhere leaves this tile's ETag alone
    tag3 = client.get(url).headers["etag"]
    with transaction(engine, operator().actor, "远处地块") as conn:
        conn.execute(text("UPDATE parcels SET land_use = land_use WHERE id = (SELECT id FROM parcels WHERE "
                          "NOT geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.5), 4490) LIMIT 1)"),
                     {"z": z, "x": x, "y": y})
    assert client.get(url).headers["etag"] == tag3


def test_tile_filter_uses_the_gist_index_in_the_storage_srid(demo):
    _client, engine, _auth = demo
    z, x, y = _busiest_tile(engine)
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # tiny demo table: make the planner show its index use
        req = prepare(conn, PUBLIC, "parcels", z, x, y)
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT 1 FROM parcels p WHERE p.geom && "
            "ST_Translate(ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4490), 0, 0)"),
            {"z": z, "x": x, "y": y}).scalars())
        assert req.layer.name == "parcels"
    assert "idx_parcels_geom" in plan or "Index" in plan
    assert "ST_Transform(p.geom" not in plan and "st_transform(p.geom" not in plan.lower().replace(" ", "")


def test_gcj02_tiles_are_shifted_about_550_m(demo):
    client, engine, _auth = demo
    z, x, y = _busiest_tile(engine)
    plain = decode(client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf").content)["parcels"]
    shifted_tile = tile_of(*wgs84_to_gcj02(*tile_lonlat(z, x + 0.5, y + 0.5)), z)
    shifted = decode(client.get(f"/tiles/parcels/{z}/{shifted_tile[1]}/{shifted_tile[2]}.pbf?shift=gcj02").content)
    by_code = {f.properties["code"]: f for f in shifted["parcels"].features}
    geod = Geod(ellps="WGS84")
    checked = 0
    for f in plain.features:
        g = by_code.get(f.properties["code"])
        if g is None:
            continue
        (px, py), (gx, gy) = f.vertices[0], g.vertices[0]
        lon1, lat1 = tile_lonlat(z, x + px / plain.extent, y + py / plain.extent)
        lon2, lat2 = tile_lonlat(z, shifted_tile[1] + gx / plain.extent, shifted_tile[2] + gy / plain.extent)
        _a, _b, dist = geod.inv(lon1, lat1, lon2, lat2)
        assert 520 < dist < 620 and lon2 > lon1 and lat2 < lat1, dist
        checked += 1
    assert checked > 0


def test_gcj02_offset_varies_by_less_than_half_a_pixel_across_a_tile():
    """Translating a whole tile by its centre's offset is exact to well under a pixel at every zoom."""
    geod = Geod(ellps="WGS84")
    for z in range(8, 19):
        _z, x, y = tile_of(115.2, 30.6, z)
        dx, dy = gcj_offset(z, x, y)
        worst = 0.0
        for cx, cy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            lon, lat = tile_lonlat(z, x + cx, y + cy)
            glon, glat = wgs84_to_gcj02(lon, lat)
            _a, _b, err = geod.inv(lon + dx, lat + dy, glon, glat)
            worst = max(worst, err)
        pixel_m = 40075016.686 * math.cos(math.radians(30.6)) / (256 * 2 ** z)
        assert worst < 0.5 * pixel_m, (z, worst, pixel_m)


def test_layer_definitions_use_the_features_allow_lists():
    from hggis.features import LAYERS

    public = TILE_LAYERS["parcels"]
    assert set(LAYERS["parcels"].public_fields) <= set(public.fields)
    assert public.scope_sql is None and public.cache == "public"
    officer = TILE_LAYERS["parcels_officer"]
    assert set(officer.fields) <= set(LAYERS["parcels_officer"].public_fields)
    assert not set(public.fields) & CONFIDENTIAL_FIELDS


def test_idle_tiles_hold_the_scans_candidates_and_follow_case_changes(demo):
    client, engine, auth = demo
    with engine.connect() as conn:
        scan = conn.execute(text("SELECT max(id) FROM idle_scans")).scalar()
        lon, lat = conn.execute(text(
            "SELECT ST_X(ST_Centroid(p.geom)), ST_Y(ST_Centroid(p.geom)) FROM idle_scan_results x JOIN parcels p "
            "ON p.id = x.parcel_id WHERE x.scan_id = :s ORDER BY p.id LIMIT 1"), {"s": scan}).one()
    z, x, y = tile_of(lon, lat, Z)
    url = f"/tiles/idle/{z}/{x}/{y}.pbf?scan={scan}"
    assert client.get(url).status_code == 401
    assert client.get(f"/tiles/idle/{z}/{x}/{y}.pbf", headers=auth).status_code == 422
    first = client.get(url, headers=auth)
    layer = decode(first.content)["idle"]
    with engine.connect() as conn:
        expected = set(conn.execute(text(
            "SELECT DISTINCT p.code FROM idle_scan_results x JOIN parcels p ON p.id = x.parcel_id WHERE x.scan_id = :s "
            "AND ST_Intersects(p.geom, ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490))"),
            {"s": scan, "z": z, "x": x, "y": y}).scalars())
    got = {f.properties["code"]: f.properties for f in layer.features}
    assert expected and expected <= set(got)
    assert all(p["rules"] and p["case_state"] for p in got.values())
    with transaction(engine, operator().actor, "案件更新") as conn:
        conn.execute(text("UPDATE idle_cases SET updated_at = now() + interval '1 second', version = version + 1 "
                          "WHERE id = (SELECT min(id) FROM idle_cases)"))
    assert client.get(url, headers=auth).headers["etag"] != first.headers["etag"]


def test_idle_map_switches_to_tiles_when_large(demo):
    from hggis.mapdata.idle import idle_map

    _client, engine, _auth = demo
    with engine.connect() as conn:
        small = idle_map(conn, operator(), inline_max=100000)
        large = idle_map(conn, operator(), inline_max=1)
    assert large.candidates is None and large.candidate_count == len(small.candidates["features"]) > 1


def test_public_tile_etag_ignores_non_public_parcels_but_follows_public_ones(demo):
    """Side channel: editing a parcel the public layer does not show must not change its ETag."""
    client, engine, _auth = demo
    z, x, y = _busiest_tile(engine)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    env = {"z": z, "x": x, "y": y}
    box = "geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490)"
    with engine.connect() as conn:
        hidden = conn.execute(text(f"SELECT id FROM parcels WHERE status <> 'on_offer' AND {box} LIMIT 1"), env).scalar()
    assert hidden is not None
    tag = client.get(url).headers["etag"]
    with transaction(engine, operator().actor, "非公开地块更正") as conn:
        conn.execute(text("UPDATE parcels SET land_use = land_use, geom = ST_Multi(ST_Buffer(geom, 0.000005, "
                          "'join=mitre')) WHERE id = :i"), {"i": hidden})
    assert client.get(url).headers["etag"] == tag
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    with transaction(engine, operator().actor, "公开地块更正") as conn:
        conn.execute(text(f"UPDATE parcels SET land_use = land_use WHERE id = (SELECT id FROM parcels WHERE "
                          f"status = 'on_offer' AND retired_at IS NULL AND {box} LIMIT 1)"), env)
    fresh = client.get(url, headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != tag
    # the ETag of the full answer and of the revalidation query agree
    assert client.get(url, headers={"If-None-Match": fresh.headers["etag"]}).status_code == 304


def test_tile_sql_builds_each_geometry_once_without_jit_or_zero_shift(demo):
    from hggis.tiles import _rows_sql, render

    _client, engine, _auth = demo
    z, x, y = _busiest_tile(engine)
    with engine.connect() as conn:
        req = prepare(conn, PUBLIC, "parcels", z, x, y)
        assert "ST_Translate" not in _rows_sql(req, True)
        assert "ST_Translate" in _rows_sql(prepare(conn, PUBLIC, "parcels", z, x, y, shift="gcj02"), True)
        data, tag = render(conn, req)
        assert data and tag.startswith('"')
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        conn.rollback()
        plan = "\n".join(conn.execute(text(
            "EXPLAIN (VERBOSE, COSTS OFF) WITH r AS MATERIALIZED (" + _rows_sql(req, True) + ") "
            "SELECT count(*) FROM r WHERE geom IS NOT NULL"),
            {"z": z, "x": x, "y": y, "margin": 64 / 4096}).scalars())
    assert plan.lower().count("st_asmvtgeom(") == 1, plan
