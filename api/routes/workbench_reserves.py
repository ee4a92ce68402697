"""The reserves page: the county ledger against the plan's target and the site finder.

Thin: ``hggis.reserves.ledger.reserve_ledger`` and ``hggis.reserves.sites.find_sites`` do
the work; the site finder is a GET form (a read), so its results can be bookmarked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from api.deps import connection
from api.workbench import PageRoute, PageUser, choice, require_grant, show
from hggis import clock
from hggis.access.choices import industry_choices, scope_choices
from hggis.access.policy import Principal
from hggis.reserves.common import InvalidRequest
from hggis.reserves.ledger import reserve_ledger
from hggis.reserves.site_report import site_report
from hggis.reserves.sites import MAX_LIMIT, SiteQuery, find_sites
from hggis.summary import dataset_label
from hggis.workbench.messages import site_reason
from hggis.workbench.outlines import county_outlines

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
CHANGE_DAYS = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_FIELDS = ("min_mu", "max_mu", "adcode", "park_id", "industry", "max_slope", "near_park", "limit")


def _number(values: dict[str, str], name: str, errors: dict[str, str], integer: bool = False) -> Any:
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        errors[name] = "应为整数" if integer else "应为数字"
        return None


def _site_query(values: dict[str, str], options: dict[str, Any], errors: dict[str, str]) -> SiteQuery | None:
    min_mu = _number(values, "min_mu", errors)
    max_mu = _number(values, "max_mu", errors)
    if min_mu is None and "min_mu" not in errors:
        errors["min_mu"] = "请填写最小面积（亩）"
    if max_mu is None and "max_mu" not in errors:
        errors["max_mu"] = "请填写最大面积（亩）"
    slope = _number(values, "max_slope", errors)
    limit = _number(values, "limit", errors, integer=True) or 20
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = f"结果数量应在 1 至 {MAX_LIMIT} 之间"
    if errors:
        return None
    park = values.get("park_id") or ""
    near_park = values.get("near_park") or ""
    park_ids = {k for k, _ in options["parks"]}
    return SiteQuery(
        min_mu=min_mu, max_mu=max_mu,
        adcode=choice(values.get("adcode") or None, {a for a, _ in options["counties"]}),
        park_id=int(park) if park in park_ids else None,
        industry=choice(values.get("industry") or None, {c for c, _ in options["industries"]}),
        max_slope_deg=slope,
        near_park=int(near_park) if near_park in park_ids else None,
        limit=limit,
    )


def _options(conn: Connection, principal: Principal) -> dict[str, Any]:
    """The form's choices: the counties and parks of the caller's reserves scope, the five industries."""
    choices = scope_choices(conn, principal, "reserves")
    return {
        "counties": choices.counties,
        "parks": choices.parks,
        "industries": industry_choices(conn),
    }


def _labels(options: dict[str, Any], q: SiteQuery) -> dict[str, str]:
    """The chosen filters by name, for the report's conditions."""
    def name(pairs: list[tuple[Any, str]], value: Any) -> str:
        return next((label for key, label in pairs if key == value), "")

    return {"county": name(options["counties"], q.adcode), "park": name(options["parks"], q.park_id),
            "industry": name(options["industries"], q.industry), "near": name(options["parks"], q.near_park)}


@router.get("/reserves/site-report.xlsx")
def site_report_xlsx(request: Request, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    """The search of the page's form as a 选址报告 workbook (map, ranked sites with their reasons, parcels)."""
    require_grant(principal, "reserves")
    options = _options(conn, principal)
    values = {k: request.query_params.get(k, "") for k in FORM_FIELDS}
    errors: dict[str, str] = {}
    query = _site_query(values, options, errors)
    if query is None:
        raise InvalidRequest(next(iter(errors)), "；".join(errors.values()))
    found = find_sites(conn, principal, query)
    outlines = county_outlines(conn, [query.adcode] if query.adcode else None)
    demo = dataset_label(conn)
    note = f"示例数据（随机种子 {demo.get('seed')}），非真实统计" if demo else None
    body = site_report(query, found, outlines, _labels(options, query), note)
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": "attachment; filename=\"site-report.xlsx\"; filename*=UTF-8''"
                               "%E9%80%89%E5%9D%80%E6%8A%A5%E5%91%8A.xlsx"})


def _chain_link(conn: Connection, raw: str, values: dict[str, str]) -> int | None:
    """A search started from a 招商 chain link (/chains): its industry fills the form's industry."""
    if not raw.isdigit() or len(raw) > 9:
        return None
    from hggis.errors import NotFound
    from hggis.projects.chains import link_industry

    try:
        industry, _classes, _name = link_industry(conn, int(raw))
    except NotFound:
        return None
    if industry and not values.get("industry"):
        values["industry"] = industry
    return int(raw)


@router.get("/reserves")
def reserves(request: Request, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "reserves")
    ledger = reserve_ledger(conn, principal, since=clock.today() - dt.timedelta(days=CHANGE_DAYS))
    options = _options(conn, principal)
    values = {k: request.query_params.get(k, "") for k in FORM_FIELDS}
    errors: dict[str, str] = {}
    found = None
    link = _chain_link(conn, request.query_params.get("chain_link", ""), values)
    if request.query_params.get("find"):
        query = _site_query(values, options, errors)
        if query is not None:
            query.chain_link = link
            try:
                found = find_sites(conn, principal, query)
            except InvalidRequest as exc:
                field = {"near": "near_park", "max_slope_deg": "max_slope"}.get(exc.field or "", exc.field or "_form")
                errors[field if field in FORM_FIELDS else "_form"] = site_reason(exc.reason)
    scale = max([r.target_max_mu or 0 for r in ledger.rows] + [r.reserve_mu for r in ledger.rows] + [1])
    sites_geojson = None
    if found:
        sites_geojson = {"type": "FeatureCollection", "features": county_outlines(conn) + [
            {"type": "Feature", "geometry": s["geometry"], "properties": {"site_rank": s["site_rank"], "area_mu": s["area_mu"]}}
            for s in found["results"] if s.get("geometry")
        ]}
    return show(request, conn, "wb_reserves.html", {
        "ledger": ledger, "scale": scale, "change_days": CHANGE_DAYS, "options": options, "values": values,
        "errors": errors, "found": found, "sites_geojson": sites_geojson,
    }, status_code=422 if errors else 200)
