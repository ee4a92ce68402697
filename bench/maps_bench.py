"""Maps benchmark: the investors' map page and its vector tiles over 1 000 000 parcels.

Builds a throw-away database (its own embedded PostGIS cluster under bench/out/maps-var, or
a fresh database on ``--admin-url``), migrates it, generates the parcels with the OGC
benchmark's generator (``bench/ogc_bench.generate_parcels``: one INSERT … SELECT, audit
triggers off for the bulk load), serves it with ``hggis serve`` (uvicorn) and measures with
httpx: the size of /maps/land (HTML and the local assets it loads) and the latency of
/tiles/parcels/14/x/y.pbf around random parcels (cold, and revalidated with If-None-Match),
plus the officer layer. Prints a Markdown section for bench/RESULTS.md.

    .venv/bin/python bench/maps_bench.py [--parcels 1000000] [--tiles 200]
                                         [--admin-url postgresql://user@host:port/postgres] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ogc_bench import free_port, generate_parcels, wait_healthy  # noqa: E402

from hggis.access.users import create_user, start_session  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.engine import normalize_url  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402

HGGIS = str(Path(sys.executable).parent / "hggis")
DB_NAME = "hggis_maps_bench"
ZOOM = 14
PAGE_LIMIT_BYTES = 2 * 1024 * 1024


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180.0) / 360.0 * n), int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)


def database(admin_url: str | None, keep: bool) -> tuple[str, Callable[[], None]]:
    """A fresh database URL and the function that throws it away."""
    if admin_url:
        admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        url = make_url(normalize_url(admin_url)).set(database=DB_NAME).render_as_string(hide_password=False)
        with create_engine(url).begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))

        return url, drop
    root = ROOT / "bench" / "out" / "maps-var"
    cluster = EmbeddedCluster(root, free_port())
    if root.exists():
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)
    cluster.up()
    cluster.create_database(DB_NAME)

    def stop() -> None:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)

    return cluster.url(DB_NAME), stop


def timed(client: httpx.Client, urls: list[str], headers_for: Callable[[str], dict] = lambda u: {},
          **kw: object) -> dict:
    times, sizes, statuses = [], [], []
    for i, url in enumerate(urls):
        started = time.perf_counter()
        r = client.get(url, headers=headers_for(url), **kw)  # type: ignore[arg-type]
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code not in (200, 304):
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
        if i >= 3:  # warm-up
            times.append(elapsed)
            sizes.append(len(r.content))
            statuses.append(r.status_code)
    times.sort()
    return {"n": len(times), "p50": statistics.median(times), "p95": times[max(0, round(0.95 * len(times)) - 1)],
            "max": times[-1], "bytes_p50": statistics.median(sizes), "statuses": sorted(set(statuses))}


def page_size(client: httpx.Client, base: str) -> dict:
    """/maps/land as an anonymous investor gets it: the HTML and every local asset it references."""
    started = time.perf_counter()
    r = client.get(f"{base}/maps/land")
    ms = (time.perf_counter() - started) * 1000
    r.raise_for_status()
    assets = sorted(set(re.findall(r'(?:src|href)="(/(?:assets|static)/[^"]+)"', r.text)))
    asset_bytes = sum(len(client.get(base + a).content) for a in assets)
    return {"html": len(r.content), "assets": asset_bytes, "n_assets": len(assets), "ms": ms,
            "tiles": "/tiles/parcels/" in r.text, "external": re.findall(r"https?://[^\"' ]+", r.text)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--tiles", type=int, default=200, help="tile requests per scenario")
    parser.add_argument("--admin-url", help="a server where the benchmark may create and drop a database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url, throw_away = database(args.admin_url, args.keep)
    server = None
    try:
        engine = create_engine(url)
        upgrade(engine)
        load_boundaries(engine, actor="maps bench")
        load_s = generate_parcels(engine, args.parcels)
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
            on_offer = conn.execute(text("SELECT count(*) FROM parcels WHERE status = 'on_offer'")).scalar_one()
            centres = [tuple(r) for r in conn.execute(text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM parcels TABLESAMPLE SYSTEM (1) "
                "REPEATABLE (11) LIMIT 2000) AS s"))]
        with transaction(engine, "maps bench", "benchmark user") as conn:
            uid = create_user(conn, None, f"bench.maps.{int(time.time())}", "city_admin")
            session_id, _ = start_session(conn, uid)
        print(f"generated {total} parcels ({on_offer} on offer) in {load_s:.1f} s", flush=True)

        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "HGGIS_BASEMAP": "none"}
        server = subprocess.Popen([HGGIS, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        rng = random.Random(7)
        tiles = [tile_of(*rng.choice(centres), ZOOM) for _ in range(args.tiles + 3)]
        public_urls = [f"{base}/tiles/parcels/{ZOOM}/{x}/{y}.pbf" for x, y in tiles]
        officer_urls = [f"{base}/tiles/parcels_officer/{ZOOM}/{x}/{y}.pbf" for x, y in tiles]
        with httpx.Client(timeout=60) as client:
            page = page_size(client, base)
            print(f"page: {page}", flush=True)
            cold = timed(client, public_urls)
            print(f"public tiles z{ZOOM}: {cold}", flush=True)
            etags = {u: client.get(u).headers["etag"] for u in public_urls}
            revalidated = timed(client, public_urls, lambda u: {"If-None-Match": etags[u]})
            print(f"revalidated: {revalidated}", flush=True)
            officer = timed(client, officer_urls, cookies={"hggis_session": session_id})
            print(f"officer tiles z{ZOOM}: {officer}", flush=True)
        report(args, total, on_offer, load_s, page, cold, revalidated, officer)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep:
            print(f"kept: {url.split('@')[-1]}")
        else:
            throw_away()


def report(args, total, on_offer, load_s, page, cold, revalidated, officer) -> None:  # noqa: ANN001
    today = dt.date.today().isoformat()
    ok_page = page["html"] + page["assets"] < PAGE_LIMIT_BYTES
    lines = [
        f"## Maps and vector tiles (issue 7) — {today}",
        "",
        f"Command: `.venv/bin/python bench/maps_bench.py --parcels {args.parcels} --tiles {args.tiles}`"
        + (" --admin-url …" if args.admin_url else ""),
        "",
        f"Data: {total:,} synthetic parcels from `bench/ogc_bench.generate_parcels` ({on_offer:,} on offer, "
        f"generated in {load_s:.0f} s with the audit triggers off). Server: `hggis serve` (one uvicorn worker); "
        "client: httpx, keep-alive, sequential requests; times are wall clock per request including the body. "
        "Tiles are centred on random parcels (1 % sample). Machine: 2 cores; other work may have been running.",
        "",
        "| measure | figure | target |",
        "|---|---|---|",
        f"| /maps/land HTML (anonymous investor) | {page['html'] / 1024:.0f} KiB in {page['ms']:.0f} ms; "
        f"layer drawn from tiles: {'yes' if page['tiles'] else 'no'} | — |",
        f"| /maps/land HTML + its {page['n_assets']} local JS/CSS files | {(page['html'] + page['assets']) / 1024 / 1024:.2f} MiB "
        f"| < 2 MB {'✓' if ok_page else '✗'} |",
        f"| public tiles z{ZOOM} (land on offer), cold | p50 {cold['p50']:.1f} ms, p95 {cold['p95']:.1f} ms, "
        f"max {cold['max']:.0f} ms; {cold['bytes_p50'] / 1024:.1f} KiB median ({cold['n']} tiles) "
        f"| p50 ≤ 50 ms {'✓' if cold['p50'] <= 50 else '✗'} |",
        f"| same tiles, If-None-Match (304) | p50 {revalidated['p50']:.1f} ms, p95 {revalidated['p95']:.1f} ms "
        f"(statuses {revalidated['statuses']}) | — |",
        f"| officer tiles z{ZOOM} (all parcels, session) | p50 {officer['p50']:.1f} ms, p95 {officer['p95']:.1f} ms; "
        f"{officer['bytes_p50'] / 1024:.1f} KiB median | — |",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
