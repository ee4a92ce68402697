"""Least privilege: an owner role for migrations, an app role with DML only.

``roles.sql`` (run by a superuser) creates the two roles and gives the database and its
schema to the owner. ``grant_app_privileges`` (run by the owner after every migration)
gives the app role exactly what the service needs: SELECT, INSERT, UPDATE and DELETE on the
data tables, SELECT only on ``history`` (the audit triggers, SECURITY DEFINER functions
owned by the owner, are the one way rows get in) and on ``alembic_version``, and USAGE on
the sequences. The app role owns nothing, so it cannot ALTER or DROP a table, drop or
disable a trigger, or TRUNCATE; ``session_replication_role`` is a superuser setting.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

ROLES_SQL = Path(__file__).resolve().parent / "roles.sql"

#: Tables the app role may read but never write: the audit trail and the migration stamp.
READ_ONLY_TABLES = ("history", "alembic_version")
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"

_PSQL_VARIABLE = re.compile(r"(?<!:):'(\w+)'")

_OWNED_RELATIONS = text(
    """
    SELECT c.relname, c.relkind
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype = 'e')
     ORDER BY c.relname
    """
)


def render_roles_sql(owner_role: str, owner_password: str, app_role: str, app_password: str) -> str:
    """``roles.sql`` with its psql variables replaced by quoted literals (for psycopg)."""
    values = {"owner_role": owner_role, "owner_password": owner_password,
              "app_role": app_role, "app_password": app_password}

    def literal(match: re.Match[str]) -> str:
        return "'" + values[match.group(1)].replace("'", "''") + "'"

    return _PSQL_VARIABLE.sub(literal, ROLES_SQL.read_text())


def role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None


def grant_app_privileges(conn: Connection, app_role: str) -> int:
    """Give ``app_role`` the DML on every table the connected (owner) role owns; returns the count.

    Idempotent and exact: each relation's grants to the app role are revoked and granted
    again, so a privilege given by hand (TRUNCATE, UPDATE on history) does not survive a
    migrate. Default privileges cover tables a later migration creates before this runs.
    """
    quote = conn.dialect.identifier_preparer.quote
    app = quote(app_role)
    relations = conn.execute(_OWNED_RELATIONS).all()
    for name, kind in relations:
        target = quote(name)
        if kind == "S":
            conn.execute(text(f"REVOKE ALL ON SEQUENCE {target} FROM {app}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE {target} TO {app}"))
            continue
        privileges = "SELECT" if name in READ_ONLY_TABLES else TABLE_PRIVILEGES
        conn.execute(text(f"REVOKE ALL ON TABLE {target} FROM {app}"))
        conn.execute(text(f"GRANT {privileges} ON TABLE {target} TO {app}"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {app}"))
    conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {TABLE_PRIVILEGES} ON TABLES TO {app}"))
    conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}"))
    return len(relations)
