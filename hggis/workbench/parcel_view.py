"""Everything the parcel page shows, gathered from the services that own each part.

- the parcel itself, its holder, occupants and contract (scope: ``parcels.read``);
- its 标准地 control indicators, with the national-minimum flags from hggis.reserves;
- the per-mu result of its holder from the newest evaluation run (hggis.evaluation; only
  for roles whose ``evaluation.read`` covers the enterprise);
- the idle-rule findings of the newest scan, its cases and flags (hggis.idle);
- its readable history (hggis.history through history_view).

Anonymous visitors get the public allow-list of ``hggis.features`` for land on offer and
nothing else, the same as the public API.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, authorize, can, grant, scope_clause
from hggis.db.models import CONTRACT_KINDS, M2_PER_MU_SQL, PARCEL_STATUSES
from hggis.errors import NotFound
from hggis.features import feature_collection
from hggis.investor.portal import investor_view, map_features
from hggis.investor.terms import OFFER_STATUSES, read_offer
from hggis.occupancies import list_for_parcel
from hggis.workbench.history_view import parcel_history
from hggis.workbench.labels import INDICATOR_FIELDS
from hggis.workbench.people import people

INSET_NEIGHBOURS = 150  # parcels around the one shown, at most
INSET_MARGIN_DEG = 0.004  # ≈ 400 m around the parcel


class ParcelNotFound(NotFound):
    """No live parcel with this code in the caller's view."""


PARCEL_SQL = f"""
SELECT p.id, p.code, p.adcode, co.name AS county, p.park_id, k.name AS park, p.status, p.land_use,
       round(p.area_mu::numeric, 2) AS area_mu, p.intended_industry, i.name AS industry,
       p.holder_id, e.name AS holder, e.credit_code AS holder_credit_code, e.adcode AS holder_adcode,
       e.park_id AS holder_park_id,
       p.contract_kind, p.contract_no, p.contract_signed_on, p.land_price, p.agreed_start_date,
       p.agreed_completion_date, p.planned_investment, p.started_on, p.built_footprint_m2,
       p.investment_to_date, p.halted_since, p.completed_on, p.production_stopped_since,
       p.floor_area_m2, p.delivered_on, p.supervision_no,
       p.floor_area_m2 / nullif(p.area_mu * {M2_PER_MU_SQL}, 0) AS floor_area_ratio,
       p.parent_codes, p.version, p.updated_at,
       ST_AsGeoJSON(p.geom, 7) AS geojson,
       ST_X(ST_Centroid(p.geom)) AS lon, ST_Y(ST_Centroid(p.geom)) AS lat
  FROM parcels p JOIN counties co ON co.adcode = p.adcode
  LEFT JOIN parks k ON k.id = p.park_id
  LEFT JOIN industries i ON i.code = p.intended_industry
  LEFT JOIN enterprises e ON e.id = p.holder_id
 WHERE p.code = :code AND p.retired_at IS NULL
"""


def _public_view(conn: Connection, code: str, mu: float | None = None) -> dict[str, Any]:
    fc = feature_collection(conn, "parcels", equals={"code": code})
    if not fc["features"]:
        raise ParcelNotFound(f"没有可公开浏览的宗地 {code}")
    feature = fc["features"][0]
    investor = investor_view(conn, code, mu)
    own = {**investor["parcel"], "id": investor["_parcel_id"]}
    return {"public": True, "parcel": feature["properties"], "investor": investor, "inset": map_features(conn, own)}


def _inset(conn: Connection, principal: Principal, parcel: dict[str, Any]) -> dict[str, Any]:
    """The parcel and its neighbours in the caller's scope, for the map inset (GeoJSON)."""
    where, params = scope_clause(principal, "parcels", "read", "p.adcode", "p.park_id")
    rows = conn.execute(
        text(
            f"""
            SELECT p.code, p.status, ST_AsGeoJSON(p.geom, 6) AS g
              FROM parcels p, (SELECT geom FROM parcels WHERE id = :id) t
             WHERE p.geom && ST_Expand(t.geom, :m) AND p.retired_at IS NULL AND p.id <> :id AND {where}
             ORDER BY ST_Distance(p.geom, t.geom) LIMIT :n
            """
        ),
        {**params, "id": parcel["id"], "m": INSET_MARGIN_DEG, "n": INSET_NEIGHBOURS},
    )
    features = [{"type": "Feature", "geometry": json.loads(parcel["geojson"]),
                 "properties": {"code": parcel["code"], "status": parcel["status"], "self": True}}]
    features += [{"type": "Feature", "geometry": json.loads(r.g),
                  "properties": {"code": r.code, "status": r.status, "self": False}} for r in rows]
    return {"type": "FeatureCollection", "features": features}


def _svg(conn: Connection, parcel_id: int) -> dict[str, Any]:
    """An SVG outline of the parcel (shown without JavaScript and in print), true to shape."""
    row = conn.execute(
        text(
            """
            WITH g AS (SELECT ST_Scale(geom, cos(radians(ST_Y(ST_Centroid(geom)))), 1) AS s FROM parcels WHERE id = :id)
            SELECT ST_AsSVG(s, 0, 7) AS path, ST_XMin(s) AS x0, ST_YMin(s) AS y0, ST_XMax(s) AS x1, ST_YMax(s) AS y1 FROM g
            """
        ),
        {"id": parcel_id},
    ).one()
    w, h = row.x1 - row.x0, row.y1 - row.y0
    pad = max(w, h) * 0.08 or 1e-4
    return {"path": row.path, "viewbox": f"{row.x0 - pad:.7f} {-row.y1 - pad:.7f} {w + 2 * pad:.7f} {h + 2 * pad:.7f}",
            "stroke": max(w, h) / 120}


def _occupants(conn: Connection, principal: Principal, code: str) -> list[dict[str, Any]]:
    """Who uses the parcel today (hggis.land_uses: the holder's implied share included) and every record."""
    return list_for_parcel(conn, principal, code)["items"]


def _indicators(conn: Connection, principal: Principal, parcel: dict[str, Any]) -> dict[str, Any] | None:
    """The parcel's control indicators; for reserve or on-offer land with hggis.reserves' flags."""
    row = conn.execute(text("SELECT * FROM control_indicators WHERE parcel_id = :p"), {"p": parcel["id"]}).mappings().first()
    flags: list[dict[str, Any]] = []
    if parcel["status"] in ("reserve", "on_offer") and can(principal, "reserves", "read", parcel["adcode"], parcel["park_id"]):
        from hggis.reserves.indicators import parcel_indicators

        flags = [f for f in parcel_indicators(conn, principal, parcel["code"])["flags"] if f["code"] != "indicators_missing"]
    if row is None:
        return None if not flags else {"values": [], "flags": flags}
    values = [{"field": k, "label": label, "value": row[k]} for k, label in INDICATOR_FIELDS.items() if row[k] is not None]
    return {"values": values, "flags": flags, "version": row["version"]}


def _evaluation(conn: Connection, principal: Principal, parcel: dict[str, Any]) -> dict[str, Any] | None:
    """The holder's result in the newest evaluation run, if the caller may read it."""
    if parcel["holder_id"] is None:
        return None
    if not can(principal, "evaluation", "read", parcel["holder_adcode"], parcel["holder_park_id"]):
        return None
    from hggis.evaluation.results import ResultError, explain_result
    from hggis.evaluation.runs import list_runs

    runs = list_runs(conn, principal)
    if not runs:
        return {"run": None}
    run = runs[0]
    try:
        result = explain_result(conn, principal, run["id"], parcel["holder_id"])
    except ResultError:
        return {"run": run, "listed": False}
    except Forbidden:
        return None
    tax = next((i for i in result.get("indicators", []) if i["key"] == "tax_per_mu"), None)
    return {"run": run, "listed": True, "result": result, "tax_per_mu": tax}


def _idle(conn: Connection, principal: Principal, parcel: dict[str, Any]) -> dict[str, Any] | None:
    """The newest scan's findings on this parcel, its cases and flags (hggis.idle, scope-checked)."""
    if not can(principal, "idle_cases", "read", parcel["adcode"], parcel["park_id"]):
        return None
    from hggis.idle import cases, flags, scan

    narrow = {"park_id": parcel["park_id"]} if parcel["park_id"] else {"adcode": parcel["adcode"]}
    findings: list[dict[str, Any]] = []
    scan_header = None
    latest = scan.latest_scan_id(conn)
    if latest is not None:
        found = scan.scan_results(conn, principal, latest, narrow, limit=5000)
        scan_header = found["scan"]
        findings = [r for r in found["items"] if r["parcel_code"] == parcel["code"]]
    case_rows = cases.list_cases(conn, principal, narrow, limit=5000)["items"]
    flag_rows = flags.list_flags(conn, principal, narrow, limit=5000)["items"]
    return {
        "scan": scan_header,
        "findings": findings,
        "cases": [c for c in case_rows if c["parcel_code"] == parcel["code"]],
        "flags": [f for f in flag_rows if f["parcel_code"] == parcel["code"]],
    }


def parcel_page(conn: Connection, principal: Principal, code: str, mu: float | None = None) -> dict[str, Any]:
    """The parcel page's data; ParcelNotFound if absent or invisible, Forbidden outside the scope.

    Land on offer also carries the investor view (``hggis.investor.portal``) with the
    commitments for a project of ``mu`` 亩 (default: the whole parcel), for everyone.
    """
    code = code.strip().upper()
    if grant(principal, "parcels", "read") in (None, "public"):
        return _public_view(conn, code, mu)
    row = conn.execute(text(PARCEL_SQL), {"code": code}).mappings().first()
    if row is None:
        raise ParcelNotFound(f"没有宗地 {code}（或已注销）")
    parcel = dict(row)
    if not can(principal, "parcels", "read", parcel["adcode"], parcel["park_id"]):
        if parcel["status"] == "on_offer":  # land on the market is public, whoever asks
            return _public_view(conn, code, mu)
        authorize(principal, "parcels", "read", parcel["adcode"], parcel["park_id"])
    parcel["status_label"] = PARCEL_STATUSES.get(parcel["status"], parcel["status"])
    idle = _idle(conn, principal, parcel)
    return {
        "public": False,
        "parcel": parcel,
        "inset": _inset(conn, principal, parcel),
        "svg": _svg(conn, parcel["id"]),
        "occupants": _occupants(conn, principal, code),
        "indicators": _indicators(conn, principal, parcel),
        "evaluation": _evaluation(conn, principal, parcel),
        "idle": idle,
        "people": people(conn, [f["flagged_by"] for f in (idle or {}).get("flags", [])]),
        "history": parcel_history(conn, principal, code, parcel["id"]),
        "may_edit": can(principal, "parcels", "write", parcel["adcode"], parcel["park_id"]),
        "may_flag": can(principal, "idle_cases", "flag", parcel["adcode"], parcel["park_id"]),
        "investor": investor_view(conn, code, mu) if parcel["status"] == "on_offer" else None,
        "offer": read_offer(conn, parcel["id"]) if parcel["status"] in OFFER_STATUSES else None,
    }


def edit_options(conn: Connection, adcode: str) -> dict[str, Any]:
    """Choices of the officer's edit form: the county's parks, industries, statuses, contract kinds."""
    parks = conn.execute(text("SELECT id, name FROM parks WHERE adcode = :a ORDER BY name"), {"a": adcode}).all()
    industries = conn.execute(text("SELECT code, name FROM industries ORDER BY sort_order, code")).all()
    return {
        "parks": [(str(r.id), r.name) for r in parks],
        "industries": [(r.code, r.name) for r in industries],
        "statuses": list(PARCEL_STATUSES.items()),
        "contract_kinds": [(k, k) for k in CONTRACT_KINDS],
    }
