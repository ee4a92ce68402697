"""The docker-compose profile `scale` resolves: primary, replica, pgbouncer, nginx cache, two api replicas.

`docker-compose config` is the check the machine allows (no Docker engine runs here); the
replication role script the primary runs is exercised against the test server below.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest
import yaml
from sqlalchemy import create_engine, make_url, text

from hggis.config import PROJECT_ROOT

PASSWORDS = {"POSTGRES_PASSWORD": "example-secret", "HGGIS_OWNER_PASSWORD": "owner-secret",
             "HGGIS_APP_PASSWORD": "app-secret", "HGGIS_REPLICATION_PASSWORD": "replication-secret"}
SCALE = {"db", "db-replica", "pgbouncer", "cache", "api-1", "api-2"}


def _config(*profile: str) -> dict:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is installed by scripts/setup-system.sh"
    result = subprocess.run(
        [exe, "-f", str(PROJECT_ROOT / "docker-compose.yml"), *profile, "config"],
        capture_output=True, text=True, env={**os.environ, **PASSWORDS}, cwd=PROJECT_ROOT, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def scale() -> dict:
    return _config("--profile", "scale")["services"]


def test_the_scale_profile_has_its_services_and_only_they_carry_it(scale: dict) -> None:
    assert SCALE <= set(scale)
    assert {name for name, svc in scale.items() if "scale" in svc.get("profiles", [])} == SCALE - {"db"}
    assert "profiles" not in scale["db"] and "profiles" not in scale["api"]  # the default deployment is unchanged


def test_the_replica_streams_from_the_primary(scale: dict) -> None:
    replica = scale["db-replica"]
    assert replica["image"] == scale["db"]["image"]
    assert replica["environment"]["HGGIS_PRIMARY_HOST"] == "db"
    assert replica["environment"]["PGPASSWORD"] == "replication-secret"
    assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    assert replica["user"] == "postgres"
    assert any("pgdata-replica:" in str(v) or v.get("source") == "pgdata-replica"
               for v in (x if isinstance(x, dict) else {"source": x} for x in replica["volumes"]))
    script = (PROJECT_ROOT / "deploy" / "postgres-replica" / "replica-entrypoint.sh").read_text()
    assert 'pg_basebackup -h "$PRIMARY_HOST"' in script and " -R " in script and "hggis_replicator" in script
    assert any("30-hggis-replication.sh" in str(v) for v in scale["db"]["volumes"])


@pytest.mark.parametrize("api", ["api-1", "api-2"])
def test_the_api_replicas_write_through_pgbouncer_and_read_from_the_replica(scale: dict, api: str) -> None:
    env = scale[api]["environment"]
    assert env["DATABASE_URL"] == "postgresql://hggis_app:app-secret@pgbouncer:6432/hggis"
    assert env["DATABASE_READ_URL"] == "postgresql://hggis_app:app-secret@db-replica:5432/hggis"
    assert env["DATABASE_OWNER_URL"] == "postgresql://hggis_owner:owner-secret@db:5432/hggis"
    assert "example-secret" not in str(scale[api]) and "replication-secret" not in str(scale[api])


def test_the_cache_and_pgbouncer_use_the_shared_deploy_configs(scale: dict) -> None:
    cache, bouncer = scale["cache"], scale["pgbouncer"]
    assert set(cache["depends_on"]) == {"api-1", "api-2"}
    assert cache["environment"]["HGGIS_UPSTREAMS"] == "api-1:8000 api-2:8000"
    assert any("deploy/nginx/hggis-cache.conf.template" in str(v) for v in cache["volumes"])
    assert any("deploy/pgbouncer" in str(v) for v in bouncer["volumes"])
    assert "pgbouncer.ini" in " ".join(bouncer["command"])
    assert scale["api-2"]["depends_on"]["api-1"]["condition"] == "service_healthy"  # one migration at a time


def test_the_default_profile_still_needs_no_replication_password() -> None:
    env = {k: v for k, v in PASSWORDS.items() if k != "HGGIS_REPLICATION_PASSWORD"}
    exe = shutil.which("docker-compose")
    result = subprocess.run([exe, "-f", str(PROJECT_ROOT / "docker-compose.yml"), "config"], capture_output=True,
                            text=True, env={**{k: v for k, v in os.environ.items() if k not in PASSWORDS}, **env},
                            cwd=PROJECT_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_replication_script_makes_a_role_with_the_least_rights(test_database, engine) -> None:  # noqa: ANN001
    """The primary's init script, run against the test server as the image would run it."""
    su = make_url(test_database.superuser_url)
    password = secrets.token_hex(12)
    pgdata = PROJECT_ROOT / "var" / f"test-compose-hba-{os.getpid()}"
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        env = {**os.environ, "PGHOST": su.host, "PGPORT": str(su.port), "PGPASSWORD": su.password,
               "POSTGRES_USER": su.username, "POSTGRES_DB": su.database, "PGDATA": str(pgdata),
               "HGGIS_REPLICATION_PASSWORD": password}
        admin = create_engine(test_database.superuser_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            existed = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'hggis_replicator'")).first()
            if existed:  # the embedded replica's role of this session: let the script create it anew
                conn.execute(text("DROP ROLE hggis_replicator"))
        script = PROJECT_ROOT / "deploy" / "postgres-init" / "30-hggis-replication.sh"
        done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "host replication hggis_replicator all scram-sha-256" in (pgdata / "pg_hba.conf").read_text()
        with admin.connect() as conn:
            role = conn.execute(text(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolcanlogin "
                "FROM pg_roles WHERE rolname = 'hggis_replicator'")).one()
            assert tuple(role) == (False, False, False, False, True, True)
            conn.execute(text("DROP ROLE hggis_replicator"))
        admin.dispose()
        if existed:  # give the session's replica its role and password back
            from hggis.db.replica import ensure_replication_role

            ensure_replication_role(test_database.cluster)
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)
