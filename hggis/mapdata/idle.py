"""闲置土地地图: the latest scan's candidates by rule, cases by state, days idle, deadlines.

Restricted (``idle_cases`` read, scoped). The candidates, cases and deadlines are
hggis.idle's own answers (``scan_results``, ``list_cases``, ``deadlines``), in the caller's
scope; this module only groups them per parcel and fetches the parcels' outlines in one
query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Forbidden, Principal, grant, scope_clause
from hggis.config import get_settings
from hggis.geo import round_mu_sql
from hggis.idle.cases import STATE_LABELS, list_cases
from hggis.idle.deadlines import deadlines
from hggis.idle.scan import latest_scan_id, scan_results
from hggis.mapdata.common import MapRequestError, feature_collection

PAGE = 1000


@dataclass
class IdleMapData:
    as_of: dt.date
    scan: dict[str, Any] | None
    rules: list[dict[str, str]]  # rules that fired in the scan: code, name, category
    states: dict[str, str]
    rule: str | None
    state: str | None
    candidates: dict[str, Any] | None  # inline FeatureCollection, or None: drawn from the idle tiles
    candidate_count: int
    cases: dict[str, Any]
    due: int  # items due or overdue in the caller's scope


def _all_pages(fetch: Any, key: str = "items") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = fetch(offset)
        items += page[key]
        offset += PAGE
        if offset >= page["total"] or not page[key]:
            return items


def _outlines(conn: Connection, parcel_ids: list[int]) -> dict[int, tuple[Any, float]]:
    """Outline and area (亩, rounded once, to AREA_DECIMALS, by PostgreSQL) of each parcel."""
    if not parcel_ids:
        return {}
    fc = feature_collection(
        conn,
        "SELECT ST_AsGeoJSON(p.geom, 7)::json AS geometry, jsonb_build_object('id', p.id, 'area_mu', "
        f"{round_mu_sql('p.area_mu')}) AS properties FROM parcels p WHERE p.id = ANY(:ids)",
        {"ids": sorted(set(parcel_ids))},
    )
    return {f["properties"]["id"]: (f["geometry"], f["properties"]["area_mu"]) for f in fc["features"]}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _next_due(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The earliest deadline item per parcel code."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        code = item["parcel_code"]
        if code not in out or (item["due_on"] is not None and (out[code]["due_on"] is None or item["due_on"] < out[code]["due_on"])):
            out[code] = item
    return out


def _candidate_count(conn: Connection, principal: Principal, scan_id: int, rule: str | None) -> int:
    where, params = scope_clause(principal, "idle_cases", "read", "x.adcode", "x.park_id")
    return conn.execute(
        text(f"SELECT count(DISTINCT x.parcel_id) FROM idle_scan_results x WHERE x.scan_id = :s "
             f"AND (CAST(:r AS text) IS NULL OR x.rule_code = :r) AND {where}"),
        {**params, "s": scan_id, "r": rule},
    ).scalar_one()


def idle_map(conn: Connection, principal: Principal, rule: str | None = None, state: str | None = None,
             as_of: dt.date | None = None, inline_max: int | None = None) -> IdleMapData:
    # A role-level check only: a park manager's grant is scoped to their parks, and every list
    # below is filtered by scope_clause, so asking for "no park in particular" must not refuse.
    if grant(principal, "idle_cases", "read") is None:
        raise Forbidden(f"role {principal.role} may not read idle_cases")
    as_of = as_of or clock.today()
    if state is not None and state not in STATE_LABELS:
        raise MapRequestError("state", f"unknown case state {state!r} (one of {', '.join(STATE_LABELS)})")
    scan_id = latest_scan_id(conn)
    scan = None
    count = 0
    rows: list[dict[str, Any]] = []
    rules: list[dict[str, str]] = []
    if scan_id is not None:
        first = scan_results(conn, principal, scan_id, limit=1)
        scan = first["scan"]
        rules = [
            dict(r._mapping)
            for r in conn.execute(
                text("SELECT code, name_zh AS name, category FROM idle_rules WHERE rule_set_id = :rs ORDER BY sort_order"),
                {"rs": scan["rule_set_id"]},
            )
        ]
        if rule is not None and rule not in {r["code"] for r in rules}:
            raise MapRequestError("rule", f"unknown rule {rule!r}")
        count = _candidate_count(conn, principal, scan_id, rule)
        limit = get_settings().hggis_map_inline_max if inline_max is None else inline_max
        if count <= limit:
            rows = _all_pages(lambda off: scan_results(conn, principal, scan_id, {"rule_code": rule}, limit=PAGE,
                                                       offset=off))
    elif rule is not None:
        raise MapRequestError("rule", "no idle-land scan has been run yet")
    cases = _all_pages(lambda off: list_cases(conn, principal, {"state": state}, limit=PAGE, offset=off))
    due_items = deadlines(conn, principal, as_of)
    due = _next_due(due_items)
    shapes = _outlines(conn, [r["parcel_id"] for r in rows] + [c["parcel_id"] for c in cases])

    by_parcel: dict[int, dict[str, Any]] = {}
    for r in rows:
        p = by_parcel.setdefault(r["parcel_id"], {
            "code": r["parcel_code"], "area_mu": None, "county": r["county"],
            "park": r["park"], "holder": r["holder"], "rule_code": r["rule_code"], "category": r["category"],
            "rules": [], "days_idle": r["days"], "since": _iso(r["since_date"]),
            "next_deadline": _iso(r["next_deadline"]), "deadline": r.get("deadline_label"),
            "case_state": STATE_LABELS.get(r["case_state"]) if r["case_state"] else "未立案",
        })
        p["rules"].append(r["rule_name"])
        if r["days"] is not None and (p["days_idle"] is None or r["days"] > p["days_idle"]):
            p["days_idle"] = r["days"]
    candidates = []
    for pid, p in by_parcel.items():
        d = due.get(p["code"])
        if d is not None:
            p["due"] = f"{d['kind_label']}：{_iso(d['due_on']) or '—'}"
            p["days_left"] = d["days_left"]
        p["rules"] = "；".join(p["rules"])
        if pid in shapes:
            geometry, p["area_mu"] = shapes[pid]
            candidates.append({"type": "Feature", "geometry": geometry, "properties": p})
    case_features = []
    for c in cases:
        if c["parcel_id"] not in shapes:
            continue
        idle_since = c.get("idle_since")
        d = due.get(c["parcel_code"])
        geometry, area = shapes[c["parcel_id"]]
        case_features.append({"type": "Feature", "geometry": geometry, "properties": {
            "case_id": c["id"], "code": c["parcel_code"], "area_mu": area,
            "county": c["county"], "park": c["park"], "holder": c["holder"], "state": c["state"],
            "state_label": c["state_label"], "rule_code": c["rule_code"], "opened_on": _iso(c["opened_on"]),
            "idle_since": _iso(idle_since),
            "days_idle": (as_of - idle_since).days if isinstance(idle_since, dt.date) else None,
            "due_on": _iso(c["due_on"]), "due": (f"{d['kind_label']}：{_iso(d['due_on']) or '—'}" if d else None),
            "days_left": d["days_left"] if d else None, "link": f"/cases/{c['id']}",
        }})
    inline = {"type": "FeatureCollection", "features": candidates} if count <= (
        get_settings().hggis_map_inline_max if inline_max is None else inline_max) else None
    return IdleMapData(
        as_of=as_of, scan=scan, rules=rules, states=STATE_LABELS, rule=rule, state=state,
        candidates=inline, candidate_count=count,
        cases={"type": "FeatureCollection", "features": case_features},
        due=sum(1 for i in due_items if i["days_left"] is not None and i["days_left"] <= 0),
    )
