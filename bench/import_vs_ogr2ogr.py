"""Benchmark: `hggis import parcels` against `ogr2ogr -f PostgreSQL` of the same Shapefile (issue 18.6).

The peer is GDAL's own loader: it reprojects and COPYs the features into a new table and
builds a GiST index, with no validation and no history. The target is an import (every
check, one history row per parcel, one transaction) within 3× of it.

One run, one throw-away embedded cluster under bench/out/ogr-var, one database: the
100 000-parcel GK Shapefile of bench/import_bench.py (EPSG:4547, GBK DBF) is loaded
``--rounds`` times by each tool, alternating which goes first in a round:

a. ``ogr2ogr -f PostgreSQL PG:… parcels_100000.shp -nln ogr_parcels -lco GEOMETRY_NAME=geom
   -t_srs EPSG:4490 -overwrite`` (system GDAL, as the schema owner: it creates a table);
b. ``hggis import parcels FILE --quiet`` as the product runs it (DATABASE_URL = the app role,
   DML only), into a parcels table and history the bench empties first as the superuser.

Each round also times ``hggis import parcels FILE --dry-run --quiet`` on the emptied table.
It prints every timing, the medians, the ratio of the medians, and the stage timings each
import logged (imports.report.seconds).

``--profile`` adds one more import, in this process under cProfile, with auto_explain
logging the analysed plan of every statement over 200 ms (nested statements, i.e. the
trigger functions' own, included, with trigger times) to bench/out/ogr-profile/.

    .venv/bin/python bench/import_vs_ogr2ogr.py [--n 100000] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from import_bench import HGGIS, OUT, free_port, write_shapefile  # noqa: E402

OGR2OGR = shutil.which("ogr2ogr")


def run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    res = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{argv[0]} failed")
    return took


def empty_parcels(super_url: str) -> None:
    """Parcels refuse DELETE and history refuses TRUNCATE by design: the superuser bypasses both."""
    from sqlalchemy import create_engine, text

    eng = create_engine(super_url)
    with eng.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("TRUNCATE parcels, history RESTART IDENTITY CASCADE"))
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE parcels"))
        conn.execute(text("VACUUM ANALYZE history"))
    eng.dispose()


def last_import(super_url: str) -> dict:
    from sqlalchemy import create_engine, text

    eng = create_engine(super_url)
    with eng.connect() as conn:
        row = conn.execute(text("SELECT status, inserted, updated, report FROM imports ORDER BY id DESC LIMIT 1")).one()
        hist = conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'parcels'")).scalar_one()
    eng.dispose()
    return {"status": row.status, "inserted": row.inserted, "updated": row.updated,
            "seconds": row.report["seconds"], "history": hist}


def ogr_rows(super_url: str) -> int:
    from sqlalchemy import create_engine, text

    eng = create_engine(super_url)
    with eng.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM ogr_parcels")).scalar_one()
    eng.dispose()
    return int(n)


def pg_conninfo(cluster, database: str, role: str) -> tuple[str, str]:
    """ogr2ogr's PG: string (password passed in PGPASSWORD, not on the command line)."""
    from hggis.db.cluster import LISTEN_ADDRESS

    return f"PG:host={LISTEN_ADDRESS} port={cluster.port} dbname={database} user={role}", cluster.password(role)


def profile_import(cluster, app_url: str, super_url: str, shp: Path, out: Path) -> None:
    """One import in this process under cProfile, with auto_explain on for the database."""
    from sqlalchemy import create_engine, text

    from hggis.access.policy import operator
    from hggis.io.parcels_import import import_parcels

    out.mkdir(parents=True, exist_ok=True)
    su = create_engine(super_url)
    with su.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for k, v in (("session_preload_libraries", "auto_explain"), ("auto_explain.log_min_duration", "200ms"),
                     ("auto_explain.log_analyze", "on"), ("auto_explain.log_nested_statements", "on"),
                     ("auto_explain.log_triggers", "on"), ("auto_explain.log_buffers", "off")):
            conn.execute(text(f"ALTER DATABASE bench SET {k} = '{v}'"))
    su.dispose()
    empty_parcels(super_url)
    log_offset = cluster.log_file.stat().st_size
    engine = create_engine(app_url)
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    report = import_parcels(engine, operator(), shp)
    prof.disable()
    took = time.perf_counter() - started
    engine.dispose()
    print(f"profiled in-process import: {took:.1f} s, status={report.status}, stages={json.dumps(report.seconds)}")
    with open(out / "cprofile.txt", "w") as fh:
        pstats.Stats(prof, stream=fh).sort_stats("cumulative").print_stats(60)
        pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(40)
    with open(cluster.log_file, encoding="utf-8", errors="replace") as fh:
        fh.seek(log_offset)
        (out / "auto_explain.log").write_text(fh.read())
    print(f"cProfile and auto_explain output in {out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if OGR2OGR is None:
        raise SystemExit("ogr2ogr not found: apt-get install gdal-bin")

    from sqlalchemy import create_engine

    from hggis.boundaries import load_boundaries
    from hggis.db.cluster import APP_ROLE, OWNER_ROLE, EmbeddedCluster
    from hggis.db.migrate import grant_app_role, upgrade

    shp = OUT / "import" / f"parcels_{args.n}.shp"
    gen = write_shapefile(shp, args.n, prefixed=False)
    gdal = subprocess.run([OGR2OGR, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"generated {args.n} lots (EPSG:4547) in {gen:.1f} s; {OGR2OGR}: {gdal}")
    print(f"load average at start: {os.getloadavg()}")

    var = OUT / "ogr-var"
    shutil.rmtree(var, ignore_errors=True)
    cluster = EmbeddedCluster(var / "pg", free_port())
    try:
        cluster.up()
        cluster.create_database("bench")
        super_url, owner_url, app_url = (cluster.url("bench", r) for r in ("hggis", OWNER_ROLE, APP_ROLE))
        owner = create_engine(owner_url)
        upgrade(owner)
        print(grant_app_role(owner, APP_ROLE))
        load_boundaries(owner, actor="bench")
        owner.dispose()
        env = {**os.environ, "DATABASE_URL": app_url, "DATABASE_OWNER_URL": owner_url}
        conninfo, owner_password = pg_conninfo(cluster, "bench", OWNER_ROLE)
        ogr_env = {**os.environ, "PGPASSWORD": owner_password}
        ogr_argv = [OGR2OGR, "-f", "PostgreSQL", conninfo, str(shp), "-nln", "ogr_parcels",
                    "-lco", "GEOMETRY_NAME=geom", "-t_srs", "EPSG:4490", "-overwrite"]
        print("a:", " ".join(ogr_argv))
        print("b:", HGGIS, "import parcels", shp, "--quiet   (DATABASE_URL = app role)")

        times: dict[str, list[float]] = {"ogr2ogr": [], "import": [], "dry_run": []}
        stages: list[dict] = []
        dry_stages: list[dict] = []

        def ogr() -> None:
            t = run(ogr_argv, ogr_env)
            times["ogr2ogr"].append(t)
            print(f"  ogr2ogr: {t:.1f} s ({ogr_rows(super_url)} rows)", flush=True)

        def hggis() -> None:
            empty_parcels(super_url)
            t = run([HGGIS, "import", "parcels", str(shp), "--dry-run", "--quiet"], env)
            info = last_import(super_url)
            times["dry_run"].append(t)
            dry_stages.append(info["seconds"])
            print(f"  dry run: {t:.1f} s status={info['status']} stages={json.dumps(info['seconds'])}", flush=True)
            t = run([HGGIS, "import", "parcels", str(shp), "--quiet"], env)
            info = last_import(super_url)
            if info["status"] != "applied" or info["inserted"] != args.n or info["history"] != args.n:
                raise SystemExit(f"import did not write {args.n} parcels with history: {info}")
            times["import"].append(t)
            stages.append(info["seconds"])
            print(f"  import: {t:.1f} s status={info['status']} inserted={info['inserted']} "
                  f"history={info['history']} stages={json.dumps(info['seconds'])}", flush=True)

        for r in range(args.rounds):
            print(f"round {r + 1} (load {os.getloadavg()[0]:.2f})", flush=True)
            for step in ((ogr, hggis) if r % 2 == 0 else (hggis, ogr)):
                step()

        med = {k: statistics.median(v) for k, v in times.items()}
        print("\nmedians: " + ", ".join(f"{k} {v:.1f} s (min {min(times[k]):.1f}, max {max(times[k]):.1f})"
                                        for k, v in med.items()))
        order = ["read", "prepare", "stage", "validate", "compare", "integrity", "write"]
        stage_names = [s for s in order if s in stages[0]] + [s for s in stages[0] if s not in order]
        print("import stages, median: " + ", ".join(
            f"{s} {statistics.median(x.get(s, 0) for x in stages):.1f}" for s in stage_names))
        print("dry-run stages, median: " + ", ".join(
            f"{s} {statistics.median(x.get(s, 0) for x in dry_stages):.1f}" for s in stage_names if s in dry_stages[0]))
        print(f"ratio import / ogr2ogr (medians): {med['import'] / med['ogr2ogr']:.2f}  (target ≤ 3)")
        print(f"ratio dry run / ogr2ogr (medians): {med['dry_run'] / med['ogr2ogr']:.2f}")
        if args.profile:
            profile_import(cluster, app_url, super_url, shp, OUT / "ogr-profile")
        print(f"load average at end: {os.getloadavg()}")
    finally:
        cluster.down()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
