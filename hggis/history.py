"""Reading the audit history (written by triggers, see migration 0001)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.db.models import AUDITED_TABLES
from hggis.errors import NotFound
from hggis.inputs import is_ascii_digits, is_row_id


def _missing(table: str, key: str) -> NotFound:
    """The one answer for "no such object" and "not yours to see": it must not tell them apart."""
    return NotFound(f"no {table} object {key}")


def _resolve_key(conn: Connection, table: str, key: str) -> str:
    """Parcels are known by their code; the history keys them by id."""
    if table == "parcels" and not is_ascii_digits(key):
        pid = conn.execute(text("SELECT id FROM parcels WHERE code = :c"), {"c": key.upper()}).scalar_one_or_none()
        if pid is None:
            raise _missing(table, key)
        return str(pid)
    return key


def object_history(conn: Connection, table: str, key: str) -> list[dict[str, Any]]:
    """Every recorded change of one object, oldest first."""
    if table not in AUDITED_TABLES:
        raise NotFound(f"{table!r} has no history; audited tables: {', '.join(AUDITED_TABLES)}")
    object_id = _resolve_key(conn, table, key)
    rows = conn.execute(
        text(
            "SELECT id, table_name, object_id, action, actor, at, reason, before, after FROM history "
            "WHERE table_name = :t AND object_id = :o ORDER BY id"
        ),
        {"t": table, "o": object_id},
    ).mappings()
    return [dict(r) for r in rows]


# How to find the county and park of an object, to check the reader's scope.
_SCOPE_SQL: dict[str, str] = {
    "parcels": "SELECT adcode, park_id FROM parcels WHERE id = CAST(:k AS int)",
    "control_indicators": "SELECT adcode, park_id FROM parcels WHERE id = CAST(:k AS int)",
    "occupancies": "SELECT p.adcode, p.park_id FROM occupancies o JOIN parcels p ON p.id = o.parcel_id WHERE o.id = CAST(:k AS int)",
    "enterprises": "SELECT adcode, park_id FROM enterprises WHERE id = CAST(:k AS int)",
    "enterprise_years": "SELECT adcode, park_id FROM enterprises WHERE id = CAST(split_part(:k, '/', 1) AS int)",
    "parks": "SELECT adcode, id AS park_id FROM parks WHERE id = CAST(:k AS int)",
    "counties": "SELECT adcode, NULL::int AS park_id FROM counties WHERE adcode = :k",
    "patrols": "SELECT p.adcode, p.park_id FROM patrols t JOIN parcels p ON p.id = t.parcel_id WHERE t.id = CAST(:k AS int)",
}


def readable_history(conn: Connection, principal, table: str, key: str) -> list[dict[str, Any]]:  # noqa: ANN001
    """The history of one object if the principal may read it (NotFound otherwise).

    An object outside the reader's scope is reported exactly as a missing one (NotFound,
    same message), so the answer does not reveal that it exists. Only a role with no grant
    at all gets Forbidden, which says nothing about any object. An object that was deleted
    is found through its last history row, so its scope still applies after it is gone.
    """
    from hggis.access.policy import authorize, can, grant

    if table not in AUDITED_TABLES:
        raise NotFound(f"{table!r} has no history; audited tables: {', '.join(AUDITED_TABLES)}")
    object_id = _resolve_key(conn, table, key)
    if table in ("users", "api_tokens", "clusters"):
        authorize(principal, "users" if table != "clusters" else "clusters", "write")
    else:
        if grant(principal, "history", "read") is None:
            authorize(principal, "history", "read")  # Forbidden for the role, whatever the object
        int_key = object_id.split("/", 1)[0] if table == "enterprise_years" else object_id
        if table != "counties" and not is_row_id(int_key):
            raise _missing(table, key)  # ids are 32-bit integers: nothing to look up
        row = conn.execute(text(_SCOPE_SQL[table]), {"k": object_id}).first()
        if row is None or not can(principal, "history", "read", row.adcode, row.park_id):
            raise _missing(table, key)
    return object_history(conn, table, object_id)
