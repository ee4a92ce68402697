"""Vector tiles side by side: hggis against tipg and against the raw ``ST_AsMVT`` SQL, 1 000 000 parcels.

One private embedded PostGIS cluster under ``bench/out/tiles-var`` (``HGGIS_VAR_DIR`` of the
served hggis too), one database, one interleaved run:

- **A hggis**: ``hggis serve`` (one uvicorn worker) over HTTP, ``/tiles/{layer}/{z}/{x}/{y}.pbf``.
- **B tipg**: ``uvicorn tipg.main:app`` (one worker, from a bench-only venv; tipg is no
  dependency of hggis) over HTTP, serving views in schema ``bench`` that select exactly the
  rows and attributes of the hggis layer (built from ``hggis.tiles.TILE_LAYERS``: same FROM,
  WHERE and attribute expressions), with the same extent (4096) and buffer (64 px).
- **C raw**: the textbook ``ST_AsMVT(ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(…)))``
  query over the same FROM/WHERE, run with psycopg on one connection (JIT and parallel
  workers off, i.e. its best case: this is the floor).

Every tile is requested by A, B and C in turn (the order rotates each time, so no system
always gets the cache warmed by another), after one warm-up pass over all tiles that also
checks the three answers hold the same features and attributes. Both HTTP clients send
``Accept-Encoding: identity``: the tile is measured, not a compressor.

Data (``generate``, set-based SQL, audit triggers off for the bulk load only): 2 000
enterprises, 120 parks (discs of 1.2–3.5 km clipped to their county) holding ~70 % of the
parcels on a ~60 m lattice, the rest on a coarse lattice over the counties outside the
parks; each parcel an 8-vertex star-shaped polygon, statuses as in bench/ogc_bench.py
(7 % on offer, with control indicators), industries, park ids and holders filled in, so
every joined attribute of the layers has a value. Tiles are sampled among the densest tiles
of each zoom (z12–z16) from a 5 % sample of parcel centroids.

    .venv/bin/python bench/tiles_bench.py [--parcels 1000000] [--tiles 20] [--rounds 3]
        [--tipg bench/out/.venv-tipg/bin/uvicorn] [--regenerate] [--drop]

The database is kept between runs (generation takes minutes); ``--regenerate`` rebuilds it,
``--drop`` stops and deletes the cluster at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ogc_bench import free_port, status_sql, wait_healthy  # noqa: E402

from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.demo.generator import _credit_code  # noqa: E402
from hggis.tiles import BUFFER, EXTENT, TILE_LAYERS  # noqa: E402
from tests.mvt import decode  # noqa: E402

HGGIS = str(Path(sys.executable).parent / "hggis")
VAR = ROOT / "bench" / "out" / "tiles-var"
DB_NAME = "hggis_tiles_bench"
ZOOMS = (12, 13, 14, 15, 16)
LAYERS = ("parcels", "parcels_officer")  # public land on offer; every live parcel (officers)
N_PARKS = 120
N_ENTERPRISES = 2000
PARK_SHARE = 0.7
IDENTITY = {"Accept-Encoding": "identity"}


# ------------------------------------------------------------------ data


def _enterprises(engine: Engine) -> None:
    rng = np.random.default_rng(18)
    with engine.begin() as conn:
        adcodes = list(conn.execute(text("SELECT adcode FROM counties ORDER BY adcode")).scalars())
        taken: set[str] = set()
        rows = [{"c": _credit_code(rng, adcodes[i % len(adcodes)], bool(i % 2), taken), "n": f"基准测试企业{i:04d}",
                 "a": adcodes[i % len(adcodes)]} for i in range(N_ENTERPRISES)]
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("INSERT INTO enterprises (credit_code, name, adcode) VALUES (:c, :n, :a)"), rows)


def generate(engine: Engine, n: int) -> float:
    """Parks, enterprises and ``n`` parcels, clustered in the parks (dense tiles) and scattered elsewhere."""
    started = time.perf_counter()
    _enterprises(engine)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # bulk load: no audit rows
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text("SELECT setseed(0.18)"))
        conn.execute(text("DROP INDEX IF EXISTS idx_parcels_geom"))
        industries = list(conn.execute(text("SELECT code FROM industries ORDER BY code")).scalars())
        conn.execute(text("""
            INSERT INTO parks (name, adcode, level, industry_code, boundary, contact_office)
            SELECT '基准测试园区' || lpad(row_number() OVER (ORDER BY c.adcode, g.path[1])::text, 3, '0'),
                   c.adcode, '省级', (CAST(:ind AS text[]))[1 + (g.path[1] % cardinality(CAST(:ind AS text[])))],
                   ST_Multi(ST_CollectionExtract(ST_Intersection(c.boundary, ST_SetSRID(ST_Buffer(g.geom::geography,
                       1200 + 2300 * random(), 16)::geometry, 4490)), 3)),
                   c.name || '招商服务中心'
            FROM counties c, ST_Dump(ST_GeneratePoints(c.boundary, :k, 18)) AS g
            WHERE c.boundary IS NOT NULL
        """), {"ind": industries, "k": math.ceil(N_PARKS / 10)})
        conn.execute(text("DELETE FROM parks WHERE name LIKE '基准测试园区%' AND (boundary IS NULL OR ST_IsEmpty(boundary))"))
        park_m2, county_m2, x0, y0, x1, y1 = conn.execute(text(
            "SELECT (SELECT sum(ST_Area(boundary::geography)) FROM parks WHERE name LIKE '基准测试园区%'), "
            "sum(ST_Area(boundary::geography)), ST_XMin(ST_Extent(boundary)), ST_YMin(ST_Extent(boundary)), "
            "ST_XMax(ST_Extent(boundary)), ST_YMax(ST_Extent(boundary)) FROM counties")).one()
        n_park = int(n * PARK_SHARE)
        # lattice steps (degrees) so that the cells number ~5 % more than wanted; thinned at random below
        step_p = (park_m2 / (n_park * 1.2)) ** 0.5
        step_s = ((county_m2 - park_m2) / ((n - n_park) * 1.2)) ** 0.5
        kx, ky = 111_320.0 * 0.8607, 110_850.0  # metres per degree at 30.6°N
        conn.execute(text("""
            CREATE TEMP TABLE cells ON COMMIT DROP AS
            SELECT DISTINCT ON (i, j) i, j, k.adcode, k.id AS park_id, (:x0 + i * :dx) AS x, (:y0 + j * :dy) AS y,
                   :dx AS dx, :dy AS dy
            FROM parks k,
                 generate_series(floor((ST_XMin(k.boundary) - :x0) / :dx)::int, ceil((ST_XMax(k.boundary) - :x0) / :dx)::int) i,
                 generate_series(floor((ST_YMin(k.boundary) - :y0) / :dy)::int, ceil((ST_YMax(k.boundary) - :y0) / :dy)::int) j
            WHERE k.name LIKE '基准测试园区%'
              AND ST_Intersects(k.boundary, ST_SetSRID(ST_MakePoint(:x0 + (i + 0.5) * :dx, :y0 + (j + 0.5) * :dy), 4490))
            ORDER BY i, j, k.id
        """), {"x0": x0, "y0": y0, "dx": step_p / kx, "dy": step_p / ky})
        conn.execute(text(
            "CREATE TEMP TABLE county_pieces ON COMMIT DROP AS "
            "SELECT adcode, ST_Subdivide(boundary, 64) AS g FROM counties WHERE boundary IS NOT NULL"))
        conn.execute(text("CREATE INDEX ON county_pieces USING gist (g)"))
        conn.execute(text(
            "CREATE TEMP TABLE park_pieces ON COMMIT DROP AS "
            "SELECT ST_Subdivide(boundary, 64) AS g FROM parks WHERE name LIKE '基准测试园区%'"))
        conn.execute(text("CREATE INDEX ON park_pieces USING gist (g)"))
        conn.execute(text("ANALYZE county_pieces; ANALYZE park_pieces"))
        conn.execute(text("""
            CREATE TEMP TABLE scattered ON COMMIT DROP AS
            SELECT p.adcode, NULL::int AS park_id, (:x0 + i * :dx) AS x, (:y0 + j * :dy) AS y, :dx AS dx, :dy AS dy
            FROM generate_series(0, ceil((:x1 - :x0) / :dx)::int) AS i,
                 generate_series(0, ceil((:y1 - :y0) / :dy)::int) AS j,
                 LATERAL (SELECT ST_SetSRID(ST_MakePoint(:x0 + (i + 0.5) * :dx, :y0 + (j + 0.5) * :dy), 4490) AS c) AS pt,
                 LATERAL (SELECT adcode FROM county_pieces WHERE ST_Intersects(g, pt.c) LIMIT 1) AS p
            WHERE NOT EXISTS (SELECT 1 FROM park_pieces WHERE ST_DWithin(g, pt.c, :dx))
        """), {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "dx": step_s / kx, "dy": step_s / ky})
        conn.execute(text(f"""
            INSERT INTO parcels (code, geom, adcode, park_id, land_use, status, intended_industry, holder_id)
            SELECT adcode || '001' || lpad((n / 99999 + 1)::text, 3, '0') || 'GB' || lpad((n % 99999 + 1)::text, 5, '0'),
                   shape.g, adcode, park_id, '0601', status,
                   CASE WHEN park_id IS NOT NULL OR status IN ('on_offer', 'reserve')
                        THEN (CAST(:ind AS text[]))[1 + (n % cardinality(CAST(:ind AS text[])))] END,
                   CASE WHEN status IN ('producing', 'supplied', 'under_construction', 'idle_candidate')
                        THEN ent.ids[1 + (n % cardinality(ent.ids))] END
            FROM (
                SELECT *, {status_sql()} AS status,
                       row_number() OVER (PARTITION BY adcode ORDER BY y, x) - 1 AS n
                FROM (SELECT *, floor(random() * 100)::int AS b FROM (
                        (SELECT adcode, park_id, x, y, dx, dy FROM cells ORDER BY random() LIMIT :np)
                        UNION ALL
                        (SELECT adcode, park_id, x, y, dx, dy FROM scattered ORDER BY random() LIMIT :ns)) AS u) AS kept
            ) AS c
            JOIN (SELECT adcode, array_agg(id ORDER BY id) AS ids FROM enterprises GROUP BY adcode) AS ent USING (adcode),
            LATERAL (
                -- an 8-vertex star-shaped polygon around the cell's centre: always simple and valid
                SELECT ST_Multi(ST_MakePolygon(ST_AddPoint(l, ST_StartPoint(l)))) AS g FROM (
                    SELECT ST_SetSRID(ST_MakeLine(ST_MakePoint(
                        c.x + c.dx * (0.5 + (0.28 + 0.12 * random()) * cos(radians(k * 45 + 15 * random()))),
                        c.y + c.dy * (0.5 + (0.28 + 0.12 * random()) * sin(radians(k * 45 + 15 * random()))))
                        ORDER BY k), 4490) AS l
                    FROM generate_series(0, 7) AS k) AS ring
            ) AS shape
        """), {"ind": industries, "np": n_park, "ns": n - n_park})
        conn.execute(text("""
            INSERT INTO control_indicators (parcel_id, investment_intensity, far_min, far_max, tax_per_mu,
                                            output_intensity, building_coverage_min, green_ratio_max, construction_months)
            SELECT id, 250 + (id % 7) * 25, 1.0, 2.5 + (id % 3) * 0.5, 15 + id % 10, 300 + (id % 5) * 50, 40, 15, 24
            FROM parcels WHERE status = 'on_offer'
        """))
        conn.execute(text("CREATE INDEX idx_parcels_geom ON parcels USING gist (geom)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE parcels"))
        conn.execute(text("VACUUM ANALYZE control_indicators"))
        conn.execute(text("ANALYZE parks"))
        conn.execute(text("ANALYZE enterprises"))
    return time.perf_counter() - started


def tipg_views(engine: Engine) -> None:
    """Schema ``bench``: one view per layer with the hggis layer's FROM, WHERE and attributes (tipg serves them)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS bench"))
        for name in LAYERS:
            layer = TILE_LAYERS[name]
            props = ", ".join(f"{expr} AS {col}" for col, expr in layer.fields.items())
            conn.execute(text(f"DROP VIEW IF EXISTS bench.{name}"))
            conn.execute(text(f"CREATE VIEW bench.{name} AS SELECT {props}, p.geom FROM {layer.source} WHERE {layer.where}"))


def raw_sql(name: str, z: int, x: int, y: int) -> str:
    """The textbook tile query for the layer (tile numbers inlined: bench code, integers only)."""
    layer = TILE_LAYERS[name]
    props = ", ".join(f"{expr} AS {col}" for col, expr in layer.fields.items())
    return (
        f"SELECT ST_AsMVT(t, '{name}', {EXTENT}, 'geom') FROM (SELECT {props}, "
        f"ST_AsMVTGeom(ST_Transform(p.geom, 3857), ST_TileEnvelope({z}, {x}, {y}), {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM {layer.source} WHERE p.geom && ST_Transform(ST_TileEnvelope({z}, {x}, {y}, margin => {BUFFER / EXTENT}), 4490) "
        f"AND {layer.where}) AS t"
    )


def dense_tiles(engine: Engine, per_zoom: int, rng: random.Random) -> list[tuple[int, int, int]]:
    """``per_zoom`` tiles at each zoom drawn from the densest quarter of the occupied tiles."""
    out = []
    with engine.connect() as conn:
        for z in ZOOMS:
            rows = conn.execute(text("""
                SELECT x, y FROM (
                    SELECT floor((ST_X(c) + 180) / 360 * 2 ^ :z)::int AS x,
                           floor((1 - ln(tan(radians(ST_Y(c))) + 1 / cos(radians(ST_Y(c)))) / pi()) / 2 * 2 ^ :z)::int AS y
                    FROM (SELECT ST_Centroid(geom) AS c FROM parcels TABLESAMPLE SYSTEM (5) REPEATABLE (3)) s) t
                GROUP BY x, y ORDER BY count(*) DESC, x, y
            """), {"z": z}).all()
            top = rows[: max(per_zoom, len(rows) // 4)]
            out += [(z, x, y) for x, y in rng.sample(top, min(per_zoom, len(top)))]
    return out


# ------------------------------------------------------------------ systems


class Systems:
    """The three ways to get a tile; each returns the MVT bytes."""

    def __init__(self, hggis_base: str, tipg_base: str, dsn: str) -> None:
        self.http = httpx.Client(timeout=120, headers=IDENTITY)
        self.hggis_base, self.tipg_base = hggis_base, tipg_base
        self.pg = psycopg.connect(dsn, autocommit=True)
        self.pg.execute("SET jit = off")
        self.pg.execute("SET max_parallel_workers_per_gather = 0")

    def hggis(self, layer: str, z: int, x: int, y: int, headers: dict | None = None) -> httpx.Response:
        r = self.http.get(f"{self.hggis_base}/tiles/{layer}/{z}/{x}/{y}.pbf", headers=headers or {},
                          cookies=self.cookies)
        if r.status_code not in (200, 304):
            raise RuntimeError(f"hggis {layer} {z}/{x}/{y}: {r.status_code} {r.text[:200]}")
        return r

    def tipg(self, layer: str, z: int, x: int, y: int) -> httpx.Response:
        r = self.http.get(f"{self.tipg_base}/collections/bench.{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}")
        if r.status_code != 200:
            raise RuntimeError(f"tipg {layer} {z}/{x}/{y}: {r.status_code} {r.text[:200]}")
        return r

    def raw(self, layer: str, z: int, x: int, y: int) -> bytes:
        row = self.pg.execute(raw_sql(layer, z, x, y)).fetchone()
        return bytes(row[0] or b"")  # type: ignore[index]

    cookies: dict = {}


def features(data: bytes) -> tuple[int, set[str]]:
    layers = decode(data)
    n, names = 0, set()
    for layer in layers.values():
        n += len(layer.features)
        for f in layer.features:
            names |= set(f.properties)
    return n, names


def start_tipg(uvicorn: str, dsn: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": dsn, "TIPG_DB_SCHEMAS": '["bench"]', "TIPG_MAX_FEATURES_PER_TILE": "1000000",
           "TIPG_TILE_BUFFER": str(BUFFER), "TIPG_TILE_RESOLUTION": str(EXTENT), "TIPG_TILE_CLIP": "true"}
    proc = subprocess.Popen([uvicorn, "tipg.main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--log-level", "warning", "--no-access-log"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(VAR.parent / "tipg.log", "w"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/collections", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("tipg did not start (bench/out/tipg.log)")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, math.ceil(q * len(values)) - 1)]


def main() -> None:  # noqa: C901, PLR0915
    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--tiles", type=int, default=20, help="tiles per zoom level")
    parser.add_argument("--rounds", type=int, default=3, help="timed requests per tile and system")
    parser.add_argument("--tipg", default=str(ROOT / "bench" / "out" / ".venv-tipg" / "bin" / "uvicorn"))
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--drop", action="store_true", help="stop and delete the cluster afterwards")
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()

    VAR.mkdir(parents=True, exist_ok=True)
    port_file = VAR / "port"
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    port_file.write_text(str(port))
    cluster = EmbeddedCluster(VAR, port)
    cluster.up()
    url = cluster.url(DB_NAME)
    engine = create_engine(url)
    with create_engine(cluster.url()).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB_NAME}).first()
        if exists and not args.regenerate:  # an interrupted generation leaves an empty database behind
            with engine.connect() as probe:
                exists = probe.execute(text("SELECT coalesce(to_regclass('parcels') IS NOT NULL AND EXISTS "
                                            "(SELECT 1 FROM pg_class WHERE relname = 'idx_parcels_geom'), false)")).scalar()
        if exists is not None and args.regenerate or exists is False:
            conn.execute(text(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)'))
            exists = None
    load_s = None
    if not exists:
        cluster.create_database(DB_NAME)
        upgrade(engine)
        load_boundaries(engine, actor="tiles bench")
        load_s = generate(engine, args.parcels)
        print(f"generated in {load_s:.0f} s", flush=True)
    tipg_views(engine)
    with engine.connect() as conn:
        total, on_offer, in_parks = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE status = 'on_offer'), count(park_id) FROM parcels")).one()
        pg_version = conn.execute(text("SELECT version()")).scalar_one().split(",")[0]
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    print(f"{total} parcels, {on_offer} on offer, {in_parks} in parks", flush=True)
    if args.setup_only:
        return

    from hggis.access.users import create_user, start_session
    from hggis.db.session import transaction

    with transaction(engine, "tiles bench", "benchmark user") as conn:
        uid = create_user(conn, None, f"bench.tiles.{int(time.time())}", "city_admin")
        session_id, _ = start_session(conn, uid)

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    hport, tport = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": url, "HGGIS_VAR_DIR": str(VAR), "HGGIS_BASEMAP": "none"}
    hggis_proc = subprocess.Popen([HGGIS, "serve", "--host", "127.0.0.1", "--port", str(hport)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=open(VAR.parent / "hggis-serve.log", "w"))
    tipg_proc = None
    try:
        wait_healthy(f"http://127.0.0.1:{hport}")
        tipg_proc = start_tipg(args.tipg, dsn, tport)
        sysm = Systems(f"http://127.0.0.1:{hport}", f"http://127.0.0.1:{tport}", dsn)
        sysm.cookies = {"hggis_session": session_id}
        rng = random.Random(12)
        tiles = dense_tiles(engine, args.tiles, rng)
        jobs = [(layer, t) for layer in LAYERS for t in tiles]

        # warm-up pass: caches, and the three answers must hold the same features and attributes
        mismatches, counts = [], {}
        for layer, (z, x, y) in jobs:
            a, b, c = (features(sysm.hggis(layer, z, x, y).content), features(sysm.tipg(layer, z, x, y).content),
                       features(sysm.raw(layer, z, x, y)))
            counts[(layer, z, x, y)] = a[0]
            if not (a[0] == b[0] == c[0]) or not (a[1] == c[1]) or not (b[1] <= a[1] | {"geom"}):
                mismatches.append({"tile": f"{layer} {z}/{x}/{y}", "hggis": a[0], "tipg": b[0], "raw": c[0],
                                   "attrs": sorted(a[1] ^ c[1]) + sorted(b[1] - a[1])})
        print(f"warm-up done, {len(mismatches)} mismatching tiles", flush=True)
        for m in mismatches[:5]:
            print("  mismatch", m, flush=True)

        times: dict[tuple[str, str, int], list[float]] = {}
        sizes: dict[tuple[str, str, int], list[int]] = {}
        loads = [os.getloadavg()]
        started = time.perf_counter()
        runners = {
            "hggis": lambda ly, z, x, y: sysm.hggis(ly, z, x, y).content,
            "tipg": lambda ly, z, x, y: sysm.tipg(ly, z, x, y).content,
            "raw": lambda ly, z, x, y: sysm.raw(ly, z, x, y),
        }
        order = list(runners)
        k = 0
        for _ in range(args.rounds):
            rng.shuffle(jobs)
            for layer, (z, x, y) in jobs:
                k += 1
                for name in order[k % 3:] + order[: k % 3]:
                    t0 = time.perf_counter()
                    body = runners[name](layer, z, x, y)
                    times.setdefault((name, layer, z), []).append((time.perf_counter() - t0) * 1000)
                    sizes.setdefault((name, layer, z), []).append(len(body))
            loads.append(os.getloadavg())
        # revalidation (If-None-Match → 304): the cheap ETag path
        etags = {(layer, t): sysm.hggis(layer, *t).headers["etag"] for layer, t in jobs}
        for layer, (z, x, y) in jobs:
            t0 = time.perf_counter()
            r = sysm.hggis(layer, z, x, y, {"If-None-Match": etags[(layer, (z, x, y))]})
            assert r.status_code == 304, r.status_code
            times.setdefault(("hggis 304", layer, z), []).append((time.perf_counter() - t0) * 1000)
        loads.append(os.getloadavg())
        wall = time.perf_counter() - started
    finally:
        for proc in (hggis_proc, tipg_proc):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        if args.drop:
            cluster.down()

    report(args, total, on_offer, in_parks, load_s, pg_version, postgis, tiles, counts, times, sizes, loads, wall,
           mismatches)


def report(args, total, on_offer, in_parks, load_s, pg_version, postgis, tiles, counts, times, sizes, loads, wall,
           mismatches) -> None:  # noqa: ANN001
    lines = [
        f"### Side-by-side run, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `.venv/bin/python bench/tiles_bench.py --parcels {args.parcels} --tiles {args.tiles} "
        f"--rounds {args.rounds}`",
        "",
        f"Data: {total:,} parcels ({in_parks:,} in 120 parks, {on_offer:,} on offer)"
        + (f", generated in {load_s:.0f} s" if load_s else "") + f"; {pg_version}, PostGIS {postgis}. "
        f"{len(tiles)} tiles ({args.tiles} per zoom, densest quarter), {args.rounds} timed requests per tile, layer and "
        f"system, interleaved with rotating order; {wall:.0f} s. Load average (1 min) during the run: "
        + ", ".join(f"{la[0]:.1f}" for la in loads) + ". Answers compared in the warm-up pass: "
        + ("all tiles hold the same features and attributes." if not mismatches
           else f"{len(mismatches)} tiles differ: {json.dumps(mismatches[:3], ensure_ascii=False)}"),
        "",
        "| layer | z | features (median) | hggis p50 ms | tipg p50 ms | raw SQL p50 ms | hggis / tipg | hggis / raw "
        "| hggis p95 | tipg p95 | hggis 304 p50 | KiB (hggis / tipg) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for layer in LAYERS:
        for z in ZOOMS:
            a, b, c = (times[(s, layer, z)] for s in ("hggis", "tipg", "raw"))
            pa, pb, pc = statistics.median(a), statistics.median(b), statistics.median(c)
            feats = statistics.median([v for (ly, zz, _x, _y), v in counts.items() if ly == layer and zz == z])
            lines.append(
                f"| {layer} | {z} | {feats:.0f} | {pa:.1f} | {pb:.1f} | {pc:.1f} | **{pa / pb:.2f}** | **{pa / pc:.2f}** "
                f"| {pct(a, 0.95):.1f} | {pct(b, 0.95):.1f} | {statistics.median(times[('hggis 304', layer, z)]):.1f} "
                f"| {statistics.median(sizes[('hggis', layer, z)]) / 1024:.1f} / "
                f"{statistics.median(sizes[('tipg', layer, z)]) / 1024:.1f} |"
            )
    print("\n".join(lines))
    out = ROOT / "bench" / "out" / "tiles-results.md"
    out.write_text("\n".join(lines) + "\n")
    raw = {f"{s}|{ly}|{z}": v for (s, ly, z), v in times.items()}
    (ROOT / "bench" / "out" / "tiles-times.json").write_text(json.dumps(raw))


if __name__ == "__main__":
    main()
