"""Least privilege on a database set up the docker-compose way, not by the embedded cluster.

The compose deployment creates its roles with deploy/postgres-init/20-hggis-roles.sh (run
by the PostGIS image's entrypoint as POSTGRES_USER) and migrates with `hggis db migrate`
under DATABASE_OWNER_URL, as the api container's command does. Here the same script and
the same command run against a fresh database of the test server, with role names of their
own; then the app role is refused every way around the history, as in test_privileges.py.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from hggis.db.session import transaction
from tests.test_privileges import INSUFFICIENT_PRIVILEGE, REFUSED

ROOT = Path(__file__).resolve().parent.parent
INIT_SCRIPT = ROOT / "deploy" / "postgres-init" / "20-hggis-roles.sh"
HGGIS = str(Path(sys.executable).parent / "hggis")


@pytest.fixture(scope="module")
def compose_db(test_database, engine) -> Iterator[dict[str, str]]:  # noqa: ANN001 - engine: the session is migrated
    suffix = f"{os.getpid()}"
    database, owner, app = f"hggis_compose_{suffix}", f"compose_owner_{suffix}", f"compose_app_{suffix}"
    passwords = {owner: secrets.token_hex(12), app: secrets.token_hex(12)}
    superuser = create_engine(test_database.superuser_url, isolation_level="AUTOCOMMIT")
    with superuser.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    su_db = create_engine(test_database.url_for(database, "superuser"))
    with su_db.begin() as conn:  # what the PostGIS image's own init script does first
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    su_db.dispose()
    su = make_url(test_database.superuser_url)
    env = {**os.environ, "PGHOST": su.host or "127.0.0.1", "PGPORT": str(su.port or 5432),
           "PGPASSWORD": su.password or "", "POSTGRES_USER": su.username, "POSTGRES_DB": database,
           "HGGIS_ROLES_SQL": str(ROOT / "hggis" / "db" / "roles.sql"), "HGGIS_OWNER_ROLE": owner,
           "HGGIS_APP_ROLE": app, "HGGIS_OWNER_PASSWORD": passwords[owner], "HGGIS_APP_PASSWORD": passwords[app]}
    done = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    def url(role: str) -> str:
        return su.set(username=role, password=passwords[role], database=database).render_as_string(hide_password=False)

    migrate_env = {**os.environ, "DATABASE_URL": url(app), "DATABASE_OWNER_URL": url(owner)}
    migrated = subprocess.run([HGGIS, "db", "migrate"], env=migrate_env, capture_output=True, text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    yield {"app_url": url(app), "owner_role": owner, "app_role": app}
    with superuser.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE "{app}"'))
        conn.execute(text(f'DROP ROLE "{owner}"'))
    superuser.dispose()


@pytest.fixture(scope="module")
def compose_app(compose_db) -> Iterator[Engine]:  # noqa: ANN001
    eng = create_engine(compose_db["app_url"])
    with transaction(eng, "officer-compose", "新建园区") as conn:
        conn.execute(text("INSERT INTO parks (name, adcode) VALUES ('部署测试园区', '421102')"))
    yield eng
    eng.dispose()


def test_the_compose_app_role_writes_and_is_recorded(compose_app: Engine, compose_db) -> None:  # noqa: ANN001
    with compose_app.connect() as conn:
        me, superuser = conn.execute(text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
        recorded = conn.execute(text("SELECT table_name, action, actor, reason FROM history ORDER BY id")).all()
        boundaries = conn.execute(text("SELECT count(*) FROM counties WHERE boundary IS NOT NULL")).scalar_one()
    assert me == compose_db["app_role"] and not superuser
    assert [tuple(r) for r in recorded][-1] == ("parks", "insert", "officer-compose", "新建园区")
    assert boundaries > 0  # `hggis db migrate` loaded the county boundaries as the owner


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_compose_app_role_cannot_get_around_the_history(compose_app: Engine, compose_db, statement: str) -> None:  # noqa: ANN001
    statement = statement.replace("hggis_owner", compose_db["owner_role"])
    with compose_app.connect() as conn:
        before = conn.execute(text("SELECT count(*), max(id) FROM history")).one()
    with pytest.raises(DBAPIError) as refused:
        with transaction(compose_app, "attacker", "trying") as conn:
            conn.execute(text(statement))
    assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, refused.value.orig
    with compose_app.connect() as conn:
        assert conn.execute(text("SELECT count(*), max(id) FROM history")).one() == before
