"""Parcels: read by role and scope, edit with a version check, retire, split, merge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import shape
from sqlalchemy.engine import Connection, Engine

from api.deps import Caller, SignedIn, connection, engine
from api.routes.layers import BBoxParam, Limit, Offset, _page_links, parse_bbox
from hggis.access.policy import Principal, scope_clause
from hggis.db.models import PARCEL_STATUSES
from hggis.db.session import transaction
from hggis.features import Page, feature_collection
from hggis.inputs import INT4_MAX
from hggis.parcel_edits import add_parcel, merge_parcels, retire_parcel, split_parcel, update_parcel
from hggis.parcel_integrity import Violation
from hggis.parcels import ParcelInput

router = APIRouter(prefix="/api", tags=["parcels"])

Adcode = Annotated[str | None, Field(pattern=r"^4211[0-9]{2}$")]


def _layer_for(principal: Principal) -> tuple[str, tuple[str, dict[str, Any]] | None]:
    """Anonymous callers get the public layer (land on offer); users their scope of all parcels."""
    if principal.is_public:
        return "parcels", None
    return "parcels_officer", scope_clause(principal, "parcels", "read", "p.adcode", "p.park_id")


@router.get("/parcels", summary="Parcels as GeoJSON (public: land on offer; users: their scope)")
def list_parcels(
    request: Request,
    bbox: BBoxParam = None,
    adcode: Annotated[str | None, Query(pattern=r"^4211[0-9]{2}$")] = None,
    park_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    status: Annotated[str | None, Query(description="one of: " + ", ".join(PARCEL_STATUSES))] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    principal: Principal = Caller,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    if status is not None and status not in PARCEL_STATUSES:
        raise HTTPException(422, detail=[{"loc": ["query", "status"], "msg": f"unknown status {status!r}"}])
    layer, scope = _layer_for(principal)
    page = Page(limit=limit, offset=offset)
    fc = feature_collection(
        conn, layer, parse_bbox(bbox), page, {"adcode": adcode, "park_id": park_id, "status": status}, scope
    )
    return _page_links(request, fc, page)


@router.get("/parcels/{code}", summary="One parcel as a GeoJSON Feature")
def get_parcel(code: str, principal: Principal = Caller, conn: Connection = Depends(connection)) -> JSONResponse:
    layer, scope = _layer_for(principal)
    fc = feature_collection(conn, layer, page=Page(limit=1), equals={"code": code.strip().upper()}, scope=scope)
    if not fc["features"]:
        raise HTTPException(404, detail=f"宗地 {code} not found")
    feature = fc["features"][0]
    headers = {"ETag": f'"{feature["properties"]["version"]}"'} if "version" in feature["properties"] else {}
    return JSONResponse(feature, headers=headers, media_type="application/geo+json")


class ParcelChanges(BaseModel):
    """Fields to change; omitted fields stay as they are. ``version`` is the one you read."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=INT4_MAX, description="version you edited (or send If-Match)")
    reason: str | None = Field(None, max_length=500, description="required for a status change")
    status: str | None = None
    park_id: int | None = Field(None, ge=1, le=INT4_MAX)
    land_use: str | None = Field(None, pattern=r"^[0-9]{4}$")
    holder_id: int | None = Field(None, ge=1, le=INT4_MAX, description="an enterprise you may read (else use holder_credit_code)")
    holder_credit_code: str | None = Field(None, max_length=18, description="the holder's 统一社会信用代码")
    intended_industry: str | None = None
    contract_kind: str | None = None
    contract_no: str | None = Field(None, max_length=100)
    contract_signed_on: dt.date | None = None
    land_price: Decimal | None = Field(None, ge=0)
    agreed_start_date: dt.date | None = None
    agreed_completion_date: dt.date | None = None
    planned_investment: Decimal | None = Field(None, ge=0)
    started_on: dt.date | None = None
    built_footprint_m2: float | None = Field(None, ge=0, allow_inf_nan=False)
    investment_to_date: Decimal | None = Field(None, ge=0)
    halted_since: dt.date | None = None
    completed_on: dt.date | None = None
    production_stopped_since: dt.date | None = None
    floor_area_m2: float | None = Field(None, ge=0, lt=1e9, allow_inf_nan=False, description="总建筑面积 m²")
    delivered_on: dt.date | None = Field(None, description="交地确认书 date")
    supervision_no: str | None = Field(None, pattern=r"^[0-9A-Za-z-]{6,32}$", description="合同电子监管号")
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON Polygon/MultiPolygon in EPSG:4490")


def _expected_version(body_version: int | None, if_match: str | None) -> int:
    if if_match is not None:
        try:
            return int(if_match.strip().strip('W/').strip('"'))
        except ValueError:
            raise HTTPException(422, detail=[{"loc": ["header", "If-Match"], "msg": "must be the parcel's version"}]) from None
    if body_version is None:
        raise HTTPException(428, detail="send the version you edited (If-Match header or version field)")
    return body_version


def _geometry(data: dict[str, Any] | None, field: str = "geometry"):  # noqa: ANN202
    try:
        return shape(data)
    except Exception:  # noqa: BLE001 - shapely raises several kinds for bad GeoJSON
        raise HTTPException(422, detail=[{"loc": ["body", field], "msg": "not a GeoJSON geometry"}]) from None


def _warnings(found: list[Violation]) -> list[dict[str, object]]:
    """Slivers and other written-but-reported findings, by rule code."""
    return [v.as_dict() for v in found]


@router.patch("/parcels/{code}", summary="Edit a parcel (version check: 409 if someone changed it meanwhile)")
def patch_parcel(
    code: str,
    body: ParcelChanges,
    if_match: Annotated[str | None, Header()] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> dict[str, Any]:
    expected = _expected_version(body.version, if_match)
    changes = body.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if "geometry" in changes:
        changes["geometry"] = _geometry(changes["geometry"])

    found: list[Violation] = []

    def act() -> int:
        with transaction(db, principal.actor, body.reason) as conn:
            return update_parcel(conn, principal, code, changes, expected, body.reason, found)

    # Refusals (not found, stale version, invalid parcel) are hggis.errors kinds: api/errors.py maps them.
    return {"code": code.upper(), "version": act(), "warnings": _warnings(found)}


class NewParcel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., min_length=19, max_length=19)
    geometry: dict[str, Any]
    status: str
    park_id: int | None = Field(None, ge=1, le=INT4_MAX)
    land_use: str = Field("0601", pattern=r"^[0-9]{4}$")
    intended_industry: str | None = None
    reason: str | None = Field(None, max_length=500)


@router.post("/parcels", status_code=201, summary="Create a parcel")
def post_parcel(body: NewParcel, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    data = ParcelInput(
        code=body.code, geometry=_geometry(body.geometry), status=body.status, park_id=body.park_id,
        land_use=body.land_use, intended_industry=body.intended_industry,
    )

    found: list[Violation] = []

    def act() -> int:
        with transaction(db, principal.actor, body.reason) as conn:
            return add_parcel(conn, principal, data, body.reason, found)

    act()
    return {"code": body.code.upper(), "version": 1, "warnings": _warnings(found)}


class Retirement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(..., ge=1, le=INT4_MAX)
    reason: str = Field(..., min_length=2, max_length=500)


@router.post("/parcels/{code}/retire", summary="Retire a parcel (soft; history kept)")
def post_retire(code: str, body: Retirement, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    def act() -> None:
        with transaction(db, principal.actor, body.reason) as conn:
            retire_parcel(conn, principal, code, body.version, body.reason)

    act()
    return {"code": code.upper(), "retired": True}


class Child(BaseModel):
    code: str = Field(..., min_length=19, max_length=19)
    geometry: dict[str, Any]


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(..., ge=1, le=INT4_MAX)
    reason: str = Field(..., min_length=2, max_length=500)
    children: list[Child] = Field(..., min_length=2, max_length=100)


@router.post("/parcels/{code}/split", summary="Split a parcel; children record the parent code")
def post_split(code: str, body: Split, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    children = [(c.code, _geometry(c.geometry, "children")) for c in body.children]

    found: list[Violation] = []

    def act() -> list[str]:
        with transaction(db, principal.actor, body.reason) as conn:
            return split_parcel(conn, principal, code, children, body.version, body.reason, found)

    return {"parent": code.upper(), "children": act(), "warnings": _warnings(found)}


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parcels: dict[str, int] = Field(..., description="code -> version you read", min_length=2, max_length=100)
    new_code: str = Field(..., min_length=19, max_length=19)
    reason: str = Field(..., min_length=2, max_length=500)


@router.post("/parcels/merge", summary="Merge adjacent parcels; the new parcel records the parents")
def post_merge(body: Merge, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    found: list[Violation] = []

    def act() -> str:
        with transaction(db, principal.actor, body.reason) as conn:
            return merge_parcels(conn, principal, body.parcels, body.new_code, body.reason, found)

    return {"code": act(), "parents": sorted(c.upper() for c in body.parcels), "warnings": _warnings(found)}
