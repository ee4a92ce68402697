"""Reading the audit history (written by triggers, see migration 0001)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.db.models import AUDITED_TABLES


def _resolve_key(conn: Connection, table: str, key: str) -> str:
    """Parcels are known by their code; the history keys them by id."""
    if table == "parcels" and not key.isdigit():
        pid = conn.execute(text("SELECT id FROM parcels WHERE code = :c"), {"c": key.upper()}).scalar_one_or_none()
        if pid is None:
            raise LookupError(f"no parcel with code {key}")
        return str(pid)
    return key


def object_history(conn: Connection, table: str, key: str) -> list[dict[str, Any]]:
    """Every recorded change of one object, oldest first."""
    if table not in AUDITED_TABLES:
        raise LookupError(f"{table!r} has no history; audited tables: {', '.join(AUDITED_TABLES)}")
    object_id = _resolve_key(conn, table, key)
    rows = conn.execute(
        text(
            "SELECT id, table_name, object_id, action, actor, at, reason, before, after FROM history "
            "WHERE table_name = :t AND object_id = :o ORDER BY id"
        ),
        {"t": table, "o": object_id},
    ).mappings()
    return [dict(r) for r in rows]
