"""Who uses a parcel: list, add, change, remove occupancies (version-checked, in history).

Refusals of hggis.occupancies are hggis.errors kinds, mapped to HTTP once in api/errors.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine
from api.routes.parcels import _expected_version
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.inputs import RowId
from hggis.occupancies import (
    OccupancyInput,
    add_occupancy,
    delete_occupancy,
    get_occupancy,
    list_for_parcel,
    update_occupancy,
)

router = APIRouter(prefix="/api", tags=["occupancies"])
Role = Literal["holder", "lessee"]


class NewOccupancy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_code: str = Field(..., min_length=18, max_length=18, description="the user's 统一社会信用代码")
    role: Role = "lessee"
    share: float | None = Field(None, gt=0, le=1, allow_inf_nan=False, description="0–1; or give floor_area_m2")
    floor_area_m2: float | None = Field(None, gt=0, lt=1e9, allow_inf_nan=False)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    reason: str | None = Field(None, max_length=500)


class OccupancyChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=2_000_000_000)
    role: Role | None = None
    share: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    floor_area_m2: float | None = Field(None, gt=0, lt=1e9, allow_inf_nan=False)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    reason: str | None = Field(None, max_length=500)


class Removal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=2_000_000_000)
    reason: str | None = Field(None, max_length=500)


OccupancyId = RowId  # hggis.inputs: the integer id range, defined once


@router.get("/parcels/{code}/occupancies", summary="Who uses the parcel today (the holder's implied share included)")
def list_occupancies(
    code: str, on: dt.date | None = None, principal: Principal = SignedIn, conn: Connection = Depends(connection)
) -> dict[str, Any]:
    return list_for_parcel(conn, principal, code, on)


@router.post("/parcels/{code}/occupancies", status_code=201, summary="Record a user of the parcel")
def post_occupancy(code: str, body: NewOccupancy, principal: Principal = SignedIn,
                   db: Engine = Depends(engine)) -> dict[str, Any]:
    data = OccupancyInput(parcel_code=code, **body.model_dump(exclude={"reason"}))

    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason or "登记用地企业") as conn:
            return add_occupancy(conn, principal, data)

    return act()


@router.get("/occupancies/{occupancy_id}", summary="One occupancy (ETag = version)")
def read_occupancy(occupancy_id: OccupancyId, response: Response, principal: Principal = SignedIn,
                   conn: Connection = Depends(connection)) -> dict[str, Any]:
    found = get_occupancy(conn, principal, occupancy_id)
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


@router.patch("/occupancies/{occupancy_id}", summary="Change an occupancy (409 if someone changed it meanwhile)")
def patch_occupancy(
    occupancy_id: OccupancyId,
    body: OccupancyChanges,
    if_match: Annotated[str | None, Header()] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> dict[str, Any]:
    expected = _expected_version(body.version, if_match)
    changes = body.model_dump(exclude_unset=True, exclude={"version", "reason"})

    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason or "修改用地企业") as conn:
            return update_occupancy(conn, principal, occupancy_id, changes, expected)

    return act()


@router.delete("/occupancies/{occupancy_id}", status_code=204,
               summary="Remove an occupancy entered by mistake (an ended one gets valid_to instead)")
def remove_occupancy(
    occupancy_id: OccupancyId,
    body: Removal | None = None,
    if_match: Annotated[str | None, Header()] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> Response:
    expected = _expected_version(body.version if body else None, if_match)

    def act() -> None:
        with transaction(db, principal.actor, (body.reason if body else None) or "删除用地企业记录") as conn:
            delete_occupancy(conn, principal, occupancy_id, expected)

    act()
    return Response(status_code=204)
