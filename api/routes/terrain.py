"""Terrain: imported DEMs, coverage of the parcels, and one parcel's slope figures.

DEMs are imported with ``hggis terrain import`` (files of gigabytes are not uploaded
through the web); these routes only read.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from sqlalchemy.engine import Connection

from api.deps import Caller, SignedIn, connection
from hggis.access.policy import Principal
from hggis.db.models import PARCEL_CODE_PATTERN
from hggis.terrain.service import list_dems, parcel_terrain, terrain_status

router = APIRouter(prefix="/api/terrain", tags=["terrain"])
DEM_FIELDS = (
    "id", "name", "source_name", "crs", "crs_kind", "width", "height", "pixel_size_m", "valid_fraction",
    "elevation_min_m", "elevation_max_m", "imported_at", "imported_by", "parcels",
)


@router.get("/dems", summary="Imported DEMs, newest first (officers)")
def dems(principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return [{k: r[k] for k in DEM_FIELDS} for r in list_dems(conn, principal)]


@router.get("/status", summary="Parcels with full, partial, stale or no terrain statistics (officers)")
def status(
    limit: Annotated[int, Query(ge=1, le=1000, description="parcels listed per group")] = 50,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    return asdict(terrain_status(conn, principal, limit))


@router.get("/parcels/{code}", summary="Slope and elevation of one parcel")
def parcel(
    code: Annotated[str, Path(pattern=PARCEL_CODE_PATTERN, description="宗地代码")],
    principal: Principal = Caller,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    try:
        return parcel_terrain(conn, principal, code)
    except LookupError as exc:
        raise HTTPException(404, detail=str(exc)) from None
