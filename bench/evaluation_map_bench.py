"""Benchmark: the 亩均地图 (/maps/evaluation data) with ten evaluation runs stored.

Issue 19.5: with stale statistics the page took minutes; the target is under 2 s with ten
runs. Generates N enterprises with bench/evaluation_bench.py's generator in a throw-away
embedded cluster, stores ten runs of 2024 (each analysed after writing, as the product
does), then times ``hggis.mapdata.evaluation.evaluation_map`` for a city administrator, a
county officer and a park manager, each call in its own connection as a page request,
interleaved with the previous query shape (a LATERAL lookup per parcel over all parcels)
so the two are compared on the same data and load.

    .venv/bin/python bench/evaluation_map_bench.py [--n 100000] [--runs 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from evaluation_bench import free_port, generate  # noqa: E402

from hggis.access.policy import Principal, operator  # noqa: E402
from hggis.evaluation.runs import result_scope, run_evaluation  # noqa: E402
from hggis.mapdata.evaluation import evaluation_map  # noqa: E402

# The shape before issue 19.5: one LATERAL lookup of evaluation_land per live parcel.
OLD_SOURCE = (
    "parcels p JOIN LATERAL (SELECT l.enterprise_id FROM evaluation_land l WHERE l.run_id = :run "
    "AND l.parcel_id = p.id ORDER BY l.land_mu DESC, l.enterprise_id LIMIT 1) u ON TRUE "
    "JOIN evaluation_results r ON r.run_id = :run AND r.enterprise_id = u.enterprise_id "
    "JOIN counties c ON c.adcode = p.adcode LEFT JOIN parks k ON k.id = p.park_id"
)


def old_counts(conn, principal: Principal, run_id: int) -> int:  # noqa: ANN001
    scope, params = result_scope(principal, "r")
    where = f"p.retired_at IS NULL AND {scope}"
    bind = {**params, "run": run_id}
    n = conn.execute(text(f"SELECT count(*) FROM {OLD_SOURCE} WHERE {where}"), bind).scalar_one()
    conn.execute(text(f"SELECT coalesce(r.class_code, '-'), count(*) FROM {OLD_SOURCE} WHERE {where} GROUP BY 1"),
                 bind).all()
    return int(n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from hggis.db.cluster import EmbeddedCluster
    from hggis.db.migrate import upgrade

    root = ROOT / "bench" / "out" / "var" / "evalmap-pg"
    shutil.rmtree(root, ignore_errors=True)
    cluster = EmbeddedCluster(root, free_port())
    try:
        cluster.up()
        cluster.create_database("bench")
        engine = create_engine(cluster.url("bench"))
        upgrade(engine)
        counts = generate(engine, args.n)
        print(f"generated {counts}; load average {os.getloadavg()}", flush=True)
        t0 = time.perf_counter()
        for _ in range(args.runs):
            run_evaluation(engine, operator(), 2024, reason="benchmark")
        print(f"{args.runs} runs stored in {time.perf_counter() - t0:.0f} s", flush=True)
        with engine.connect() as conn:
            run_id = conn.execute(text("SELECT max(id) FROM evaluation_runs")).scalar_one()
            park = conn.execute(text("SELECT park_id FROM evaluation_results WHERE run_id = :r AND park_id IS NOT NULL "
                                     "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"), {"r": run_id}).scalar_one()
            county = conn.execute(text("SELECT adcode FROM parks WHERE id = :k"), {"k": park}).scalar_one()
        who = {
            "city_admin": Principal(username="bench-admin", role="city_admin"),
            "county_officer": Principal(username="bench-officer", role="county_officer", counties=frozenset({county})),
            "park_manager": Principal(username="bench-manager", role="park_manager", parks=frozenset({park})),
        }
        rows = []
        for role, principal in who.items():
            new_t, old_t = [], []
            for _ in range(args.repeat):
                with engine.connect() as conn:
                    t = time.perf_counter()
                    data = evaluation_map(conn, principal, 2024)
                    new_t.append(time.perf_counter() - t)
                with engine.connect() as conn:
                    t = time.perf_counter()
                    n_old = old_counts(conn, principal, run_id)
                    old_t.append(time.perf_counter() - t)
            assert n_old == data.parcel_count, (role, n_old, data.parcel_count)
            rows.append(f"| {role} | {data.parcel_count:,} | {'inline' if data.parcels else 'tiles'} | "
                        f"{statistics.median(new_t) * 1000:.0f} | {max(new_t) * 1000:.0f} | "
                        f"{statistics.median(old_t) * 1000:.0f} | {max(old_t) * 1000:.0f} | "
                        f"{statistics.median(old_t) / statistics.median(new_t):.1f}× |")
            print(rows[-1], flush=True)
        print("| role | parcels on the map | parcels drawn | map data median (ms) | max (ms) | "
              "previous count queries median (ms) | max (ms) | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print(f"load average at end: {os.getloadavg()}")
        engine.dispose()
    finally:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
