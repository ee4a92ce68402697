"""Benchmark: `hggis import parcels` of a 100 000-parcel survey Shapefile in a GK zone.

Generates the Shapefile with pyogrio (EPSG:4547, or EPSG:4526 with zone-prefixed
eastings with --prefixed): irregular 6–10-vertex lots of ~1 600 m² on a grid in 麻城市
(zone 38), GBK attributes (宗地代码, 地类, 面积（亩）). Then, against a throw-away embedded
cluster under bench/out/io-var, it runs

1. `hggis import parcels FILE --dry-run` (read, stage, validate, report; nothing written),
2. `hggis import parcels FILE` (100 000 inserts, one history row each),
3. `hggis import parcels FILE2` where every lot is moved by 1 m (100 000 updates with history),

as subprocesses, so the figures are what an officer waits for, and prints the stage
timings each run logged (imports.report.seconds). Finally it measures the cost of the
audit triggers by inserting the same staged rows into a trigger-less copy of parcels.

    .venv/bin/python bench/import_bench.py [--n 100000] [--prefixed]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HGGIS = str(Path(sys.executable).parent / "hggis")
OUT = ROOT / "bench" / "out"

# South-west corner of the grid: open country in 麻城市 (zone 38, west of 115.5°E).
ORIGIN_LONLAT = (114.93, 31.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_lots(n: int, seed: int = 8, shift_m: float = 0.0):
    """n irregular lots (6–10 vertices) on a 45 m grid, in EPSG:4547 metres."""
    import shapely

    from hggis.geo import transformer

    rng = np.random.default_rng(seed)
    x0, y0 = transformer(4490, 4547).transform(*ORIGIN_LONLAT)
    cols = int(math.ceil(math.sqrt(n)))
    i = np.arange(n)
    cx = x0 + (i % cols) * 45.0 + 20.0 + shift_m
    cy = y0 + (i // cols) * 45.0 + 20.0
    k = rng.integers(6, 11, size=n)
    polys = []
    for j in range(n):
        m = int(k[j])
        step = 2 * math.pi / m
        ang = np.arange(m) * step + rng.uniform(-0.3, 0.3, m) * step
        r = rng.uniform(19.0, 22.0, m)
        ring = np.column_stack([cx[j] + r * np.cos(ang), cy[j] + r * np.sin(ang)])
        polys.append(shapely.Polygon(ring))
    return np.array(polys, dtype=object)


def write_shapefile(path: Path, n: int, prefixed: bool, shift_m: float = 0.0) -> float:
    import geopandas as gpd
    import pyogrio
    import shapely

    from hggis.geo import area_mu, to_cgcs2000

    started = time.perf_counter()
    lots = make_lots(n, shift_m=shift_m)
    lonlat = [to_cgcs2000(g, 4547) for g in lots]
    areas = np.round([area_mu(g) for g in lonlat], 4)
    epsg = 4547
    if prefixed:
        lots = shapely.transform(lots, lambda xy: xy + np.array([38_000_000.0, 0.0]))
        epsg = 4526
    df = gpd.GeoDataFrame(
        {
            "宗地代码": [f"421181{(j // 100000) + 1:03d}{(j // 10000) % 10 + 1:03d}GB{j % 100000:05d}" for j in range(n)],
            "地类": ["0601"] * n,
            "面积": areas,
        },
        geometry=list(lots),
        crs=epsg,
    )
    df = df.rename(columns={"面积": "面积(亩)"})
    path.parent.mkdir(parents=True, exist_ok=True)
    for f in path.parent.glob(path.stem + ".*"):
        f.unlink()
    pyogrio.write_dataframe(df, path, encoding="GBK")
    return time.perf_counter() - started


def timed(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    res = subprocess.run([HGGIS, *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{' '.join(args)} failed")
    return took, res.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--prefixed", action="store_true", help="EPSG:4526 with 38xxxxxx eastings")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    from hggis.boundaries import load_boundaries
    from hggis.db.cluster import EmbeddedCluster
    from hggis.db.migrate import upgrade

    shp = OUT / "import" / f"parcels_{args.n}.shp"
    shp2 = OUT / "import" / f"parcels_{args.n}_moved.shp"
    gen1 = write_shapefile(shp, args.n, args.prefixed)
    write_shapefile(shp2, args.n, args.prefixed, shift_m=1.0)
    size_mb = sum(f.stat().st_size for f in shp.parent.glob(shp.stem + ".*")) / 1e6
    print(f"load average at start: {os.getloadavg()}")
    print(f"generated {args.n} lots ({'EPSG:4526 prefixed' if args.prefixed else 'EPSG:4547'}), "
          f"{size_mb:.1f} MB, in {gen1:.1f} s")

    var = OUT / "io-var"
    shutil.rmtree(var, ignore_errors=True)
    cluster = EmbeddedCluster(var / "pg", free_port())
    try:
        cluster.up()
        cluster.create_database("bench")
        url = cluster.url("bench")
        engine = create_engine(url)
        upgrade(engine)
        load_boundaries(engine, actor="bench")
        env = {**os.environ, "DATABASE_URL": url}
        results = []
        for label, argv in (
            ("dry run (read, stage, validate; nothing written)", ["import", "parcels", str(shp), "--dry-run", "--quiet"]),
            ("real run: 100 000 inserts", ["import", "parcels", str(shp), "--quiet"]),
            ("real run: 100 000 updates (every lot moved 1 m)", ["import", "parcels", str(shp2), "--quiet"]),
        ):
            took, _out = timed(env, *argv)
            with engine.connect() as conn:
                row = conn.execute(text("SELECT id, status, inserted, updated, report FROM imports ORDER BY id DESC LIMIT 1")).one()
            results.append((label, took, row.status, row.inserted, row.updated, row.report["seconds"]))
            print(f"{label}: {took:.1f} s  status={row.status} inserted={row.inserted} updated={row.updated} "
                  f"stages={json.dumps(row.report['seconds'])}")
        with engine.connect() as conn:
            hist = conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'parcels'")).scalar_one()
        print(f"history rows for parcels: {hist}")

        # Trigger cost: the same INSERT into a copy of parcels without triggers.
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE parcels_nt (LIKE parcels INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)"))
            conn.execute(text("ALTER TABLE parcels_nt ADD UNIQUE (code)"))
            conn.execute(text("CREATE INDEX ON parcels_nt USING gist (geom)"))
            t0 = time.perf_counter()
            conn.execute(text(
                "INSERT INTO parcels_nt (id, code, geom, adcode, land_use, status) "
                "SELECT id, code, geom, adcode, land_use, status FROM parcels"
            ))
            nt = time.perf_counter() - t0
            conn.execute(text("CREATE TEMP TABLE t2 AS SELECT id, code, geom, adcode, land_use, status FROM parcels"))
            conn.execute(text("SET LOCAL hggis.actor = 'bench'"))
            t0 = time.perf_counter()
            conn.execute(text(
                "UPDATE parcels p SET land_use = '0602' FROM t2 WHERE t2.id = p.id"
            ))
            with_trig = time.perf_counter() - t0
            t0 = time.perf_counter()
            conn.execute(text("UPDATE parcels_nt p SET land_use = '0602' FROM t2 WHERE t2.id = p.id"))
            without = time.perf_counter() - t0
            conn.rollback()
        print(f"insert of {args.n} rows into a trigger-less copy: {nt:.1f} s; "
              f"update of {args.n} rows with audit triggers {with_trig:.1f} s vs without {without:.1f} s")
        engine.dispose()
        print(f"load average at end: {os.getloadavg()}")
    finally:
        cluster.down()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
