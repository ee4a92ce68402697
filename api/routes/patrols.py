"""动态巡查 over the API: record what is seen on a parcel with photos; read records and photos back.

Refusals of hggis.patrol are hggis.errors kinds, mapped to HTTP once in api/errors.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine
from hggis.access.policy import Principal
from hggis.config import get_settings
from hggis.db.session import transaction
from hggis.inputs import RowId
from hggis.patrol.service import PatrolInput, PatrolRefused, patrols_of, photo_content, record_patrol
from hggis.patrol.tables import PATROL_STAGES

router = APIRouter(prefix="/api", tags=["patrols"])


async def read_photos(files: list[UploadFile]) -> list[tuple[str, bytes]]:
    """The uploaded photos' bytes; one over the size limit is refused by name without reading it all."""
    limit = get_settings().hggis_photo_max_bytes
    out = []
    for f in files:
        name = (f.filename or "photo.jpg").rsplit("/", 1)[-1][:200]
        content = await f.read(limit + 1)
        if len(content) > limit:
            raise PatrolRefused(f"照片 {name}：超过上限 {limit / 1e6:.0f} MB", field="photos")
        if content:
            out.append((name, content))
    return out


@router.post("/parcels/{code}/patrols", status_code=201,
             summary="Record a site patrol (现场情况, note, JPEG photos with their EXIF time and position)")
async def post_patrol(
    code: str,
    stage: Annotated[str, Form(description="one of: " + ", ".join(PATROL_STAGES))],
    note: Annotated[str | None, Form(max_length=2000)] = None,
    device_lon: Annotated[float | None, Form(ge=-180, le=180, allow_inf_nan=False)] = None,
    device_lat: Annotated[float | None, Form(ge=-90, le=90, allow_inf_nan=False)] = None,
    photos: Annotated[list[UploadFile] | None, File(description="JPEG photos")] = None,
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> dict[str, Any]:
    files = await read_photos(photos or [])
    data = PatrolInput(parcel_code=code, stage=stage, note=note, device_lon=device_lon, device_lat=device_lat)
    with transaction(db, principal.actor, f"动态巡查：{PATROL_STAGES.get(stage, stage)}") as conn:
        patrol_id = record_patrol(conn, principal, data, files)
    with db.connect() as conn:
        return next(p for p in patrols_of(conn, principal, code) if p["id"] == patrol_id)


@router.get("/parcels/{code}/patrols", summary="The parcel's patrol records, newest first")
def list_patrols(code: str, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return {"parcel_code": code.strip().upper(), "items": patrols_of(conn, principal, code)}


@router.get("/patrol-photos/{photo_id}", summary="One site photo (JPEG, as taken)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(photo_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> Response:
    content, mime, sha = photo_content(conn, principal, photo_id)
    return Response(content, media_type=mime, headers={"ETag": f'"{sha}"', "Cache-Control": "private, max-age=86400"})
