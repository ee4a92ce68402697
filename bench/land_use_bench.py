"""Benchmark: the occupancy and development-facts imports of 100 000 rows (target ≤ 30 s each).

Set-up (timed but not a target): a 100 000-lot survey Shapefile (bench/import_bench.py's
generator) imported with its holders' credit codes into a throw-away embedded cluster.
Then, each as a subprocess `hggis import …` the way an officer runs it:

1. `hggis import occupancies` of a CSV and of an XLSX with 100 000 rows: one lessee per
   parcel with a share of 30 %, a start date and a firm name (so 100 000 enterprises are
   registered by the same run); the first run inserts, the XLSX run then updates every
   row (share 25 %), so both write paths are measured;
2. `hggis import facts` of a CSV and an XLSX with 100 000 rows (开工日期, 总建筑面积,
   累计完成投资（元）, 合同电子监管号): every parcel updated, one history row each.

    .venv/bin/python bench/land_use_bench.py [--n 100000]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_bench import OUT, free_port, timed, write_shapefile  # noqa: E402
from hggis.identifiers import make_credit_code  # noqa: E402

OCCUPANCY_HEADER = ["宗地代码", "统一社会信用代码", "企业名称", "份额（%）", "角色", "起始日期"]
FACTS_HEADER = ["宗地代码", "实际开工日期", "总建筑面积（m²）", "累计完成投资（元）", "合同电子监管号"]


def code(j: int) -> str:
    return f"421181{(j // 100000) + 1:03d}{(j // 10000) % 10 + 1:03d}GB{j % 100000:05d}"


def lessee(j: int) -> str:
    return make_credit_code(f"91421181MB{j:07d}")


def write_sheet(path: Path, header: list[str], rows: list[list[object]]) -> float:
    started = time.perf_counter()
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(path.stem)
        ws.append(header)
        for r in rows:
            ws.append(r)
        wb.save(path)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    n = args.n

    from sqlalchemy import create_engine, text

    from hggis.boundaries import load_boundaries
    from hggis.db.cluster import EmbeddedCluster
    from hggis.db.migrate import upgrade

    work = OUT / "land_use"
    work.mkdir(parents=True, exist_ok=True)
    shp = work / f"parcels_{n}.shp"
    write_shapefile(shp, n, prefixed=False)
    occ = [[code(j), lessee(j), f"承租企业{j}", 30, "承租", "2024-01-01"] for j in range(n)]
    occ2 = [[code(j), lessee(j), f"承租企业{j}", 25, "承租", "2024-01-01"] for j in range(n)]
    facts = [[code(j), "2023-03-01", 9000 + j % 500, 35_000_000, f"4211812023B{j:05d}"] for j in range(n)]
    facts2 = [[code(j), "2023-04-01", 9500 + j % 500, 36_000_000, f"4211812023C{j:05d}"] for j in range(n)]
    files = {
        "occ_csv": (work / "occ.csv", OCCUPANCY_HEADER, occ),
        "occ_xlsx": (work / "occ.xlsx", OCCUPANCY_HEADER, occ2),
        "facts_csv": (work / "facts.csv", FACTS_HEADER, facts),
        "facts_xlsx": (work / "facts.xlsx", FACTS_HEADER, facts2),
    }
    for name, (path, header, rows) in files.items():
        print(f"wrote {name} ({len(rows)} rows) in {write_sheet(path, header, rows):.1f} s")
    print(f"load average at start: {os.getloadavg()}")

    var = OUT / "land-use-var"
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
        took, _ = timed(env, "import", "parcels", str(shp), "--quiet", "--status", "producing")
        print(f"set-up: {n} parcels imported in {took:.1f} s")
        for label, name, kind in (
            (f"occupancies CSV, {n} inserts (+{n} enterprises registered)", "occ_csv", "occupancies"),
            (f"occupancies XLSX, {n} updates", "occ_xlsx", "occupancies"),
            (f"facts CSV, {n} parcels updated", "facts_csv", "facts"),
            (f"facts XLSX, {n} parcels updated", "facts_xlsx", "facts"),
        ):
            took, out = timed(env, "import", kind, str(files[name][0]))
            with engine.connect() as conn:
                row = conn.execute(text("SELECT status, inserted, updated FROM imports ORDER BY id DESC LIMIT 1")).one()
            print(f"{label}: {took:.1f} s  status={row.status} inserted={row.inserted} updated={row.updated}")
        with engine.connect() as conn:
            occ_n = conn.execute(text("SELECT count(*) FROM occupancies")).scalar_one()
            hist = conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'occupancies'")).scalar_one()
        print(f"occupancies stored: {occ_n}; their history rows: {hist}")
        engine.dispose()
        print(f"load average at end: {os.getloadavg()}")
    finally:
        cluster.down()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
