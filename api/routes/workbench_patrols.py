"""The field patrol pages (动态巡查), phone-first: find the parcel, record what is seen, attach photos.

Thin: ``hggis.patrol.service`` records and reads; the page shows each photo's EXIF position
against the parcel's outline.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.routes.patrols import read_photos
from api.workbench import FormUser, PageNotFound, PageRoute, PageUser, require_grant, see_other, show
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.errors import Invalid
from hggis.patrol.service import PatrolInput, PatrolNotFound, PatrolRefused, patrols_of, record_patrol, sketch
from hggis.patrol.tables import PATROL_STAGES

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)


@router.get("/patrol")
def patrol_start(request: Request, code: str | None = None, principal: Principal = PageUser,
                 conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "parcels", "flag")  # the role may patrol somewhere; each parcel is checked
    if code and code.strip():
        return see_other(f"/patrol/{code.strip().upper()}")
    return show(request, conn, "wb_patrol_start.html", {})


def _page(request: Request, conn: Connection, principal: Principal, code: str, status_code: int = 200,
          error: str | None = None, values: dict[str, str] | None = None) -> Response:
    try:
        records = patrols_of(conn, principal, code)
    except PatrolNotFound as exc:
        raise PageNotFound(str(exc)) from None
    points = [(ph["lon"], ph["lat"]) for r in records for ph in r["photos"] if ph["lon"] is not None]
    context: dict[str, Any] = {"code": code.strip().upper(), "records": records, "stages": PATROL_STAGES,
                               "sketch": sketch(conn, principal, code, points), "error": error,
                               "values": values or {}, "saved": request.query_params.get("saved")}
    return show(request, conn, "wb_patrol.html", context, status_code=status_code)


@router.get("/patrol/{code}")
def patrol_parcel(request: Request, code: str, principal: Principal = PageUser,
                  conn: Connection = Depends(connection)) -> Response:
    return _page(request, conn, principal, code)


@router.post("/patrol/{code}")
async def patrol_record(
    request: Request,
    code: str,
    stage: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    device_lon: Annotated[str, Form(max_length=20)] = "",
    device_lat: Annotated[str, Form(max_length=20)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    values = {"stage": stage, "note": note}
    try:
        files = await read_photos(photos or [])
        try:
            position = [float(v) for v in (device_lon, device_lat) if v.strip()]
        except ValueError:
            raise PatrolRefused("手机位置不是有效的经纬度", field="device_lon") from None
        data = PatrolInput(parcel_code=code, stage=stage, note=note,
                           device_lon=position[0] if len(position) == 2 else None,
                           device_lat=position[1] if len(position) == 2 else None)
        with transaction(db, principal.actor, f"动态巡查：{PATROL_STAGES.get(stage, stage)}") as conn:
            patrol_id = record_patrol(conn, principal, data, files)
    except PatrolNotFound as exc:
        raise PageNotFound(str(exc)) from None
    except Invalid as exc:
        with db.connect() as conn:
            return _page(request, conn, principal, code, status_code=422, error=str(exc), values=values)
    return see_other(f"/patrol/{code.strip().upper()}?saved={patrol_id}")
