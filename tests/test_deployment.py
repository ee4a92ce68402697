"""The production compose file is valid and wires the service to PostGIS."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from hggis.config import PROJECT_ROOT


def test_compose_file_is_valid():
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is installed by scripts/setup-system.sh"
    env = {**os.environ, "POSTGRES_PASSWORD": "example-secret"}
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
    assert api["environment"]["DATABASE_URL"] == "postgresql://hggis:example-secret@db:5432/hggis"
    assert api["build"]["context"] == str(PROJECT_ROOT) or api["build"]["context"] == "."
    assert api["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_refuses_a_missing_password():
    exe = shutil.which("docker-compose")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    result = subprocess.run(
        [exe, "-f", str(PROJECT_ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60,
    )
    assert result.returncode != 0 and "POSTGRES_PASSWORD" in (result.stderr + result.stdout)


@pytest.mark.parametrize("path", ["hggis", "api", "maps", "data", "pyproject.toml", "README.md"])
def test_dockerfile_copies_what_the_service_needs(path):
    lines = (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
    copied = {token for line in lines if line.startswith("COPY ") for token in line.split()[1:-1]}
    assert path in copied
