"""Benchmark of the per-mu evaluation: N enterprise-years evaluated end to end.

A synthetic generator writes N enterprises with figures for 2024 (and most of them for
2023, for the newly-above-size rule), ~1.3 parcels each (squares of 1–80 亩 in EPSG:4490),
5 % lessees sharing a holder's parcel, some firms without land, some without figures, 1 %
utilities, 1 % accidents, 10 % without emission data, plus reserve and on-offer parcels in
60 parks. Then ``run_evaluation`` is timed as an operator waits for it: land per enterprise
(occupancy shares × ellipsoidal ``area_mu``), quality checks, indicators, benchmarks, scores,
ranks, classes, overrides, and everything stored (results, benchmarks, land rows, quality
findings, park and county aggregates), committed.

    .venv/bin/python bench/evaluation_bench.py [--sizes 10000 100000 300000] [--repeat 3]
                                               [--url postgresql://user@host:port/db]

Without ``--url`` it runs a throw-away embedded cluster under bench/out/var (removed at
the end). The data load bypasses the audit triggers (``session_replication_role =
replica``, superuser only) because it is set-up, not what is measured.
"""

from __future__ import annotations

import argparse
import io
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hggis.access.policy import operator  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.evaluation.runs import run_evaluation  # noqa: E402
from hggis.identifiers import make_credit_code  # noqa: E402

ADCODES = ("421102", "421121", "421122", "421123", "421124", "421125", "421126", "421127", "421181", "421182")
YEAR = 2024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy(conn, table: str, columns: list[str], rows: list[tuple]) -> None:  # noqa: ANN001
    buf = io.StringIO()
    for r in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in r) + "\n")
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            cp.write(buf.getvalue())


def generate(engine: Engine, n: int, seed: int = 7) -> dict[str, int]:
    """Write n enterprise-years for YEAR (and the surroundings) with plain COPY."""
    rng = np.random.default_rng(seed)
    n_noland = int(n * 0.02)
    n_lessee = int(n * 0.05)
    n_holder = n - n_noland - n_lessee
    n_project = int(n * 0.03)  # land under construction, no figures
    n_ent = n + n_project
    kinds = np.array(["holder"] * n_holder + ["lessee"] * n_lessee + ["noland"] * n_noland + ["project"] * n_project)
    county = rng.integers(0, len(ADCODES), n_ent)
    park_of = county * 6 + rng.integers(0, 6, n_ent)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        _copy(conn, "parks", ["id", "name", "adcode", "level"],
              [(k + 1, f"基准园区{k + 1:02d}", ADCODES[k // 6], "省级") for k in range(60)])
        ents = []
        for i in range(n_ent):
            a = ADCODES[county[i]]
            ents.append((i + 1, make_credit_code(f"91{a}MA{i + 1:07d}"), f"基准企业{i + 1:07d}", a,
                         int(park_of[i]) + 1, "equipment"))
        _copy(conn, "enterprises", ["id", "credit_code", "name", "adcode", "park_id", "industry_code"], ents)
        # parcels: holders 1–3 lots, projects 1 lot, plus 5 % government land (reserve / on offer)
        lots = np.where(kinds == "holder", rng.choice([1, 1, 1, 2, 3], n_ent), np.where(kinds == "project", 1, 0))
        owner = np.repeat(np.arange(n_ent), lots)
        n_gov = int(len(owner) * 0.05)
        owner = np.concatenate([owner, np.full(n_gov, -1)])
        m = len(owner)
        status = np.where(
            owner < 0, rng.choice(["reserve", "on_offer"], m),
            rng.choice(["producing"] * 17 + ["under_construction", "idle_candidate", "supplied"], m),
        )
        status[(owner >= 0) & (kinds[np.maximum(owner, 0)] == "project")] = "under_construction"
        w = rng.uniform(0.0003, 0.0025, m)
        h = rng.uniform(0.0003, 0.0025, m)
        x0 = 113.9 + (np.arange(m) % 1500) * 0.003
        y0 = 29.7 + (np.arange(m) // 1500) * 0.003
        pc = np.where(owner >= 0, county[np.maximum(owner, 0)], rng.integers(0, 10, m))
        pk = np.where(owner >= 0, park_of[np.maximum(owner, 0)], pc * 6)
        parcels = []
        for k in range(m):
            a = ADCODES[pc[k]]
            x1, y1 = x0[k] + w[k], y0[k] + h[k]
            wkt = (f"SRID=4490;MULTIPOLYGON((({x0[k]:.7f} {y0[k]:.7f},{x1:.7f} {y0[k]:.7f},{x1:.7f} {y1:.7f},"
                   f"{x0[k]:.7f} {y1:.7f},{x0[k]:.7f} {y0[k]:.7f})))")
            code = f"{a}{(k // 100000) % 1000:03d}{(k // 1000) % 1000:03d}GB{k % 100000:05d}"
            inv = round(float(rng.uniform(50, 300)) * 15, 2) if owner[k] >= 0 else None
            parcels.append((k + 1, code, wkt, a, int(pk[k]) + 1, status[k],
                            int(owner[k]) + 1 if owner[k] >= 0 else None, inv))
        _copy(conn, "parcels", ["id", "code", "geom", "adcode", "park_id", "status", "holder_id", "investment_to_date"],
              parcels)
        # occupancies: holder share 1; each lessee takes 20–50 % of a random producing holder lot
        held = np.flatnonzero(owner >= 0)
        share = np.ones(m)
        occ = []
        lessees = np.flatnonzero(kinds == "lessee")
        targets = rng.choice(held[status[held] == "producing"], len(lessees), replace=False)
        lshare = np.round(rng.uniform(0.2, 0.5, len(lessees)), 2)
        share[targets] = 1 - lshare
        oid = 0
        for k in held:
            oid += 1
            occ.append((oid, k + 1, int(owner[k]) + 1, f"{share[k]:.5f}", "holder"))
        for e, k, s in zip(lessees, targets, lshare, strict=True):
            oid += 1
            occ.append((oid, int(k) + 1, int(e) + 1, f"{s:.5f}", "lessee"))
        _copy(conn, "occupancies", ["id", "parcel_id", "enterprise_id", "share", "role"], occ)
        # figures for YEAR (every non-project firm) and YEAR - 1 (90 % of them)
        land = np.zeros(n_ent)
        np.add.at(land, owner[held], 1.0)
        rev = np.exp(rng.normal(np.log(3000), 1.0, n_ent)) * np.maximum(land, 0.5)
        years = []
        for i in range(n_ent):
            if kinds[i] == "project":
                continue
            r = float(rev[i])
            for y, f in ((YEAR, 1.0), (YEAR - 1, float(rng.uniform(0.8, 1.1)))):
                if y != YEAR and rng.random() < 0.1:
                    continue
                rr = r * f
                out = rr * rng.uniform(0.95, 1.15)
                va = out * rng.uniform(0.2, 0.35)
                years.append((
                    i + 1, y, round(rr * rng.uniform(0.02, 0.1), 2), round(rr, 2), round(va, 2), round(out, 2),
                    round(out * rng.uniform(0.02, 0.4), 2), round(out * rng.uniform(0.02, 0.1), 2),
                    None if rng.random() < 0.1 else round(out * rng.uniform(0.0002, 0.003), 3),
                    round(rr * rng.uniform(0.0, 0.05), 2), max(5, int(rr / rng.uniform(40, 100))),
                    "t" if rng.random() < 0.01 else "f", "t" if rng.random() < 0.01 else "f",
                    int(rng.integers(2000, YEAR + 1)),
                ))
        _copy(conn, "enterprise_years", ["enterprise_id", "year", "tax_paid", "revenue", "value_added", "output",
                                         "energy_tce", "electricity_10k_kwh", "emissions_t", "rnd_spending",
                                         "employees", "accident", "utility", "production_start_year"], years)
        for seq, table in (("parks_id_seq", "parks"), ("enterprises_id_seq", "enterprises"),
                           ("parcels_id_seq", "parcels"), ("occupancies_id_seq", "occupancies")):
            conn.execute(text(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return {"enterprises": n_ent, "parcels": m, "occupancies": len(occ),
            "enterprise_years": sum(1 for y in years if y[1] == YEAR)}


def measure(engine: Engine, repeat: int) -> tuple[list[float], dict[str, int], object]:
    times, phases, summary = [], [], None
    for _ in range(repeat):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE evaluation_runs CASCADE"))
        started = time.perf_counter()
        summary = run_evaluation(engine, operator(), YEAR, reason="benchmark")
        times.append(time.perf_counter() - started)
        phases.append(summary.timings_ms)
    median_phases = {k: int(statistics.median(p[k] for p in phases)) for k in phases[0]}
    return times, median_phases, summary


def bench(admin_url: str, sizes: list[int], repeat: int) -> list[str]:
    lines = []
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    for n in sizes:
        db = f"hggis_eval_bench_{n}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        url = admin.url.set(database=db).render_as_string(hide_password=False)
        engine = create_engine(url)
        try:
            upgrade(engine)
            t0 = time.perf_counter()
            counts = generate(engine, n)
            gen_s = time.perf_counter() - t0
            times, phases, s = measure(engine, repeat)
            lines.append(
                f"| {counts['enterprise_years']:,} | {counts['enterprises']:,} | {counts['parcels']:,} | "
                f"{s.n_listed:,} | {s.n_evaluated:,} | {len(times)} | {statistics.median(times):.2f} | "
                f"{min(times):.2f} | {max(times):.2f} | "
                + ", ".join(f"{k} {v / 1000:.2f}" for k, v in phases.items())
                + f" | {gen_s:.0f} |"
            )
            print(lines[-1], flush=True)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="a PostGIS server (admin database URL) instead of a throw-away cluster")
    args = parser.parse_args()
    header = [
        "| enterprise-years (2024) | enterprises | parcels | listed | evaluated | runs | median (s) | min (s) | "
        "max (s) | phases, median (s) | data generation (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(header), flush=True)
    if args.url:
        from hggis.db.engine import normalize_url

        bench(normalize_url(args.url), args.sizes, args.repeat)
        return
    from hggis.db.cluster import EmbeddedCluster

    root = ROOT / "bench" / "out" / "var" / "eval-pg"
    cluster = EmbeddedCluster(root, free_port())
    try:
        cluster.up()
        bench(cluster.url("postgres"), args.sizes, args.repeat)
    finally:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
