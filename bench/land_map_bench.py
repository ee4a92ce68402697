"""招商地图 (/maps/land) with 1 000 000 parcels: first render in Chromium and bytes transferred.

Data: ``bench/tiles_bench.generate`` (1 000 000 parcels, ~7 % on offer with control
indicators, 120 parks), in a private embedded PostGIS cluster under
``bench/out/land-map-var`` kept between runs (``--regenerate`` rebuilds it).

Measure: ``hggis serve`` (one worker, no base map) on a loopback port; Debian's Chromium via
Playwright, network blocked except that server, a fresh browser context per run (cold
cache, as a first visit), anonymous visitor, 1400×900. "First render" is the time from
navigation start to the page's drawn state (``document.body.dataset.drawn``: the clusters
of the fitted view and the list beside the map are drawn, see api/static/hggis-land.js).
"Transferred" is the sum of ``transferSize`` of the document and every resource fetched
until then (Resource Timing). Targets (issue 14): ≤ 1.5 s, ≤ 2 MB.

    .venv/bin/python bench/land_map_bench.py [--parcels 1000000] [--runs 5] [--regenerate]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ogc_bench import free_port, wait_healthy  # noqa: E402
from tiles_bench import generate  # noqa: E402

from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402

HGGIS = str(Path(sys.executable).parent / "hggis")
VAR = ROOT / "bench" / "out" / "land-map-var"
DB_NAME = "hggis_land_map_bench"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
        "--disable-component-update", "--disable-sync"]

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {drawn: HGGIS.firstDrawn, bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
          decoded: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0), requests: res.length + 1,
          clusters: HGGIS.layers.land_clusters.getLayers().length,
          rows: document.querySelectorAll('#hg-list-rows tr').length};
}"""


def database(regenerate: bool, parcels: int) -> tuple[EmbeddedCluster, str]:
    """The embedded cluster and the URL of the bench database (generated when missing)."""
    VAR.mkdir(parents=True, exist_ok=True)
    port_file = VAR / "port"
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    port_file.write_text(str(port))
    cluster = EmbeddedCluster(VAR, port)
    cluster.up()
    url = cluster.url(DB_NAME)
    with create_engine(cluster.url()).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB_NAME}).first()
        if exists and regenerate:
            conn.execute(text(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)'))
            exists = None
    if not exists:
        cluster.create_database(DB_NAME)
        engine = create_engine(url)
        upgrade(engine)
        load_boundaries(engine, actor="land map bench")
        print(f"generated in {generate(engine, parcels):.0f} s", flush=True)
    return cluster, url


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()
    _cluster, url = database(args.regenerate, args.parcels)
    with create_engine(url).connect() as conn:
        total, on_offer = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE status = 'on_offer') FROM parcels")).one()
    print(f"{total} parcels, {on_offer} on offer", flush=True)
    if args.setup_only:
        return
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "HGGIS_VAR_DIR": str(VAR), "HGGIS_BASEMAP": "none"}
    proc = subprocess.Popen([HGGIS, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(VAR.parent / "land-map-serve.log", "w"))
    base = f"http://127.0.0.1:{port}"
    results, loads = [], [os.getloadavg()]
    try:
        wait_healthy(base)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            for run in range(args.runs + 1):  # run 0 warms the server's caches (Python imports, plans)
                context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
                page = context.new_page()
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
                t0 = time.perf_counter()
                page.goto(base + "/maps/land")
                page.wait_for_function("() => window.HGGIS && HGGIS.firstDrawn", timeout=60000)
                m = page.evaluate(MEASURE)
                m["wall_ms"] = (time.perf_counter() - t0) * 1000
                if run:
                    results.append(m)
                print(f"run {run}: drawn {m['drawn']:.0f} ms, {m['bytes'] / 1e6:.2f} MB transferred "
                      f"({m['decoded'] / 1e6:.2f} MB decoded, {m['requests']} requests), "
                      f"{m['clusters']} clusters, {m['rows']} list rows", flush=True)
                context.close()
            browser.close()
        loads.append(os.getloadavg())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    drawn = [r["drawn"] for r in results]
    print(f"first render: median {statistics.median(drawn):.0f} ms, min {min(drawn):.0f}, max {max(drawn):.0f} "
          f"(target ≤ 1500); transferred {results[0]['bytes'] / 1e6:.2f} MB (target ≤ 2 MB); "
          f"load average {loads[0][0]:.1f} → {loads[-1][0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
