"""Idle-land documents benchmark: 1 000 documents issued and rendered as DOCX + PDF with their 宗地图.

Starts a throw-away embedded cluster under bench/out/docs-var, migrates, loads the county
boundaries, creates one holder and N contracted parcels in 黄州 laid out in a grid (100 m
squares 20 m apart, so every 宗地图 has neighbours within 50 m), opens one case per parcel,
then for each case issues five documents the way the API does (one transaction each:
facts check, number from the office sequence, content with the 宗地图 snapshot from PostGIS):
调查通知书, 认定书, 情况告知书, 听证权利告知书 and 收回国有建设用地使用权决定书, all served;
and renders each stored document to DOCX (python-docx, PNG map) and PDF (reportlab, vector
map), as GET …/documents/{id}.docx and .pdf do. Prints a Markdown table for bench/RESULTS.md.

    .venv/bin/python bench/idle_documents_bench.py [--cases 200] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from hggis import clock  # noqa: E402
from hggis.access.policy import operator  # noqa: E402
from hggis.boundaries import load_boundaries  # noqa: E402
from hggis.db.cluster import EmbeddedCluster  # noqa: E402
from hggis.db.migrate import upgrade  # noqa: E402
from hggis.db.session import transaction  # noqa: E402
from hggis.identifiers import make_credit_code  # noqa: E402
from hggis.idle.cases import open_case  # noqa: E402
from hggis.idle.documents import Service, get_document, issue_document  # noqa: E402
from hggis.idle.render_docx import to_docx  # noqa: E402
from hggis.idle.render_pdf import to_pdf  # noqa: E402

ORIGIN = (114.86, 30.44)  # inside 黄州区
SIDE_M, GAP_M = 100.0, 20.0
PER_ROW = 20
# (kind, issued day, served day) after the case is opened; the hearing window (5 working days) ends by day 60
STEPS = (("investigation_notice", 1, 2), ("finding", 35, 36), ("situation_notice", 40, 41),
         ("hearing_notice", 45, 46), ("recovery_decision", 60, 61))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(engine: Engine, n: int, opened_on: dt.date) -> list[int]:
    """One holder, ``n`` contracted parcels (agreed start three years before the cases), one case each."""
    start = opened_on - dt.timedelta(days=3 * 365)
    with transaction(engine, "bench", "synthetic document data") as conn:
        holder = conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, adcode) VALUES (:c, '基准闲置测试有限公司', '421102') RETURNING id"
        ), {"c": make_credit_code("91421102MA0000001")}).scalar_one()
        conn.execute(text(
            """
            INSERT INTO parcels (code, geom, adcode, status, holder_id, contract_kind, contract_no, land_price,
                                 agreed_start_date)
            SELECT '421102001001GB' || lpad(i::text, 5, '0'),
                   ST_Multi(ST_MakeEnvelope(:x0 + (i % :per) * :dx, :y0 + (i / :per) * :dy,
                                            :x0 + (i % :per) * :dx + :w, :y0 + (i / :per) * :dy + :h, 4490)),
                   '421102', 'supplied', :holder, '出让', '黄出让〔2022〕' || i || '号', 800 + i, :start
              FROM generate_series(1, :n) AS i
            """
        ), {"x0": ORIGIN[0], "y0": ORIGIN[1], "per": PER_ROW, "dx": (SIDE_M + GAP_M) / 96_000.0,
            "dy": (SIDE_M + GAP_M) / 110_850.0, "w": SIDE_M / 96_000.0, "h": SIDE_M / 110_850.0,
            "holder": holder, "start": start, "n": n})
        codes = list(conn.execute(text("SELECT code FROM parcels ORDER BY id")).scalars())
    cases = []
    for code in codes:
        with transaction(engine, "bench", "立案") as conn:
            cases.append(open_case(conn, operator(), code, opened_on, "基准测试立案", rule_code="idle_not_started_2y"))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200, help="cases; five documents each")
    parser.add_argument("--keep", action="store_true", help="leave the cluster in bench/out")
    args = parser.parse_args()
    root = ROOT / "bench" / "out" / "docs-var"
    shutil.rmtree(root, ignore_errors=True)
    cluster = EmbeddedCluster(root, free_port())
    opened_on = clock.today() - dt.timedelta(days=90)
    try:
        cluster.up()
        cluster.create_database("docs_bench")
        engine = create_engine(cluster.url("docs_bench"))
        upgrade(engine)
        load_boundaries(engine, actor="bench")
        cases = load(engine, args.cases, opened_on)
        issue_ms, docx_ms, pdf_ms, sizes = [], [], [], []
        started = time.perf_counter()
        for case_id in cases:
            for kind, issued, served in STEPS:
                t0 = time.perf_counter()
                with transaction(engine, "bench", f"出具{kind}") as conn:
                    doc = issue_document(conn, operator(), case_id, kind, "基准测试", opened_on + dt.timedelta(days=issued),
                                         service=Service(opened_on + dt.timedelta(days=served), "direct"))
                t1 = time.perf_counter()
                with engine.connect() as conn:  # what GET …/{id}.docx and .pdf read
                    content = get_document(conn, operator(), case_id, doc["id"], with_content=True)["content"]
                docx = to_docx(content)
                t2 = time.perf_counter()
                pdf = to_pdf(content)
                t3 = time.perf_counter()
                issue_ms.append((t1 - t0) * 1000)
                docx_ms.append((t2 - t1) * 1000)
                pdf_ms.append((t3 - t2) * 1000)
                sizes.append((len(docx), len(pdf)))
        total = time.perf_counter() - started
        with engine.connect() as conn:
            last = conn.execute(text("SELECT number FROM idle_documents ORDER BY id DESC LIMIT 1")).scalar_one()
        engine.dispose()
    finally:
        if not args.keep:
            cluster.down()
            shutil.rmtree(root, ignore_errors=True)
    n = len(issue_ms)
    print(f"{n} documents in {total:.1f} s; last number {last}", file=sys.stderr)
    print("| documents | total (s) | issue, median (ms) | DOCX, median (ms) | PDF, median (ms) | "
          "DOCX size, median (KB) | PDF size, median (KB) | target |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {n:,} | {total:.1f} | {statistics.median(issue_ms):.0f} | {statistics.median(docx_ms):.0f} | "
          f"{statistics.median(pdf_ms):.0f} | {statistics.median(s[0] for s in sizes) / 1024:.0f} | "
          f"{statistics.median(s[1] for s in sizes) / 1024:.0f} | ≤ 120 s |")


if __name__ == "__main__":
    main()
