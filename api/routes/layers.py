"""Counties, parks and parcels as GeoJSON, with bbox filter and stable paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.engine import Connection

from api.deps import Public, read_connection
from hggis.features import MAX_PAGE, BBox, Page, feature_collection
from hggis.inputs import MAX_OFFSET

router = APIRouter(prefix="/api", tags=["layers"], dependencies=[Public])

GEOJSON = "application/geo+json"


def parse_bbox(bbox: str | None) -> BBox | None:
    """``minlon,minlat,maxlon,maxlat`` in EPSG:4490 degrees."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise HTTPException(422, detail=[{"loc": ["query", "bbox"], "msg": "bbox must be minlon,minlat,maxlon,maxlat"}])
    minx, miny, maxx, maxy = values
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise HTTPException(422, detail=[{"loc": ["query", "bbox"], "msg": "bbox corners out of order or range"}])
    return minx, miny, maxx, maxy


def _page_links(request: Request, fc: dict[str, Any], page: Page) -> dict[str, Any]:
    links = [{"rel": "self", "href": str(request.url), "type": GEOJSON}]
    if page.offset + fc["numberReturned"] < fc["numberMatched"]:
        nxt = request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit)
        links.append({"rel": "next", "href": str(nxt), "type": GEOJSON})
    return {**fc, "links": links}


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="features per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="features to skip (order is stable)")]
BBoxParam = Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4490)")]


@router.get("/counties", summary="County-level units (GeoJSON)")
def counties(request: Request, conn: Connection = Depends(read_connection)) -> dict[str, Any]:
    page = Page(limit=100, offset=0)
    return _page_links(request, feature_collection(conn, "counties", page=page), page)


@router.get("/parks", summary="Industrial parks (GeoJSON)")
def parks(
    request: Request,
    bbox: BBoxParam = None,
    adcode: Annotated[str | None, Query(pattern=r"^4211[0-9]{2}$")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    conn: Connection = Depends(read_connection),
) -> dict[str, Any]:
    page = Page(limit=limit, offset=offset)
    fc = feature_collection(conn, "parks", parse_bbox(bbox), page, {"adcode": adcode})
    return _page_links(request, fc, page)
