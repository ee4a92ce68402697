"""Park managers' flags: "this plot looks idle", confirmed into a case or dismissed.

A park manager may flag plots of their own parks only (policy ``idle_cases.flag``); a
county officer decides (``idle_cases.write``): confirming opens a case (or joins the open
case of the parcel), dismissing needs a reason. The manager sees their parks' flags and
the cases they led to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize, scope_clause
from hggis.db.session import set_actor
from hggis.idle.cases import CaseError, CaseNotFound, IllegalTransition, _check_date, _parcel, open_case

FLAG_LABELS = {"open": "待县级核实", "confirmed": "已立案", "dismissed": "已驳回"}


def flag_parcel(
    conn: Connection,
    principal: Principal,
    parcel_code: str,
    note: str,
    document_ref: str | None = None,
    on: dt.date | None = None,
) -> int:
    """A flag on a plot, with a note and an optional photo or document reference."""
    if not note or not note.strip():
        raise CaseError("a flag needs a note saying what was seen")
    parcel = _parcel(conn, parcel_code)
    authorize(principal, "idle_cases", "flag", parcel.adcode, parcel.park_id)
    on = on or clock.today()
    _check_date(on, "标记")
    set_actor(conn, principal.actor, f"园区标记疑似闲置：{note.strip()[:60]}")
    return conn.execute(
        text(
            "INSERT INTO idle_flags (parcel_id, park_id, note, document_ref, flagged_by, flagged_on) "
            "VALUES (:p, :k, :n, :d, :by, :on) RETURNING id"
        ),
        {"p": parcel.id, "k": parcel.park_id, "n": note.strip(), "d": document_ref, "by": principal.actor, "on": on},
    ).scalar_one()


def _flag(conn: Connection, flag_id: int) -> Any:
    row = conn.execute(
        text(
            "SELECT f.*, p.code AS parcel_code, p.adcode, p.park_id AS parcel_park_id FROM idle_flags f "
            "JOIN parcels p ON p.id = f.parcel_id WHERE f.id = :i FOR UPDATE OF f"
        ),
        {"i": flag_id},
    ).first()
    if row is None:
        raise CaseNotFound(f"no flag {flag_id}")
    return row


def confirm_flag(
    conn: Connection,
    principal: Principal,
    flag_id: int,
    reason: str,
    on: dt.date | None = None,
    kind: str = "idle",
    rule_code: str | None = None,
) -> int:
    """Confirm a flag: open a case on its parcel (or join the parcel's open case); returns the case id."""
    flag = _flag(conn, flag_id)
    authorize(principal, "idle_cases", "write", flag.adcode, flag.parcel_park_id)
    if flag.status != "open":
        raise IllegalTransition(f"标记 #{flag_id} 已{FLAG_LABELS[flag.status]}，不能再确认")
    on = on or clock.today()
    if on < flag.flagged_on:
        raise CaseError(f"确认日期 {on} 早于标记日期 {flag.flagged_on}")
    existing = conn.execute(
        text("SELECT id FROM idle_cases WHERE parcel_id = :p AND state NOT IN ('closed', 'reoffered')"),
        {"p": flag.parcel_id},
    ).scalar()
    case_id = existing if existing is not None else open_case(
        conn, principal, flag.parcel_code, on, reason, kind=kind, rule_code=rule_code, source="flag"
    )
    set_actor(conn, principal.actor, reason)
    conn.execute(
        text(
            "UPDATE idle_flags SET status = 'confirmed', decided_by = :by, decided_on = :on, decision_reason = :r, "
            "case_id = :c, version = version + 1 WHERE id = :i"
        ),
        {"by": principal.actor, "on": on, "r": reason, "c": case_id, "i": flag_id},
    )
    return case_id


def dismiss_flag(conn: Connection, principal: Principal, flag_id: int, reason: str, on: dt.date | None = None) -> None:
    if not reason or not reason.strip():
        raise CaseError("dismissing a flag needs a reason")
    flag = _flag(conn, flag_id)
    authorize(principal, "idle_cases", "write", flag.adcode, flag.parcel_park_id)
    if flag.status != "open":
        raise IllegalTransition(f"标记 #{flag_id} 已{FLAG_LABELS[flag.status]}，不能再驳回")
    on = on or clock.today()
    _check_date(on, "驳回")
    set_actor(conn, principal.actor, reason)
    conn.execute(
        text(
            "UPDATE idle_flags SET status = 'dismissed', decided_by = :by, decided_on = :on, decision_reason = :r, "
            "version = version + 1 WHERE id = :i"
        ),
        {"by": principal.actor, "on": on, "r": reason.strip(), "i": flag_id},
    )


FLAG_FILTERS = {"status": "f.status", "park_id": "p.park_id", "adcode": "p.adcode"}


def list_flags(conn: Connection, principal: Principal, filters: dict[str, Any] | None = None,
               limit: int = 200, offset: int = 0) -> dict[str, Any]:
    """Flags in the caller's read scope, with the state of the case each one led to."""
    where, params = scope_clause(principal, "idle_cases", "read", "p.adcode", "p.park_id")
    conds = [where]
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key not in FLAG_FILTERS:
            raise CaseError(f"unknown filter {key!r} (one of {', '.join(FLAG_FILTERS)})")
        conds.append(f"{FLAG_FILTERS[key]} = :f_{key}")
        params[f"f_{key}"] = value
    cond = " AND ".join(conds)
    total = conn.execute(
        text(f"SELECT count(*) FROM idle_flags f JOIN parcels p ON p.id = f.parcel_id WHERE {cond}"), params
    ).scalar_one()
    rows = conn.execute(
        text(
            f"""
            SELECT f.id, p.code AS parcel_code, p.adcode, p.park_id, k.name AS park, f.note, f.document_ref,
                   f.flagged_by, f.flagged_on, f.status, f.decided_by, f.decided_on, f.decision_reason,
                   f.case_id, c.state AS case_state
              FROM idle_flags f JOIN parcels p ON p.id = f.parcel_id
              LEFT JOIN parks k ON k.id = p.park_id
              LEFT JOIN idle_cases c ON c.id = f.case_id
             WHERE {cond} ORDER BY f.id LIMIT :limit OFFSET :offset
            """
        ),
        {**params, "limit": limit, "offset": offset},
    )
    items = []
    for r in rows:
        item = dict(r._mapping)
        item["status_label"] = FLAG_LABELS[item["status"]]
        items.append(item)
    return {"total": total, "items": items}
