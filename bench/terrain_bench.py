"""Terrain benchmark: slope + zonal statistics of 10 000 parcels on a 10 000 × 10 000 DEM.

Targets (issue 6): zonal statistics for 10 000 parcels on a 10 000 × 10 000 DEM in ≤ 60 s
and ≤ 2 GB resident memory; a 20 000 × 20 000 DEM must not need 20 GB.

What it does, all under bench/out/terrain/ (git-ignored):

1. writes a synthetic float32 DEM (tiled GeoTIFF, EPSG:4547, 2 m cells, around 黄州) block by
   block: smooth relief 20–400 m, a nodata "lake", so partial parcels exist;
2. starts a throw-away embedded PostGIS, migrates it, and inserts 10 000 parcels over the DEM
   (rotated rectangles of 0.3–50 亩, some smaller than a cell, some across the lake or the
   DEM's edge) with the audit triggers off (``session_replication_role = replica``);
3. runs, each in its own child process so that its peak RSS is measured alone (``wait4``):
   - ``hggis terrain import`` (slope raster + statistics in one windowed pass),
   - ``hggis terrain refresh --force`` (statistics only, re-reading DEM and slope rasters);
4. with ``--big``: the same import on a 20 000 × 20 000 DEM (needs ~4 GB of disk).

    .venv/bin/python bench/terrain_bench.py [--size 10000] [--parcels 10000] [--big] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "terrain"
HGGIS = str(Path(sys.executable).parent / "hggis")
RES = 2.0  # metres per cell
LEFT, TOP = 575_000.0, 3_380_000.0  # EPSG:4547, north-west of 黄州 (≈114.78°E 30.54°N)
NODATA = -9999.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relief(x, y):  # numpy arrays
    """Hills and valleys of 20–400 m with slopes up to ~25°, and a lake without data."""
    import numpy as np

    u, v = x - LEFT, TOP - y
    z = (
        180.0
        + 90.0 * np.sin(u / 1700.0) * np.cos(v / 2300.0)
        + 45.0 * np.sin((u + v) / 900.0)
        + 12.0 * np.sin(u / 170.0) * np.sin(v / 210.0)
        + 0.004 * u
    )
    lake = (u - 6_000.0) ** 2 + (v - 7_000.0) ** 2 < 900.0**2
    return np.where(lake, NODATA, z)


def write_dem(path: Path, size: int) -> float:
    """The DEM, strip by strip (256 rows), so generating it needs little memory."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    if path.exists():
        with rasterio.open(path) as ds:
            if ds.width == size and ds.height == size:
                return 0.0
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    transform = from_origin(LEFT, TOP, RES, RES)
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="float32", crs="EPSG:4547",
                   transform=transform, nodata=NODATA, tiled=True, blockxsize=256, blockysize=256,
                   bigtiff="if_safer")
    tmp = path.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **profile) as ds:
        cols = LEFT + (np.arange(size) + 0.5) * RES
        for row in range(0, size, 256):
            rows = min(256, size - row)
            ys = TOP - (np.arange(row, row + rows) + 0.5) * RES
            x, y = np.meshgrid(cols, ys)
            ds.write(relief(x, y).astype("float32"), 1, window=Window(0, row, size, rows))
    tmp.rename(path)
    return time.perf_counter() - started


def make_parcels(n: int, size: int, seed: int = 6) -> list:
    """Rotated rectangles on a jittered grid over the DEM, in EPSG:4547 (shapely polygons)."""
    import numpy as np
    import shapely
    import shapely.affinity

    rng = np.random.default_rng(seed)
    side = int(math.ceil(math.sqrt(n)))
    extent = size * RES
    cell = extent / side
    polys = []
    for k in range(n):
        i, j = divmod(k, side)
        cx = LEFT + (j + 0.5) * cell + rng.uniform(-0.2, 0.2) * cell
        cy = TOP - (i + 0.5) * cell + rng.uniform(-0.2, 0.2) * cell
        if k % 20 == 0:
            w = h = rng.uniform(0.8, 1.6)  # smaller than a 2 m cell: value under the centroid
        else:
            w, h = rng.uniform(15, 0.9 * cell, 2) if cell < 200 else rng.uniform(40, 180, 2)
        if j == side - 1 and i % 10 == 0:
            cx = LEFT + extent  # straddles the DEM's east edge: partial
        rect = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        polys.append(shapely.affinity.rotate(rect, rng.uniform(0, 35), origin="center"))
    return polys


def insert_parcels(url: str, polys: list) -> float:
    import numpy as np
    import shapely
    from pyproj import Transformer
    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    to_4490 = Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)
    geoms = shapely.transform(np.asarray(polys, dtype=object),
                              lambda xy: np.column_stack(to_4490.transform(xy[:, 0], xy[:, 1])))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # bench only: no audit rows
        conn.execute(
            text(
                """INSERT INTO parcels (code, geom, adcode, status)
                   SELECT '421102001001GB' || lpad(k::text, 5, '0'), ST_Multi(ST_GeomFromWKB(w, 4490)), '421102', 'reserve'
                     FROM unnest(CAST(:wkb AS bytea[])) WITH ORDINALITY AS u(w, k)"""
            ),
            {"wkb": [shapely.to_wkb(g) for g in geoms]},
        )
    engine.dispose()
    return time.perf_counter() - started


def run_child(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of this child alone (``os.wait4``), and its stdout."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([HGGIS, *args], env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"hggis {' '.join(args)} failed: {err.read().strip()}")
        return seconds, usage.ru_maxrss / 1024.0, out.read()


def setup(args: argparse.Namespace) -> None:
    """Child phase: generate the DEM(s), start and fill the throw-away database; print the URL."""
    from sqlalchemy import create_engine

    from hggis.boundaries import load_boundaries
    from hggis.db.cluster import EmbeddedCluster
    from hggis.db.migrate import upgrade

    timings = {"dem_generated_s": round(write_dem(OUT / f"dem_{args.size}.tif", args.size), 1)}
    if args.big:
        timings["big_dem_generated_s"] = round(write_dem(OUT / "dem_20000.tif", 20_000), 1)
    var = OUT / "var"
    shutil.rmtree(var, ignore_errors=True)
    cluster = EmbeddedCluster(var / "pg", free_port())
    cluster.up()
    cluster.create_database("terrain_bench")
    url = cluster.url("terrain_bench")
    engine = create_engine(url)
    upgrade(engine)
    load_boundaries(engine, actor="bench")
    engine.dispose()
    timings["insert_s"] = round(insert_parcels(url, make_parcels(args.parcels, args.size)), 2)
    print(json.dumps({"url": url, "port": cluster.port, **timings}))


def teardown(port: int) -> None:
    from hggis.db.cluster import EmbeddedCluster

    EmbeddedCluster(OUT / "var" / "pg", port).down()
    shutil.rmtree(OUT / "var", ignore_errors=True)


def main() -> None:
    """The parent stays small (stdlib only): on Linux a child's ru_maxrss starts from its
    parent's high-water mark at fork/exec, so heavy work happens in children only."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--parcels", type=int, default=10_000)
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--big", action="store_true", help="also a 20 000 × 20 000 import")
    parser.add_argument("--keep", action="store_true", help="keep the generated DEMs")
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--teardown", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        return setup(args)
    if args.teardown is not None:
        return teardown(args.teardown)

    free_gb = shutil.disk_usage(ROOT).free / 1e9
    big_ok = args.big and free_gb >= 20
    me = [sys.executable, str(Path(__file__).resolve())]
    flags = ["--size", str(args.size), "--parcels", str(args.parcels)] + (["--big"] if big_ok else [])
    prepared = subprocess.run(me + ["--setup", *flags], check=True, capture_output=True, text=True)
    info = json.loads(prepared.stdout.strip().splitlines()[-1])
    dem = OUT / f"dem_{args.size}.tif"
    results: dict[str, object] = {
        "size": args.size, "parcels": args.parcels, "block_size": args.block_size,
        "dem_mb": round(dem.stat().st_size / 1e6), "disk_free_gb_at_start": round(free_gb, 1),
        **{k: v for k, v in info.items() if k not in ("url", "port")},
    }
    env = dict(os.environ, DATABASE_URL=info["url"], HGGIS_VAR_DIR=str(OUT / "var"))
    try:
        secs, rss, out = run_child(env, "terrain", "import", str(dem), "--name", "bench", "--json",
                                   "--no-progress", "--block-size", str(args.block_size))
        report = json.loads(out)
        results["import"] = {
            "wall_s": round(secs, 1), "peak_rss_mb": round(rss), "slope_and_stats_pass_s": round(report["slope_seconds"], 1),
            "finish_s": round(report["zonal_seconds"], 2), "parcels": report["parcels"], "full": report["full"],
            "partial": len(report["partial"]), "not_covered": len(report["not_covered"]), "small": report["small"],
        }
        secs, rss, out = run_child(env, "terrain", "refresh", "--force", "--block-size", str(args.block_size))
        results["refresh_all_stats_only"] = {"wall_s": round(secs, 1), "peak_rss_mb": round(rss),
                                             "output": out.strip().splitlines()[0]}
        if args.big and not big_ok:
            results["big"] = f"skipped: {free_gb:.0f} GB free (< 20 GB)"
        elif big_ok:
            big = OUT / "dem_20000.tif"
            secs, rss, out = run_child(env, "terrain", "import", str(big), "--name", "bench20k", "--json",
                                       "--no-progress", "--block-size", str(args.block_size))
            rep = json.loads(out)
            results["big"] = {"dem_mb": round(big.stat().st_size / 1e6), "wall_s": round(secs, 1),
                              "peak_rss_mb": round(rss), "slope_and_stats_pass_s": round(rep["slope_seconds"], 1),
                              "parcels": rep["parcels"]}
    finally:
        subprocess.run(me + ["--teardown", str(info["port"])], check=False)
        if not args.keep:
            for path in OUT.glob("dem_*.tif"):
                path.unlink()
    results["bench_parent_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
