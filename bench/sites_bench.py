"""Site-finder benchmark: one county with 100 000 parcels (issue 6: a search ≤ 2 s).

Starts a throw-away embedded cluster under bench/out/sites-var, migrates it and fills it by
set-based SQL (generate_series in the Gauss-Krüger plane; the audit triggers of the
filled tables are disabled in this throw-away database only):

- 麻城 (421181) gets N parcels of 120 m × 120 m (≈ 21.6 亩) in blocks of 4 × 4, blocks
  separated by 20 m roads; every 10th row of blocks is only 0.3 m from the next one (a
  survey sliver), so a few large blocks exist and the sub-site splitter has work;
- 8 % of the blocks are wholly available land (reserve, a quarter of them on offer), and
  3 % of the other parcels are scattered available parcels; the rest is producing;
- 200 round red-line polygons (r = 300 m) and 100 farmland belts as active constraint
  layers, a reference layer of 20 port points;
- terrain statistics (``parcel_terrain``) for 70 % of the parcels, random slopes 0–25°.

Then it times ``find_sites`` (the function behind the CLI and the API) in that county as
a city administrator and as the public, several queries, and the reserve ledger.

    .venv/bin/python bench/sites_bench.py [--parcels 100000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
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

from hggis.access.policy import PUBLIC, operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402
from hggis.reserves.ledger import reserve_ledger  # noqa: E402
from hggis.reserves.sites import SiteQuery, find_sites  # noqa: E402

ADCODE = "421181"
ORIGIN_LONLAT = (114.85, 31.00)  # south-west corner of the synthetic grid (麻城, zone 38)
SIDE, PER_BLOCK, ROAD, SLIVER = 120.0, 4, 20.0, 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(engine: Engine, n: int) -> tuple[float, dict[str, int]]:
    blocks_per_row = int((n / PER_BLOCK**2) ** 0.5) + 1
    started = time.perf_counter()
    with transaction(engine, "bench", "synthetic site-finder data") as conn:
        for table in ("parcels", "constraint_layers", "dems"):
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        conn.execute(text("SELECT setseed(0.6)"))
        x0, y0 = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4490), 4547) p"),
            {"lon": ORIGIN_LONLAT[0], "lat": ORIGIN_LONLAT[1]},
        ).one()
        conn.execute(
            text(
                """
                WITH g AS (
                    SELECT i,
                           (i / :pb2) AS blk, ((i / :pb2) % :bpr) AS bx, ((i / :pb2) / :bpr) AS by,
                           ((i % :pb2) % :pb) AS cx, ((i % :pb2) / :pb) AS cy
                    FROM generate_series(0, :n - 1) AS i
                ),
                placed AS (
                    SELECT i, blk, :x0 + bx * (:pb * :side + :road) + cx * :side AS x,
                           :y0 + by * (:pb * :side) + (by - by / 10) * :road + (by / 10) * :sliver + cy * :side AS y
                    FROM g
                ),
                avail AS (SELECT blk, random() < 0.08 AS whole FROM (SELECT DISTINCT blk FROM g) b)
                INSERT INTO parcels (code, geom, adcode, status)
                SELECT :adcode || lpad((i / 100000 + 1)::text, 3, '0') || '001GB' || lpad((i % 100000)::text, 5, '0'),
                       ST_Multi(ST_Transform(ST_MakeEnvelope(x, y, x + :side, y + :side, 4547), 4490)),
                       :adcode,
                       CASE WHEN a.whole THEN (CASE WHEN random() < 0.25 THEN 'on_offer' ELSE 'reserve' END)
                            WHEN random() < 0.03 THEN 'reserve'
                            ELSE 'producing' END
                FROM placed p JOIN avail a USING (blk)
                """
            ),
            {"n": n, "pb": PER_BLOCK, "pb2": PER_BLOCK**2, "bpr": blocks_per_row, "side": SIDE, "road": ROAD,
             "sliver": SLIVER, "x0": x0, "y0": y0, "adcode": ADCODE},
        )
        conn.execute(
            text(
                "INSERT INTO constraint_layers (id, name, kind, role, imported_by, feature_count) VALUES "
                "(1001, '基准红线', '生态保护红线', 'constraint', 'bench', 200), "
                "(1002, '基准农田', '永久基本农田', 'constraint', 'bench', 100), "
                "(1003, '基准港口', '港口', 'reference', 'bench', 20)"
            )
        )
        conn.execute(
            text(
                """
                WITH b AS (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4490), 4547) AS e FROM parcels),
                r AS (
                    SELECT k, ST_XMin(e) + random() * (ST_XMax(e) - ST_XMin(e)) AS x,
                           ST_YMin(e) + random() * (ST_YMax(e) - ST_YMin(e)) AS y
                    FROM b, generate_series(1, 320) AS k
                )
                INSERT INTO constraint_features (layer_id, geom)
                SELECT CASE WHEN k <= 200 THEN 1001 WHEN k <= 300 THEN 1002 ELSE 1003 END,
                       ST_Transform(CASE WHEN k <= 200 THEN ST_Buffer(ST_SetSRID(ST_MakePoint(x, y), 4547), 300, 16)
                                         WHEN k <= 300 THEN ST_MakeEnvelope(x, y, x + 800, y + 60, 4547)
                                         ELSE ST_SetSRID(ST_MakePoint(x, y), 4547) END, 4490)
                FROM r
                """
            )
        )
        dem = conn.execute(
            text(
                """
                INSERT INTO dems (name, source_name, source_path, source_bytes, checksum_sha256, crs, crs_kind,
                                  crs_from_file, width, height, res_x, res_y, pixel_size_m, bounds, valid_fraction,
                                  slope_path, imported_by)
                VALUES ('bench', 'bench.tif', '/dev/null', 0, repeat('0', 64), 'EPSG:4547', 'projected', true,
                        1, 1, 10, 10, 10, ST_MakeEnvelope(114, 29, 117, 32, 4490), 1, '/dev/null', 'bench')
                RETURNING id
                """
            )
        ).scalar_one()
        conn.execute(
            text(
                """
                INSERT INTO parcel_terrain (parcel_id, terrain_dem_id, mean_slope_deg, max_slope_deg, mean_elevation_m,
                                            terrain_coverage, cells, valid_cells, method, geom_md5)
                SELECT id, :dem, s, s * 1.8, 60, 1, 144, 144, 'cells', md5(ST_AsEWKB(geom))
                FROM (SELECT id, geom, random() * 25 AS s FROM parcels WHERE random() < 0.7) p
                """
            ),
            {"dem": dem},
        )
        for table in ("parcels", "constraint_layers", "dems"):
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE parcels, constraint_features, parcel_terrain"))
        counts = dict(conn.execute(text("SELECT status, count(*) FROM parcels GROUP BY status")).all())
    return time.perf_counter() - started, counts


def timed(fn, repeat: int) -> tuple[list[float], object]:  # noqa: ANN001
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (bench/out/sites-var)")
    args = parser.parse_args()
    root = ROOT / "bench" / "out" / "sites-var"
    shutil.rmtree(root, ignore_errors=True)
    cluster = EmbeddedCluster(root, free_port())
    cluster.up()
    try:
        cluster.create_database("sites")
        engine = create_engine(cluster.url("sites"), isolation_level="READ COMMITTED")
        upgrade(engine)
        load_boundaries(engine, actor="bench")
        load_s, counts = load(engine, args.parcels)
        print(f"loaded {sum(counts.values())} parcels {counts} in {load_s:.1f} s")
        admin = operator()
        lonlat = (ORIGIN_LONLAT[0] + 0.15, ORIGIN_LONLAT[1] + 0.15)
        cases = [
            ("officer: 200–400 亩, max slope 15°, near a point", admin,
             SiteQuery(200, 400, adcode=ADCODE, max_slope_deg=15, near=lonlat)),
            ("officer: 200–400 亩, near the nearest port (reference layer)", admin,
             SiteQuery(200, 400, adcode=ADCODE, near_layer=1003)),
            ("officer: 50–150 亩 (sub-sites cut from larger blocks)", admin,
             SiteQuery(50, 150, adcode=ADCODE, near=lonlat)),
            ("public: 50–150 亩, near a point (land on offer only)", PUBLIC,
             SiteQuery(50, 150, adcode=ADCODE, near=lonlat)),
        ]
        rows = []
        for label, who, q in cases:
            def run(q=q, who=who):  # noqa: ANN001, ANN202
                with engine.connect() as conn:
                    return find_sites(conn, who, q)
            times, result = timed(run, args.repeat)
            st = result["stats"]  # type: ignore[index]
            rows.append((label, times, f"{st['blocks']} blocks, {st['candidates']} candidates, {st['sub_sites']} sub-sites"))

        def ledger():  # noqa: ANN202
            with engine.connect() as conn:
                return reserve_ledger(conn, admin)
        times, led = timed(ledger, args.repeat)
        hz = next(r for r in led.rows if r.adcode == ADCODE)  # type: ignore[union-attr]
        rows.append(("reserve ledger (city, all counties)", times,
                     f"{hz.reserve_parcels} reserve parcels in 麻城, largest block {hz.largest_block_mu:.0f} 亩"))
        print(f"\n| query ({args.parcels:,} parcels in one county) | runs | median (s) | min (s) | max (s) | found |")
        print("|---|---|---|---|---|---|")
        for label, times, found in rows:
            print(f"| {label} | {len(times)} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | {found} |")
    finally:
        if not args.keep:
            cluster.down()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
