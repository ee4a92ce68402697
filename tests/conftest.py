"""Test harness: a real PostGIS for the whole session, started and stopped by the tests.

Without ``HGGIS_TEST_DATABASE_URL`` the session starts its own embedded cluster under
``var/test-pg-<pid>`` on a free loopback port, creates a fresh database, migrates it (as
``hggis db migrate`` does) and stops and removes the cluster at the end, so nothing is left running.
With ``HGGIS_TEST_DATABASE_URL`` (a server where the tests may create databases) it uses
that server instead.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from hggis.boundaries import load_boundaries
from hggis.config import PROJECT_ROOT
from hggis.db.cluster import EmbeddedCluster
from hggis.db.engine import normalize_url
from hggis.db.migrate import upgrade

TEST_DB = f"hggis_test_{os.getpid()}"
DATA_TABLES = (
    "occupancies",
    "control_indicators",
    "parcels",
    "enterprise_years",
    "enterprises",
    "parks",
    "cluster_years",
    "dataset_meta",
    "evaluation_runs",
    "idle_scans",
    "idle_scan_results",
    "dems",
    "web_sessions",
    "api_tokens",
    "user_passwords",
    "users",
    "constraint_features",
    "constraint_layers",
    "imports",
    "auth_failures",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a fresh, empty test database with PostGIS (dropped at the end)."""
    external = os.environ.get("HGGIS_TEST_DATABASE_URL")
    if external:
        admin = create_engine(normalize_url(external), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DB}"'))
            conn.execute(text(f'CREATE DATABASE "{TEST_DB}"'))
        url = make_url(normalize_url(external)).set(database=TEST_DB).render_as_string(hide_password=False)
        with create_engine(url).begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))
        admin.dispose()
        return
    # One cluster per test session, so parallel sessions never stop each other's server.
    root = PROJECT_ROOT / "var" / f"test-pg-{os.getpid()}"
    cluster = EmbeddedCluster(root, _free_port())
    try:
        cluster.up()
        cluster.create_database(TEST_DB)
        yield cluster.url(TEST_DB)
    finally:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the migrated test database with the county boundaries loaded."""
    eng = create_engine(database_url, pool_pre_ping=True)
    upgrade(eng)
    load_boundaries(eng, actor="test setup")
    yield eng
    eng.dispose()


def wipe_data(engine: Engine) -> None:
    """Empty the data tables, keeping the reference data of the migrations.

    Parcels refuse DELETE and history refuses TRUNCATE by design; tests bypass those
    triggers with ``session_replication_role = replica`` (superuser only), which is
    exactly the kind of bypass the application itself never has.
    """
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)}, history RESTART IDENTITY CASCADE"))
        conn.execute(text("DELETE FROM clusters WHERE is_synthetic"))


@pytest.fixture
def clean_db(engine: Engine) -> Iterator[Engine]:
    """The engine on an empty data set (reference data kept), emptied again afterwards."""
    wipe_data(engine)
    yield engine
    wipe_data(engine)
