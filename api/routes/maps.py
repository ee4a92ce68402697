"""Map pages (/maps/…): thin routes over the folium builders in ``maps/``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from api.deps import Caller, Public, SignedIn, connection, read_connection
from api.workbench import PageRoute
from hggis.access.policy import Principal
from hggis.mapdata import land_view
from hggis.mapdata.common import MapRequestError
from maps import clusters, evaluation, idle, intensity, land
from maps.base import BasemapError

# PageRoute: an anonymous visitor of a restricted map is sent to the sign-in page, a refusal
# is a Chinese page.
router = APIRouter(prefix="/maps", tags=["maps"], include_in_schema=False, route_class=PageRoute)

Year = Annotated[int | None, Query(ge=1990, le=2100, description="year of the figures")]


def _page(build) -> HTMLResponse:  # noqa: ANN001
    """Run a builder; bad parameters become 422 with the field and reason, config errors 503."""
    try:
        return HTMLResponse(build(), headers={"Cache-Control": "no-store"})
    except MapRequestError as exc:
        raise HTTPException(422, detail=[{"loc": ["query", exc.field], "msg": exc.reason}]) from None
    except BasemapError as exc:
        raise HTTPException(503, detail=str(exc)) from None


@router.get("", dependencies=[Public])
def maps_index() -> Response:
    return RedirectResponse("/maps/clusters", status_code=307)


@router.get("/clusters", response_class=HTMLResponse, dependencies=[Public])
def clusters_map(
    year: Year = None,
    industry: Annotated[str | None, Query(max_length=32)] = None,
    principal: Principal = Caller,
    conn: Connection = Depends(read_connection),
) -> HTMLResponse:
    return _page(lambda: clusters.build(conn, principal, year, industry or None))


def _land_filter(
    adcode: Annotated[str | None, Query(max_length=6)] = None,
    industry: Annotated[str | None, Query(max_length=32)] = None,
    min_mu: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    max_mu: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    max_intensity: Annotated[float | None, Query(ge=0, le=1_000_000, description="highest required 投资强度")] = None,
    max_tax: Annotated[float | None, Query(ge=0, le=1_000_000, description="highest required 亩均税收")] = None,
) -> land.LandFilter:
    """The investors' filters, the same for the page, its clusters, its list and its tiles."""
    return land.LandFilter(adcode or None, industry or None, min_mu, max_mu, max_intensity, max_tax)


LandQuery = Annotated[land.LandFilter, Depends(_land_filter)]


def _json(build) -> JSONResponse:  # noqa: ANN001
    """A map's data for its page script; bad parameters are 422 with the field and reason."""
    try:
        return JSONResponse(build(), headers={"Cache-Control": "no-cache", "Vary": "Cookie"})
    except MapRequestError as exc:
        raise HTTPException(422, detail=[{"loc": ["query", exc.field], "msg": exc.reason}]) from None
    except BasemapError as exc:
        raise HTTPException(503, detail=str(exc)) from None


@router.get("/land", response_class=HTMLResponse, dependencies=[Public])
def land_map(
    f: LandQuery,
    sites: Annotated[bool, Query(description="draw the site finder's results for the area range")] = False,
    principal: Principal = Caller,
    conn: Connection = Depends(read_connection),
) -> HTMLResponse:
    return _page(lambda: land.build(conn, principal, f, sites))


@router.get("/land/clusters.json", dependencies=[Public])
def land_clusters(
    f: LandQuery,
    zoom: Annotated[int, Query(ge=0, le=22)],
    bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north")] = None,
    principal: Principal = Caller,
    conn: Connection = Depends(connection),
) -> JSONResponse:
    return _json(lambda: land.for_basemap({"zoom": zoom, "clusters": land_view.land_clusters(
        conn, principal, f, zoom, land_view.parse_bbox(bbox))}))


@router.get("/land/list.json", dependencies=[Public])
def land_list(
    f: LandQuery,
    bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north")] = None,
    sort: Annotated[str, Query(max_length=16, description="area | county | industry")] = "area",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    principal: Principal = Caller,
    conn: Connection = Depends(connection),
) -> JSONResponse:
    return _json(lambda: land.for_basemap(
        land_view.land_list(conn, principal, f, land_view.parse_bbox(bbox), sort, order == "desc")))


@router.get("/evaluation", response_class=HTMLResponse)
def evaluation_map(
    year: Year = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> HTMLResponse:
    return _page(lambda: evaluation.build(conn, principal, year))


@router.get("/intensity", response_class=HTMLResponse)
def intensity_map(
    year: Year = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> HTMLResponse:
    return _page(lambda: intensity.build(conn, principal, year))


@router.get("/idle", response_class=HTMLResponse)
def idle_map(
    rule: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
    as_of: Annotated[dt.date | None, Query(description="deadlines as of this day (default today)")] = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> HTMLResponse:
    return _page(lambda: idle.build(conn, principal, rule or None, state or None, as_of))


