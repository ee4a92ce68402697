"""Reading and changing projects: the list (filters, paging, drill-down by figure), one project,
a PATCH checked against the version the caller edited.

Refusals are hggis.errors kinds (api/errors.py maps them to HTTP once). Every write runs in
the caller's ``transaction`` so history names who and why; a change of list is also a row in
``project_list_moves`` with its date and who moved it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize
from hggis.db.models import Cluster, County, Parcel
from hggis.errors import Conflict, Invalid, NotFound
from hggis.projects.figures import FIGURES, reference_day, require_grant, scope_condition
from hggis.projects.tables import LIST_KINDS, project_funds, project_list_moves, project_parcels, projects

P = projects.c
MAX_PAGE_SIZE = 200
#: what PATCH may change (everything but the key, the county and the version)
EDITABLE = ("name", "investor_name", "cluster_id", "industry_code", "signed_investment_wan", "list_kind",
            "leader_name", "leader_office", "signed_on", "land_supplied_on", "started_on", "producing_on",
            "planned_start_on", "planned_production_on", "is_key", "batch", "note")
ACTUAL_DATES = ("signed_on", "land_supplied_on", "started_on", "producing_on")


@dataclass
class ProjectFilter:
    adcode: str | None = None
    list_kind: str | None = None
    cluster_id: int | None = None
    industry_code: str | None = None
    is_key: bool | None = None
    batch: str | None = None
    q: str | None = None
    figure: str | None = None
    year: int | None = None
    page: int = 1
    page_size: int = 50


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _row(r: Any) -> dict[str, Any]:
    d = {k: _plain(v) for k, v in r._mapping.items()}
    d["list_label"] = LIST_KINDS.get(d.get("list_kind") or "", d.get("list_kind"))
    return d


def _listing():  # noqa: ANN202 - a Select
    return (select(P.id, P.name, P.adcode, County.name.label("county"), P.investor_name, P.list_kind,
                   Cluster.name.label("cluster"), P.industry_code, P.signed_investment_wan, P.leader_name,
                   P.signed_on, P.started_on, P.producing_on, P.planned_start_on, P.planned_production_on,
                   P.is_key, P.batch, P.version)
            .join(County, County.adcode == P.adcode).outerjoin(Cluster, Cluster.id == P.cluster_id))


def list_projects(conn: Connection, principal: Principal, f: ProjectFilter) -> dict[str, Any]:
    """One page of the projects in the caller's scope matching the filters.

    ``figure`` + ``year`` is the dashboard's drill-down: exactly the projects behind that figure.
    """
    require_grant(principal, "projects", "read")
    conds = [scope_condition(principal)]
    if f.figure is not None:
        if f.figure not in FIGURES:
            raise Invalid(f"unknown figure {f.figure!r} (one of {', '.join(FIGURES)})", field="figure")
        if f.year is None:
            raise Invalid("a figure is counted per year: give year", field="year")
        conds.append(FIGURES[f.figure][1](f.year, reference_day(f.year)))
    elif f.year is not None:
        raise Invalid("year only applies with figure", field="year")
    if f.list_kind is not None and f.list_kind not in LIST_KINDS:
        raise Invalid(f"unknown list {f.list_kind!r} (one of {', '.join(LIST_KINDS)})", field="list_kind")
    for col, value in ((P.adcode, f.adcode), (P.list_kind, f.list_kind), (P.cluster_id, f.cluster_id),
                       (P.industry_code, f.industry_code), (P.is_key, f.is_key), (P.batch, f.batch)):
        if value is not None:
            conds.append(col == value)
    if f.q:
        conds.append(P.name.contains(f.q, autoescape=True))
    total = conn.execute(select(func.count()).select_from(projects).where(*conds)).scalar_one()
    size = max(1, min(f.page_size, MAX_PAGE_SIZE))
    rows = conn.execute(_listing().where(*conds).order_by(P.adcode, P.id).limit(size).offset((f.page - 1) * size))
    return {"total": total, "page": f.page, "page_size": size, "items": [_row(r) for r in rows],
            "figure": f.figure, "figure_label": FIGURES[f.figure][0] if f.figure else None, "year": f.year}


def get_project(conn: Connection, principal: Principal, project_id: int) -> dict[str, Any]:
    """One project with its funds series, its list moves and its parcels."""
    r = conn.execute(select(projects, County.name.label("county"), Cluster.name.label("cluster"))
                     .join(County, County.adcode == P.adcode).outerjoin(Cluster, Cluster.id == P.cluster_id)
                     .where(P.id == project_id)).first()
    if r is None or not _visible(principal, r.adcode):
        raise NotFound(f"project {project_id} not found")
    out = _row(r)
    f = project_funds.c
    out["funds"] = [{"on_date": d.isoformat(), "amount_wan": float(a)} for d, a in conn.execute(
        select(f.on_date, f.amount_wan).where(f.project_id == project_id).order_by(f.on_date))]
    latest = out["funds"][-1]["amount_wan"] if out["funds"] else None
    out["funds_in_place_wan"] = latest
    sig = out.get("signed_investment_wan")
    out["funds_in_place_pct"] = round(latest / sig * 100, 1) if latest is not None and sig else None
    m = project_list_moves.c
    out["moves"] = [{**{k: _plain(v) for k, v in x._mapping.items()},
                     "from_label": LIST_KINDS.get(x.from_kind), "to_label": LIST_KINDS.get(x.to_kind)}
                    for x in conn.execute(select(m.from_kind, m.to_kind, m.moved_on, m.moved_by, m.reason)
                                          .where(m.project_id == project_id).order_by(m.id))]
    pp = project_parcels.c
    out["parcels"] = [{"code": c, "status": s, "area_mu": round(float(a), 2)} for c, s, a in conn.execute(
        select(Parcel.code, Parcel.status, Parcel.area_mu).join(project_parcels, pp.parcel_id == Parcel.id)
        .where(pp.project_id == project_id).order_by(Parcel.code))]
    return out


def _visible(principal: Principal, adcode: str) -> bool:
    from hggis.access.policy import can

    return can(principal, "projects", "read", adcode)


def record_move(conn: Connection, project_id: int, from_kind: str | None, to_kind: str, moved_on: dt.date,
                moved_by: str, reason: str | None = None) -> None:
    conn.execute(insert(project_list_moves).values(project_id=project_id, from_kind=from_kind, to_kind=to_kind,
                                                   moved_on=moved_on, moved_by=moved_by, reason=reason))


def date_problems(values: dict[str, Any], today: dt.date) -> list[tuple[str, str]]:
    """(field, reason) for node dates that cannot be: actual dates in the future, out of order."""
    out = [(k, f"实际日期不能晚于今天（{today.isoformat()}）") for k in ACTUAL_DATES
           if isinstance(values.get(k), dt.date) and values[k] > today]
    s, p = values.get("started_on"), values.get("producing_on")
    if isinstance(s, dt.date) and isinstance(p, dt.date) and p < s:
        out.append(("producing_on", "投产日期早于开工日期"))
    s, p = values.get("planned_start_on"), values.get("planned_production_on")
    if isinstance(s, dt.date) and isinstance(p, dt.date) and p < s:
        out.append(("planned_production_on", "计划投产日期早于计划开工日期"))
    return out


def update_project(conn: Connection, principal: Principal, project_id: int, changes: dict[str, Any],
                   expected_version: int, moved_on: dt.date | None = None) -> dict[str, Any]:
    """Apply ``changes`` if nobody changed the project since ``expected_version`` (else Conflict)."""
    row = conn.execute(select(projects).where(P.id == project_id).with_for_update()).first()
    if row is None or not _visible(principal, row.adcode):
        raise NotFound(f"project {project_id} not found")
    authorize(principal, "projects", "write", row.adcode)
    if row.version != expected_version:
        raise Conflict(f"project {project_id} is at version {row.version}, you edited version {expected_version}")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid(f"not editable: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if "list_kind" in changes and changes["list_kind"] not in LIST_KINDS:
        raise Invalid(f"unknown list {changes['list_kind']!r}", field="list_kind")
    merged = {**row._mapping, **changes}
    for fld, why in date_problems(merged, clock.today()):
        raise Invalid(why, field=fld)
    if changes:
        conn.execute(update(projects).where(P.id == project_id).values(**changes, version=P.version + 1))
        if changes.get("list_kind", row.list_kind) != row.list_kind:
            record_move(conn, project_id, row.list_kind, changes["list_kind"], moved_on or clock.today(),
                        principal.actor)
    return get_project(conn, principal, project_id)


def replace_parcels(conn: Connection, project_id: int, parcel_ids: list[int]) -> None:
    pp = project_parcels.c
    conn.execute(delete(project_parcels).where(pp.project_id == project_id, pp.parcel_id.not_in(parcel_ids)))
    stored = set(conn.execute(select(pp.parcel_id).where(pp.project_id == project_id)).scalars())
    new = [{"project_id": project_id, "parcel_id": i} for i in parcel_ids if i not in stored]
    if new:
        conn.execute(insert(project_parcels), new)
