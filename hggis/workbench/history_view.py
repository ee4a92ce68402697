"""A parcel's audit history as people read it: who, when, why, and each field before → after.

The history rows come from the audit triggers through ``hggis.history.readable_history``
(which checks the reader's scope). Here they are only labelled: field names in Chinese,
codes turned into names (status, park, holder, industry), bookkeeping columns left out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal
from hggis.history import readable_history
from hggis.patrol.tables import PATROL_STAGES
from hggis.workbench.labels import (
    ACTION_LABELS,
    ROLE_IN_PARCEL,
    SILENT_FIELDS,
    TABLE_LABELS,
    field_label,
    status_label,
)
from hggis.workbench.people import people
from hggis.workbench.words import actor_text, reason_text

EMPTY = "（空）"
# On insert, a few fields summarise the new object; the rest would drown the reader.
INSERT_SUMMARY: dict[str, tuple[str, ...]] = {
    "parcels": ("status", "park_id", "holder_id", "land_use", "contract_kind", "contract_no", "parent_codes"),
    "control_indicators": ("investment_intensity", "far_min", "far_max", "tax_per_mu", "output_intensity"),
    "occupancies": ("enterprise_id", "share", "role"),
    "patrols": ("stage", "note"),
}


def _names(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Names of the parks, enterprises and industries the rows refer to (one query each)."""
    ids: dict[str, set[Any]] = {"park_id": set(), "holder_id": set(), "enterprise_id": set(), "intended_industry": set()}
    for row in rows:
        for side in (row.get("before") or {}, row.get("after") or {}):
            for key in ids:
                if side.get(key) is not None:
                    ids[key].add(side[key])
    enterprises = sorted({int(i) for i in ids["holder_id"] | ids["enterprise_id"]})
    out: dict[str, dict[str, str]] = {"park": {}, "enterprise": {}, "industry": {}}
    if ids["park_id"]:
        out["park"] = {str(r.id): r.name for r in conn.execute(
            text("SELECT id, name FROM parks WHERE id = ANY(:i)"), {"i": sorted(int(i) for i in ids["park_id"])})}
    if enterprises:
        out["enterprise"] = {str(r.id): r.name for r in conn.execute(
            text("SELECT id, name FROM enterprises WHERE id = ANY(:i)"), {"i": enterprises})}
    if ids["intended_industry"]:
        out["industry"] = {r.code: r.name for r in conn.execute(
            text("SELECT code, name FROM industries WHERE code = ANY(:i)"), {"i": sorted(ids["intended_industry"])})}
    return out


def show_value(field: str, value: Any, names: dict[str, dict[str, str]]) -> str:
    """A stored value as a reader expects it (names instead of codes and ids)."""
    if value is None or value == "" or value == []:
        return EMPTY
    if field == "status":
        return status_label(value)
    if field == "park_id":
        return names["park"].get(str(value), f"园区 {value}")
    if field in ("holder_id", "enterprise_id"):
        return names["enterprise"].get(str(value), f"企业 {value}")
    if field == "intended_industry":
        return names["industry"].get(str(value), str(value))
    if field == "role":
        return ROLE_IN_PARCEL.get(value, value)
    if field == "stage":
        return PATROL_STAGES.get(value, value)
    if field == "geom":
        return "已修改"
    if field == "share" and isinstance(value, (int, float, str)):
        try:
            return f"{float(value) * 100:g}%"
        except ValueError:
            return str(value)
    if field == "area_mu" and isinstance(value, (int, float)):
        return f"{value:.2f} 亩"
    if isinstance(value, list):
        return "、".join(map(str, value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return clock.display_time(value)
    return str(value)


def _changes(table: str, row: dict[str, Any], names: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    before, after = row.get("before") or {}, row.get("after") or {}
    if row["action"] == "update":
        keys = [k for k in after if k not in SILENT_FIELDS or (k == "area_mu" and "geom" in after)]
    elif row["action"] == "insert":
        keys = [k for k in INSERT_SUMMARY.get(table, ()) if after.get(k) not in (None, [], "")]
    else:
        keys = [k for k in INSERT_SUMMARY.get(table, ()) if before.get(k) not in (None, [], "")]
    out = []
    for key in keys:
        if key == "geom":
            continue  # shown through the area change that comes with it
        out.append({
            "field": key,
            "label": field_label(table, key),
            "before": show_value(key, before.get(key), names) if row["action"] != "insert" else "",
            "after": show_value(key, after.get(key), names) if row["action"] != "delete" else "",
        })
    if row["action"] == "update" and "geom" in after and "area_mu" not in after:
        out.append({"field": "geom", "label": field_label(table, "geom"), "before": "", "after": "已修改"})
    return out


def _occupancy_rows(conn: Connection, parcel_id: int) -> list[dict[str, Any]]:
    """History of the parcel's occupancies, including those since ended (deleted rows).

    An update row holds only the changed columns, so the occupancies are found by their
    inserts and deletes (whole rows) and the live ones, then all their rows are read.
    """
    rows = conn.execute(
        text(
            "SELECT id, table_name, object_id, action, actor, at, reason, before, after FROM history "
            "WHERE table_name = 'occupancies' AND object_id IN ("
            "  SELECT object_id FROM history WHERE table_name = 'occupancies' AND action IN ('insert', 'delete')"
            "     AND coalesce(after, before) ->> 'parcel_id' = :p"
            "  UNION SELECT CAST(id AS text) FROM occupancies WHERE CAST(parcel_id AS text) = :p) ORDER BY id"
        ),
        {"p": str(parcel_id)},
    ).mappings()
    return [dict(r) for r in rows]


def _patrol_rows(conn: Connection, parcel_id: int) -> list[dict[str, Any]]:
    """The parcel's patrol records (inserted only: they are never edited)."""
    rows = conn.execute(
        text("SELECT id, table_name, object_id, action, actor, at, reason, before, after FROM history "
             "WHERE table_name = 'patrols' AND after ->> 'parcel_id' = :p ORDER BY id"),
        {"p": str(parcel_id)},
    ).mappings()
    return [dict(r) for r in rows]


def parcel_history(conn: Connection, principal: Principal, code: str, parcel_id: int) -> list[dict[str, Any]]:
    """Every recorded change of the parcel, its control indicators and its occupancies, newest first.

    ``readable_history`` refuses a reader outside the parcel's scope before anything is read.
    """
    rows = [dict(r) for r in readable_history(conn, principal, "parcels", code)]
    rows += [dict(r) for r in readable_history(conn, principal, "control_indicators", str(parcel_id))]
    rows += _occupancy_rows(conn, parcel_id)
    rows += _patrol_rows(conn, parcel_id)
    rows.sort(key=lambda r: r["id"], reverse=True)
    names = _names(conn, rows)
    who = people(conn, (r["actor"] for r in rows))
    out = []
    for row in rows:
        table = row["table_name"]
        out.append({
            "id": row["id"],
            "at": row["at"],
            "actor": who.get(row["actor"], actor_text(row["actor"])),
            "reason": reason_text(row["reason"]),
            "what": f"{ACTION_LABELS.get(row['action'], row['action'])}{TABLE_LABELS.get(table, table)}",
            "changes": _changes(table, row, names),
        })
    return out
