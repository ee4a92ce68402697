"""The site finder: contiguity, constraint exclusion, sub-sites, slope, ranking, visibility, bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from shapely import wkb
from shapely.geometry import shape
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import PUBLIC, Forbidden, Principal
from hggis.db.session import transaction
from hggis.reserves.common import InvalidRequest
from hggis.reserves.sites import SiteQuery, find_sites, grow_sub_sites
from tests.access_helpers import make_user
from tests.factories import add_park
from tests.reserves_helpers import ADMIN, add, add_layer, gk_box, gk_point, hand_mu, set_slope


def _find(engine, principal=ADMIN, **kw):  # noqa: ANN001, ANN003, ANN202
    with engine.connect() as conn:
        if "max_slope" in kw:
            kw["max_slope_deg"] = kw.pop("max_slope")
        return find_sites(conn, principal, SiteQuery(**kw))


def _site_sets(result) -> list[set[str]]:  # noqa: ANN001
    return [set(r["parcels"]) for r in result["results"]]


# ---------------------------------------------------------------------------------------
# Contiguity
# ---------------------------------------------------------------------------------------


def test_touching_parcels_are_one_site_and_one_metre_apart_are_not(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 200, 200))
        b = add(conn, gk_box(200, 0, 200, 200))  # shares an edge with a
        c = add(conn, gk_box(401, 0, 200, 200))  # 1 m east of b
    result = _find(clean_db, min_mu=10, max_mu=500)
    assert sorted(_site_sets(result), key=len) == [{c}, {a, b}]
    merged = next(r for r in result["results"] if len(r["parcels"]) == 2)
    assert merged["area_mu"] == pytest.approx(hand_mu(gk_box(0, 0, 400, 200)), abs=0.01)
    assert shape(merged["geometry"]).geom_type == "Polygon"  # the union of touching squares is one polygon


def test_survey_sliver_of_a_third_of_a_metre_is_merged(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 200, 200))
        b = add(conn, gk_box(200.3, 0, 200, 200))  # 0.3 m gap: within the 0.5 m tolerance
        c = add(conn, gk_box(0, 200.6, 200, 200))  # 0.6 m gap: outside it
    result = _find(clean_db, min_mu=10, max_mu=500)
    assert sorted(_site_sets(result), key=len) == [{c}, {a, b}]
    assert result["adjacency_tolerance_m"] == 0.5


def test_corner_touch_is_adjacent(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 200, 200))
        b = add(conn, gk_box(200, 200, 200, 200))  # touches a at one corner only
    assert _site_sets(_find(clean_db, min_mu=10, max_mu=500)) == [{a, b}]


def test_blocks_do_not_cross_county_lines(clean_db):
    # A 400 m square on the 黄州/团风 line, cut by the real boundary: two touching parcels, one per county.
    with transaction(clean_db, "test", "setup") as conn:
        halves = conn.execute(
            text(
                """
                WITH line AS (
                    SELECT ST_PointOnSurface(ST_Intersection(ST_Boundary(a.boundary), ST_Buffer(b.boundary, 1e-6))) AS p
                    FROM counties a, counties b WHERE a.adcode = '421102' AND b.adcode = '421121'
                ), square AS (
                    SELECT ST_Transform(ST_Expand(ST_Transform(p, 4547), 200), 4490) AS g FROM line
                )
                SELECT c.adcode, ST_AsBinary(ST_Multi(ST_Intersection(square.g, c.boundary)))
                FROM square, counties c WHERE c.adcode IN ('421102', '421121') ORDER BY c.adcode
                """
            )
        ).all()
        for adcode, geom_wkb in halves:
            add(conn, wkb.loads(bytes(geom_wkb)), adcode=adcode)
    result = _find(clean_db, min_mu=10, max_mu=500)
    assert sorted(r["adcode"] for r in result["results"]) == ["421102", "421121"]


# ---------------------------------------------------------------------------------------
# Constraint layers
# ---------------------------------------------------------------------------------------


def test_red_line_overlap_loses_that_part(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 300, 300))
        b = add(conn, gk_box(300, 0, 300, 300))
        add_layer(conn, [gk_box(500, -50, 200, 400)], "红线")  # covers the east 100 m of b
    result = _find(clean_db, min_mu=50, max_mu=500)
    site = result["results"][0]
    assert set(site["parcels"]) == {a, b}
    expected = hand_mu(gk_box(0, 0, 500, 300))
    assert site["area_mu"] == pytest.approx(expected, abs=0.05)
    assert site["excluded_mu"] == pytest.approx(hand_mu(gk_box(500, 0, 100, 300)), abs=0.05)
    assert site["excluded_by"] == ["红线"] and "已扣除约束层" in site["explanation"]
    assert shape(site["geometry"]).area == pytest.approx(gk_box(0, 0, 500, 300).area, rel=1e-4)


def test_site_below_min_after_cut_is_dropped_and_a_split_block_becomes_two(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        west = [add(conn, gk_box(x, 0, 100, 300)) for x in (0, 100, 200)]
        east = [add(conn, gk_box(x, 0, 100, 300)) for x in (300, 400, 500)]
        add_layer(conn, [gk_box(180, -50, 40, 400)], "生态红线")  # a 40 m strip through the third parcel
    before = hand_mu(gk_box(0, 0, 600, 300))
    whole = _find(clean_db, min_mu=10, max_mu=1000)
    sites = sorted(whole["results"], key=lambda r: r["area_mu"])
    assert len(sites) == 2  # the strip cuts the block in two
    assert set(sites[0]["parcels"]) == {west[0], west[1]}  # 0–180 m: parcel 1 and the west of parcel 2
    assert set(sites[1]["parcels"]) == {west[2], *east}  # 220–600 m: the rest of parcel 3 and the east ones
    assert sum(s["area_mu"] for s in sites) == pytest.approx(before - hand_mu(gk_box(180, 0, 40, 300)), abs=0.05)
    # with a minimum above the western part (180 m × 300 m ≈ 81 亩), only the eastern site is left
    big = _find(clean_db, min_mu=100, max_mu=1000)
    assert _site_sets(big) == [{west[2], *east}]
    assert big["stats"]["blocks_below_min"] == 1


def test_parcel_entirely_inside_a_constraint_is_gone_and_reference_layers_cut_nothing(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 200, 200))
        add(conn, gk_box(200, 0, 200, 200))  # wholly inside the 基本农田 layer
        add_layer(conn, [gk_box(190, -10, 300, 300)], "基本农田", kind="永久基本农田")
        add_layer(conn, [gk_box(0, 0, 500, 500)], "道路面", kind="道路")  # a reference layer: no cut
    result = _find(clean_db, min_mu=10, max_mu=500)
    assert _site_sets(result) == [{a}]
    assert result["results"][0]["area_mu"] == pytest.approx(hand_mu(gk_box(0, 0, 190, 200)), abs=0.05)


def test_inactive_layer_versions_do_not_cut(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        add(conn, gk_box(0, 0, 200, 200))
        add_layer(conn, [gk_box(0, 0, 100, 200)], "红线")
        add_layer(conn, [gk_box(1000, 1000, 10, 10)], "红线")  # replaces version 1
    site = _find(clean_db, min_mu=10, max_mu=500)["results"][0]
    assert site["excluded_mu"] == 0 and site["area_mu"] == pytest.approx(hand_mu(gk_box(0, 0, 200, 200)), abs=0.01)


# ---------------------------------------------------------------------------------------
# Too large: sub-sites
# ---------------------------------------------------------------------------------------


def test_large_block_is_split_into_connected_sub_sites_within_range(clean_db):
    codes = {}
    with transaction(clean_db, "test", "setup") as conn:
        for i in range(4):
            for j in range(3):
                codes[(i, j)] = add(conn, gk_box(i * 200, j * 200, 200, 200))  # ~60 亩 each, 720 in all
    result = _find(clean_db, min_mu=100, max_mu=200)
    assert result["stats"]["blocks_above_max"] == 1 and result["stats"]["sub_sites"] >= 3
    seen: set[str] = set()
    by_code = {v: k for k, v in codes.items()}
    for site in result["results"]:
        assert site["kind"] == "sub_site" and 100 <= site["area_mu"] <= 200
        assert site["block_area_mu"] == pytest.approx(12 * hand_mu(gk_box(0, 0, 200, 200)), abs=0.1)
        members = set(site["parcels"])
        assert not members & seen  # disjoint
        seen |= members
        cells = {by_code[c] for c in members}
        start = next(iter(cells))
        reach, stack = {start}, [start]
        while stack:  # connected through shared edges or corners
            i, j = stack.pop()
            for n in cells:
                if n not in reach and abs(n[0] - i) <= 1 and abs(n[1] - j) <= 1:
                    reach.add(n)
                    stack.append(n)
        assert reach == cells


def test_single_parcel_above_max_is_reported_too_large(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        big = add(conn, gk_box(0, 0, 600, 600))  # ~540 亩
    result = _find(clean_db, min_mu=100, max_mu=300)
    assert result["results"] == []
    assert [t["parcels"] for t in result["too_large"]] == [[big]]


def test_grow_sub_sites_on_a_line():
    nodes = {i: {"mu": 50.0, "x": i * 10.0, "y": 0.0, "seed": (0.0, f"{i:02d}", 1)} for i in range(7)}
    edges = [(i, i + 1) for i in range(6)]
    sites = grow_sub_sites(nodes, edges, 100, 160, max_sites=5)
    assert sites == [[0, 1, 2], [3, 4, 5]]  # 150 亩 each; node 6 alone is below the minimum


# ---------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------


def test_ranking_by_area_fit_and_distance(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        near_mid = add(conn, gk_box(0, 0, 365.15, 365.15))  # ≈ 200 亩, at the reference
        far_mid = add(conn, gk_box(3000, 0, 365.15, 365.15))  # ≈ 200 亩, ~3 km east
        near_small = add(conn, gk_box(0, -500, 260, 260))  # ≈ 101 亩, 135 m south
    ref = gk_point(100, 100)
    result = _find(clean_db, min_mu=100, max_mu=300, near=ref)
    order = [r["parcels"][0] for r in result["results"]]
    assert order == [near_mid, far_mid, near_small]
    top, second, third = result["results"]
    assert top["distance_m"] == 0 and second["distance_m"] == pytest.approx(3000 - 100, abs=2)
    w = {"area_fit": 0.4, "slope": 0.3, "distance": 0.3}
    for site in result["results"]:
        c = site["components"]
        assert c["slope"]["value"] == 0.5  # no terrain statistics: unknown slope scores 0.5
        assert c["distance"]["value"] == pytest.approx(1 / (1 + site["distance_m"] / 5000), abs=1e-3)
        assert c["area_fit"]["value"] == pytest.approx(1 - 0.5 * abs(site["area_mu"] - 200) / 100, abs=1e-3)
        assert site["site_score"] == pytest.approx(sum(c[k]["value"] * w[k] for k in w), abs=1e-3)
        assert "slope_unknown" in site["slope_flags"]
    assert "主要差在距离" in second["explanation"] and "主要差在面积契合" in third["explanation"]
    assert top["explanation"].startswith("第 1 名")


def test_slope_filter_and_score_use_terrain_statistics(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        flat = add(conn, gk_box(0, 0, 300, 300))
        hilly = add(conn, gk_box(1000, 0, 300, 300))
        steep = add(conn, gk_box(2000, 0, 300, 300))
        unknown = add(conn, gk_box(3000, 0, 300, 300))
        set_slope(conn, flat, 2.0, 6.0)
        set_slope(conn, hilly, 5.0, 30.0)
        set_slope(conn, steep, 20.0, 35.0)
    result = _find(clean_db, min_mu=100, max_mu=300, max_slope=15)
    order = [r["parcels"][0] for r in result["results"]]
    assert order == [flat, hilly, unknown]  # steep (mean 20° > 15°) is left out
    # unknown slope scores 0.5: below a 5° parcel (1 − 5/15), above a 9° one (1 − 9/15 = 0.4)
    by = {r["parcels"][0]: r for r in result["results"]}
    assert by[flat]["mean_slope_deg"] == 2.0 and by[flat]["max_slope_deg"] == 6.0
    assert by[flat]["components"]["slope"]["value"] == pytest.approx(1 - 2 / 15, abs=1e-4)
    assert by[unknown]["mean_slope_deg"] is None and by[unknown]["slope_flags"] == ["slope_unknown"]
    assert by[unknown]["slope_unknown_mu"] == by[unknown]["area_mu"]


def test_slope_is_area_weighted_over_members(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 200, 200))
        b = add(conn, gk_box(200, 0, 400, 200))  # twice the area of a
        set_slope(conn, a, 3.0, 5.0)
        set_slope(conn, b, 6.0, 12.0)
    site = _find(clean_db, min_mu=10, max_mu=1000)["results"][0]
    wa, wb = hand_mu(gk_box(0, 0, 200, 200)), hand_mu(gk_box(200, 0, 400, 200))
    assert site["mean_slope_deg"] == pytest.approx((3 * wa + 6 * wb) / (wa + wb), abs=0.01)
    assert site["max_slope_deg"] == 12.0


def test_stale_terrain_statistics_count_as_unknown(clean_db):
    from sqlalchemy import text

    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 300, 300))
        set_slope(conn, a, 30.0, 40.0)
        conn.execute(text("UPDATE parcels SET geom = ST_Multi(ST_GeomFromText(:w, 4490)) WHERE code = :c"),
                     {"w": gk_box(0, 0, 300, 310).wkt, "c": a})
    site = _find(clean_db, min_mu=10, max_mu=1000, max_slope=10)["results"][0]
    assert site["mean_slope_deg"] is None and set(site["slope_flags"]) == {"slope_unknown", "slope_stale"}


def test_reference_park_and_layer(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        park = add_park(conn, "参考园区")
        add(conn, gk_box(0, 0, 300, 300), park_id=park)
        add(conn, gk_box(2000, 0, 300, 300))
        layer = add_layer(conn, [gk_box(2400, 0, 10, 10)], "港口点", kind="港口").layer_id
    by_park = _find(clean_db, min_mu=10, max_mu=500, near_park=park)
    assert by_park["results"][0]["park_ids"] == [park] and by_park["results"][0]["distance_m"] == 0
    by_layer = _find(clean_db, min_mu=10, max_mu=500, near_layer=layer)
    assert by_layer["results"][0]["distance_m"] == pytest.approx(100, abs=1)
    assert by_layer["reference"]["kind"] == "layer"


# ---------------------------------------------------------------------------------------
# Visibility and filters
# ---------------------------------------------------------------------------------------


def test_public_sees_land_on_offer_only_officers_see_reserves_in_scope(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        reserve_hz = add(conn, gk_box(0, 0, 300, 300))
        offer_hz = add(conn, gk_box(1000, 0, 300, 300), status="on_offer")
        reserve_mc = add(conn, gk_box(0, 0, 300, 300, "421181"), adcode="421181")
        offer_mc = add(conn, gk_box(1000, 0, 300, 300, "421181"), status="on_offer", adcode="421181")
        add(conn, gk_box(2000, 0, 300, 300), status="recovered")
        add(conn, gk_box(3000, 0, 300, 300), status="producing")
    every = {reserve_hz, offer_hz, reserve_mc, offer_mc}
    found = lambda p: {c for s in _site_sets(_find(clean_db, p, min_mu=10, max_mu=500)) for c in s}  # noqa: E731
    assert found(PUBLIC) == {offer_hz, offer_mc}
    assert found(ADMIN) == every
    officer = Principal("hz", "county_officer", counties=frozenset({"421102"}))
    assert found(officer) == {reserve_hz, offer_hz, offer_mc}
    with pytest.raises(Forbidden):
        _find(clean_db, PUBLIC, min_mu=10, max_mu=500, near_layer=1)


def test_county_park_and_industry_filters(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        park = add_park(conn, "筛选园区")
        in_park = add(conn, gk_box(0, 0, 300, 300), park_id=park, intended_industry="pharma_chem")
        other_industry = add(conn, gk_box(1000, 0, 300, 300), intended_industry="equipment")
        no_industry = add(conn, gk_box(2000, 0, 300, 300))
        add(conn, gk_box(0, 0, 300, 300, "421181"), adcode="421181")
    sets = lambda **kw: {c for s in _site_sets(_find(clean_db, min_mu=10, max_mu=500, **kw)) for c in s}  # noqa: E731
    assert sets(adcode="421102") == {in_park, other_industry, no_industry}
    assert sets(park_id=park) == {in_park}
    assert sets(adcode="421102", industry="pharma_chem") == {in_park, no_industry}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"min_mu": 400, "max_mu": 300}, "min_mu"),
        ({"min_mu": 100, "max_mu": 300, "adcode": "421199"}, "adcode"),
        ({"min_mu": 100, "max_mu": 300, "industry": "steel"}, "industry"),
        ({"min_mu": 100, "max_mu": 300, "park_id": 999999}, "park_id"),
        ({"min_mu": 100, "max_mu": 300, "max_slope": 95}, "max_slope"),
        ({"min_mu": 100, "max_mu": 300, "near": (10.0, 10.0)}, "near"),
        ({"min_mu": 100, "max_mu": 300, "near": (114.9, 30.4), "near_park": 1}, "near_park"),
        ({"min_mu": 100, "max_mu": 300, "near_layer": 999999}, "near_layer"),
    ],
)
def test_bad_queries_name_the_field(clean_db, kw, field):
    with pytest.raises(InvalidRequest) as err:
        _find(clean_db, **kw)
    assert err.value.field == field


# ---------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------


@pytest.fixture
def client(clean_db):
    return TestClient(create_app(clean_db))


def test_api_public_and_officer(client, clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        reserve = add(conn, gk_box(0, 0, 300, 300))
        offer = add(conn, gk_box(1000, 0, 300, 300), status="on_offer")
    officer = make_user(clean_db, "hz-officer", "county_officer", counties=["421102"])
    public = client.get("/api/sites", params={"min_mu": 10, "max_mu": 500})
    assert public.status_code == 200
    assert [r["parcels"] for r in public.json()["results"]] == [[offer]]
    assert public.json()["results"][0]["geometry"]["type"] == "Polygon"
    signed = client.get("/api/sites", params={"min_mu": 10, "max_mu": 500, "near": "114.88,30.45"}, headers=officer.headers)
    assert signed.status_code == 200
    assert sorted(r["parcels"][0] for r in signed.json()["results"]) == sorted([reserve, offer])
    layer = client.get("/api/sites", params={"min_mu": 10, "max_mu": 500, "near_layer": 1})
    assert layer.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_mu": 400, "max_mu": 300}, "min_mu"),
        ({"min_mu": 100, "max_mu": 300, "adcode": "421199"}, "adcode"),
        ({"min_mu": 100, "max_mu": 300, "adcode": "abc"}, "adcode"),
        ({"min_mu": 100, "max_mu": 300, "near": "x,y"}, "near"),
        ({"min_mu": 0, "max_mu": 300}, "min_mu"),
        ({"max_mu": 300}, "min_mu"),
    ],
)
def test_api_bad_input_is_422_with_reason(client, params, field):
    response = client.get("/api/sites", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(field in d["loc"] for d in detail), detail
    assert all(d["msg"] for d in detail)


def test_cli_sites_find(clean_db, monkeypatch):
    from typer.testing import CliRunner

    from hggis.cli import app
    from hggis.config import get_settings

    with transaction(clean_db, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 300, 300))
    monkeypatch.setenv("DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["sites", "find", "--min", "100", "--max", "300", "--county", "421102",
                                 "--near", "114.88,30.45", "--max-slope", "15"])
        assert ok.exit_code == 0, ok.output
        assert a in ok.stdout and "#1" in ok.stdout and "第 1 名" in ok.stdout
        bad = runner.invoke(app, ["sites", "find", "--min", "400", "--max", "300"])
        assert bad.exit_code == 1 and "larger than the maximum" in bad.output
        unknown = runner.invoke(app, ["sites", "find", "--min", "1", "--max", "3", "--county", "421199"])
        assert unknown.exit_code == 1 and "unknown county" in unknown.output
    finally:
        get_settings.cache_clear()
