"""块状经济 bases over HTTP: import (XLSX, all-or-nothing), list with yearly output, recognition.

Thin: each route calls one hggis.bases.service function; signed-in users only (the outputs
are sums of enterprises' figures); imports and decisions by city administrators.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine
from api.routes.imports import _save_upload
from hggis.access.policy import Principal, authorize
from hggis.bases import service
from hggis.inputs import INT4_MAX, RowId
from hggis.io import uploads

router = APIRouter(prefix="/api/bases", tags=["bases"])


class RecognitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=1990, le=2100)
    base_id: int | None = Field(default=None, ge=1, le=INT4_MAX)
    reason: str | None = Field(default=None, max_length=500)


@router.get("", summary="块状经济 bases with members, output of the year (亿元) and recognition in force")
def list_bases(year: Annotated[int, Query(ge=1990, le=2100)], principal: Principal = SignedIn,
               conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return service.base_outputs(conn, principal, year)


@router.post("/import", summary="Import bases and members from XLSX (every bad row named; nothing written unless all pass)")
async def import_bases(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX with sheets 块状经济基地 and/or 基地成员")],
    dry_run: Annotated[bool, Form()] = False,
    principal: Principal = SignedIn,
    eng: Engine = Depends(engine),
) -> JSONResponse:
    authorize(principal, "clusters", "write")
    path, original = await _save_upload(request, file, (".xlsx",))
    try:
        report = service.import_bases(eng, principal, path, original, dry_run)
    finally:
        uploads.remove(path.parent)
    return JSONResponse(report.to_dict(), status_code=422 if report.status == "refused" else 200)


@router.post("/recognitions", status_code=201, summary="Record the year's recognition decision (all bases, or one)")
def recognise(body: RecognitionRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> list[dict[str, Any]]:
    return service.recognise(eng, principal, body.year, body.base_id, body.reason)


@router.get("/{base_id}/recognitions", summary="Every recognition decision about a base, with its basis")
def history(base_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return service.recognition_history(conn, principal, base_id)
