"""Backups and restores through the CLI, into real empty PostGIS databases of the test server.

The source is a database of its own, taken from empty to the demo data set plus a user by
the CLI; each restore goes into a database created empty for the test, as `hggis db up` or
an administrator (roles.sql) would prepare it. The rows are compared with the tests' own
checksum (md5 of the sorted rows as text), not with the manifest's, so a wrong checksum in
the implementation could not hide a lost row.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from api.app import create_app
from hggis.config import get_settings
from hggis.db.engine import dispose_engines
from hggis.db.roles import render_roles_sql
from hggis.db.session import transaction

if TYPE_CHECKING:  # pragma: no cover
    from tests.conftest import TestDatabase

def _run_cli(monkeypatch: pytest.MonkeyPatch, test_database: TestDatabase, database: str, *args: str) -> Result:
    """``hggis ARGS`` with DATABASE_URL (app role) and DATABASE_OWNER_URL (owner) on ``database``."""
    from hggis.cli import app

    monkeypatch.setenv("DATABASE_URL", test_database.url_for(database, "app"))
    monkeypatch.setenv("DATABASE_OWNER_URL", test_database.url_for(database, "owner"))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        dispose_engines()
        get_settings.cache_clear()


def _create_empty_database(test_database: TestDatabase, name: str) -> None:
    """What `hggis db up` / an administrator prepares: a database with PostGIS and the two roles."""
    admin = create_engine(test_database.url_for("postgres", "superuser"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    fresh = create_engine(test_database.url_for(name, "superuser"))
    with fresh.connect() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))
        roles = render_roles_sql(test_database.owner_role, "", test_database.app_role, "")
        conn.connection.driver_connection.execute(roles)  # several statements: psycopg's simple protocol
        conn.commit()
    fresh.dispose()


def _drop_database(test_database: TestDatabase, name: str) -> None:
    admin = create_engine(test_database.url_for("postgres", "superuser"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def table_digests(engine: Engine) -> dict[str, tuple[int, str]]:
    """Every table of the schema: (row count, md5 of its rows as text, sorted)."""
    with engine.connect() as conn:
        conn.execute(text("SET TimeZone = 'UTC'"))
        names = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys' ORDER BY 1"
        )).scalars().all()
        return {
            name: tuple(conn.execute(text(
                f'SELECT count(*), md5(coalesce(string_agg(t::text, E\'\\n\' ORDER BY t::text), \'\')) FROM "{name}" t'
            )).one())
            for name in names
        }


def _engine(test_database: TestDatabase, database: str, role: str) -> Engine:
    return create_engine(test_database.url_for(database, role))


@pytest.fixture(scope="module")
def source(test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A database of its own, from empty: migrated, demo data and a user loaded, backed up, all by the CLI.

    Not the session database: the harness empties that one with triggers off, which may leave
    rows a real database could never hold (and a restore, checking every foreign key, refuses).
    """
    database = f"{make_url(test_database.app_url).database}_backup_source"
    _create_empty_database(test_database, database)
    with pytest.MonkeyPatch.context() as mp:
        for args in (("db", "migrate"), ("demo", "load")):
            done = _run_cli(mp, test_database, database, *args)
            assert done.exit_code == 0, done.output
        added = _run_cli(mp, test_database, database, "user", "add", "wang-hz", "--role", "county_officer",
                         "--county", "421102", "--name", "王科长")
        assert added.exit_code == 0, added.output
        archive = tmp_path_factory.mktemp("backups") / "hggis.dump"
        result = _run_cli(mp, test_database, database, "db", "backup", str(archive))
    assert result.exit_code == 0, result.output
    superuser = _engine(test_database, database, "superuser")
    try:
        digests = table_digests(superuser)
    finally:
        superuser.dispose()
    yield {
        "database": database,
        "archive": archive,
        "output": result.stdout,
        "token": added.stdout.strip().splitlines()[-1],
        "digests": digests,
    }
    _drop_database(test_database, database)


@pytest.fixture
def target(test_database: TestDatabase, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database (PostGIS and the roles, no schema) to restore into; dropped afterwards."""
    name = f"{make_url(test_database.app_url).database}_{request.node.name[5:25]}"
    _create_empty_database(test_database, name)
    yield name
    dispose_engines()
    _drop_database(test_database, name)


def test_backup_writes_archive_and_manifest(source: dict) -> None:
    archive: Path = source["archive"]
    manifest = json.loads((archive.parent / (archive.name + ".manifest.json")).read_text())
    assert manifest["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest["size"] == archive.stat().st_size
    counts = {name: rows for name, (rows, _) in source["digests"].items()}
    assert {name: t["rows"] for name, t in manifest["tables"].items()} == counts
    assert counts["parcels"] > 1000 and counts["history"] > 1000 and counts["users"] == 1
    assert archive.stat().st_mode & 0o077 == 0  # password hashes and token hashes inside
    assert "sha256 " + manifest["sha256"] in source["output"]
    assert not list(archive.parent.glob("*.partial"))


def test_round_trip_restores_every_row_and_the_protections(
    source: dict, target: str, test_database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_cli(monkeypatch, test_database, target, "db", "restore", str(source["archive"]))
    assert result.exit_code == 0, result.output
    assert "row counts and checksums match the manifest" in result.stdout

    superuser = _engine(test_database, target, "superuser")
    try:
        assert table_digests(superuser) == source["digests"]  # history included
        with superuser.connect() as conn:
            owners = set(conn.execute(text(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'"
            )).scalars())
        assert owners == {test_database.owner_role}
    finally:
        superuser.dispose()

    # the migration stamp came along: nothing left to migrate
    migrated = _run_cli(monkeypatch, test_database, target, "db", "migrate")
    assert migrated.exit_code == 0, migrated.output
    assert "schema already at" in migrated.stdout

    app = _engine(test_database, target, "app")
    owner = _engine(test_database, target, "owner")
    try:
        for statement in ("UPDATE history SET actor = 'x'", "DELETE FROM history", "TRUNCATE history"):
            with pytest.raises(DBAPIError, match="permission denied for table history"):
                with app.begin() as conn:
                    conn.execute(text(statement))
            with pytest.raises(DBAPIError, match="append-only"):
                with owner.begin() as conn:
                    conn.execute(text(statement))
        with pytest.raises(DBAPIError, match="retire it instead"):
            with transaction(app, "test", "try delete") as conn:
                conn.execute(text("DELETE FROM parcels WHERE id = (SELECT min(id) FROM parcels)"))
        # an ordinary write by the app role still works and is still recorded
        with transaction(app, "officer-li", "挂牌出让") as conn:
            pid = conn.execute(text("SELECT min(id) FROM parcels WHERE status = 'reserve'")).scalar_one()
            conn.execute(text("UPDATE parcels SET status = 'on_offer' WHERE id = :i"), {"i": pid})
        with app.connect() as conn:
            last = conn.execute(text("SELECT actor, reason, after FROM history ORDER BY id DESC LIMIT 1")).one()
        assert (last.actor, last.reason, last.after) == ("officer-li", "挂牌出让", {"status": "on_offer"})

        # the service on the restored database knows the user and the token issued before the backup
        with TestClient(create_app(app)) as client:
            assert client.get("/api/health").json()["migration"]["up_to_date"] is True
            query = {"adcode": "421102", "status": "reserve", "limit": 5}
            public = client.get("/api/parcels", params=query)
            forged = client.get("/api/parcels", params=query, headers={"Authorization": "Bearer hggis_x_forged"})
            officer = client.get("/api/parcels", params=query, headers={"Authorization": f"Bearer {source['token']}"})
        assert public.status_code == 200 and public.json()["features"] == []  # reserves are not public
        assert forged.status_code == 401
        assert officer.status_code == 200 and officer.json()["features"], officer.text
    finally:
        app.dispose()
        owner.dispose()


def test_restore_refuses_a_non_empty_database_unless_forced(
    source: dict, target: str, test_database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run_cli(monkeypatch, test_database, target, "db", "restore", str(source["archive"])).exit_code == 0
    app = _engine(test_database, target, "app")
    try:
        with transaction(app, "test", "after the restore") as conn:
            conn.execute(text("INSERT INTO parks (name, adcode, level) VALUES ('恢复后新建园区', '421102', '省级')"))

        refused = _run_cli(monkeypatch, test_database, target, "db", "restore", str(source["archive"]))
        assert refused.exit_code == 1
        message = refused.stderr.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in refused.output
        assert "不是空的" in message and "not empty" in message and "--force" in message
        with app.connect() as conn:  # nothing was touched
            assert conn.execute(text("SELECT count(*) FROM parks WHERE name = '恢复后新建园区'")).scalar_one() == 1

        forced = _run_cli(monkeypatch, test_database, target, "db", "restore", "--force", str(source["archive"]))
        assert forced.exit_code == 0, forced.output
        assert "existing objects dropped first" in forced.stdout
    finally:
        app.dispose()
    superuser = _engine(test_database, target, "superuser")
    try:
        assert table_digests(superuser) == source["digests"]  # the park made after the backup is gone
    finally:
        superuser.dispose()


def test_a_failed_restore_leaves_the_database_as_it_was(
    source: dict, target: str, test_database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --force restore that fails late (creating the triggers, after the old contents were
    dropped and the rows loaded) rolls back to the database as it was."""
    assert _run_cli(monkeypatch, test_database, target, "db", "restore", str(source["archive"])).exit_code == 0
    superuser = _engine(test_database, target, "superuser")
    try:
        with superuser.begin() as conn:
            conn.execute(text("CREATE SCHEMA guard"))  # outside public, which --force empties
            conn.execute(text(
                "CREATE FUNCTION guard.refuse_triggers() RETURNS event_trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'no new triggers today'; END $$"
            ))
            conn.execute(text(
                "CREATE EVENT TRIGGER refuse_triggers ON ddl_command_end WHEN TAG IN ('CREATE TRIGGER') "
                "EXECUTE FUNCTION guard.refuse_triggers()"
            ))
        before = table_digests(superuser)
        failed = _run_cli(monkeypatch, test_database, target, "db", "restore", "--force", str(source["archive"]))
        assert failed.exit_code == 1
        assert "the database is unchanged" in failed.stderr and "no new triggers today" in failed.stderr
        assert table_digests(superuser) == before == source["digests"]
    finally:
        with superuser.begin() as conn:
            conn.execute(text("DROP EVENT TRIGGER IF EXISTS refuse_triggers"))
        superuser.dispose()


def test_a_damaged_or_unverifiable_archive_is_refused_before_anything_is_touched(
    source: dict, target: str, test_database: TestDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.dump"
    shutil.copy(source["archive"], damaged)
    shutil.copy(source["archive"].with_name(source["archive"].name + ".manifest.json"),
                tmp_path / "damaged.dump.manifest.json")
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    result = _run_cli(monkeypatch, test_database, target, "db", "restore", str(damaged))
    assert result.exit_code == 1
    assert "SHA-256" in result.stderr and "damaged" in result.stderr and "nothing was restored" in result.stderr

    bare = tmp_path / "bare.dump"
    shutil.copy(source["archive"], bare)
    result = _run_cli(monkeypatch, test_database, target, "db", "restore", str(bare))
    assert result.exit_code == 1 and "no manifest" in result.stderr and "--no-verify" in result.stderr

    not_a_dump = tmp_path / "notes.dump"
    not_a_dump.write_text("not a backup\n")
    result = _run_cli(monkeypatch, test_database, target, "db", "restore", "--no-verify", str(not_a_dump))
    assert result.exit_code == 1 and "not a readable pg_dump custom-format archive" in result.stderr

    superuser = _engine(test_database, target, "superuser")
    try:
        assert table_digests(superuser) == {}  # still empty
    finally:
        superuser.dispose()

    # a plain, trusted archive without manifest restores with --no-verify
    result = _run_cli(monkeypatch, test_database, target, "db", "restore", "--no-verify", str(bare))
    assert result.exit_code == 0, result.output
    assert "not verified" in result.stdout


def test_restore_needs_the_owner_role(
    source: dict, target: str, test_database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hggis.cli import app

    monkeypatch.setenv("DATABASE_URL", test_database.url_for(target, "app"))
    monkeypatch.delenv("DATABASE_OWNER_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "restore", str(source["archive"])])
    finally:
        dispose_engines()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "restore must run as the schema owner" in result.stderr and "DATABASE_OWNER_URL" in result.stderr
    assert test_database.app_role in result.stderr and "Traceback" not in result.output


def test_backup_never_overwrites_by_accident(
    source: dict, test_database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive: Path = source["archive"]
    before = archive.read_bytes()
    result = _run_cli(monkeypatch, test_database, source["database"], "db", "backup", str(archive))
    assert result.exit_code == 1 and "already exists" in result.stderr and "--force" in result.stderr
    assert archive.read_bytes() == before
    assert re.search(r"\d+ tables, \d+ rows", source["output"])
