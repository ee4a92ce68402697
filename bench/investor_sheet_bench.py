"""地块推介 sheet benchmark: the one-page PDF of every parcel on offer in the demo data set.

Starts a throw-away embedded cluster under bench/out/sheet-var, migrates, loads the county
boundaries and the demo data set (seed 2023: its parcels on offer carry indicators, parks and
reference layers), publishes offer terms and park contacts for each, then renders the sheet of
every parcel on offer as ``GET /parcels/{code}/sheet.pdf`` does (``hggis.investor.sheet.parcel_sheet``:
investor view from PostGIS, 宗地图 snapshot in the Gauss-Krüger zone, reportlab with the CJK font).
The first sheet of the process (font loading) is reported apart. Prints a Markdown row for
bench/RESULTS.md.

    .venv/bin/python bench/investor_sheet_bench.py [--keep]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hggis.access.policy import operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402
from hggis.demo.loader import load_demo  # noqa: E402
from hggis.investor.sheet import parcel_sheet  # noqa: E402
from hggis.investor.terms import set_offer, set_park_contacts  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="leave the cluster in bench/out")
    args = parser.parse_args()
    root = ROOT / "bench" / "out" / "sheet-var"
    shutil.rmtree(root, ignore_errors=True)
    cluster = EmbeddedCluster(root, free_port())
    try:
        cluster.up()
        cluster.create_database("sheet_bench")
        engine = create_engine(cluster.url("sheet_bench"))
        upgrade(engine)
        load_boundaries(engine, actor="bench")
        load_demo(engine, seed=2023)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT code, park_id FROM parcels WHERE status = 'on_offer' ORDER BY code")).all()
        with transaction(engine, "bench", "发布供地信息") as conn:
            for code, _park_id in rows:
                set_offer(conn, operator(), code, {"start_price": "1000", "supply_method": "挂牌",
                                                   "listing_start": "2026-11-25", "listing_end": "2026-12-25"})
            for park_id in {r.park_id for r in rows if r.park_id}:
                set_park_contacts(conn, operator(), park_id, {"contact_office": "招商服务中心", "contact_person": "陈主任",
                                                              "contact_phone": "0713-8391234"})
        times, sizes = [], []
        for code, _ in rows:
            t0 = time.perf_counter()
            with engine.connect() as conn:
                pdf = parcel_sheet(conn, code, f"http://example.invalid/parcels/{code}")
            times.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(pdf))
        engine.dispose()
    finally:
        if not args.keep:
            cluster.down()
            shutil.rmtree(root, ignore_errors=True)
    first, rest = times[0], sorted(times[1:])
    p95 = rest[int(0.95 * (len(rest) - 1))]
    print(f"{len(times)} sheets; first {first:.0f} ms", file=sys.stderr)
    print("| sheets | first (ms, font load) | median (ms) | p95 (ms) | max (ms) | PDF size, median (KB) |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(times)} | {first:.0f} | {statistics.median(rest):.0f} | {p95:.0f} | {max(rest):.0f} | "
          f"{statistics.median(sizes) / 1024:.0f} |")


if __name__ == "__main__":
    main()
