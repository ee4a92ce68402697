"""Province scale: tiles, OGC items and the idle scan over 1 M … 5 M parcels in 17 synthetic prefectures.

One throw-away embedded cluster under ``bench/out/province-var`` with an embedded streaming
replica of it (``hggis.db.replica``, as ``hggis db up --replica``). For each size: a fresh
database, migrated as the owner, filled by bench/province_gen.py; once the replica has
replayed the load, the service (``api.app.create_app``, in process, no HTTP hop) is timed
on the same requests, primary only and with the replica as ``DATABASE_READ_URL``,
interleaved (each request on both in turn, the order alternating):

- tiles: ``/tiles/parcels/{z}/{x}/{y}.pbf`` (the public layer: land on offer) at z12, z14
  and z16, each tile holding a random parcel on offer, anonymous, one warm-up pass;
- OGC items: ``/ogc/collections/available_land/items?limit=1000&bbox=…`` (0.05° box around a
  random parcel on offer);
- the idle scan: ``run_scan`` over every contracted parcel as of 2024-12-31 (primary: it writes).

The nginx cache column is measured by whoever runs the cache (not here). Prints Markdown.

    .venv/bin/python bench/province_bench.py [--sizes 1000000 2000000] [--tiles 60] [--items 30] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fastapi.testclient import TestClient  # noqa: E402
from province_gen import load  # noqa: E402

from api.app import create_app  # noqa: E402
from hggis.access.policy import operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import APP_ROLE, OWNER_ROLE, SUPERUSER, EmbeddedCluster  # noqa: E402
from hggis.db.migrate import grant_app_role, upgrade  # noqa: E402
from hggis.db.replica import EmbeddedReplica  # noqa: E402
from hggis.db.session import transaction  # noqa: E402
from hggis.idle.scan import run_scan  # noqa: E402

OUT = ROOT / "bench" / "out" / "province-var"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, x, y


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def sample_offer(engine: Engine, k: int) -> list[tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM parcels TABLESAMPLE SYSTEM (1) "
            "WHERE status = 'on_offer' LIMIT :k) s"), {"k": k}).all()
    return [(float(x), float(y)) for x, y in rows]


def time_interleaved(clients: dict[str, TestClient], urls: list[str]) -> dict[str, dict]:
    """Each URL on every client in turn (the order rotates), after a warm-up pass on each."""
    for client in clients.values():
        for url in urls[: max(3, len(urls) // 10)]:
            client.get(url)
    times: dict[str, list[float]] = {name: [] for name in clients}
    sizes: dict[str, list[int]] = {name: [] for name in clients}
    names = list(clients)
    for i, url in enumerate(urls):
        for name in names[i % len(names):] + names[: i % len(names)]:
            started = time.perf_counter()
            r = clients[name].get(url)
            times[name].append((time.perf_counter() - started) * 1000)
            assert r.status_code in (200, 204), (url, r.status_code, r.text[:200])
            sizes[name].append(r.json()["numberReturned"] if "/ogc/" in url else len(r.content))
    return {name: {"p50": statistics.median(t), "p95": pct(t, 0.95), "size": statistics.median(sizes[name])}
            for name, t in times.items()}


def wait_replay(primary: Engine, replica: Engine) -> float:
    started = time.perf_counter()
    with primary.connect() as conn:
        lsn = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    with replica.connect() as conn:
        while not conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)"), {"l": lsn}).scalar_one():
            time.sleep(0.2)
    return time.perf_counter() - started


def run_size(cluster: EmbeddedCluster, replica: EmbeddedReplica, n: int, n_tiles: int, n_items: int) -> dict:
    db = f"province_{n}"
    cluster.create_database(db)
    owner = create_engine(cluster.url(db, OWNER_ROLE))
    upgrade(owner)
    grant_app_role(owner, APP_ROLE)
    load_boundaries(owner, actor="bench")
    owner.dispose()
    su = create_engine(cluster.url(db, SUPERUSER))
    load_s = load(su, n)
    with su.connect() as conn:
        parcels, size = conn.execute(text(
            "SELECT count(*), pg_size_pretty(pg_total_relation_size('parcels')) FROM parcels")).one()
    app = create_engine(cluster.url(db, APP_ROLE), pool_size=4)
    rep_url = replica.url(db, APP_ROLE)
    replay_s = wait_replay(app, create_engine(rep_url))
    rng = random.Random(n)
    points = sample_offer(app, n_tiles + n_items)
    tiles = [tile_of(*rng.choice(points), z) for z in (12, 14, 16) for _ in range(n_tiles // 3)]
    tile_urls = [f"/tiles/parcels/{z}/{x}/{y}.pbf" for z, x, y in tiles]
    item_urls = []
    for lon, lat in rng.sample(points, min(n_items, len(points))):
        item_urls.append(f"/ogc/collections/available_land/items?f=json&limit=1000&"
                         f"bbox={lon - 0.025:.5f},{lat - 0.025:.5f},{lon + 0.025:.5f},{lat + 0.025:.5f}")
    result: dict = {"n": parcels, "size": size, "load_s": load_s, "replay_s": replay_s}
    with TestClient(create_app(app)) as primary, TestClient(create_app(app, read_urls=[rep_url])) as replicated:
        clients = {"primary": primary, "replica": replicated}
        result["tiles"] = time_interleaved(clients, tile_urls)
        result["items"] = time_interleaved(clients, item_urls)
    started = time.perf_counter()
    with transaction(app, "bench", "province idle scan") as conn:
        summary = run_scan(conn, operator(), dt.date(2024, 12, 31))
    result["scan_s"] = time.perf_counter() - started
    result["scan_candidates"] = summary.get("candidates", summary.get("found", "?"))
    result["load_avg"] = os.getloadavg()
    app.dispose()
    su.dispose()
    cluster.drop_database(db)  # the next size needs the disk and the replica's replay
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--tiles", type=int, default=60)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    OUT.chmod(0o755)
    cluster = EmbeddedCluster(OUT / "pg", free_port())
    replica = EmbeddedReplica(cluster, OUT / "pg-replica", free_port())
    try:
        print(cluster.up(), flush=True)
        print(replica.up(), flush=True)
        for n in args.sizes:
            started = time.perf_counter()
            r = run_size(cluster, replica, n, args.tiles, args.items)
            print(f"\n{n:,} requested, done in {time.perf_counter() - started:.0f} s: {r}", flush=True)
            t, o = r["tiles"], r["items"]
            print(f"| {r['n']:,} | {r['size']} | {r['load_s']:.0f} | {r['replay_s']:.1f} | "
                  f"{t['primary']['p50']:.1f} / {t['primary']['p95']:.1f} | "
                  f"{t['replica']['p50']:.1f} / {t['replica']['p95']:.1f} | {t['primary']['size'] / 1024:.1f} | "
                  f"{o['primary']['p50']:.0f} / {o['primary']['p95']:.0f} | "
                  f"{o['replica']['p50']:.0f} / {o['replica']['p95']:.0f} | {o['primary']['size']:.0f} | "
                  f"{r['scan_s']:.1f} ({r['scan_candidates']:,}) | "
                  f"{' '.join(f'{v:.1f}' for v in r['load_avg'])} |", flush=True)
    finally:
        if not args.keep:
            replica.down()
            cluster.down()
            shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    main()
