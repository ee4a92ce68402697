"""Parcel search page and its CSV/Excel downloads (hggis.workbench.search)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.engine import Connection
from starlette.background import BackgroundTask

from api.deps import connection
from api.workbench import (
    Pager,
    PageRoute,
    PageUser,
    choice,
    int_param,
    query_pairs,
    show,
)
from hggis import clock
from hggis.access.policy import Principal
from hggis.db.models import PARCEL_STATUSES
from hggis.workbench.search import (
    DIRECTIONS,
    PAGE_SIZE,
    SORTS,
    SearchError,
    SearchQuery,
    describe,
    filter_options,
    search_parcels,
    search_rows,
    to_csv,
    to_gis,
    to_xlsx,
)

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _query(params: dict[str, str | None], options: dict[str, Any]) -> SearchQuery:
    """The search from query parameters; anything off the allow-lists is ignored, not refused."""
    park = params.get("park_id")
    return SearchQuery(
        q=(params.get("q") or "")[:100],
        adcode=choice(params.get("adcode"), {a for a, _ in options["counties"]}),
        park_id=int(park) if park is not None and park in {k for k, _ in options["parks"]} else None,
        status=choice(params.get("status"), PARCEL_STATUSES),
        sort=choice(params.get("sort"), SORTS, "code") or "code",
        direction=choice(params.get("dir"), DIRECTIONS, "asc") or "asc",
    )


def _links(query: SearchQuery) -> dict[str, Any]:
    return {"q": query.q, "adcode": query.adcode, "park_id": query.park_id, "status": query.status,
            "sort": query.sort, "dir": query.direction}


@router.get("/search")
def search(request: Request, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    options = filter_options(conn, principal)
    params: dict[str, str | None] = dict(request.query_params)
    query = _query(params, options)
    page = int_param(params.get("page"), 1)
    errors: dict[str, str] = {}
    result: dict[str, Any] = {"total": 0, "total_mu": 0.0, "items": []}
    try:
        result = search_parcels(conn, principal, query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        if result["total"] and (page - 1) * PAGE_SIZE >= result["total"]:  # a page past the end: show the last
            page = (result["total"] - 1) // PAGE_SIZE + 1
            result = search_parcels(conn, principal, query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    except SearchError as exc:
        errors[exc.field or "q"] = exc.reason
    keep = _links(query)
    pager = Pager(page, PAGE_SIZE, result["total"], "/search", query_pairs(keep))
    sort_links = {
        key: "/search?" + urlencode(query_pairs(
            {**keep, "sort": key, "dir": "desc" if query.sort == key and query.direction == "asc" else "asc"}))
        for key in SORTS
    }
    export = urlencode(query_pairs(keep))
    return show(request, conn, "wb_search.html", {
        "query": query, "options": options, "result": result, "pager": pager, "errors": errors,
        "sort_links": sort_links, "export_query": export,
    })


@router.get("/search/export")
def export(request: Request, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    options = filter_options(conn, principal)
    params: dict[str, str | None] = dict(request.query_params)
    query = _query(params, options)
    fmt = choice(params.get("format"), ("csv", "xlsx", "shp", "gpkg"), "csv")
    rows = search_rows(conn, principal, query)
    name = f"parcels-{clock.today().isoformat()}"
    if fmt in ("shp", "gpkg"):  # with the parcels' outlines, for desktop GIS
        tmp = Path(tempfile.mkdtemp(prefix="hggis-export-"))
        res = to_gis(conn, rows, tmp / f"{name}{'.zip' if fmt == 'shp' else '.gpkg'}", fmt)
        return FileResponse(res.path, media_type=res.media_type, filename=res.path.name,
                            background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))
    if fmt == "xlsx":
        return Response(to_xlsx(rows, describe(conn, query)), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return Response(to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
