"""The stages of an evaluation year over HTTP: land publication, corrections, 公示, objections, final.

Thin: each route calls one hggis.evaluation.publication function; refusals are the core's
errors (404 not found, 409 the stage does not allow it, 403 outside the caller's scope,
422 bad input), mapped in api/errors.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine
from hggis.access.policy import Principal
from hggis.evaluation import publication
from hggis.inputs import INT4_MAX, RowId

router = APIRouter(prefix="/api/evaluation", tags=["evaluation"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)
    model_id: int | None = Field(default=None, ge=1, le=INT4_MAX)


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: int = Field(ge=1, le=INT4_MAX)
    statement: str = Field(min_length=1, max_length=4000)
    claimed_land_mu: float | None = Field(default=None, ge=0, le=1e6)


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected", "upheld"]
    answer: str = Field(min_length=1, max_length=4000)


class NoticeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_on: dt.date | None = None
    days: int | None = Field(default=None, ge=1, le=90)


class ObjectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: int = Field(ge=1, le=INT4_MAX)
    channel: Literal["firm", "park"]
    subject: Literal["land", "figures", "classification", "other"] = "other"
    statement: str = Field(min_length=1, max_length=4000)
    received_on: dt.date | None = None
    firm_contact: str | None = Field(default=None, max_length=200)


@router.get("/years/{year}/status", summary="Where an evaluation year stands: land list, run, 公示, objections")
def status(year: int, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return publication.year_status(conn, principal, _year(year))


@router.post("/years/{year}/land-list", status_code=201, summary="Publish the firms' land areas for checking")
def publish(year: int, body: PublishRequest | None = None, principal: Principal = SignedIn,
            eng: Engine = Depends(engine)) -> dict[str, Any]:
    body = body or PublishRequest()
    return publication.publish_land(eng, principal, _year(year), body.reason, body.model_id)


def _year(year: int) -> int:
    if not 1990 <= year <= 2100:
        raise publication.PublicationError(f"year {year}: between 1990 and 2100", field="year")
    return year


@router.get("/years/{year}/land-list", summary="The newest land list of the year (scoped; one park with park_id)")
def land_list(year: int, park_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
              principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return publication.land_list(conn, principal, _year(year), park_id)


@router.get("/years/{year}/land-list.xlsx", summary="The land list as Chinese XLSX (scoped)",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def land_list_xlsx(year: int, park_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
                   principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> Response:
    data = publication.land_list_workbook(conn, principal, _year(year), park_id)
    name = publication.land_list_filename(year)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"land_list_{year}.xlsx\"; filename*=UTF-8''{quote(name)}"})


@router.post("/years/{year}/land-corrections", status_code=201, summary="Record a land-area correction request")
def correction(year: int, body: CorrectionRequest, principal: Principal = SignedIn,
               eng: Engine = Depends(engine)) -> dict[str, Any]:
    return publication.record_correction(eng, principal, _year(year), body.enterprise_id, body.statement,
                                         body.claimed_land_mu)


@router.post("/land-corrections/{correction_id}/answer", summary="Accept or reject a correction request (city)")
def answer_correction(correction_id: RowId, body: AnswerRequest, principal: Principal = SignedIn,
                      eng: Engine = Depends(engine)) -> dict[str, Any]:
    if body.decision == "upheld":
        raise publication.PublicationError("更正申请的答复为 accepted 或 rejected", field="decision")
    return publication.answer_correction(eng, principal, correction_id, body.decision == "accepted", body.answer)


@router.post("/runs/{run_id}/notice", status_code=201, summary="Put the year's current run on 公示 (city)")
def notice(run_id: RowId, body: NoticeRequest | None = None, principal: Principal = SignedIn,
           eng: Engine = Depends(engine)) -> dict[str, Any]:
    body = body or NoticeRequest()
    return publication.open_notice(eng, principal, run_id, body.starts_on, body.days)


@router.get("/years/{year}/objections", summary="Objections of the year (scoped)")
def objections(year: int, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return publication.list_objections(conn, principal, _year(year))


@router.post("/years/{year}/objections", status_code=201, summary="Lodge an objection during the 公示 period")
def lodge(year: int, body: ObjectionRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    return publication.lodge_objection(eng, principal, _year(year), body.enterprise_id, body.channel, body.subject,
                                       body.statement, body.received_on, body.firm_contact)


@router.post("/objections/{objection_id}/answer", summary="Uphold or reject an objection with the reason (city)")
def answer_objection(objection_id: RowId, body: AnswerRequest, principal: Principal = SignedIn,
                     eng: Engine = Depends(engine)) -> dict[str, Any]:
    if body.decision == "accepted":
        raise publication.PublicationError("异议的答复为 upheld 或 rejected", field="decision")
    return publication.answer_objection(eng, principal, objection_id, body.decision == "upheld", body.answer)


@router.post("/years/{year}/final", summary="Make the year's results final (city; refused while anything is open)")
def final(year: int, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    return publication.finalise(eng, principal, _year(year))
