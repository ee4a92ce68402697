"""Benchmark of the park land-intensity evaluation (TD/T 1029) and of one 腾笼换鸟 what-if.

Data: ``bench/ogc_bench.generate_parcels`` (N parcels, ~80 m squares inside the county
polygons, its status mix), then in SQL: 6 parks per county, every parcel in one of its
county's parks, supplied parcels with facts (footprint, floor area, investment, 出让 or 划拨,
agreed completion, delivery, completion for the producing ones), one holder enterprise per
~8 supplied parcels with figures for the year. The 亩均 evaluation is run once (its run
gives the D-class occupants), then measured:

- ``run_intensity`` for all parks over all parcels, committed (what ``hggis intensity run``
  does), ``--repeat`` times;
- ``what_if`` for a D-class occupant, ``--repeat`` × 5 times.

    .venv/bin/python bench/intensity_bench.py [--parcels 1000000] [--repeat 3] [--url postgresql://…]

Without ``--url`` it runs a throw-away embedded cluster under bench/out/var (removed at the
end). The data load bypasses the audit triggers (superuser, ``session_replication_role``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ogc_bench import free_port, generate_parcels  # noqa: E402
from hggis.access.policy import operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.evaluation.runs import run_evaluation  # noqa: E402
from hggis.intensity.runs import run_intensity  # noqa: E402
from hggis.intensity.whatif import Commitments, what_if  # noqa: E402

YEAR = 2024
SUPPLIED = "('supplied', 'under_construction', 'producing', 'idle_candidate')"


def generate(engine: Engine, n: int) -> dict[str, float]:
    started = time.perf_counter()
    generate_parcels(engine, n)
    t_parcels = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SELECT setseed(0.29)"))
        conn.execute(text(
            "INSERT INTO parks (id, name, adcode, level) SELECT row_number() OVER (ORDER BY c.adcode, k), "
            "c.name || '基准园区' || k, c.adcode, '省级' FROM counties c, generate_series(1, 6) k "
            "WHERE c.boundary IS NOT NULL"))
        conn.execute(text("SELECT setval('parks_id_seq', (SELECT max(id) FROM parks))"))
        conn.execute(text(
            "CREATE TEMP TABLE held ON COMMIT DROP AS SELECT id, adcode, status, (id / 8) AS owner FROM parcels "
            f"WHERE status IN {SUPPLIED}"))
        conn.execute(text(
            "INSERT INTO enterprises (id, credit_code, name, adcode, industry_code) "
            "SELECT h.owner + 1, hggis_bench_code(h.owner + 1), '基准企业' || (h.owner + 1), min(h.adcode), 'equipment' "
            "FROM held h GROUP BY h.owner"))
        conn.execute(text("SELECT setval('enterprises_id_seq', (SELECT max(id) FROM enterprises))"))
        conn.execute(text(f"""
            UPDATE parcels p SET
              park_id = (SELECT k.id FROM parks k WHERE k.adcode = p.adcode ORDER BY k.id OFFSET (p.id % 6) LIMIT 1),
              holder_id = CASE WHEN p.status IN {SUPPLIED} THEN p.id / 8 + 1 END,
              contract_kind = CASE WHEN p.status IN {SUPPLIED} THEN CASE WHEN random() < 0.9 THEN '出让' ELSE '划拨' END END,
              delivered_on = CASE WHEN p.status IN {SUPPLIED} THEN DATE '2016-01-01' + (random() * 3200)::int END,
              agreed_completion_date = CASE WHEN p.status IN {SUPPLIED} THEN DATE '2018-01-01' + (random() * 3000)::int END,
              completed_on = CASE WHEN p.status = 'producing' THEN DATE '2018-01-01' + (random() * 2500)::int END,
              built_footprint_m2 = CASE WHEN p.status IN ('producing', 'under_construction')
                                        THEN p.area_mu * 666.67 * (0.2 + random() * 0.4) END,
              floor_area_m2 = CASE WHEN p.status = 'producing' THEN p.area_mu * 666.67 * (0.4 + random() * 1.0) END,
              investment_to_date = CASE WHEN p.status IN {SUPPLIED} THEN round((p.area_mu * (80 + random() * 300))::numeric, 2) END
        """))
        conn.execute(text(
            "UPDATE enterprises e SET park_id = p.park_id FROM parcels p WHERE p.holder_id = e.id"))
        conn.execute(text(f"""
            INSERT INTO enterprise_years (enterprise_id, year, tax_paid, revenue, value_added, output, energy_tce,
                                          electricity_10k_kwh, emissions_t, rnd_spending, employees, production_start_year)
            SELECT id, {YEAR}, round(r * (0.02 + random()::numeric * 0.08), 2), round(r, 2), round(r * 0.25, 2), round(r * 1.05, 2),
                   round(r * 0.1, 2), round(r * 0.05, 2), round(r * 0.001, 3), round(r * 0.02, 2), 20 + (r / 80)::int, 2010
            FROM (SELECT id, (exp(ln(3000) + (random() - 0.5) * 3) * 3)::numeric AS r FROM enterprises) s
        """))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = dict(conn.execute(text(
            "SELECT 'parcels', count(*) FROM parcels UNION ALL SELECT 'parks', count(*) FROM parks "
            "UNION ALL SELECT 'enterprises', count(*) FROM enterprises")).all())
    return {**counts, "parcels_s": t_parcels, "total_s": time.perf_counter() - started}


CODE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION hggis_bench_code(i bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  alphabet text := '0123456789ABCDEFGHJKLMNPQRTUWXY';
  w int[] := ARRAY[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28];
  body text := '91421100MA' || lpad(i::text, 7, '0');
  s int := 0;
BEGIN
  FOR k IN 1..17 LOOP s := s + (strpos(alphabet, substr(body, k, 1)) - 1) * w[k]; END LOOP;
  RETURN body || substr(alphabet, (31 - s % 31) % 31 + 1, 1);
END $$;
"""


def bench(admin_url: str, n: int, repeat: int) -> list[str]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    db = f"hggis_intensity_bench_{n}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    engine = create_engine(admin.url.set(database=db).render_as_string(hide_password=False))
    lines = []
    try:
        upgrade(engine)
        load_boundaries(engine)
        with engine.begin() as conn:
            conn.execute(text(CODE_FUNCTION))
        counts = generate(engine, n)
        print(f"generated {counts}", flush=True)
        t0 = time.perf_counter()
        ev = run_evaluation(engine, operator(), YEAR, proceed=True, reason="benchmark")
        ev_s = time.perf_counter() - t0
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            run_intensity(engine, operator(), YEAR, reason="benchmark")
            runs.append(time.perf_counter() - t0)
        with engine.connect() as conn:
            occ = conn.execute(text(
                "SELECT r.enterprise_id, sum(l.land_mu) FROM evaluation_results r JOIN evaluation_land l "
                "ON l.run_id = r.run_id AND l.enterprise_id = r.enterprise_id WHERE r.run_id = :r AND r.class_code = 'D' "
                "GROUP BY 1 ORDER BY 2 DESC LIMIT 1"), {"r": ev.run_id}).one()
        cand = Commitments("基准项目", investment=20000, yearly_tax=800, output=60000, land_mu=min(5.0, float(occ[1])))
        whatifs = []
        for _ in range(repeat * 5):
            t0 = time.perf_counter()
            what_if(engine, operator(), occ[0], cand, run_id=ev.run_id)
            whatifs.append(time.perf_counter() - t0)
        lines.append(f"| {int(counts['parcels']):,} | {int(counts['parks'])} | {int(counts['enterprises']):,} | "
                     f"{len(runs)} | {statistics.median(runs):.2f} | {min(runs):.2f} | {max(runs):.2f} | "
                     f"{len(whatifs)} | {statistics.median(whatifs):.3f} | {max(whatifs):.3f} | "
                     f"{ev_s:.1f} | {counts['total_s']:.0f} |")
        print(lines[-1], flush=True)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="a PostGIS server (admin database URL) instead of a throw-away cluster")
    args = parser.parse_args()
    print("| parcels | parks | enterprises | runs | run median (s) | min (s) | max (s) | what-ifs | what-if median (s) | "
          "what-if max (s) | 亩均 run for the D classes (s) | data generation (s) |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    if args.url:
        from hggis.db.engine import normalize_url

        bench(normalize_url(args.url), args.parcels, args.repeat)
        return
    from hggis.db.cluster import EmbeddedCluster

    root = ROOT / "bench" / "out" / "var" / "intensity-pg"
    cluster = EmbeddedCluster(root, free_port())
    try:
        cluster.up()
        bench(cluster.url("postgres"), args.parcels, args.repeat)
    finally:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
