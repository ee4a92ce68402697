"""Audit triggers for tables created by later migrations.

Since migration 0010 the history is written per statement (transition tables), by
``hggis_history_statement``; a migration that adds an audited table executes the
statements returned here and adds the table to ``AUDITED_TABLES``.
"""

from __future__ import annotations


def audit_triggers_sql(table: str, keys: tuple[str, ...]) -> list[str]:
    """CREATE TRIGGER statements that record every change of ``table`` in ``history``."""
    args = ", ".join("'" + k + "'" for k in keys)
    return [
        f"CREATE TRIGGER {table}_history_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS hggis_new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION hggis_history_statement({args})",
        f"CREATE TRIGGER {table}_history_upd AFTER UPDATE ON {table} "
        "REFERENCING OLD TABLE AS hggis_old_rows NEW TABLE AS hggis_new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION hggis_history_statement({args})",
        f"CREATE TRIGGER {table}_history_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS hggis_old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION hggis_history_statement({args})",
    ]
