"""Reserves (储备台账, 控制指标), the site finder and constraint layers: thin routes over hggis.reserves."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import Caller, Public, SignedIn, connection, engine, read_connection
from hggis import clock
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.inputs import INT4_MAX, MAX_OFFSET, RowId
from hggis.io import uploads
from hggis.reserves.common import InvalidRequest, NotFound
from hggis.reserves.constraints import (
    LayerReadError,
    import_layer,
    layer_features,
    list_layers,
    retire_layer,
)
from hggis.reserves.excel import ledger_xlsx_bytes
from hggis.reserves.indicators import (
    indicator_flags,
    indicator_history,
    parcel_indicators,
    propose_indicators,
    set_indicators,
)
from hggis.reserves.ledger import reserve_ledger
from hggis.reserves.sites import MAX_LIMIT, SiteQuery, find_sites

router = APIRouter(prefix="/api", tags=["reserves"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def _call(action):  # noqa: ANN001, ANN202
    """The service layer's refusals as HTTP answers (Forbidden → 403 by the global handler)."""
    try:
        return action()
    except InvalidRequest as exc:
        raise HTTPException(422, detail=[{"loc": ["query", exc.field], "msg": exc.reason}]) from None
    except NotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except LayerReadError as exc:
        raise HTTPException(422, detail=[{"loc": ["body", "file"], "msg": str(exc)}]) from None


# ---------------------------------------------------------------------------------------
# Ledger
# ---------------------------------------------------------------------------------------

AsOf = Annotated[dt.date | None, Query(description="ledger at the end of this day (from history)")]
Since = Annotated[dt.date | None, Query(description="report the change since this day")]


@router.get("/reserves/ledger", summary="County reserve ledger against the 500–1000 亩 target")
def ledger(as_of: AsOf = None, since: Since = None, principal: Principal = Caller,
           conn: Connection = Depends(connection)) -> dict[str, Any]:
    return _call(lambda: reserve_ledger(conn, principal, as_of=as_of, since=since).to_dict())


@router.get("/reserves/ledger.xlsx", summary="The ledger as a Chinese Excel workbook",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def ledger_xlsx(as_of: AsOf = None, since: Since = None, principal: Principal = Caller,
                conn: Connection = Depends(read_connection)) -> Response:
    data = _call(lambda: ledger_xlsx_bytes(reserve_ledger(conn, principal, as_of=as_of, since=since)))
    name = f"reserve-ledger-{(as_of or clock.today()).isoformat()}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------------------------------
# Control indicators
# ---------------------------------------------------------------------------------------


@router.get("/reserves/indicators/proposal", summary="Default 标准地 indicators for an industry or GB/T class")
def proposal(
    industry: Annotated[str | None, Query(max_length=32)] = None,
    gbt4754_code: Annotated[str | None, Query(max_length=4)] = None,
    _public: None = Public,  # national and local default tables: public data
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    return _call(lambda: propose_indicators(conn, industry, gbt4754_code))


@router.get("/reserves/indicators/flags", summary="Reserve/on-offer parcels with their indicator flags")
def flags(
    adcode: Annotated[str | None, Query(pattern=r"^4211[0-9]{2}$")] = None,
    flagged_only: bool = True,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> list[dict[str, Any]]:
    return _call(lambda: indicator_flags(conn, principal, adcode=adcode, flagged_only=flagged_only))


@router.get("/reserves/parcels/{code}/indicators", summary="A parcel's control indicators, flags and proposed defaults")
def get_indicators(code: str, principal: Principal = Caller, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return _call(lambda: parcel_indicators(conn, principal, code))


class IndicatorChanges(BaseModel):
    """Indicators to set; omitted ones stay. ``fill_defaults`` fills unset ones from the proposal."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=2, max_length=500)
    version: int | None = Field(None, ge=0, description="version you read (0: none yet); 422 if it changed")
    gbt4754_code: str | None = Field(None, pattern=r"^[0-9]{2,4}$")
    fill_defaults: bool = False
    investment_intensity: float | None = None
    far_min: float | None = None
    far_max: float | None = None
    tax_per_mu: float | None = None
    output_intensity: float | None = None
    energy_per_output: float | None = None
    environment_standard: str | None = Field(None, max_length=1000)
    building_coverage_min: float | None = None
    green_ratio_max: float | None = None
    admin_ratio_max: float | None = None
    construction_months: int | None = None
    production_months: int | None = None


@router.put("/reserves/parcels/{code}/indicators", summary="Set a parcel's control indicators (history kept)")
def put_indicators(code: str, body: IndicatorChanges, principal: Principal = SignedIn,
                   db: Engine = Depends(engine)) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True, exclude={"reason", "version", "gbt4754_code", "fill_defaults"})

    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            return set_indicators(conn, principal, code, values, gbt4754_code=body.gbt4754_code,
                                  fill_defaults=body.fill_defaults, expected_version=body.version)

    return _call(act)


@router.get("/reserves/parcels/{code}/indicators/history", summary="Changes of a parcel's indicators")
def get_indicator_history(code: str, principal: Principal = SignedIn,
                          conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return _call(lambda: indicator_history(conn, principal, code))


# ---------------------------------------------------------------------------------------
# Site finder
# ---------------------------------------------------------------------------------------


def _near(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError:
        raise HTTPException(422, detail=[{"loc": ["query", "near"], "msg": "expected lon,lat (EPSG:4490 degrees)"}]) from None
    return lon, lat


@router.get("/sites", summary="Find and rank contiguous sites (public: land on offer; officers: reserves too)")
def sites(
    min_mu: Annotated[float, Query(gt=0, description="minimum area (亩)")],
    max_mu: Annotated[float, Query(gt=0, description="maximum area (亩)")],
    adcode: Annotated[str | None, Query(max_length=6, description="county adcode")] = None,
    park_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    industry: Annotated[str | None, Query(max_length=32, description="plan industry code")] = None,
    max_slope: Annotated[float | None, Query(gt=0, le=90, description="maximum mean slope (°)")] = None,
    near: Annotated[str | None, Query(description="reference point lon,lat")] = None,
    near_park: Annotated[int | None, Query(ge=1, description="reference: a park's centre")] = None,
    near_layer: Annotated[int | None, Query(ge=1, description="reference: nearest feature of a layer (officers)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    chain_link: Annotated[int | None, Query(ge=1, le=INT4_MAX, description="start from a 招商 chain link (its industry)")] = None,
    principal: Principal = Caller,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    q = SiteQuery(min_mu=min_mu, max_mu=max_mu, adcode=adcode, park_id=park_id, industry=industry,
                  max_slope_deg=max_slope, near=_near(near), near_park=near_park, near_layer=near_layer, limit=limit,
                  chain_link=chain_link)
    return _call(lambda: find_sites(conn, principal, q))


# ---------------------------------------------------------------------------------------
# Constraint layers
# ---------------------------------------------------------------------------------------


@router.get("/constraint-layers", summary="Constraint and reference layers (officers)")
def layers(include_inactive: bool = False, principal: Principal = SignedIn,
           conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return _call(lambda: list_layers(conn, principal, include_inactive=include_inactive))


@router.get("/constraint-layers/{layer_id}/features", summary="A layer's features (GeoJSON)")
def features(
    layer_id: RowId,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    return _call(lambda: layer_features(conn, principal, layer_id, limit, offset))


@router.post("/constraint-layers", status_code=201, summary="Import a layer (replaces the active one of that name)")
def post_layer(
    file: Annotated[UploadFile, File(description=".geojson, .gpkg, zipped Shapefile or CSV with WKT")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    kind: Annotated[str, Form()],
    reason: Annotated[str, Form(min_length=2, max_length=500)],
    role: Annotated[str | None, Form()] = None,
    adcode: Annotated[str | None, Form(pattern=r"^4211[0-9]{2}$")] = None,
    layer: Annotated[str | None, Form()] = None,
    crs: Annotated[str | None, Form()] = None,
    source_datum: Annotated[str | None, Form()] = None,
    encoding: Annotated[str | None, Form()] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> dict[str, Any]:
    suffix = Path(file.filename or "upload").suffix.lower()
    with uploads.work_dir() as tmp:
        path = tmp / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise HTTPException(413, detail="file larger than 200 MB")

        def act() -> dict[str, Any]:
            with transaction(db, principal.actor, reason) as conn:
                return import_layer(conn, principal, path, name=name, kind=kind, role=role, adcode=adcode,
                                    layer=layer, crs=crs, source_datum=source_datum, encoding=encoding,
                                    file_name=Path(file.filename or path.name).name).to_dict()

        return _call(act)


class Retire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=2, max_length=500)


@router.post("/constraint-layers/{layer_id}/retire", summary="Stop using a layer (kept, inactive)")
def post_retire_layer(layer_id: RowId, body: Retire, principal: Principal = SignedIn,
                      db: Engine = Depends(engine)) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            retire_layer(conn, principal, layer_id)
        return {"id": layer_id, "active": False}

    return _call(act)
