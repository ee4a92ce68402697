"""Least privilege: the audit works for a role that may not write history itself.

The service connects as an app role with DML only and SELECT on ``history``
(``hggis.db.roles``). The history trigger functions therefore run as their owner (SECURITY
DEFINER) with a pinned search_path, so a role that may not INSERT into history still leaves
its record, and no temporary object can stand in for ``history`` or a function they call.
EXECUTE on the trigger functions is revoked from PUBLIC: triggers still fire, but nobody but
the owner can attach them to a table of their own (a temporary table with the audit
function would otherwise write forged history rows as the owner).

``hggis_analyze(regclass)`` lets the app role refresh the statistics of a table it has just
written (ANALYZE needs the table's owner): evaluation runs and imports call it before their
rows are read, so the planner does not pick plans for an empty table.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SAFE_SEARCH_PATH = "pg_catalog, public, pg_temp"
DEFINER_FUNCTIONS = ("hggis_history_statement()", "hggis_history_record()")
TRIGGER_FUNCTIONS = (
    *DEFINER_FUNCTIONS,
    "hggis_history_append_only()",
    "hggis_parcel_guard()",
    "hggis_idle_events_append_only()",
)

ANALYZE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION hggis_analyze(target regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {SAFE_SEARCH_PATH} AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class c
                  WHERE c.oid = target AND c.relnamespace = 'public'::regnamespace
                    AND c.relowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)) THEN
    RAISE EXCEPTION 'hggis_analyze: % is not a table of the hggis schema', target
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  EXECUTE format('ANALYZE %s', target);
END
$$;
"""


def upgrade() -> None:
    for function in DEFINER_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SECURITY DEFINER SET search_path = {SAFE_SEARCH_PATH}")
    for function in TRIGGER_FUNCTIONS:
        op.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
    op.execute(ANALYZE_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS hggis_analyze(regclass)")
    for function in TRIGGER_FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO PUBLIC")
    for function in DEFINER_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SECURITY INVOKER RESET search_path")
