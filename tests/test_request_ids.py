"""Every answer carries a request id, and every log line written for it carries the same id.

An officer who reports "请求编号 3f9c…" from a failed page leads the administrator to the
traceback and the access line of that request, across worker processes.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time

import httpx
from fastapi.testclient import TestClient

from api.app import create_app
from api.proxies import parse_networks
from tests.live_server import free_port

HEX16 = re.compile(r"[0-9a-f]{16}")


def test_each_answer_has_its_own_id_and_a_fault_names_it_in_the_log_and_the_answer(clean_db, caplog) -> None:
    app = create_app(clean_db)

    def boom() -> None:
        raise RuntimeError("a fault of ours")

    app.add_api_route("/api/boom", boom)
    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        ids = {client.get("/api/health").headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3 and all(HEX16.fullmatch(i) for i in ids)
        failed = client.get("/api/boom")
    assert failed.status_code == 500
    rid = failed.headers["x-request-id"]
    assert failed.json()["request_id"] == rid and rid in failed.json()["detail"]
    faults = [r for r in caplog.records if "unexpected error on GET /api/boom" in r.getMessage()]
    assert len(faults) == 1 and faults[0].request_id == rid


async def _get(app, peer: str, offered: str) -> str:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app, client=(peer, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://hggis") as client:
        return (await client.get("/api/health", headers={"X-Request-Id": offered})).headers["x-request-id"]


def test_an_offered_id_is_kept_only_from_a_trusted_proxy(clean_db) -> None:
    import anyio

    app = create_app(clean_db)
    app.state.trusted_proxies = parse_networks("10.0.0.1")
    offered = "nginx-0123456789abcdef"
    assert anyio.run(_get, app, "10.0.0.1", offered) == offered
    planted = anyio.run(_get, app, "203.0.113.9", offered)
    assert planted != offered and HEX16.fullmatch(planted)
    assert anyio.run(_get, app, "10.0.0.1", "bad id; rm -rf") != "bad id; rm -rf"


def test_the_servers_access_lines_carry_the_id_of_their_answer(clean_db, tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": clean_db.url.render_as_string(hide_password=False), "HGGIS_PORT": str(port),
           "HGGIS_WORKERS": "1", "HGGIS_VAR_DIR": str(tmp_path)}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "hggis.cli", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                rid = httpx.get(f"{base}/api/health", timeout=2).headers["x-request-id"]
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        missing = httpx.get(f"{base}/api/parcels/NO-SUCH-CODE", timeout=5)
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()
    lines = (tmp_path / "serve.log").read_text().splitlines()
    assert any(f"[{rid}]" in line and "/api/health" in line for line in lines), lines[-10:]
    other = missing.headers["x-request-id"]
    assert other != rid and any(f"[{other}]" in line and "NO-SUCH-CODE" in line for line in lines)
    started = [line for line in lines if "Application startup complete" in line]
    assert started and "[-]" in started[0]  # outside a request the id is "-"
