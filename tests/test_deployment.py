"""The production compose file is valid and wires the service to PostGIS."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from hggis.config import PROJECT_ROOT

PASSWORDS = {"POSTGRES_PASSWORD": "example-secret", "HGGIS_OWNER_PASSWORD": "owner-secret",
             "HGGIS_APP_PASSWORD": "app-secret"}


def test_compose_file_is_valid():
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is installed by scripts/setup-system.sh"
    env = {**os.environ, **PASSWORDS}
    result = subprocess.run(
        [exe, "-f", str(PROJECT_ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    db, api = config["services"]["db"], config["services"]["api"]
    assert db["image"].startswith("postgis/postgis:")
    assert any("/var/lib/postgresql/data" in str(v) for v in db["volumes"])
    assert "pgdata" in config["volumes"]
    # the service runs as the app role; migrations as the owner; the superuser stays in the db container
    assert api["environment"]["DATABASE_URL"] == "postgresql://hggis_app:app-secret@db:5432/hggis"
    assert api["environment"]["DATABASE_OWNER_URL"] == "postgresql://hggis_owner:owner-secret@db:5432/hggis"
    assert "example-secret" not in str(api)
    init = [str(v) for v in db["volumes"] if "docker-entrypoint-initdb.d" in str(v)]
    assert init and "20-hggis-roles.sh" in init[0]
    assert any("roles.sql" in str(v) for v in db["volumes"])
    assert db["environment"]["HGGIS_APP_PASSWORD"] == "app-secret"
    assert api["build"]["context"] == str(PROJECT_ROOT) or api["build"]["context"] == "."
    assert api["depends_on"]["db"]["condition"] == "service_healthy"


@pytest.mark.parametrize("missing", sorted(PASSWORDS))
def test_compose_refuses_a_missing_password(missing):
    exe = shutil.which("docker-compose")
    env = {**{k: v for k, v in os.environ.items() if k not in PASSWORDS}, **PASSWORDS}
    del env[missing]
    result = subprocess.run(
        [exe, "-f", str(PROJECT_ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60,
    )
    assert result.returncode != 0 and missing in (result.stderr + result.stdout)


@pytest.mark.parametrize("path", ["hggis", "api", "maps", "data", "pyproject.toml", "README.md"])
def test_dockerfile_copies_what_the_service_needs(path):
    lines = (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
    copied = {token for line in lines if line.startswith("COPY ") for token in line.split()[1:-1]}
    assert path in copied
