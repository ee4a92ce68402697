"""Mapbox vector tiles: /tiles/{layer}/{z}/{x}/{y}.pbf with ETag revalidation (hggis.tiles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy.engine import Connection

from api.compression import same_tag
from api.deps import Caller, read_connection
from hggis.access.policy import Forbidden, Principal
from hggis.tiles import TileError, cache_control, etag, prepare, render

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"


@router.get("/{layer}/{z}/{x}/{y}.pbf", summary="A vector tile of a layer (public layer: land on offer)",
            response_class=Response, responses={200: {"content": {MVT: {}}}, 304: {"description": "not modified"}})
def tile(
    request: Request,
    layer: str,
    z: int,
    x: int,
    y: int,
    shift: Annotated[str, Query(description="none | gcj02 (for AMap base tiles)")] = "none",
    run: Annotated[int | None, Query(ge=1, description="evaluation run (layer evaluation)")] = None,
    scan: Annotated[int | None, Query(ge=1, description="idle-land scan (layer idle)")] = None,
    rule: Annotated[str | None, Query(max_length=64, description="idle rule code (layer idle)")] = None,
    adcode: Annotated[str | None, Query(max_length=6, description="county (layer parcels)")] = None,
    industry: Annotated[str | None, Query(max_length=32, description="suitable industry (layer parcels)")] = None,
    min_mu: Annotated[float | None, Query(ge=0, le=1_000_000, description="minimum area, 亩 (layer parcels)")] = None,
    max_mu: Annotated[float | None, Query(ge=0, le=1_000_000, description="maximum area, 亩 (layer parcels)")] = None,
    max_intensity: Annotated[float | None, Query(ge=0, le=1_000_000, description="highest required 投资强度, 万元/亩 (layer parcels)")] = None,
    max_tax: Annotated[float | None, Query(ge=0, le=1_000_000, description="highest required 亩均税收, 万元/亩 (layer parcels)")] = None,
    principal: Principal = Caller,
    conn: Connection = Depends(read_connection),
) -> Response:
    try:
        query = {"run": run, "scan": scan, "rule": rule, "adcode": adcode, "industry": industry, "min_mu": min_mu, "max_mu": max_mu,
                 "max_intensity": max_intensity, "max_tax": max_tax}
        req = prepare(conn, principal, layer, z, x, y, query, shift)
    except TileError as exc:
        raise HTTPException(404 if "unknown tile layer" in str(exc) else 422, detail=str(exc)) from None
    except Forbidden:
        if principal.is_public:
            raise HTTPException(401, detail="sign in to read this layer") from None
        raise
    headers = {"Cache-Control": cache_control(req.layer)}
    if req.layer.cache != "public":
        headers["Vary"] = "Authorization, Cookie"
    wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",") if t.strip()]
    if wanted:  # revalidation: the cheap ETag query first, the tile only when it changed
        tag = etag(conn, req)
        if any(same_tag(tag, w) for w in wanted):
            return Response(status_code=304, headers={**headers, "ETag": tag})
    data, tag = render(conn, req)  # the tile and its ETag from one statement
    return Response(data, media_type=MVT, headers={**headers, "ETag": tag})
