"""Server time of every workbench page on the demo data (target: ≤ 300 ms each).

Starts a throw-away embedded PostGIS under bench/out/pages-var (or uses ``--url``), migrates
it, loads the demo data (seed 2023), runs the 2023 and 2024 evaluations and an idle-land
scan, opens a case from a park manager's flag and signs in one user per role. Then every
page is requested ``--repeat`` times in-process (Starlette TestClient) and an ASGI
middleware records the server time of each request: from the request entering the app to
the last byte of the response body. Prints a Markdown table for bench/RESULTS.md.

    .venv/bin/python bench/pages_bench.py [--repeat 20] [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

TARGET_MS = 300.0
PASSWORD = "bench-password-123"


class ServerTimer:
    """ASGI middleware: wall time from the request entering the app to the end of its body."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: dict) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - started) * 1000

        await self.app(scope, receive, timed_send)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(engine: Engine) -> dict[str, Any]:
    """Demo data, two evaluation runs, a scan, a flag turned into a case, and one user per role."""
    from hggis.access.policy import Principal, operator
    from hggis.access.users import create_user, set_password
    from hggis.db.session import transaction
    from hggis.demo.loader import load_demo
    from hggis.evaluation.runs import run_evaluation
    from hggis.idle.flags import confirm_flag, flag_parcel
    from hggis.idle.scan import run_scan

    load_demo(engine, seed=2023)
    for year in (2023, 2024):
        run_evaluation(engine, operator(), year, proceed=True)
    with transaction(engine, "bench", "bench scan") as conn:
        scan_id = run_scan(conn, operator(), dt.date.today())["id"]
    users = {}
    with transaction(engine, "bench", "bench users") as conn:
        for name, role, counties, parks in (("bench-manager", "park_manager", None, [1]),
                                            ("bench-officer", "county_officer", ["421102"], None),
                                            ("bench-admin", "city_admin", None, None)):
            uid = create_user(conn, operator(), name, role, counties, parks)
            set_password(conn, uid, PASSWORD)
            users[role] = (name, uid)
    with engine.connect() as conn:
        idle_code = conn.execute(text(
            "SELECT code FROM parcels WHERE park_id = 1 AND status = 'supplied' AND started_on IS NULL "
            "AND agreed_start_date < current_date - interval '13 months' ORDER BY code LIMIT 1")).scalar_one()
        busy_code = conn.execute(text(
            "SELECT p.code FROM parcels p JOIN evaluation_results r ON r.enterprise_id = p.holder_id "
            "WHERE p.park_id = 1 AND r.evaluated ORDER BY p.id LIMIT 1")).scalar_one()
        enterprise = conn.execute(text(
            "SELECT enterprise_id FROM evaluation_results WHERE park_id = 1 AND evaluated ORDER BY enterprise_id LIMIT 1"
        )).scalar_one()
        run_id = conn.execute(text("SELECT max(id) FROM evaluation_runs")).scalar_one()
    manager = Principal("bench-manager", "park_manager", parks=frozenset({1}))
    officer = Principal("bench-officer", "county_officer", counties=frozenset({"421102"}))
    with transaction(engine, manager.actor, "bench flag") as conn:
        flag_id = flag_parcel(conn, manager, idle_code, "厂房未建", "照片 1", dt.date.today())
    with transaction(engine, officer.actor, "bench case") as conn:
        case_id = confirm_flag(conn, officer, flag_id, "核实属实", dt.date.today())
    return {"users": users, "busy_code": busy_code, "idle_code": idle_code, "enterprise": enterprise,
            "run_id": run_id, "case_id": case_id, "scan_id": scan_id}


def sign_in(app: Any, username: str) -> TestClient:
    client = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def pages(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(role, label, URL) of every page measured."""
    run, ent, case = f["run_id"], f["enterprise"], f["case_id"]
    busy = f["busy_code"]
    return [
        ("public", "首页 /", "/"),
        ("public", "宗地公开页（挂牌地块）", "/parcels/{on_offer}"),
        ("park_manager", "宗地页（含评价、历史）", f"/parcels/{busy}"),
        ("county_officer", "宗地页（含修改表单）", f"/parcels/{busy}"),
        ("city_admin", "宗地页", f"/parcels/{busy}"),
        ("county_officer", "宗地查询（默认）", "/search"),
        ("city_admin", "宗地查询（全市，按面积倒序，第 5 页）", "/search?sort=area_mu&dir=desc&page=5"),
        ("city_admin", "宗地查询（企业名称）", "/search?q=科技"),
        ("county_officer", "闲置土地待办", "/cases"),
        ("city_admin", "闲置土地待办（全市）", "/cases"),
        ("county_officer", "案件页（含可办理步骤）", f"/cases/{case}"),
        ("city_admin", "规则扫描结果（全市）", f"/cases/scans/{f['scan_id']}"),
        ("county_officer", "标准地储备台账", "/reserves"),
        ("city_admin", "储备台账 + 选址 50–300 亩", "/reserves?find=1&min_mu=50&max_mu=300"),
        ("city_admin", "亩均评价（年度结果）", f"/evaluation?run={run}"),
        ("park_manager", "亩均评价（本园区）", f"/evaluation?run={run}"),
        ("city_admin", "亩均评价（D 类筛选）", f"/evaluation?run={run}&class=D"),
        ("city_admin", "企业评分说明", f"/evaluation/enterprises/{ent}?run={run}"),
        ("city_admin", "与上年比较", f"/evaluation/compare?run={run}"),
        ("city_admin", "评价模型版本", "/evaluation/models"),
        ("county_officer", "数据导入与日志", "/imports"),
        ("city_admin", "用户管理", "/users"),
        ("city_admin", "用户详情", "/users/{admin_id}"),
    ]


DOWNLOADS = [
    ("county_officer", "查询结果 CSV（本县）", "/search/export?format=csv"),
    ("city_admin", "查询结果 Excel（全市）", "/search/export?format=xlsx"),
    ("city_admin", "评价报告 Excel", "/evaluation/report?run={run_id}"),
]


def measure(client: TestClient, timer: ServerTimer, url: str, repeat: int) -> list[float]:
    r = client.get(url)  # warm-up (template compilation, first query plans)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}"
    times = []
    for _ in range(repeat):
        r = client.get(url)
        assert r.status_code == 200, url
        times.append(timer.last_ms)
    return times


def run(engine: Engine, repeat: int) -> None:
    from api.app import create_app

    started = time.perf_counter()
    facts = prepare(engine)
    # A live database has been analysed by autovacuum long before anyone opens a page; a freshly
    # loaded one has not, and its first plans would be guesses. Measure the steady state.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    print(f"prepared demo data, evaluations, scan, case in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    app = create_app(engine)
    timer = ServerTimer(app)
    with engine.connect() as conn:
        on_offer = conn.execute(text("SELECT code FROM parcels WHERE status = 'on_offer' ORDER BY id LIMIT 1")).scalar_one()
    clients = {"public": TestClient(timer)}
    for role, (name, _uid) in facts["users"].items():
        clients[role] = sign_in(timer, name)
    fill = {"on_offer": on_offer, "admin_id": facts["users"]["city_admin"][1], "run_id": facts["run_id"]}
    rows = []
    for role, label, url in pages(facts):
        times = measure(clients[role], timer, url.format(**fill), repeat)
        rows.append((role, label, url.format(**fill), times))
    down = [(role, label, url.format(**fill), measure(clients[role], timer, url.format(**fill), max(3, repeat // 4)))
            for role, label, url in DOWNLOADS]
    print(f"\n{repeat} requests per page after one warm-up; server time in ms (in-process, no network).\n")
    print("| role | page | URL | median | p95 | max | ≤ 300 ms |")
    print("|---|---|---|---|---|---|---|")
    for role, label, url, t in rows:
        p95 = sorted(t)[max(0, int(len(t) * 0.95) - 1)]
        print(f"| {role} | {label} | `{url}` | {statistics.median(t):.0f} | {p95:.0f} | {max(t):.0f} | "
              f"{'yes' if p95 <= TARGET_MS else '**no**'} |")
    print("\nDownloads (not pages; no target):\n")
    print("| role | download | median | max |")
    print("|---|---|---|---|")
    for role, label, _url, t in down:
        print(f"| {role} | {label} | {statistics.median(t):.0f} | {max(t):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--url", help="an empty PostGIS database to use instead of a throw-away cluster")
    args = parser.parse_args()
    if args.url:
        from hggis.boundaries import load_boundaries
        from hggis.db.migrate import upgrade

        engine = create_engine(args.url.replace("postgresql://", "postgresql+psycopg://", 1))
        upgrade(engine)
        load_boundaries(engine)
        run(engine, args.repeat)
        return
    from hggis.boundaries import load_boundaries
    from hggis.db.cluster import EmbeddedCluster
    from hggis.db.migrate import upgrade

    var = ROOT / "bench" / "out" / "pages-var"
    shutil.rmtree(var, ignore_errors=True)
    cluster = EmbeddedCluster(var / "pg", free_port())
    try:
        cluster.up()
        cluster.create_database("pages_bench")
        engine = create_engine(cluster.url("pages_bench"))
        upgrade(engine)
        load_boundaries(engine)
        run(engine, args.repeat)
        engine.dispose()
    finally:
        cluster.down()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
