"""OGC API – Features benchmark: pages of 1 000 features with a bbox on a 1 000 000-parcel table.

Builds a throw-away database (its own embedded PostGIS cluster under bench/out/ogc-var,
or a fresh database on ``--admin-url``), migrates it, generates synthetic parcels inside
黄冈's county polygons with set-based SQL (generate_series; audit triggers off for the bulk
load only), serves it with ``hggis serve`` (uvicorn) and times requests with httpx.
Prints a Markdown section for bench/RESULTS.md.

    .venv/bin/python bench/ogc_bench.py [--parcels 1000000] [--requests 50]
                                        [--admin-url postgresql://user@host:port/postgres] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hggis.access.users import create_user, issue_token, start_session  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.engine import normalize_url  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402

HGGIS = str(Path(sys.executable).parent / "hggis")
DB_NAME = "hggis_ogc_bench"
EPSG_4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"
# Share of each status among the synthetic parcels (on_offer is what the public sees).
STATUS_SHARES = [("producing", 60), ("supplied", 10), ("under_construction", 10), ("reserve", 8),
                 ("on_offer", 7), ("idle_candidate", 3), ("recovered", 2)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_sql() -> str:
    """CASE over a pseudo-random bucket 0–99 (``b``) following STATUS_SHARES."""
    parts, upper = [], 0
    for status, share in STATUS_SHARES:
        upper += share
        parts.append(f"WHEN b < {upper} THEN '{status}'")
    return "CASE " + " ".join(parts) + " END"


def generate_parcels(engine: Engine, n: int) -> float:
    """Insert ``n`` parcels (~80 m squares on a grid inside the county polygons) in one statement."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # bulk load: no audit rows
        conn.execute(text("SELECT setseed(0.2023)"))
        conn.execute(text("DROP INDEX IF EXISTS idx_parcels_geom"))
        conn.execute(text(
            "CREATE TEMP TABLE county_pieces ON COMMIT DROP AS "
            "SELECT adcode, ST_Subdivide(boundary, 64) AS g FROM counties WHERE boundary IS NOT NULL"
        ))
        conn.execute(text("CREATE INDEX ON county_pieces USING gist (g)"))
        conn.execute(text("ANALYZE county_pieces"))
        area_m2, x0, y0, x1, y1 = conn.execute(text(
            "SELECT sum(ST_Area(boundary::geography)), ST_XMin(ST_Extent(boundary)), ST_YMin(ST_Extent(boundary)), "
            "ST_XMax(ST_Extent(boundary)), ST_YMax(ST_Extent(boundary)) FROM counties"
        )).one()
        step_m = (area_m2 / (n * 1.04)) ** 0.5  # 4 % spare cells, thinned at random below
        dlat = step_m / 110_850.0
        dlon = step_m / (111_320.0 * 0.8607)  # cos(30.6°)
        conn.execute(text("""
            CREATE TEMP TABLE cells ON COMMIT DROP AS
            SELECT i, j, p.adcode, :x0 + i * :dlon AS x, :y0 + j * :dlat AS y
            FROM generate_series(0, ceil((:x1 - :x0) / :dlon)::int) AS i,
                 generate_series(0, ceil((:y1 - :y0) / :dlat)::int) AS j,
                 LATERAL (SELECT adcode FROM county_pieces
                          WHERE ST_Intersects(g, ST_SetSRID(ST_MakePoint(:x0 + (i + 0.5) * :dlon,
                                                                        :y0 + (j + 0.5) * :dlat), 4490))
                          LIMIT 1) AS p
        """), {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "dlon": dlon, "dlat": dlat})
        conn.execute(text(f"""
            INSERT INTO parcels (code, geom, adcode, land_use, status)
            SELECT adcode || '001' || lpad((n / 99999 + 1)::text, 3, '0') || 'GB' || lpad((n % 99999 + 1)::text, 5, '0'),
                   ST_Multi(ST_MakeEnvelope(x + 0.1 * :dlon, y + 0.1 * :dlat, x + 0.9 * :dlon, y + 0.9 * :dlat, 4490)),
                   adcode, '0601', {status_sql()}
            FROM (
                SELECT adcode, x, y, b, row_number() OVER (PARTITION BY adcode ORDER BY j, i) - 1 AS n
                FROM (SELECT *, floor(random() * 100)::int AS b FROM cells ORDER BY random() LIMIT :n) AS kept
            ) AS numbered
        """), {"dlon": dlon, "dlat": dlat, "n": n})
        conn.execute(text("CREATE INDEX idx_parcels_geom ON parcels USING gist (geom)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE parcels"))
    return time.perf_counter() - started


@dataclass
class Scenario:
    name: str
    description: str
    url: Callable[[random.Random], str]
    auth: str  # "public", "token" or "session"


def bbox_around(rng: random.Random, centres: list[tuple[float, float]], half_lon: float, half_lat: float) -> str:
    lon, lat = rng.choice(centres)
    return f"{lon - half_lon:.5f},{lat - half_lat:.5f},{lon + half_lon:.5f},{lat + half_lat:.5f}"


def time_requests(client: httpx.Client, scenario: Scenario, n: int, seed: int, headers: dict, cookies: dict) -> dict:
    rng = random.Random(seed)
    times, returned, matched = [], [], []
    for i in range(n + 2):
        url = scenario.url(rng)
        started = time.perf_counter()
        r = client.get(url, headers=headers, cookies=cookies)
        elapsed = time.perf_counter() - started
        r.raise_for_status()
        body = r.json()
        if i >= 2:  # two warm-up requests
            times.append(elapsed * 1000)
            returned.append(body["numberReturned"])
            matched.append("exact" if "numberMatched" in body else "estimate")
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, round(0.95 * len(times)) - 1)],
        "mean": statistics.fmean(times),
        "returned": f"{min(returned)}–{max(returned)}",
        "matched": "/".join(sorted(set(matched))),
        "n": len(times),
    }


def explain(engine: Engine, bbox: str) -> str:
    """The plan of the page query's id selection (shows the GiST index at work), as the API runs it."""
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))  # as hggis.ogc.items does
        rows = conn.execute(text(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT p.code FROM parcels p "
            "WHERE p.retired_at IS NULL AND ST_Intersects(p.geom, ST_MakeEnvelope(:a, :b, :c, :d, 4490)) "
            "ORDER BY p.code LIMIT 1001"
        ), {"a": x0, "b": y0, "c": x1, "d": y1}).scalars()
        return "\n".join(rows)


def wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("hggis serve did not become healthy")


def database(args: argparse.Namespace) -> tuple[str, Callable[[], None]]:
    """A fresh database URL and the function that throws it away."""
    if args.admin_url:
        admin = create_engine(normalize_url(args.admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB_NAME}).first()
            if not (args.reuse and exists):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        url = make_url(normalize_url(args.admin_url)).set(database=DB_NAME).render_as_string(hide_password=False)
        with create_engine(url).begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))

        return url, drop
    root = ROOT / "bench" / "out" / "ogc-var"
    cluster = EmbeddedCluster(root, free_port())
    if not args.reuse:
        cluster.down() if root.exists() else None
        shutil.rmtree(root, ignore_errors=True)
    cluster.up()
    cluster.create_database(DB_NAME)

    def stop() -> None:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)

    return cluster.url(DB_NAME), stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--admin-url", help="a server where the benchmark may create and drop a database")
    parser.add_argument("--keep", action="store_true", help="keep the database (and cluster) afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database that has the parcels already")
    args = parser.parse_args()

    url, throw_away = database(args)
    server = None
    try:
        engine = create_engine(url)
        upgrade(engine)
        load_boundaries(engine, actor="ogc bench")
        with engine.connect() as conn:
            present = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
        if args.reuse and present == args.parcels:
            load_s = float("nan")
        else:
            if present:
                raise SystemExit(f"the database already holds {present} parcels; drop it or use --reuse")
            load_s = generate_parcels(engine, args.parcels)
        with engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
            on_offer = conn.execute(text("SELECT count(*) FROM parcels WHERE status = 'on_offer'")).scalar_one()
            centres = [tuple(r) for r in conn.execute(text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM parcels TABLESAMPLE SYSTEM (1) "
                "REPEATABLE (7) LIMIT 500) AS s"
            ))]
        with transaction(engine, "ogc bench", "benchmark users") as conn:
            uid = create_user(conn, None, f"bench.admin.{int(time.time())}", "city_admin")
            token = issue_token(conn, uid, 1).token
            session_id, _ = start_session(conn, uid)
        print(f"generated {total} parcels ({on_offer} on offer) in {load_s:.1f} s", flush=True)

        port = free_port()
        env = {**os.environ, "DATABASE_URL": url}
        server = subprocess.Popen([HGGIS, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        items = f"{base}/ogc/collections/{{}}/items?limit=1000"
        # ~5.5 km boxes hold ~1 800 parcels; ~17 km boxes hold ~1 000 parcels on offer (7 %)
        small = lambda rng: bbox_around(rng, centres, 0.03, 0.025)  # noqa: E731
        wide = lambda rng: bbox_around(rng, centres, 0.09, 0.075)  # noqa: E731
        huge = lambda rng: bbox_around(rng, centres, 0.5, 0.4)  # noqa: E731

        def huge_next(rng: random.Random) -> str:
            """The next link of a first page (fetched untimed): a cursor page deep in a large result."""
            first_url = items.format("parcels") + f"&bbox={huge(rng)}"
            first = httpx.get(first_url, cookies={"hggis_session": session_id}, timeout=60).json()
            return next(link["href"] for link in first["links"] if link["rel"] == "next")

        scenarios = [
            Scenario("parcels, bbox ~5.5 km, token", "all parcels (1 M table), Bearer token (argon2 on first use, then remembered)",
                     lambda rng: items.format("parcels") + f"&bbox={small(rng)}", "token"),
            Scenario("parcels, bbox ~5.5 km, session", "all parcels, signed-in web session (cheap auth)",
                     lambda rng: items.format("parcels") + f"&bbox={small(rng)}", "session"),
            Scenario("parcels, bbox ~5.5 km, crs=EPSG:4547", "as above, coordinates transformed to Gauss-Krüger",
                     lambda rng: items.format("parcels") + f"&bbox={small(rng)}&crs={EPSG_4547}", "session"),
            Scenario("available_land, bbox ~17 km, public", "land on offer (7 % of the table), anonymous",
                     lambda rng: items.format("available_land") + f"&bbox={wide(rng)}", "public"),
            Scenario("parcels, bbox ~100 km, 2nd page", "next link (cursor) of a bbox matching >200 000 parcels",
                     huge_next, "session"),
            Scenario("parcels, no bbox, 1st page", "whole table, numberMatched from the estimate",
                     lambda rng: items.format("parcels"), "session"),
        ]
        results = []
        with httpx.Client(timeout=60) as client:
            for i, sc in enumerate(scenarios):
                headers = {"Authorization": f"Bearer {token}"} if sc.auth == "token" else {}
                cookies = {"hggis_session": session_id} if sc.auth == "session" else {}
                n = args.requests if i < 4 else max(10, args.requests // 2)
                results.append((sc, time_requests(client, sc, n, seed=i, headers=headers, cookies=cookies)))
                print(f"{sc.name}: {results[-1][1]}", flush=True)
        plan = explain(engine, small(random.Random(1)))
        report(args, total, on_offer, load_s, results, plan)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep:
            print(f"kept: {url.split('@')[-1]} (run again with --reuse)")
        else:
            throw_away()


def report(args, total, on_offer, load_s, results, plan) -> None:  # noqa: ANN001
    today = dt.date.today().isoformat()
    lines = [
        f"## OGC API – Features (issue 8) — {today}",
        "",
        f"Command: `.venv/bin/python bench/ogc_bench.py --parcels {args.parcels} --requests {args.requests}`"
        + (" --admin-url …" if args.admin_url else ""),
        "",
        f"Data: {total:,} synthetic parcels (~80 m squares on a grid inside the county polygons, "
        f"{on_offer:,} on offer), generated with one INSERT … SELECT over generate_series in {load_s:.0f} s "
        "(audit triggers off for the bulk load, GiST index built afterwards, VACUUM ANALYZE). "
        "Server: `hggis serve` (one uvicorn worker); client: httpx, keep-alive, sequential requests, "
        "each a page of `limit=1000` GeoJSON features, bbox centred on a random parcel. Times are wall "
        "clock per request including the body transfer. Machine: 2 cores; other work may have been "
        "running at the same time.",
        "",
        "| scenario | what | requests | p50 ms | p95 ms | mean ms | features returned | numberMatched |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sc, r in results:
        lines.append(f"| {sc.name} | {sc.description} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | "
                     f"{r['mean']:.0f} | {r['returned']} | {r['matched']} |")
    lines += ["", "Plan of the page's id selection (bbox ~5.5 km):", "", "```", plan, "```", ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
