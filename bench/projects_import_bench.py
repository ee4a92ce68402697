"""Project-list import benchmark (issue 15: 10 000 projects imported ≤ 10 s).

Starts a throw-away embedded cluster under bench/out/projects-var, migrates it, writes a
10 000-row 项目清单 (bench/projects_generator.py) and times ``import_projects`` — the function
behind the API, the page and the CLI — as a city administrator: the first import (every
project, its first list move, its funds point, 10 000 new enterprises registered), then the
same file again (nothing changes), then a file in which every project moves list.

    .venv/bin/python bench/projects_import_bench.py [--projects 10000]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from projects_generator import LISTS, write  # noqa: E402

from hggis.access.policy import operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.projects.importer import import_projects  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moved(src: Path, dst: Path) -> Path:
    """The same list with every project one list further on (续建 back to 谋划)."""
    from openpyxl import Workbook, load_workbook

    wb_in = load_workbook(src, read_only=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("项目清单")
    for i, row in enumerate(wb_in.worksheets[0].iter_rows(values_only=True)):
        row = list(row)
        if i:
            row[2] = LISTS[(LISTS.index(row[2]) + 1) % 4]
        ws.append(row)
    wb.save(dst)
    return dst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10_000)
    args = parser.parse_args()
    out = ROOT / "bench" / "out"
    root = out / "projects-var"
    shutil.rmtree(root, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    sheet = write(out / "projects-bench.xlsx", args.projects)
    second = moved(sheet, out / "projects-bench-moved.xlsx")
    cluster = EmbeddedCluster(root, free_port())
    cluster.up()
    try:
        cluster.create_database("projects")
        engine = create_engine(cluster.url("projects"), isolation_level="READ COMMITTED")
        upgrade(engine)
        load_boundaries(engine, actor="bench")
        for label, path in (("first import", sheet), ("same file again", sheet), ("every project moves list", second)):
            t0 = time.perf_counter()
            report = import_projects(engine, operator(), path)
            took = time.perf_counter() - t0
            print(f"{label}: {took:.2f} s  status={report.status} inserted={report.inserted} "
                  f"updated={report.updated} unchanged={report.unchanged} bad={len(report.bad_rows)}")
        with engine.connect() as conn:
            counts = conn.execute(text("SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM project_list_moves), "
                                       "(SELECT count(*) FROM project_funds), (SELECT count(*) FROM enterprises), "
                                       "(SELECT count(*) FROM history)")).one()
        print("projects, moves, funds points, enterprises, history rows:", tuple(counts))
        engine.dispose()
    finally:
        cluster.down()


if __name__ == "__main__":
    main()
