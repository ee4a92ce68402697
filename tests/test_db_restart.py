"""The service survives a crash of its database: 503 while it is down, 200 once `hggis db up` is back.

The postmaster is killed with SIGKILL, so this runs on a small cluster of its own (killing
the session's cluster would break every other test). The app is built once, with the
service's own engine (``get_engine``: pool with pre-ping), served by uvicorn, and never
rebuilt: recovery has to come from the pool replacing its dead connections.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from api.deps import connection
from hggis.access.users import create_user, issue_token
from hggis.boundaries import load_boundaries
from hggis.config import get_settings
from hggis.db.cluster import APP_ROLE, OWNER_ROLE, ClusterError, EmbeddedCluster, _find_binaries, _processes_using
from hggis.db.engine import dispose_engines, get_engine, with_session_limits
from hggis.db.migrate import grant_app_role, upgrade
from hggis.db.session import transaction
from tests.factories import add_parcel
from tests.live_server import free_port, live_server

try:
    _find_binaries()
except ClusterError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"no PostgreSQL + PostGIS here: {exc}", allow_module_level=True)

#: What a client would wait at most for one answer; a request that hangs longer fails the test.
REQUEST_TIMEOUT_S = 5.0


def _scratch_dir() -> Path:
    """A directory the postgres OS user can reach (initdb/pg_ctl run as it when we are root)."""
    base = Path(tempfile.gettempdir())
    if not all(p.stat().st_mode & stat.S_IXOTH for p in (base, *base.parents)):  # pragma: no cover
        pytest.skip(f"{base} is not traversable by the postgres OS user")
    path = Path(tempfile.mkdtemp(prefix="hggis-restart-", dir=base))
    path.chmod(0o755)
    return path


def _wait_gone(pid: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"postmaster {pid} still alive after SIGKILL")


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    """A private, migrated cluster (the `hggis db up` + `hggis db migrate` of a fresh machine)."""
    root = _scratch_dir()
    c = EmbeddedCluster(root / "pg", free_port())
    try:
        c.up()
        owner = create_engine(c.url(role=OWNER_ROLE))
        upgrade(owner)
        grant_app_role(owner, APP_ROLE)
        load_boundaries(owner, actor="test setup")
        owner.dispose()
        yield c
    finally:
        dispose_engines()
        try:
            c.down()
        finally:
            pid = c.status().pid
            if pid:
                os.kill(pid, signal.SIGKILL)
            shutil.rmtree(root, ignore_errors=True)


def _db_up(cluster: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch) -> str:
    """`hggis db up` for this cluster, as an operator would run it."""
    from hggis.db.commands import db_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("HGGIS_VAR_DIR", str(cluster.root.parent))
    monkeypatch.setenv("HGGIS_PG_PORT", str(cluster.port))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(db_app, ["up"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.stdout


def _statuses(client: httpx.Client, requests: dict[str, tuple[str, dict]]) -> dict[str, int]:
    return {name: client.get(path, **kwargs).status_code for name, (path, kwargs) in requests.items()}


def _wait_for_orphans(cluster: EmbeddedCluster, timeout: float = 15) -> None:
    """Backends of a killed postmaster exit on their own, a moment later; wait until they have."""
    deadline = time.monotonic() + timeout
    while _processes_using(cluster.pgdata):
        if time.monotonic() > deadline:
            raise AssertionError(f"backends {_processes_using(cluster.pgdata)} outlived their postmaster")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def engine(cluster: EmbeddedCluster) -> Engine:
    """The service's own engine (``get_engine``: the configured pool, pre-ping) as the app role."""
    settings = get_settings()
    return get_engine(with_session_limits(
        cluster.url(role=APP_ROLE), settings.hggis_statement_timeout_s, settings.hggis_idle_in_transaction_timeout_s
    ))


def test_service_answers_503_while_the_database_is_down_and_200_once_it_is_back(
    cluster: EmbeddedCluster, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(engine, "test", "setup") as conn:
        add_parcel(conn, 1)
        uid = create_user(conn, None, "admin-restart", "city_admin")
        token = issue_token(conn, uid).token
    requests = {
        "health": ("/api/health", {}),
        "public data": ("/api/counties", {}),
        "signed-in data": ("/api/parcels", {"params": {"status": "reserve"},
                                            "headers": {"Authorization": f"Bearer {token}"}}),
    }
    everything_ok = dict.fromkeys(requests, 200)

    with live_server(engine) as base, httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        assert _statuses(client, requests) == everything_ok  # the pool now holds live connections
        path, kwargs = requests["signed-in data"]
        assert client.get(path, **kwargs).json()["features"]  # the token really reads the reserve

        pid = cluster.status().pid
        assert pid
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        # while its backends are dying: a complete answer either way, never 500, never a dropped connection
        dying = _statuses(client, requests)
        assert set(dying.values()) <= {200, 503}, dying
        _wait_for_orphans(cluster)
        for _ in range(3):  # stale pooled connections first, then refused new ones
            down = _statuses(client, requests)
            assert down == dict.fromkeys(requests, 503), down
        busy = client.get("/api/counties")
        assert busy.headers.get("retry-after") and "数据库暂时不可用" in busy.json()["detail"]

        assert _db_up(cluster, monkeypatch).startswith("started ")
        # the very first requests after `db up` succeed: same app, same engine, no restart
        assert _statuses(client, requests) == everything_ok
        assert client.get("/api/health").json()["status"] == "ok"


def test_a_read_connection_lost_after_its_reads_still_closes_cleanly(
    cluster: EmbeddedCluster, engine: Engine
) -> None:
    """The request's connection dies between its last read and the closing ROLLBACK (the
    moment of a crash): closing must not raise, or the finished answer would be dropped."""
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(engine=engine)))
    dependency = connection(request)  # type: ignore[arg-type]
    conn = next(dependency)
    backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    superuser = create_engine(cluster.url(), poolclass=NullPool)
    try:
        with superuser.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": backend}).scalar_one()
    finally:
        superuser.dispose()
    with pytest.raises(StopIteration):
        next(dependency)  # FastAPI's teardown of the dependency
    assert conn.closed
    with engine.connect() as fresh:  # and the pool hands out a working connection next
        assert fresh.execute(text("SELECT 1")).scalar_one() == 1
