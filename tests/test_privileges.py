"""Least privilege: what the app role (the service and the CLI's data commands) may not do.

Every statement below is one an attacker holding the service's credentials (or a bug in
the service) would use to rewrite or silence the history; each must fail with
insufficient_privilege (SQLSTATE 42501) and leave the schema, its triggers and the history
as they were. UPDATE, DELETE and TRUNCATE of history are in test_schema.py; here are the
ways around them. The last test shows the ordinary writes still work and are recorded.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from hggis.db.session import transaction
from tests.factories import add_parcel, add_park

INSUFFICIENT_PRIVILEGE = "42501"

REFUSED = {
    "alter history": "ALTER TABLE history ADD COLUMN note text",
    "rename history": "ALTER TABLE history RENAME TO history_old",
    "disable the history triggers": "ALTER TABLE history DISABLE TRIGGER USER",
    "disable the audit trigger": "ALTER TABLE parcels DISABLE TRIGGER parcels_history",
    "drop the append-only trigger": "DROP TRIGGER history_append_only ON history",
    "drop the parcel guard": "DROP TRIGGER parcels_guard ON parcels",
    "replica mode": "SET session_replication_role = replica",
    "replica mode via set_config": "SELECT set_config('session_replication_role', 'replica', true)",
    "truncate history": "TRUNCATE history",
    "truncate parcels": "TRUNCATE parcels CASCADE",
    "update history": "UPDATE history SET actor = 'someone else'",
    "delete history": "DELETE FROM history",
    "insert forged history": (
        "INSERT INTO history (table_name, object_id, action, actor) VALUES ('parcels', '1', 'update', 'forged')"
    ),
    "create table": "CREATE TABLE public.shadow (id int)",
    "create function": "CREATE FUNCTION public.shadow() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "create schema": "CREATE SCHEMA shadow",
    "drop parcels": "DROP TABLE parcels",
    "drop history": "DROP TABLE history CASCADE",
    "replace the audit function": (
        "CREATE OR REPLACE FUNCTION public.hggis_history_record() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NULL; END $$"
    ),
    "make the audit run as the caller": "ALTER FUNCTION hggis_history_record() SECURITY INVOKER",
    "become the owner": "SET ROLE hggis_owner",
    "rewrite the migration stamp": "UPDATE alembic_version SET version_num = '0001'",
}


def _protections(conn: Connection) -> dict:
    """What the refused statements would have changed: tables, triggers and their state, history."""
    return {
        "tables": conn.execute(text(
            "SELECT array_agg(tablename ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"
        )).scalar_one(),
        "triggers": conn.execute(text(
            "SELECT array_agg(tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text ORDER BY 1) "
            "FROM pg_trigger WHERE NOT tgisinternal"
        )).scalar_one(),
        "history_columns": conn.execute(text(
            "SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = 'history'::regclass AND attnum > 0 AND NOT attisdropped"
        )).scalar_one(),
        "history": conn.execute(text("SELECT count(*), max(id), string_agg(actor, ',' ORDER BY id) FROM history")).one(),
        "audit_function": conn.execute(text(
            "SELECT prosecdef, md5(prosrc) FROM pg_proc WHERE oid = 'hggis_history_record()'::regprocedure"
        )).one(),
        "alembic": conn.execute(text("SELECT array_agg(version_num) FROM alembic_version")).scalar_one(),
    }


@pytest.fixture
def with_history(clean_db: Engine) -> Engine:
    with transaction(clean_db, "officer-wang", "新建储备地块") as conn:
        add_parcel(conn, 1)
    return clean_db


def test_the_app_engine_is_the_unprivileged_app_role(engine: Engine, test_database) -> None:
    with engine.connect() as conn:
        me, superuser, owns = conn.execute(text(
            "SELECT current_user, rolsuper, EXISTS (SELECT 1 FROM pg_class WHERE relowner = r.oid) "
            "FROM pg_roles r WHERE rolname = current_user"
        )).one()
    assert me == test_database.app_role and not superuser and not owns


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_app_role_cannot_get_around_the_history(with_history: Engine, statement: str, test_database) -> None:
    statement = statement.replace("hggis_owner", test_database.owner_role)
    with with_history.connect() as conn:
        before = _protections(conn)
    with pytest.raises(DBAPIError) as refused:
        with transaction(with_history, "attacker", "trying") as conn:
            conn.execute(text(statement))
    assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, refused.value.orig
    with with_history.connect() as conn:
        assert _protections(conn) == before


def test_the_app_role_cannot_grant_itself_more(with_history: Engine) -> None:
    """GRANT without the grant option is a warning, not an error, in PostgreSQL: check it gave nothing."""
    with with_history.begin() as conn:
        conn.execute(text("GRANT TRUNCATE, UPDATE, DELETE ON history TO CURRENT_USER"))
    with with_history.connect() as conn:
        held = conn.execute(text(
            "SELECT has_table_privilege('history', 'TRUNCATE'), has_table_privilege('history', 'UPDATE'), "
            "has_table_privilege('history', 'DELETE'), has_table_privilege('history', 'SELECT')"
        )).one()
    assert tuple(held) == (False, False, False, True)


def test_a_temporary_table_cannot_borrow_the_audit_function(with_history: Engine) -> None:
    """The audit function runs as the owner: attached to a table of the app's own it would forge history."""
    with pytest.raises(DBAPIError) as refused:
        with with_history.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE forge (id int)"))
            conn.execute(text(
                "CREATE TRIGGER forge_history AFTER INSERT ON forge FOR EACH ROW EXECUTE FUNCTION hggis_history_record()"
            ))
            conn.execute(text("INSERT INTO forge VALUES (1)"))
    assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE
    assert "permission denied for function hggis_history_record" in str(refused.value.orig)


def test_ordinary_writes_of_the_app_role_work_and_are_recorded(clean_db: Engine) -> None:
    with transaction(clean_db, "officer-wang", "新建园区和地块") as conn:
        park = add_park(conn, "权限测试园区")
        pid = add_parcel(conn, 2, park_id=park)
    with transaction(clean_db, "officer-li", "挂牌出让") as conn:
        conn.execute(text("UPDATE parcels SET status = 'on_offer' WHERE id = :i"), {"i": pid})
    with transaction(clean_db, "officer-li", "园区更名") as conn:
        conn.execute(text("UPDATE parks SET name = '权限测试园区（更名）' WHERE id = :i"), {"i": park})
    with transaction(clean_db, "officer-li", "撤销错误录入") as conn:
        extra = add_park(conn, "误建园区")
        conn.execute(text("DELETE FROM parks WHERE id = :i"), {"i": extra})
    with clean_db.connect() as conn:
        recorded = conn.execute(text(
            "SELECT table_name, action, actor, reason FROM history ORDER BY id"
        )).all()
        status = conn.execute(text("SELECT status FROM parcels WHERE id = :i"), {"i": pid}).scalar_one()
    assert status == "on_offer"
    assert [tuple(r) for r in recorded] == [
        ("parks", "insert", "officer-wang", "新建园区和地块"),
        ("parcels", "insert", "officer-wang", "新建园区和地块"),
        ("parcels", "update", "officer-li", "挂牌出让"),
        ("parks", "update", "officer-li", "园区更名"),
        ("parks", "insert", "officer-li", "撤销错误录入"),
        ("parks", "delete", "officer-li", "撤销错误录入"),
    ]
