"""Synthetic province data for bench/province_bench.py: parcels over 17 prefectures of 湖北.

Throw-away databases only. The schema pins counties to 黄冈 (``adcode ~ '^4211..$'``), so
the generator first drops that CHECK: it is the first schema change a province deployment
needs (docs/scaling.md). Each of the 17 prefecture-level units of 湖北 (real adcode prefixes)
gets one synthetic county (adcode ``<prefix>90``, or the 省直管 unit's own code) whose
polygon is a 1.2° × 0.8° box on a 4 × 5 grid over 108.5–114.5°E, 29.3–33.3°N, and one park.
Parcels are 80 m squares on a 100 m lattice inside each box, N/17 per county, built by one
set-based INSERT … SELECT (generate_series) with the audit triggers off for the load:
7 % on offer (the public layer), the rest contracted with 出让 dates and progress like
bench/idle_bench.py, so the idle scan has work to do. The GiST index is built after the load.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

from hggis.identifiers import make_credit_code

#: 湖北's 17 prefecture-level units: 12 cities, 恩施州, and the 4 县级 units governed by the province
PREFECTURES: tuple[str, ...] = (
    "4201", "4202", "4203", "4205", "4206", "4207", "4208", "4209", "4210", "4211", "4212", "4213",
    "4228", "429004", "429005", "429006", "429021",
)
ENTERPRISES = 20_000
LATTICE_DEG = 0.0009  # ~100 m (lat); parcels are 0.8 of a cell


def county_code(prefix: str) -> str:
    return prefix if len(prefix) == 6 else f"{prefix}90"


def load(engine: Engine, n: int) -> float:
    """Fill an empty migrated database with ``n`` parcels over the 17 prefectures; returns seconds."""
    started = time.perf_counter()
    per_county = -(-n // len(PREFECTURES))
    side = int(per_county**0.5) + 1
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.17)"))
        conn.execute(text("ALTER TABLE counties DROP CONSTRAINT IF EXISTS ck_counties_adcode_in_huanggang"))
        for table in ("parcels", "enterprises", "parks", "counties"):
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for k, prefix in enumerate(PREFECTURES):
            x0, y0 = 108.5 + (k % 5) * 1.3, 29.3 + (k // 5) * 0.95
            conn.execute(text(
                "INSERT INTO counties (adcode, name, boundary) VALUES (:a, :n, "
                "ST_Multi(ST_MakeEnvelope(:x0, :y0, :x0 + 1.2, :y0 + 0.8, 4490))) ON CONFLICT (adcode) DO NOTHING"
            ), {"a": county_code(prefix), "n": f"基准县{county_code(prefix)}", "x0": x0, "y0": y0})
            conn.execute(text("INSERT INTO parks (name, adcode, level) VALUES (:n, :a, '省级')"),
                         {"n": f"基准园区{county_code(prefix)}", "a": county_code(prefix)})
        codes = [make_credit_code(f"91420000MA{i:07d}") for i in range(1, ENTERPRISES + 1)]
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, adcode, gbt4754_code) "
            "SELECT c, '基准企业' || i, '421102', '2710' FROM unnest(CAST(:codes AS text[])) WITH ORDINALITY AS t(c, i)"
        ), {"codes": codes})
        conn.execute(text("DROP INDEX IF EXISTS idx_parcels_geom"))
        conn.execute(text("""
            WITH c AS (
              SELECT row_number() OVER (ORDER BY k.adcode) - 1 AS k, k.adcode, ST_XMin(k.boundary) + 0.01 AS x0,
                     ST_YMin(k.boundary) + 0.01 AS y0, p.id AS park_id
                FROM counties k JOIN parks p ON p.adcode = k.adcode AND p.name = '基准园区' || k.adcode
            ),
            g AS (
              SELECT i, c.adcode, c.park_id, c.x0 + (i % :side) * :d * 1.16 AS x, c.y0 + (i / :side) * :d AS y,
                     random() AS u, random() AS v, DATE '2017-01-01' + (random() * 3000)::int AS start
                FROM c, generate_series(0, :per - 1) AS i
            )
            INSERT INTO parcels (code, geom, adcode, park_id, land_use, status, holder_id, contract_kind, contract_no,
                                 land_price, agreed_start_date, agreed_completion_date, planned_investment,
                                 started_on, built_footprint_m2, investment_to_date, completed_on)
            SELECT g.adcode || lpad((g.i / 99999 + 1)::text, 3, '0') || '001GB' || lpad((g.i % 99999 + 1)::text, 5, '0'),
                   ST_Multi(ST_MakeEnvelope(g.x, g.y, g.x + :d * 0.93, g.y + :d * 0.8, 4490)),
                   g.adcode, g.park_id, '0601',
                   CASE WHEN g.u < 0.07 THEN 'on_offer' WHEN g.u < 0.30 THEN 'supplied'
                        WHEN g.u < 0.50 THEN 'under_construction' WHEN g.u < 0.95 THEN 'producing'
                        ELSE 'idle_candidate' END,
                   CASE WHEN g.u >= 0.07 THEN 1 + (g.i % :firms) END,
                   CASE WHEN g.u >= 0.07 THEN '出让' END, CASE WHEN g.u >= 0.07 THEN 'B' || g.adcode || g.i END,
                   CASE WHEN g.u >= 0.07 THEN round((300 + g.v * 2000)::numeric, 2) END,
                   CASE WHEN g.u >= 0.07 THEN g.start END, CASE WHEN g.u >= 0.07 THEN g.start + 900 END,
                   CASE WHEN g.u >= 0.07 THEN round((3000 + g.v * 4000)::numeric, 2) END,
                   CASE WHEN g.u >= 0.30 AND g.u < 0.95 THEN g.start + (g.v * 200)::int END,
                   CASE WHEN g.u >= 0.30 AND g.u < 0.95 THEN 3000 + g.v * 6000 END,
                   CASE WHEN g.u >= 0.30 AND g.u < 0.95 THEN round((1000 + g.v * 5000)::numeric, 2) END,
                   CASE WHEN g.u >= 0.50 AND g.u < 0.95 THEN g.start + 700 END
              FROM g
        """), {"side": side, "d": LATTICE_DEG, "per": per_county, "firms": ENTERPRISES})
        conn.execute(text("CREATE INDEX idx_parcels_geom ON parcels USING gist (geom)"))
        for table in ("parcels", "enterprises", "parks", "counties"):
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started
