"""The embedded PostGIS cluster: real initdb/pg_ctl/PostgreSQL, no mocks.

One cluster is initialised per module (initdb + CREATE EXTENSION postgis take ~1 s); the
fault tests that must create nothing use fresh directories and never reach initdb.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from hggis.config import PROJECT_ROOT, Settings, get_settings
from hggis.db.cluster import ClusterError, EmbeddedCluster, _find_binaries
from hggis.db.engine import DatabaseUnavailable, check_database, database_url, mask_url

try:
    _BINARIES = _find_binaries()
except ClusterError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"no PostgreSQL + PostGIS here: {exc}", allow_module_level=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _traversable_by_all(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


@pytest.fixture(scope="module")
def tmp_base() -> Iterator[Path]:
    """A scratch directory the postgres OS user can traverse (mode 755 on the whole chain)."""
    candidates = [Path(tempfile.gettempdir()), PROJECT_ROOT / "var" / "test-tmp"]
    for base in candidates:
        base.mkdir(parents=True, exist_ok=True)
        if _traversable_by_all(base):
            break
    else:  # pragma: no cover
        pytest.skip("no scratch directory the postgres user can traverse")
    path = Path(tempfile.mkdtemp(prefix="hggis-pg-", dir=base))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fresh_dir(tmp_base: Path) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fresh-", dir=tmp_base))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_base: Path) -> Iterator[EmbeddedCluster]:
    c = EmbeddedCluster(tmp_base / "pg", free_port())
    try:
        c.up()
        yield c
    finally:
        try:
            c.down()
        finally:
            # belt and braces: never leave a postmaster behind
            pid = c.status().pid
            if pid:
                os.kill(pid, signal.SIGKILL)


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still alive")


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle(cluster: EmbeddedCluster) -> None:
    st = cluster.status()
    assert st.running and st.pid and st.port == cluster.port
    assert st.data_dir == cluster.pgdata and st.initialized
    assert st.version and st.version.split(".")[0] == str(_BINARIES.major)

    assert cluster.up() == f"already running on port {cluster.port}"

    engine = create_engine(cluster.url(), pool_pre_ping=True)
    try:
        info = check_database(engine)
    finally:
        engine.dispose()
    assert info["postgis_version"][0].isdigit()
    assert info["server_version"].startswith(st.version)

    assert "stopped" in cluster.down()
    st = cluster.status()
    assert not st.running and st.pid is None
    assert cluster.down().startswith("not running")

    assert cluster.up().startswith("started ")  # existing data dir: no initdb
    assert cluster.status().running


def test_already_running_on_another_port(cluster: EmbeddedCluster) -> None:
    cluster.up()
    other = EmbeddedCluster(cluster.root, free_port())
    assert other.up().startswith(f"already running on port {cluster.port} (configured port is {other.port}")
    assert other.url().endswith(f"@127.0.0.1:{cluster.port}/hggis")  # where the server really is
    assert other.status().port == cluster.port


def test_layout_and_permissions(cluster: EmbeddedCluster) -> None:
    root = cluster.root
    assert (root / "data" / "PG_VERSION").read_text().strip() == str(_BINARIES.major)
    assert (root / "run").is_dir() and (root / "log" / "postgresql.log").is_file()
    assert stat.S_IMODE((root / "password").stat().st_mode) == 0o600
    assert cluster.password() in cluster.url()
    assert cluster.url().startswith("postgresql+psycopg://hggis:")
    assert cluster.url().endswith(f"@127.0.0.1:{cluster.port}/hggis")
    conf = (root / "data" / "hggis.conf").read_text()
    for line in ("listen_addresses = '127.0.0.1'", f"port = {cluster.port}", "shared_buffers = '256MB'"):
        assert line in conf
    if os.geteuid() == 0:
        assert (root / "data").stat().st_uid == (root / "password").stat().st_uid != 0


def test_stale_pid_after_kill9(cluster: EmbeddedCluster) -> None:
    cluster.up()
    pid = cluster.status().pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    assert (cluster.pgdata / "postmaster.pid").exists()  # stale
    assert not cluster.status().running

    message = cluster.up()
    assert message.startswith("started ")
    st = cluster.status()
    assert st.running and st.pid != pid
    engine = create_engine(cluster.url())
    try:
        assert check_database(engine)["postgis_version"]
    finally:
        engine.dispose()


def test_create_and_drop_database(cluster: EmbeddedCluster) -> None:
    cluster.up()
    cluster.create_database("hggis_test_extra")
    cluster.create_database("hggis_test_extra")  # idempotent
    engine = create_engine(cluster.url("hggis_test_extra"))
    try:
        assert check_database(engine)["postgis_version"]
    finally:
        engine.dispose()
    cluster.drop_database("hggis_test_extra")
    cluster.drop_database("hggis_test_extra")  # idempotent
    with psycopg.connect(cluster.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'hggis_test_extra'").fetchone() is None


def test_database_without_postgis(cluster: EmbeddedCluster) -> None:
    cluster.up()
    with psycopg.connect(cluster.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS plain_db")
        conn.execute("CREATE DATABASE plain_db")
    engine = create_engine(cluster.url("plain_db"))
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            check_database(engine)
    finally:
        engine.dispose()
        cluster.drop_database("plain_db")
    assert str(err.value) == "database plain_db has no PostGIS extension: CREATE EXTENSION postgis"


def test_wrong_password_is_masked(cluster: EmbeddedCluster) -> None:
    cluster.up()
    engine = create_engine(f"postgresql+psycopg://hggis:WrongSecret42@127.0.0.1:{cluster.port}/hggis")
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            check_database(engine)
    finally:
        engine.dispose()
    message = str(err.value)
    assert "\n" not in message and "WrongSecret42" not in message
    assert f"127.0.0.1:{cluster.port}" in message and "password authentication failed" in message


def test_server_start_failure_reports_log_line(cluster: EmbeddedCluster) -> None:
    cluster.down()
    conf = cluster.pgdata / "postgresql.conf"
    original = conf.read_text()
    conf.write_text(original + "\nwork_mem = 'bogus'\n")
    try:
        with pytest.raises(ClusterError) as err:
            cluster.up()
        message = str(err.value)
        assert "\n" not in message
        assert message.startswith("server failed to start:") and "work_mem" in message
        assert not cluster.status().running
        assert cluster.pgdata.is_dir()  # an existing cluster is never removed
    finally:
        conf.write_text(original)
    assert cluster.up().startswith("started ")


# --------------------------------------------------------------------------- faults that create nothing


def test_port_taken(fresh_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        c = EmbeddedCluster(fresh_dir / "pg", port)
        with pytest.raises(ClusterError) as err:
            c.up()
    message = str(err.value)
    assert str(port) in message and "already in use" in message and "\n" not in message
    assert list(fresh_dir.iterdir()) == []  # nothing created on disk


def test_data_dir_from_other_major_version(fresh_dir: Path) -> None:
    other = 14 if _BINARIES.major != 14 else 13
    pgdata = fresh_dir / "pg" / "data"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text(f"{other}\n")
    before = sorted(p.relative_to(fresh_dir) for p in fresh_dir.rglob("*"))
    c = EmbeddedCluster(fresh_dir / "pg", free_port())
    with pytest.raises(ClusterError) as err:
        c.up()
    message = str(err.value)
    assert "\n" not in message
    assert f"PostgreSQL {other}" in message and str(_BINARIES.major) in message
    assert sorted(p.relative_to(fresh_dir) for p in fresh_dir.rglob("*")) == before
    assert not c.status().running


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres user")
def test_untraversable_parent(fresh_dir: Path) -> None:
    private = fresh_dir / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    c = EmbeddedCluster(private / "var" / "pg", free_port())
    with pytest.raises(ClusterError) as err:
        c.up()
    message = str(err.value)
    assert "\n" not in message and str(private) in message and "700" in message
    assert list(private.iterdir()) == []


# --------------------------------------------------------------------------- engine helpers


def test_unreachable_url_is_one_line_without_password() -> None:
    port = free_port()
    engine = create_engine(f"postgresql+psycopg://someone:TopSecret99@127.0.0.1:{port}/gisdb")
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            check_database(engine)
    finally:
        engine.dispose()
    message = str(err.value)
    assert "\n" not in message and "TopSecret99" not in message
    assert f"127.0.0.1:{port}" in message and "gisdb" in message
    assert "refused" in message.lower()


def test_database_url_normalisation_and_masking(tmp_base: Path) -> None:
    for given in ("postgresql://u:pw@db.example:5433/gis", "postgres://u:pw@db.example:5433/gis"):
        settings = Settings(database_url=given, _env_file=None)
        assert database_url(settings) == "postgresql+psycopg://u:pw@db.example:5433/gis"
    kept = "postgresql+psycopg://u:pw@h/gis"
    assert database_url(Settings(database_url=kept, _env_file=None)) == kept
    assert mask_url("postgresql+psycopg://u:pw@h:1/gis") == "postgresql+psycopg://u:***@h:1/gis"
    # unset: the embedded cluster's URL, but never starting it
    empty = tmp_base / "never-started"
    with pytest.raises(DatabaseUnavailable, match="hggis db up"):
        database_url(Settings(database_url=None, hggis_var_dir=empty, _env_file=None))
    assert not empty.exists()


def test_cli_with_unreachable_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from hggis.db.commands import db_app

    port = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://x:Hidden77@127.0.0.1:{port}/gis")
    get_settings.cache_clear()
    try:
        for command in ("up", "down", "status"):
            result = CliRunner().invoke(db_app, [command])
            assert result.exit_code == 1, result.output
            err_lines = result.stderr.strip().splitlines()
            assert len(err_lines) == 1 and err_lines[0].startswith("error: cannot reach PostgreSQL")
            assert "Hidden77" not in result.output and "Traceback" not in result.output
    finally:
        get_settings.cache_clear()


def test_cli_against_embedded_cluster(cluster: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from hggis.db.commands import db_app

    cluster.up()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("HGGIS_VAR_DIR", str(cluster.root.parent))
    monkeypatch.setenv("HGGIS_PG_PORT", str(cluster.port))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(db_app, ["status"])
        assert result.exit_code == 0, result.output
        assert "running" in result.stdout and f"port: {cluster.port}" in result.stdout
        assert runner.invoke(db_app, ["up"]).stdout.strip() == f"already running on port {cluster.port}"

        monkeypatch.setenv("DATABASE_URL", cluster.url().replace("postgresql+psycopg", "postgresql"))
        get_settings.cache_clear()
        result = runner.invoke(db_app, ["up"])
        assert result.exit_code == 0, result.output
        assert "reachable: PostgreSQL" in result.stdout and cluster.password() not in result.output
        assert cluster.status().running  # external mode never stops anything
        result = runner.invoke(db_app, ["down"])
        assert result.exit_code == 0 and cluster.status().running
    finally:
        get_settings.cache_clear()
