"""Idle-land scan benchmark: `run_scan` over 100 000 and 1 000 000 contracted parcels.

Starts a throw-away embedded cluster under bench/out/idle-var, migrates one database per
size, fills it with synthetic parcels by set-based SQL (generate_series; the audit
triggers of ``parcels`` are disabled for this throw-away database only, so history is not
written for a million synthetic rows), then times two scans as of different dates (the
second also joins the first scan's results to find first-detection dates) and the
deadline list. Prints a Markdown table for bench/RESULTS.md.

    .venv/bin/python bench/idle_bench.py [--sizes 100000 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import socket
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hggis.access.policy import operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402
from hggis.identifiers import make_credit_code  # noqa: E402
from hggis.idle.deadlines import deadlines  # noqa: E402
from hggis.idle.scan import run_scan  # noqa: E402

ENTERPRISES = 100_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(engine: Engine, n: int) -> float:
    """Synthetic parks, enterprises (with 2024 output), parcels with contracts, indicators, causes."""
    started = time.perf_counter()
    with transaction(engine, "bench", "synthetic idle-land data") as conn:
        conn.execute(text("ALTER TABLE parcels DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE enterprises DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE enterprise_years DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE control_indicators DISABLE TRIGGER USER"))
        conn.execute(text("SELECT setseed(0.42)"))
        conn.execute(text(
            "INSERT INTO parks (name, adcode, level) SELECT '基准园区' || adcode, adcode, '省级' FROM counties "
            "WHERE has_boundary"
        ))
        codes = [make_credit_code(f"91421102MA{i:07d}") for i in range(1, ENTERPRISES + 1)]
        conn.execute(
            text(
                "INSERT INTO enterprises (credit_code, name, adcode, gbt4754_code) "
                "SELECT c, '基准企业' || i, '421102', CASE WHEN i % 200 = 0 THEN '3031' ELSE '2710' END "
                "FROM unnest(CAST(:codes AS text[])) WITH ORDINALITY AS t(c, i)"
            ),
            {"codes": codes},
        )
        conn.execute(text(
            "INSERT INTO enterprise_years (enterprise_id, year, output) "
            "SELECT id, 2024, round((random() * 30000)::numeric, 2) FROM enterprises"
        ))
        conn.execute(
            text(
                """
                WITH c AS (
                  SELECT row_number() OVER (ORDER BY adcode) - 1 AS k, adcode,
                         ST_X(ST_PointOnSurface(boundary)) AS x0, ST_Y(ST_PointOnSurface(boundary)) AS y0
                    FROM counties WHERE has_boundary
                ),
                g AS (
                  SELECT i, c.adcode, c.x0, c.y0, (i / 10) AS j, k.id AS park_id, random() AS u, random() AS v,
                         DATE '2017-01-01' + (random() * 3000)::int AS start
                    FROM generate_series(0, :n - 1) AS i
                    JOIN c ON c.k = i % 10
                    JOIN parks k ON k.adcode = c.adcode
                )
                INSERT INTO parcels (code, geom, adcode, park_id, status, holder_id, contract_kind, contract_no,
                                     land_price, agreed_start_date, agreed_completion_date, planned_investment,
                                     started_on, built_footprint_m2, investment_to_date, halted_since, completed_on,
                                     production_stopped_since)
                SELECT g.adcode || lpad((g.j / 100000)::text, 3, '0') || '001GB' || lpad((g.j % 100000)::text, 5, '0'),
                       ST_Multi(ST_MakeEnvelope(g.x0 + (g.j % 400) * 0.0012, g.y0 + (g.j / 400 % 400) * 0.0012,
                                                g.x0 + (g.j % 400) * 0.0012 + 0.001,
                                                g.y0 + (g.j / 400 % 400) * 0.0012 + 0.001, 4490)),
                       g.adcode, g.park_id,
                       CASE WHEN g.u < 0.30 THEN 'supplied' WHEN g.u < 0.50 THEN 'under_construction'
                            WHEN g.u < 0.95 THEN 'producing' ELSE 'idle_candidate' END,
                       1 + (g.i % :firms), '出让', 'B' || g.i, round((300 + g.v * 2000)::numeric, 2), g.start,
                       g.start + 900, round((3000 + g.v * 4000)::numeric, 2),
                       CASE WHEN g.u >= 0.30 AND g.u < 0.95 THEN g.start + (g.v * 200)::int END,
                       CASE WHEN g.u >= 0.30 AND g.u < 0.95 THEN 3000 + g.v * 6000 END,
                       CASE WHEN g.u >= 0.30 AND g.u < 0.95 THEN round((1000 + g.v * 5000)::numeric, 2) END,
                       CASE WHEN g.u >= 0.30 AND g.u < 0.50 AND g.v < 0.3 THEN g.start + 400 END,
                       CASE WHEN g.u >= 0.50 AND g.u < 0.95 THEN g.start + 700 END,
                       CASE WHEN g.u >= 0.50 AND g.u < 0.95 AND g.v < 0.05 THEN g.start + 1200 END
                  FROM g
                """
            ),
            {"n": n, "firms": ENTERPRISES},
        )
        conn.execute(text(
            "INSERT INTO control_indicators (parcel_id, investment_intensity, output_intensity) "
            "SELECT id, 250, 400 FROM parcels WHERE id % 10 = 0"
        ))
        conn.execute(text(
            "INSERT INTO idle_delay_causes (parcel_id, reason_code, recorded_on) "
            "SELECT id, 'land_not_delivered', agreed_start_date + 200 FROM parcels WHERE id % 100 = 7"
        ))
        conn.execute(text(
            "INSERT INTO idle_extensions (parcel_id, agreement_no, signed_on, new_start_date) "
            "SELECT id, 'BC' || id, agreed_start_date + 300, agreed_start_date + 600 FROM parcels WHERE id % 100 = 13"
        ))
        for table in ("parcels", "enterprises", "enterprise_years", "control_indicators"):
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def timed_scan(engine: Engine, as_of: dt.date) -> tuple[float, dict]:
    started = time.perf_counter()
    with transaction(engine, "bench", "bench scan") as conn:
        summary = run_scan(conn, operator(), as_of)
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="leave the cluster and databases in bench/out")
    args = parser.parse_args()
    root = ROOT / "bench" / "out" / "idle-var"
    shutil.rmtree(root, ignore_errors=True)
    cluster = EmbeddedCluster(root, free_port())
    rows = []
    try:
        cluster.up()
        for n in args.sizes:
            name = f"idle_bench_{n}"
            cluster.create_database(name)
            engine = create_engine(cluster.url(name))
            upgrade(engine)
            load_boundaries(engine, actor="bench")
            load_s = load(engine, n)
            first_s, first = timed_scan(engine, dt.date(2024, 12, 31))
            second_s, second = timed_scan(engine, dt.date(2025, 6, 30))
            started = time.perf_counter()
            with engine.connect() as conn:
                due = deadlines(conn, operator(), dt.date(2025, 6, 30))
            deadlines_s = time.perf_counter() - started
            rows.append((n, load_s, first_s, first["candidates"], second_s, second["candidates"],
                         second["seconds"], deadlines_s, len(due)))
            engine.dispose()
            print(f"{n}: load {load_s:.1f} s, scan 1 {first_s:.1f} s, scan 2 {second_s:.1f} s", file=sys.stderr)
    finally:
        if not args.keep:
            cluster.down()
            shutil.rmtree(root, ignore_errors=True)
    print("| parcels with contracts | load (s) | scan as of 2024-12-31 (s) | candidates | "
          "scan as of 2025-06-30 (s) | candidates | SQL part (s) | deadline list (s) | deadline rows |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, load_s, s1, c1, s2, c2, sql_s, d_s, d_n in rows:
        print(f"| {n:,} | {load_s:.1f} | {s1:.1f} | {c1:,} | {s2:.1f} | {c2:,} | {float(sql_s):.1f} | {d_s:.1f} | {d_n:,} |")


if __name__ == "__main__":
    main()
