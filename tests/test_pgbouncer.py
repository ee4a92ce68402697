"""The app through Debian's PgBouncer in transaction mode, on the test cluster.

A representative flow (sign-in, list, PATCH with history, an import by the CLI, tiles, a
concurrent burst) goes through PgBouncer, which is then restarted mid-run: the service keeps
answering with one log line.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text

from hggis.config import PROJECT_ROOT, get_settings
from hggis.db.engine import dispose_engines, get_engine, session_url
from hggis.tilecache.nginx import render
from tests.io_builders import HUANGZHOU, code, declared_mu, lots, project, write_shapefile
from tests.live_server import free_port, live_server
from tests.maps_helpers import tile_of

TEMPLATE = PROJECT_ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini.template"


class Bouncer:
    """pgbouncer as a child process (as nobody when the tests run as root: it refuses root)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = ["pgbouncer", *(["-u", "nobody"] if os.geteuid() == 0 else []), str(self.root / "pgbouncer.ini")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert self.proc.poll() is None, (self.root / "pgbouncer.log").read_text()
                time.sleep(0.05)
        raise AssertionError("pgbouncer did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def bouncer(test_database, clean_db, monkeypatch):
    app = make_url(test_database.app_url)
    root = PROJECT_ROOT / "var" / f"test-pgb-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "userlist.txt").write_text(f'"{app.username}" "{app.password}"\n')
    (root / "pgbouncer.ini").write_text(render(TEMPLATE.read_text(), {
        "HGGIS_PGB_DIR": str(root), "HGGIS_PGB_PORT": str(port), "HGGIS_PGB_LISTEN": "127.0.0.1",
        "HGGIS_PGB_PG_HOST": app.host or "127.0.0.1", "HGGIS_PGB_PG_PORT": str(app.port or 5432),
    }))
    if os.geteuid() == 0:
        for p in (root, *root.iterdir()):
            shutil.chown(p, "nobody", "nogroup")
        (root / "userlist.txt").chmod(0o600)
    b = Bouncer(root, port)
    b.start()
    url = app.set(port=port).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HGGIS_DB_PGBOUNCER", "true")
    get_settings.cache_clear()
    dispose_engines()
    try:
        yield b, get_engine(session_url(purpose="service"))
    finally:
        dispose_engines()
        get_settings.cache_clear()
        b.stop()
        shutil.rmtree(root, ignore_errors=True)


def _login(client: httpx.Client, name: str, password: str) -> None:
    from api.routes.auth import LOGIN_CSRF_COOKIE

    client.get("/login")
    csrf = client.cookies[LOGIN_CSRF_COOKIE]
    r = client.post("/login", data={"username": name, "password": password, "csrf": csrf, "next": "/"})
    assert r.status_code in (200, 303), r.text[:300]
    assert "hggis_session" in client.cookies


def test_api_flow_through_pgbouncer_survives_its_restart(bouncer, tmp_path, caplog):
    from typer.testing import CliRunner

    from hggis.access.policy import operator
    from hggis.access.users import create_user, set_password
    from hggis.cli import app as cli
    from hggis.db.session import transaction

    b, engine = bouncer
    assert engine.url.port == b.port and "options" not in engine.url.query
    with engine.connect() as conn:  # the session bounds still hold, set per transaction
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1min"
        # no server-side prepared statements are left behind on the pooled server connections
        for _ in range(6):
            conn.execute(text("SELECT count(*) FROM parcels WHERE id > :i"), {"i": 0})
        assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one() == 0

    # an import by the CLI, through PgBouncer
    geoms = lots(HUANGZHOU, 4)
    shp = write_shapefile(tmp_path / "p.shp", project(geoms, 4526),
                          {"宗地代码": [code(i + 1) for i in range(4)], "面积": declared_mu(geoms)}, 4526)
    res = CliRunner().invoke(cli, ["import", "parcels", str(shp), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["inserted"] == 4

    with transaction(engine, operator().actor, "pgbouncer test user") as conn:
        uid = create_user(conn, operator(), "pgb_admin", "city_admin")
        set_password(conn, uid, "correct horse battery")
    with live_server(engine) as base, httpx.Client(base_url=base, follow_redirects=False) as client:
        _login(client, "pgb_admin", "correct horse battery")
        listed = client.get("/api/parcels")
        assert listed.status_code == 200 and len(listed.json()["features"]) == 4
        first = code(1)
        version = client.get(f"/api/parcels/{first}").headers["etag"].strip('W/"')
        r = client.patch(f"/api/parcels/{first}", headers={"Origin": base},  # a same-site write by cookie
                         json={"land_price": 123456, "version": int(version), "reason": "经连接池修改"})
        assert r.status_code == 200, r.text
        hist = client.get(f"/api/history/parcels/{first}")
        assert hist.status_code == 200 and any(row["reason"] == "经连接池修改" for row in hist.json())
        lon, lat = HUANGZHOU
        z, x, y = tile_of(lon, lat, 14)
        assert client.get(f"/tiles/parcels_officer/{z}/{x}/{y}.pbf").status_code == 200

        def burst(i: int) -> int:
            return httpx.get(f"{base}/api/parcels/{code(1 + i % 4)}", cookies=client.cookies).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(burst, range(64))) == {200}

        b.stop()  # PgBouncer restarted mid-run
        b.start()
        caplog.set_level(logging.WARNING, logger="hggis.db")
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(burst, range(32)))
        assert set(codes) == {200}, codes
        assert any("database connection lost" in r.getMessage() for r in caplog.records)
