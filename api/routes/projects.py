"""Projects (项目库), their import, the pipeline figures, and the chain lists (锻长板补短板清单).

Thin over hggis.projects and hggis.dashboard.pipeline; refusals are hggis.errors kinds,
mapped to HTTP once in api/errors.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import Caller, Public, SignedIn, connection, engine
from api.routes.imports import XLSX, _sheet_upload
from api.routes.parcels import _expected_version
from hggis.access.policy import Principal
from hggis.dashboard.pipeline import pipeline_dashboard
from hggis.db.session import transaction
from hggis.inputs import RowId
from hggis.io.keyed_sheet import SheetImportOptions
from hggis.projects import chains
from hggis.projects.figures import FIGURES
from hggis.projects.importer import import_projects
from hggis.projects.service import MAX_PAGE_SIZE, ProjectFilter, get_project, list_projects, update_project
from hggis.projects.template import chain_template, project_template

router = APIRouter(prefix="/api", tags=["projects"])
ListKind = Literal["planning", "preparatory", "new", "continuing"]
Figure = Literal[tuple(FIGURES)]  # type: ignore[valid-type]
Money = Annotated[float, Field(ge=0, lt=1e12, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=500)]


def _xlsx(data: bytes, ascii_name: str, zh_quoted: str) -> Response:
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{zh_quoted}"})


@router.get("/projects/template", summary="The Excel template of a county's project list (项目清单)",
            dependencies=[Public], response_class=Response, responses={200: {"content": {XLSX: {}}}})
def projects_template() -> Response:
    return _xlsx(project_template(), "projects-template.xlsx", "%E9%A1%B9%E7%9B%AE%E6%B8%85%E5%8D%95.xlsx")


@router.get("/projects", summary="Projects in the caller's scope (filters, paging; figure+year = dashboard drill-down)")
def projects_list(
    adcode: Annotated[str | None, Query(max_length=6)] = None,
    list_kind: ListKind | None = None,
    cluster_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    industry: Annotated[str | None, Query(max_length=32)] = None,
    is_key: bool | None = None,
    batch: Annotated[str | None, Query(pattern=r"^[0-9]{4}Q[1-4]$")] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the project's name")] = None,
    figure: Figure | None = None,  # type: ignore[valid-type]
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    f = ProjectFilter(adcode, list_kind, cluster_id, industry, is_key, batch, q, figure, year, page, page_size)
    return list_projects(conn, principal, f)


@router.get("/projects/{project_id}", summary="One project: nodes, funds series, list moves, parcels (ETag = version)")
def project_detail(project_id: RowId, response: Response, principal: Principal = SignedIn,
                   conn: Connection = Depends(connection)) -> dict[str, Any]:
    found = get_project(conn, principal, project_id)
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


class ProjectChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=2_000_000_000)
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    investor_name: Text | None = None
    cluster_id: int | None = Field(None, ge=1, le=2**31 - 1)
    industry_code: Annotated[str, Field(max_length=32)] | None = None
    signed_investment_wan: Money | None = None
    list_kind: ListKind | None = None
    moved_on: dt.date | None = Field(None, description="date of the list move (default today)")
    leader_name: Text | None = None
    leader_office: Text | None = None
    signed_on: dt.date | None = None
    land_supplied_on: dt.date | None = None
    started_on: dt.date | None = None
    producing_on: dt.date | None = None
    planned_start_on: dt.date | None = None
    planned_production_on: dt.date | None = None
    is_key: bool | None = None
    batch: Annotated[str, Field(pattern=r"^[0-9]{4}Q[1-4]$")] | None = None
    note: Text | None = None
    reason: Text | None = None


@router.patch("/projects/{project_id}", summary="Change a project (If-Match/version; 409 if changed meanwhile)")
def project_patch(project_id: RowId, body: ProjectChanges, if_match: Annotated[str | None, Header()] = None,
                  principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    expected = _expected_version(body.version, if_match)
    changes = body.model_dump(exclude_unset=True, exclude={"version", "reason", "moved_on"})
    with transaction(db, principal.actor, body.reason or "修改项目") as conn:
        return update_project(conn, principal, project_id, changes, expected, body.moved_on)


@router.post("/imports/projects", summary="Import a county's project list (项目清单, XLSX/CSV): all rows or none")
async def upload_projects(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX or CSV with the template's Chinese headers")],
    dry_run: Annotated[bool, Form()] = False,
    sheet: Annotated[str | None, Form(max_length=100)] = None,
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> JSONResponse:
    return await _sheet_upload(request, file, import_projects, principal, db, SheetImportOptions(dry_run=dry_run, sheet=sheet))


@router.get("/dashboard/projects", summary="Pipeline figures per county for a year, against the plan's targets")
def dashboard_projects(year: Annotated[int, Query(ge=1990, le=2100)], principal: Principal = SignedIn,
                       conn: Connection = Depends(connection)) -> dict[str, Any]:
    return pipeline_dashboard(conn, principal, year)


# ---------------------------------------------------------------------------------------
# Chain lists
# ---------------------------------------------------------------------------------------


@router.get("/chain-links/template", summary="The Excel template of a 锻长板补短板清单", dependencies=[Public],
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def chain_links_template() -> Response:
    return _xlsx(chain_template(), "chain-links-template.xlsx",
                 "%E9%94%BB%E9%95%BF%E6%9D%BF%E8%A1%A5%E7%9F%AD%E6%9D%BF%E6%B8%85%E5%8D%95.xlsx")


@router.get("/chain-links", summary="Chain links of the clusters (public fields; target firms for officers)")
def chain_links_list(cluster_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                     principal: Principal = Caller, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return chains.list_links(conn, principal, cluster_id)


@router.get("/chain-links/{link_id}", summary="One chain link (ETag = version)")
def chain_link_detail(link_id: RowId, response: Response, principal: Principal = Caller,
                      conn: Connection = Depends(connection)) -> dict[str, Any]:
    found = chains.get_link(conn, principal, link_id)
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


Position = Literal["upstream", "midstream", "downstream"]
Standing = Literal["strength", "gap"]
TargetStatus = Literal["listed", "contacted", "negotiating", "signed", "landed", "dropped"]
Gbt = Annotated[list[Annotated[str, Field(pattern=r"^[0-9]{2,4}$")]], Field(max_length=20)]


class NewLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster_id: int = Field(..., ge=1, le=2**31 - 1)
    name: Annotated[str, Field(min_length=1, max_length=200)]
    position: Position
    standing: Standing
    industry_code: Annotated[str, Field(max_length=32)] | None = None
    gbt4754_codes: Gbt = []
    notes: Text | None = None
    reason: Text | None = None


class LinkChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=2_000_000_000)
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    position: Position | None = None
    standing: Standing | None = None
    industry_code: Annotated[str, Field(max_length=32)] | None = None
    gbt4754_codes: Gbt | None = None
    notes: Text | None = None
    reason: Text | None = None


class NewTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    status: TargetStatus = "listed"
    notes: Text | None = None
    reason: Text | None = None


class TargetChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=2_000_000_000)
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: TargetStatus | None = None
    notes: Text | None = None
    reason: Text | None = None


@router.post("/chain-links", status_code=201, summary="Add a chain link to a cluster")
def chain_link_create(body: NewLink, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    with transaction(db, principal.actor, body.reason or "新增产业链环节") as conn:
        return chains.create_link(conn, principal, body.cluster_id, body.model_dump(exclude={"reason", "cluster_id"}))


@router.patch("/chain-links/{link_id}", summary="Change a chain link (If-Match/version)")
def chain_link_patch(link_id: RowId, body: LinkChanges, if_match: Annotated[str | None, Header()] = None,
                     principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    expected = _expected_version(body.version, if_match)
    with transaction(db, principal.actor, body.reason or "修改产业链环节") as conn:
        return chains.update_link(conn, principal, link_id, body.model_dump(exclude_unset=True, exclude={"version", "reason"}),
                                  expected)


@router.post("/chain-links/{link_id}/targets", status_code=201, summary="Add a target firm to a link (confidential)")
def chain_target_create(link_id: RowId, body: NewTarget, principal: Principal = SignedIn,
                        db: Engine = Depends(engine)) -> dict[str, Any]:
    with transaction(db, principal.actor, body.reason or "新增招商目标企业") as conn:
        return chains.add_target(conn, principal, link_id, body.model_dump(exclude={"reason"}))


@router.patch("/chain-targets/{target_id}", summary="Change a target firm's status or notes (If-Match/version)")
def chain_target_patch(target_id: RowId, body: TargetChanges, if_match: Annotated[str | None, Header()] = None,
                       principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    expected = _expected_version(body.version, if_match)
    with transaction(db, principal.actor, body.reason or "修改招商目标企业") as conn:
        return chains.update_target(conn, principal, target_id,
                                    body.model_dump(exclude_unset=True, exclude={"version", "reason"}), expected)


@router.post("/imports/chain-links", summary="Import a 锻长板补短板清单 (XLSX/CSV): all rows or none")
async def upload_chain_links(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX or CSV with the template's Chinese headers")],
    dry_run: Annotated[bool, Form()] = False,
    sheet: Annotated[str | None, Form(max_length=100)] = None,
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> JSONResponse:
    return await _sheet_upload(request, file, chains.import_chain_links, principal, db,
                               SheetImportOptions(dry_run=dry_run, sheet=sheet))
