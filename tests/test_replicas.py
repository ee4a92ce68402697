"""Read replicas: a real streaming standby of the test cluster, read through the service's doors.

The replica is a `pg_basebackup` of the session's cluster (tests/conftest.py `replica`), as
`hggis db up --replica` makes one. Pausing its replay (a standby's own function, as its
superuser) makes it fall behind on purpose; stopping it makes it go away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from hggis.config import Settings
from hggis.db.cluster import APP_ROLE, REPLICATION_ROLE, SUPERUSER
from hggis.db.engine import with_session_limits
from hggis.db.reads import PRIMARY_READS_COOKIE, ReadRouter
from hggis.db.session import transaction
from hggis.parcels import ParcelInput, create_parcel
from tests.access_helpers import make_user
from tests.conftest import TEST_DB, superuser_engine
from tests.factories import HUANGZHOU, add_park, parcel_code, square

ITEMS = "/ogc/collections/available_land/items?f=json&limit=100"
LOGGER = "hggis.db.reads"


def _app_url(replica) -> str:  # noqa: ANN001
    settings = Settings(_env_file=None)
    return with_session_limits(replica.url(TEST_DB, APP_ROLE), settings.hggis_statement_timeout_s,
                               settings.hggis_idle_in_transaction_timeout_s)


@pytest.fixture
def standby(replica) -> Iterator:  # noqa: ANN001
    """The session's replica, running and replaying, whatever the previous test did to it."""
    replica.up()
    su = create_engine(replica.url(TEST_DB, SUPERUSER), isolation_level="AUTOCOMMIT")
    with su.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_resume()"))
    su.dispose()
    yield replica
    replica.up()
    su = create_engine(replica.url(TEST_DB, SUPERUSER), isolation_level="AUTOCOMMIT")
    with su.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_resume()"))
    su.dispose()


def _pause_replay(replica) -> None:  # noqa: ANN001
    su = create_engine(replica.url(TEST_DB, SUPERUSER), isolation_level="AUTOCOMMIT")
    with su.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
        deadline = time.monotonic() + 30
        while conn.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar_one() != "paused":
            assert time.monotonic() < deadline, "replay did not pause"
            time.sleep(0.05)
    su.dispose()


def _wait_for_replay(primary: Engine, replica_engine: Engine) -> None:
    with primary.connect() as conn:
        lsn = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + 60
    with replica_engine.connect() as conn:
        while not conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}).scalar_one():
            assert time.monotonic() < deadline, "the replica did not replay the write within 60 s"
            time.sleep(0.05)


def _offer(engine: Engine, serial: int) -> str:
    """One parcel on offer (public), written on the primary the audited way."""
    with transaction(engine, "test setup", "replica test data") as conn:
        park = add_park(conn, f"副本测试园区{serial}")
        code = parcel_code(serial)
        create_parcel(conn, ParcelInput(code=code, geometry=square(HUANGZHOU[0] + serial * 0.003, HUANGZHOU[1], 100),
                                        status="on_offer", park_id=park))
    return code


def _codes(client: TestClient) -> set[str]:
    answer = client.get(ITEMS)
    assert answer.status_code == 200, answer.text
    return {f["id"] for f in answer.json()["features"]}


def _client(engine: Engine, replica, monkeypatch: pytest.MonkeyPatch, max_lag_s: float = 3600) -> TestClient:  # noqa: ANN001
    from hggis.config import get_settings

    monkeypatch.setenv("HGGIS_REPLICA_MAX_LAG_S", str(max_lag_s))
    monkeypatch.setenv("HGGIS_REPLICA_CHECK_S", "0.1")
    get_settings.cache_clear()
    return TestClient(create_app(engine, read_urls=[_app_url(replica)]))


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    from hggis.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --------------------------------------------------------------------------- the standby itself


def test_the_replica_is_a_hot_standby_where_the_app_role_is_no_superuser(clean_db: Engine, standby) -> None:  # noqa: ANN001
    rep = create_engine(_app_url(standby))
    with rep.connect() as conn:
        in_recovery, me, su = conn.execute(text(
            "SELECT pg_is_in_recovery(), current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
        with pytest.raises(DBAPIError, match="read-only transaction"):
            conn.execute(text("INSERT INTO parks (name, adcode) VALUES ('写不进副本', '421102')"))
    rep.dispose()
    assert in_recovery and me == APP_ROLE and not su
    with superuser_engine().connect() as conn:  # the app role may not see other roles' sessions
        streaming = conn.execute(text("SELECT usename, state FROM pg_stat_replication")).all()
    assert (REPLICATION_ROLE, "streaming") in [tuple(r) for r in streaming]


def test_the_replication_role_has_the_least_rights(clean_db: Engine, standby) -> None:  # noqa: ANN001
    with clean_db.connect() as conn:
        role = conn.execute(text(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolbypassrls, rolreplication, rolcanlogin, "
            "(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) "
            "FROM pg_roles r WHERE rolname = :r"), {"r": REPLICATION_ROLE}).one()
    assert tuple(role) == (False, False, False, False, False, True, True, 0)
    as_replicator = create_engine(standby.primary.url(TEST_DB, REPLICATION_ROLE))
    with as_replicator.connect() as conn, pytest.raises(DBAPIError, match="permission denied"):
        conn.execute(text("SELECT count(*) FROM parcels"))
    as_replicator.dispose()


def test_a_write_on_the_primary_is_read_on_the_replica_after_replay(clean_db: Engine, standby) -> None:  # noqa: ANN001
    code = _offer(clean_db, 1)
    rep = create_engine(_app_url(standby))
    _wait_for_replay(clean_db, rep)
    with rep.connect() as conn:
        assert conn.execute(text("SELECT status FROM parcels WHERE code = :c"), {"c": code}).scalar_one() == "on_offer"
    rep.dispose()


# --------------------------------------------------------------------------- through the doors


def test_anonymous_reads_come_from_the_replica_and_a_writer_reads_its_own_write(
    clean_db: Engine, standby, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    first = _offer(clean_db, 1)
    _wait_for_replay(clean_db, create_engine(_app_url(standby)))
    _pause_replay(standby)  # from here the replica shows the data as it was
    officer = make_user(clean_db, "replica.officer", "city_admin")
    with _client(clean_db, standby, monkeypatch) as anonymous, _client(clean_db, standby, monkeypatch) as writer:
        assert _codes(anonymous) == {first}
        new = parcel_code(2)
        made = writer.post("/api/parcels", headers=officer.headers, json={
            "code": new, "status": "on_offer", "reason": "新增出让地块",
            "geometry": square(HUANGZHOU[0] + 0.006, HUANGZHOU[1], 100).__geo_interface__,
        })
        assert made.status_code == 201, made.text
        assert PRIMARY_READS_COOKIE in writer.cookies
        assert _codes(writer) == {first, new}  # read-your-writes: the primary answers the writer
        assert _codes(anonymous) == {first}  # the replica answers everyone else, still paused
        tile = anonymous.get("/tiles/parcels/0/0/0.pbf")
        assert tile.status_code in (200, 204)


def test_a_replica_that_falls_behind_is_skipped_with_one_log_line(
    clean_db: Engine, standby, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    first = _offer(clean_db, 1)
    _wait_for_replay(clean_db, create_engine(_app_url(standby)))
    _pause_replay(standby)
    second = _offer(clean_db, 2)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with _client(clean_db, standby, monkeypatch, max_lag_s=0.5) as anonymous:
        time.sleep(1.0)  # the replica's last replayed write is now older than the bound
        for _ in range(5):
            assert _codes(anonymous) == {first, second}
            time.sleep(0.15)
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 1 and "behind the primary" in lines[0] and "reads go to the primary" in lines[0]


def test_a_replica_stopped_mid_run_degrades_to_the_primary_and_comes_back(
    clean_db: Engine, standby, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    first = _offer(clean_db, 1)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with _client(clean_db, standby, monkeypatch) as anonymous:
        _wait_for_replay(clean_db, create_engine(_app_url(standby)))
        assert _codes(anonymous) == {first}
        standby.down()
        second = _offer(clean_db, 2)
        for _ in range(5):
            assert _codes(anonymous) == {first, second}  # never an error: the primary answers
        tile = anonymous.get("/tiles/parcels/0/0/0.pbf")
        assert tile.status_code in (200, 204)
        gone = [r.getMessage() for r in caplog.records if r.name == LOGGER]
        assert len(gone) == 1 and "unreachable" in gone[0]
        standby.up()
        _wait_for_replay(clean_db, create_engine(_app_url(standby)))
        time.sleep(0.2)
        assert _codes(anonymous) == {first, second}
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 2 and "back in use" in lines[1]


def test_the_router_round_robins_and_reports_health(clean_db: Engine, standby) -> None:  # noqa: ANN001
    a, b = create_engine(_app_url(standby)), create_engine(_app_url(standby))
    router = ReadRouter(clean_db, [a, b], max_lag_s=5, check_s=1)
    assert [h["usable"] for h in router.health()] == [True, True]
    used = set()
    for _ in range(4):
        with router.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()
            used.add(id(conn.engine))
    assert used == {id(a), id(b)}
    with router.connect(primary_only=True) as conn:
        assert not conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()
    router.dispose()


# --------------------------------------------------------------------------- the command


def test_db_up_replica_starts_a_streaming_standby_and_db_down_stops_both() -> None:
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from hggis.config import PROJECT_ROOT
    from tests.conftest import _free_port

    var = PROJECT_ROOT / "var" / f"test-replica-cli-{os.getpid()}"  # traversable by the postgres OS user
    hggis = str(Path(sys.executable).parent / "hggis")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HGGIS_"))},
           "HGGIS_VAR_DIR": str(var), "HGGIS_PG_PORT": str(_free_port()), "HGGIS_PG_REPLICA_PORT": str(_free_port())}

    def run(*args: str) -> str:
        done = subprocess.run([hggis, "db", *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        assert "replica copied from the primary and started" in run("up", "--replica")
        status = run("status")
        assert "embedded replica: running" in status and "embedded cluster: running" in status
        from hggis.db.engine import read_urls

        settings = Settings(_env_file=None, hggis_var_dir=var, hggis_pg_port=int(env["HGGIS_PG_PORT"]),
                            hggis_pg_replica_port=int(env["HGGIS_PG_REPLICA_PORT"]))
        urls = read_urls(settings)  # the service reads from it without any DATABASE_READ_URL
        assert len(urls) == 1 and f":{env['HGGIS_PG_REPLICA_PORT']}/" in urls[0]
        rep = create_engine(urls[0])
        with rep.connect() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery() AND NOT rolsuper FROM pg_roles "
                                     "WHERE rolname = current_user")).scalar_one()
        rep.dispose()
        stopped = run("down")
        assert "replica: stopped" in stopped and stopped.strip().endswith(f"(was on port {env['HGGIS_PG_PORT']})")
        status = run("status")
        assert "embedded replica: stopped" in status and "embedded cluster: stopped" in status
        assert read_urls(settings) == []
    finally:
        subprocess.run([hggis, "db", "down"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(var, ignore_errors=True)
