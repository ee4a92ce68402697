"""The 亩均地图 with many stored runs: it reads the newest run only, and agrees with its tiles."""

from __future__ import annotations

from sqlalchemy import text

from hggis.access.policy import Principal, operator
from hggis.demo.loader import load_demo
from hggis.evaluation.runs import result_scope, run_evaluation
from hggis.mapdata.evaluation import evaluation_map
from hggis.tiles import TILE_LAYERS


def test_ten_runs_the_map_counts_the_newest_run_like_its_tiles(clean_db):
    load_demo(clean_db, seed=2023)
    runs = [run_evaluation(clean_db, operator(), 2024, proceed=True, reason=f"第 {k} 次").run_id for k in range(10)]
    with clean_db.begin() as conn:  # the newest run differs from the others: one firm lost its land
        conn.execute(text("DELETE FROM evaluation_land WHERE run_id = :r AND parcel_id = "
                          "(SELECT min(parcel_id) FROM evaluation_land WHERE run_id = :r)"), {"r": runs[-1]})
    officer = Principal(username="m", role="county_officer", counties=frozenset({"421102"}))
    admin = Principal(username="a", role="city_admin")
    source = TILE_LAYERS["evaluation"].source  # what the tiles draw, parcel by parcel
    for who in (admin, officer):
        with clean_db.connect() as conn:
            data = evaluation_map(conn, who, 2024, inline_max=100_000)
            scope, params = result_scope(who, "r")
            by_tiles = dict(conn.execute(text(
                f"SELECT coalesce(r.class_code, '-'), count(*) FROM {source} WHERE p.retired_at IS NULL AND {scope} "
                "GROUP BY 1"), {**params, "run": runs[-1]}).all())
        assert data.run["id"] == runs[-1]
        assert data.class_counts == by_tiles and data.parcel_count == sum(by_tiles.values()) > 0
        assert len(data.parcels["features"]) == data.parcel_count
    with clean_db.connect() as conn:
        everyone = evaluation_map(conn, admin, 2024).parcel_count
        mine = evaluation_map(conn, officer, 2024).parcel_count
    assert 0 < mine < everyone
