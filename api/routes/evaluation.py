"""亩均效益综合评价: runs, results, explanations, aggregates, comparison, models, policies, Excel.

Thin: each route parses, calls one hggis.evaluation function, and maps its errors to HTTP.
Everything requires a signed-in user (401 for anonymous: per-mu scores, ranks and classes
are confidential); the services check the role and filter by scope (403 outside it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine, read_connection
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.evaluation import aggregates, model, policies, report, results, runs, service
from hggis.evaluation.results import ResultFilter
from hggis.inputs import INT4_MAX, MAX_OFFSET, RowId

router = APIRouter(prefix="/api/evaluation", tags=["evaluation"])

ClassCode = Literal["A", "B", "C", "D", "T"]
SizeGroup = Literal["above", "below"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _not_found(exc: Exception) -> HTTPException:
    return HTTPException(404, detail=str(exc))


def _invalid(field: str, exc: Exception) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": str(exc)}])


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=1990, le=2100)
    model_id: int | None = Field(default=None, ge=1, le=INT4_MAX)
    proceed: bool = False
    reason: str | None = Field(default=None, max_length=500)


@router.get("/runs", summary="Evaluation runs, newest first")
def list_runs(
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> list[dict[str, Any]]:
    return runs.list_runs(conn, principal, year)


@router.post("/runs", status_code=201, summary="Evaluate a year (city administrators; one atomic run)")
def create_run(body: RunRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    try:
        summary = runs.run_evaluation(eng, principal, body.year, body.model_id, body.proceed, body.reason)
    except runs.BlockingQualityErrors as exc:
        issues = exc.report.blocking.astype(object).where(exc.report.blocking.notna(), None)
        raise HTTPException(
            409, detail={"msg": str(exc), "blocking_issues": issues.to_dict(orient="records")}
        ) from None
    except (runs.RunError, model.ModelError) as exc:
        raise _invalid("year", exc) from None
    return summary.as_dict()


def _run_or_404(conn: Connection, principal: Principal, run_id: RowId) -> dict[str, Any]:
    try:
        return runs.get_run(conn, principal, run_id)
    except runs.RunError as exc:
        raise _not_found(exc) from None


@router.get("/runs/{run_id}", summary="One run: model, counts, quality summary")
def get_run(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return _run_or_404(conn, principal, run_id)


@router.get("/runs/{run_id}/results", summary="Results per enterprise (filter, sort, page; scoped)")
def list_results(
    run_id: RowId,
    class_code: ClassCode | None = None,
    size_group: SizeGroup | None = None,
    park_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    adcode: Annotated[str | None, Query(pattern=r"^4211[0-9]{2}$")] = None,
    industry_code: Annotated[str | None, Query(pattern=r"^[a-z_]{2,32}$")] = None,
    evaluated: bool | None = None,
    reason_code: Literal["merged", "quality", "no_figures", "no_land", "below_min_land"] | None = None,
    result_list: Literal["above", "below", "tenant"] | None = None,
    sort: Literal["rank", "total_score", "land_mu", "name", "enterprise_id"] = "rank",
    limit: Annotated[int, Query(ge=1, le=results.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    _run_or_404(conn, principal, run_id)
    filters = ResultFilter(class_code, size_group, park_id, adcode, industry_code, evaluated, reason_code, result_list)
    return results.list_results(conn, principal, run_id, filters, limit, offset, sort)


@router.get("/runs/{run_id}/results/{enterprise_id}", summary="Why one enterprise got its result")
def explain(run_id: RowId, enterprise_id: RowId, principal: Principal = SignedIn,
            conn: Connection = Depends(connection)) -> dict[str, Any]:
    _run_or_404(conn, principal, run_id)
    try:
        return results.explain_result(conn, principal, run_id, enterprise_id)
    except results.ResultError as exc:
        raise _not_found(exc) from None


@router.get("/runs/{run_id}/parks", summary="Park aggregates, intensity figures and ranking (scoped)")
def parks(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    _run_or_404(conn, principal, run_id)
    return aggregates.read_aggregates(conn, principal, run_id, "park")


@router.get("/runs/{run_id}/counties", summary="County aggregates and ranking (scoped)")
def counties(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    _run_or_404(conn, principal, run_id)
    return aggregates.read_aggregates(conn, principal, run_id, "county")


@router.get("/runs/{run_id}/quality", summary="Data-quality findings stored with the run (scoped)")
def run_quality(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    _run_or_404(conn, principal, run_id)
    return results.run_quality(conn, principal, run_id)


@router.get("/runs/{run_id}/report.xlsx", summary="The Excel report of the run (scoped)",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def excel(run_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(read_connection)) -> Response:
    run = _run_or_404(conn, principal, run_id)
    data = report.report_bytes(conn, principal, run_id)
    name = report.report_filename(run["year"], run_id)
    return Response(
        data, media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename=\"evaluation_{run['year']}_{run_id}.xlsx\"; "
                                        f"filename*=UTF-8''{quote(name)}"},
    )


@router.get("/quality", summary="Data-quality report of a year's figures, before a run (scoped)")
def quality(
    year: Annotated[int, Query(ge=1990, le=2100)],
    model_id: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    try:
        return service.quality_report(conn, principal, year, model_id)
    except model.ModelError as exc:
        raise HTTPException(422, detail=[{"loc": ["query", "model_id"], "msg": str(exc)}]) from None


@router.get("/compare", summary="Class changes between two years (latest runs) or two runs (scoped)")
def compare(
    year_from: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    run_from: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    run_to: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    try:
        return runs.compare_runs(conn, principal, year_from, year_to, run_from, run_to)
    except runs.RunError as exc:
        raise _not_found(exc) from None


# ---- model versions -----------------------------------------------------------------------


class ModelRequest(BaseModel):
    """A new version: full ``params``, or ``base_model_id`` plus dotted-path ``changes``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    valid_from: int = Field(ge=1990, le=2100)
    valid_to: int | None = Field(default=None, ge=1990, le=2100)
    params: dict[str, Any] | None = None
    base_model_id: int | None = Field(default=None, ge=1, le=INT4_MAX)
    changes: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=500)


@router.get("/models", summary="Evaluation model versions")
def list_models(principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return model.list_models(conn, principal)


@router.get("/models/{model_id}", summary="One model version with its parameters")
def get_model(model_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    try:
        return model.get_model(conn, principal, model_id)
    except model.ModelError as exc:
        raise _not_found(exc) from None


@router.post("/models", status_code=201, summary="Create a model version (city administrators)")
def create_model(body: ModelRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    try:
        with transaction(eng, principal.actor, body.reason or f"new evaluation model {body.name}") as conn:
            if body.params is not None:
                base = body.params
            elif body.base_model_id is not None:
                base = model.get_model(conn, principal, body.base_model_id)["params"]
            else:
                base = model.default_params().model_dump(mode="json")
            params = model.derive_params(base, body.changes)
            new_id = model.create_model(conn, principal, body.name, body.valid_from, params, body.valid_to, body.note)
            return model.get_model(conn, principal, new_id)
    except model.ModelError as exc:
        raise _invalid("params", exc) from None


# ---- differential policies ------------------------------------------------------------------


class PolicyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    class_code: ClassCode
    category: str = Field(min_length=1, max_length=50)
    measure: str = Field(min_length=1, max_length=500)
    valid_from: int = Field(ge=1990, le=2100)
    valid_to: int | None = Field(default=None, ge=1990, le=2100)
    price_item: str | None = Field(default=None, max_length=50)
    price_delta: float | None = Field(default=None, ge=-100, le=100)
    price_unit: str | None = Field(default=None, max_length=20)


@router.get("/policies", summary="Differential policies per class")
def list_policies(
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> list[dict[str, Any]]:
    return policies.list_policies(conn, principal, year)


@router.post("/policies", status_code=201, summary="Add a measure for a class (city administrators)")
def add_policy(body: PolicyRequest, principal: Principal = SignedIn, eng: Engine = Depends(engine)) -> dict[str, Any]:
    try:
        with transaction(eng, principal.actor, f"policy for class {body.class_code}") as conn:
            pid = policies.add_policy(
                conn, principal, body.class_code, body.category, body.measure, body.valid_from, body.valid_to,
                body.price_item, body.price_delta, body.price_unit,
            )
    except policies.PolicyError as exc:
        raise _invalid("price_delta", exc) from None
    return {"id": pid}
