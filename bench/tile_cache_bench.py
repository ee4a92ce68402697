"""The nginx tile cache of ``hggis serve --cache``: hit ratio, cached tile latency, freshness after an edit.

One private embedded PostGIS cluster under ``bench/out/cache-var`` with the synthetic demo data
set (``hggis.demo``, seed 2023), served by ``hggis serve --cache`` (nginx + one app worker).

- **Replayed investor-map session.** A visitor of the land map looks at ``--places`` parcels on
  offer, each at z12–z16 through a 4×3-tile viewport; ``--visitors`` visitors replay that
  session, every other one panned by one tile. Reported: the hit ratio over all requests
  (X-Cache-Status), p50/p95 of HITs and of MISSes (HTTP keep-alive client on loopback).
- **Freshness.** ``--edits`` times: an officer PATCHes a parcel through the API (Bearer token);
  the time from the PATCH's answer until a request for its z14 tile is a MISS with a new ETag.

    .venv/bin/python bench/tile_cache_bench.py [--places 8] [--visitors 10] [--edits 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ogc_bench import free_port, wait_healthy  # noqa: E402

from hggis.access.policy import operator  # noqa: E402
from hggis.access.users import create_user, issue_token  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402
from hggis.demo.loader import load_demo  # noqa: E402
from tests.maps_helpers import tile_of  # noqa: E402

VAR = ROOT / "bench" / "out" / "cache-var"
DB = "hggis_cache_bench"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def viewport(lon: float, lat: float, z: int, pan: int) -> list[str]:
    _, cx, cy = tile_of(lon, lat, z)
    return [f"/tiles/parcels/{z}/{cx + dx + pan}/{cy + dy}.pbf" for dy in (-1, 0, 1) for dx in (-2, -1, 0, 1)]


def session(centres: list[tuple[float, float]], pan: int) -> list[str]:
    """Zoom from the overview (z12 around the first place) into each place, then back out to the overview."""
    overview = viewport(*centres[0], 12, pan)
    urls = list(overview)
    for lon, lat in centres:
        for z in range(13, 17):
            urls += viewport(lon, lat, z, pan)
        urls += overview
    return urls


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser()
    parser.add_argument("--places", type=int, default=8)
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    if VAR.exists():
        EmbeddedCluster(VAR / "pg-bench", 0).down() if (VAR / "pg-bench").exists() else None
        shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    cluster = EmbeddedCluster(VAR / "pg-bench", free_port())
    cluster.up()
    proc = None
    try:
        cluster.create_database(DB)
        url = cluster.url(DB)
        engine = create_engine(url)
        upgrade(engine)
        load_boundaries(engine, actor="cache bench")
        load_demo(engine, seed=2023)
        with transaction(engine, operator().actor, "cache bench user") as conn:
            token = issue_token(conn, create_user(conn, operator(), "bench_officer", "city_admin")).token
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM parcels "
                "WHERE status = 'on_offer' ORDER BY id")).all()
        rng = random.Random(7)
        places = rng.sample(rows, min(args.places, len(rows)))
        port, app_port = free_port(), free_port()
        env = {**os.environ, "DATABASE_URL": url, "HGGIS_VAR_DIR": str(VAR), "HGGIS_PORT": str(port),
               "HGGIS_CACHE_APP_PORT": str(app_port), "HGGIS_WORKERS": "1"}
        log = (VAR / "serve.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "hggis.cli", "serve", "--cache"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        hits: list[float] = []
        misses: list[float] = []
        statuses: dict[str, int] = {}
        with httpx.Client(base_url=base) as client:
            for v in range(args.visitors):
                for u in session([(r[1], r[2]) for r in places], pan=v % 2):
                    t0 = time.perf_counter()
                    r = client.get(u)
                    ms = (time.perf_counter() - t0) * 1000
                    st = r.headers.get("x-cache-status", "?")
                    statuses[st] = statuses.get(st, 0) + 1
                    (hits if st == "HIT" else misses).append(ms)
            fresh: list[float] = []
            auth = {"Authorization": f"Bearer {token}"}
            for code, lon, lat in places[: args.edits]:
                z, x, y = tile_of(lon, lat, 14)
                tile = f"/tiles/parcels/{z}/{x}/{y}.pbf"
                client.get(tile)
                tag = client.get(tile).headers["etag"]
                version = client.get(f"/api/parcels/{code}", headers=auth).headers["etag"].strip('W/"')
                r = client.patch(f"/api/parcels/{code}", headers=auth,
                                 json={"land_price": rng.randint(100000, 999999), "version": int(version)})
                assert r.status_code == 200, r.text
                t0 = time.perf_counter()
                while True:
                    got = client.get(tile)
                    if got.headers.get("x-cache-status") == "MISS" and got.headers["etag"] != tag:
                        break
                    if time.perf_counter() - t0 > 30:
                        raise SystemExit(f"tile {tile} still stale after 30 s")
                    time.sleep(0.01)
                fresh.append((time.perf_counter() - t0) * 1000)
        total = sum(statuses.values())
        print(f"requests {total}, statuses {statuses}, hit ratio {statuses.get('HIT', 0) / total:.1%}")
        print(f"HIT  p50 {pct(hits, 0.5):.2f} ms  p95 {pct(hits, 0.95):.2f} ms  (n={len(hits)})")
        print(f"MISS p50 {pct(misses, 0.5):.2f} ms  p95 {pct(misses, 0.95):.2f} ms  (n={len(misses)})")
        print(f"fresh after edit: median {statistics.median(fresh):.0f} ms, max {max(fresh):.0f} ms (n={len(fresh)})")
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        cluster.down()
        shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    main()
