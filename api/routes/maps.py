"""Map pages (/maps/…): thin routes over the folium builders in ``maps/``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from api.deps import Caller, Public, SignedIn, connection, read_connection
from api.workbench import PageRoute
from hggis.access.policy import Principal
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


@router.get("/land", response_class=HTMLResponse, dependencies=[Public])
def land_map(
    adcode: Annotated[str | None, Query(max_length=6)] = None,
    industry: Annotated[str | None, Query(max_length=32)] = None,
    min_mu: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    max_mu: Annotated[float | None, Query(ge=0, le=1_000_000)] = None,
    sites: Annotated[bool, Query(description="draw the site finder's results for the area range")] = False,
    principal: Principal = Caller,
    conn: Connection = Depends(read_connection),
) -> HTMLResponse:
    return _page(lambda: land.build(conn, principal, land.LandFilter(adcode or None, industry or None, min_mu, max_mu),
                                    sites))


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


