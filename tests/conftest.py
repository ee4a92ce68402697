"""Test harness: a real PostGIS for the whole session, started and stopped by the tests.

Without ``HGGIS_TEST_DATABASE_URL`` the session starts its own embedded cluster under
``var/test-pg-<pid>`` on a free loopback port, creates a fresh database with the owner and
app roles, migrates it as the owner (as ``hggis db migrate`` does) and stops and removes the
cluster at the end, so nothing is left running. With ``HGGIS_TEST_DATABASE_URL`` (a
superuser on a server where the tests may create databases and roles) it uses that server
instead, with roles named after the session.

The ``engine`` every test uses connects as the app role, with the service's statement and
idle-transaction bounds: the whole suite proves the application works without owning a
table. Only the harness itself (emptying tables between tests) uses the superuser.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from hggis.boundaries import load_boundaries
from hggis.config import PROJECT_ROOT, Settings
from hggis.db.cluster import APP_ROLE, OWNER_ROLE, SUPERUSER, EmbeddedCluster
from hggis.db.engine import normalize_url, with_session_limits
from hggis.db.migrate import grant_app_role, upgrade
from hggis.db.roles import render_roles_sql

TEST_DB = f"hggis_test_{os.getpid()}"
DATA_TABLES = (
    "chain_targets",
    "chain_links",
    "project_parcels",
    "project_list_moves",
    "project_funds",
    "projects",
    "enquiries",
    "parcel_offers",
    "occupancies",
    "control_indicators",
    "parcels",
    "enterprise_years",
    "enterprises",
    "parks",
    "cluster_years",
    "dataset_meta",
    "evaluation_runs",
    "evaluation_land_lists",
    "industrial_bases",
    "idle_scans",
    "idle_scan_results",
    "idle_document_sequences",
    "dems",
    "web_sessions",
    "api_tokens",
    "user_passwords",
    "users",
    "constraint_features",
    "constraint_layers",
    "imports",
    "auth_failures",
    "intensity_runs",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class TestDatabase:
    """The session's database as its three roles (URLs carry the passwords)."""

    superuser_url: str
    owner_url: str
    app_url: str
    owner_role: str
    app_role: str
    cluster: EmbeddedCluster | None  # None: HGGIS_TEST_DATABASE_URL

    def url_for(self, database: str, role: str) -> str:
        """The URL of another database of the same server, as ``role`` of this session."""
        url = {"superuser": self.superuser_url, "owner": self.owner_url, "app": self.app_url}[role]
        return make_url(url).set(database=database).render_as_string(hide_password=False)


def _external_database(external: str) -> Iterator[TestDatabase]:
    import secrets

    owner_role, app_role = f"hggis_owner_{os.getpid()}", f"hggis_app_{os.getpid()}"
    passwords = {owner_role: secrets.token_hex(16), app_role: secrets.token_hex(16)}
    admin = create_engine(normalize_url(external), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DB}"'))
        conn.execute(text(f'CREATE DATABASE "{TEST_DB}"'))
    superuser_url = make_url(normalize_url(external)).set(database=TEST_DB)
    with create_engine(superuser_url).connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        roles = render_roles_sql(owner_role, passwords[owner_role], app_role, passwords[app_role])
        conn.connection.driver_connection.execute(roles)  # several statements: psycopg's simple protocol
        conn.commit()

    def as_role(role: str) -> str:
        return superuser_url.set(username=role, password=passwords[role]).render_as_string(hide_password=False)

    yield TestDatabase(superuser_url.render_as_string(hide_password=False), as_role(owner_role),
                       as_role(app_role), owner_role, app_role, None)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))
        for role in (app_role, owner_role):
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def test_database() -> Iterator[TestDatabase]:
    """A fresh, empty test database with PostGIS and the owner and app roles (dropped at the end)."""
    external = os.environ.get("HGGIS_TEST_DATABASE_URL")
    if external:
        yield from _external_database(external)
        return
    # One cluster per test session, so parallel sessions never stop each other's server.
    root = PROJECT_ROOT / "var" / f"test-pg-{os.getpid()}"
    cluster = EmbeddedCluster(root, _free_port())
    try:
        cluster.up()
        cluster.create_database(TEST_DB)
        yield TestDatabase(cluster.url(TEST_DB, SUPERUSER), cluster.url(TEST_DB, OWNER_ROLE),
                           cluster.url(TEST_DB, APP_ROLE), OWNER_ROLE, APP_ROLE, cluster)
    finally:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(test_database: TestDatabase) -> str:
    """The app role's URL of the test database, with the service's session bounds."""
    settings = Settings(_env_file=None)
    return with_session_limits(
        test_database.app_url, settings.hggis_statement_timeout_s, settings.hggis_idle_in_transaction_timeout_s
    )


_superuser: list[Engine] = []


def superuser_engine() -> Engine:
    """The harness's own superuser engine on the test database (never the application's)."""
    return _superuser[0]


@pytest.fixture(scope="session")
def engine(test_database: TestDatabase, database_url: str) -> Iterator[Engine]:
    """An app-role engine on the test database, migrated as the owner, county boundaries loaded."""
    owner = create_engine(test_database.owner_url)
    upgrade(owner)
    grant_app_role(owner, test_database.app_role)
    load_boundaries(owner, actor="test setup")
    owner.dispose()
    _superuser.append(create_engine(test_database.superuser_url, pool_pre_ping=True))
    eng = create_engine(database_url, pool_pre_ping=True)
    yield eng
    eng.dispose()
    _superuser.pop().dispose()


@pytest.fixture(scope="session")
def owner_engine(test_database: TestDatabase, engine: Engine) -> Iterator[Engine]:
    """The schema owner's engine (what migrations use), for tests about the roles themselves."""
    eng = create_engine(test_database.owner_url)
    yield eng
    eng.dispose()


def wipe_data(engine: Engine | None = None) -> None:
    """Empty the data tables, keeping the reference data of the migrations.

    Parcels refuse DELETE and history refuses TRUNCATE by design; the harness bypasses those
    triggers with ``session_replication_role = replica`` as the superuser, whatever engine
    the test passes: exactly the kind of bypass the application's role never has.
    """
    with superuser_engine().begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(DATA_TABLES)}, history RESTART IDENTITY CASCADE"))
        # replica mode also skips the foreign keys' cascades: the links go first, by hand
        conn.execute(text("DELETE FROM cluster_counties WHERE cluster_id IN (SELECT id FROM clusters WHERE is_synthetic)"))
        conn.execute(text("DELETE FROM clusters WHERE is_synthetic"))


@pytest.fixture
def clean_db(engine: Engine) -> Iterator[Engine]:
    """The engine on an empty data set (reference data kept), emptied again afterwards."""
    wipe_data(engine)
    yield engine
    wipe_data(engine)


@pytest.fixture
def cli(clean_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The `hggis` command on the empty test database, as a user runs it (typer's runner)."""
    from typer.testing import CliRunner

    from hggis.cli import app
    from hggis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def replica(test_database: TestDatabase, engine: Engine) -> Iterator:
    """A streaming hot standby of the session's cluster, as `hggis db up --replica` starts one.

    Only for the session's own embedded cluster (a base backup needs the server's files'
    owner and a replication role); stopped and removed at the end.
    """
    from hggis.db.replica import EmbeddedReplica

    if test_database.cluster is None:
        pytest.fail("the replica tests need the session's embedded cluster (unset HGGIS_TEST_DATABASE_URL)")
    root = PROJECT_ROOT / "var" / f"test-pg-{os.getpid()}-replica"
    standby = EmbeddedReplica(test_database.cluster, root, _free_port())
    try:
        standby.up()
        yield standby
    finally:
        standby.down()
        shutil.rmtree(root, ignore_errors=True)
