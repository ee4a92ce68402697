"""开发区土地集约利用评价 (TD/T 1029): model versions, runs, per-park results, the yearly report.

Thin: each route parses and calls one hggis.intensity function; refusals are hggis.errors
kinds, mapped to HTTP once (api/errors.py). Everything needs a signed-in user: the
services check the role (running: city administrators) and the scope of the results.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine
from hggis.access.policy import Principal
from hggis.inputs import INT4_MAX, RowId
from hggis.intensity import model, report, runs, whatif

router = APIRouter(prefix="/api/intensity", tags=["intensity"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=1990, le=2100)
    model_id: int | None = Field(default=None, ge=1, le=INT4_MAX)
    reason: str | None = Field(default=None, max_length=500)


@router.get("/models", summary="Model versions: indicators, weights, ideal values (each marked verified or not)")
def list_models(principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return model.list_models(conn, principal)


@router.get("/runs", summary="Runs of the park land-intensity evaluation, newest first")
def list_runs(year: Annotated[int | None, Query(ge=1990, le=2100)] = None, principal: Principal = SignedIn,
              conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return runs.list_runs(conn, principal, year)


@router.post("/runs", status_code=201, summary="Evaluate every park for a year (city administrators; one atomic run)")
def create_run(body: RunRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    return runs.run_intensity(eng, principal, body.year, body.model_id, body.reason).as_dict()


@router.get("/runs/{run_id}", summary="One run")
def get_run(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return runs.get_run(conn, principal, run_id)


@router.get("/runs/{run_id}/results", summary="Per park: score, rank, indicators, potentials (scoped)")
def results(run_id: RowId, principal: Principal = SignedIn,
            conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    runs.get_run(conn, principal, run_id)
    return runs.read_results(conn, principal, run_id)


@router.get("/runs/{run_id}/report.xlsx", summary="The yearly report of a run (XLSX, Chinese; scoped)",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def report_xlsx(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> Response:
    run = runs.get_run(conn, principal, run_id)
    name = report.report_filename(run["year"], run_id)
    return Response(report.report_bytes(conn, principal, run_id), media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


class CandidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    investment: float = Field(ge=0, le=1e11, description="fixed-asset investment committed, 万元")
    yearly_tax: float = Field(ge=0, le=1e10, description="expected tax a year, 万元")
    output: float = Field(ge=0, le=1e11, description="expected output a year, 万元")
    land_mu: float = Field(gt=0, le=100_000, description="land needed, 亩")
    revenue: float | None = Field(default=None, ge=0, le=1e11, description="expected revenue, 万元 (default: output)")
    floor_area_m2: float | None = Field(default=None, ge=0, le=1e9)


class WhatIfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: int = Field(ge=1, le=INT4_MAX, description="a D-class enterprise of the evaluation run")
    park_id: int | None = Field(default=None, ge=1, le=INT4_MAX)
    run_id: int | None = Field(default=None, ge=1, le=INT4_MAX, description="evaluation run (default: newest)")
    project_id: int | None = Field(default=None, ge=1, le=INT4_MAX, description="take the commitments from a project")
    candidate: CandidateBody | None = None


@router.post("/whatif", summary="腾笼换鸟 what-if: park 亩均税收, intensity score and plan targets before/after (writes nothing)")
def what_if(body: WhatIfRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    if body.candidate is None:
        if body.project_id is None:
            raise whatif.WhatIfRefused("give the candidate's commitments (candidate) or a project_id", field="candidate")
        with eng.connect() as conn:
            cand = whatif.commitments_from_project(conn, body.project_id)
    else:
        cand = whatif.Commitments(**body.candidate.model_dump())
    return whatif.what_if(eng, principal, body.enterprise_id, cand, body.park_id, body.run_id)
