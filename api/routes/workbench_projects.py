"""The project pages (项目库: list, detail, import) and the chain-list page (锻长板补短板清单, editable).

Thin: hggis.projects does the reading and writing; the import runs on the imports page
(dry run, then confirm), which knows the two sheet kinds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import (
    FormUser,
    PageNotFound,
    Pager,
    PageRoute,
    PageUser,
    choice,
    int_param,
    require_grant,
    see_other,
    show,
)
from hggis.access.choices import cluster_choices, place_names
from hggis.access.policy import Principal, can
from hggis.db.session import transaction
from hggis.errors import Conflict, HggisError, NotFound
from hggis.projects import chains
from hggis.projects.figures import FIGURES
from hggis.projects.service import ProjectFilter, get_project, list_projects
from hggis.projects.tables import CHAIN_POSITIONS, CHAIN_STANDINGS, LIST_KINDS, TARGET_STATUSES

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
PAGE = 50


@router.get("/projects")
def projects_page(request: Request, adcode: str | None = None, list_kind: str | None = None, q: str | None = None,
                  figure: str | None = None, year: str | None = None, page: str | None = None,
                  principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "projects", "read")
    counties = dict(sorted(place_names(conn)[0].items()))
    f = ProjectFilter(adcode=choice(adcode, counties), list_kind=choice(list_kind, LIST_KINDS),
                      q=(q or "").strip()[:100] or None, figure=choice(figure, FIGURES),
                      page=int_param(page, 1), page_size=PAGE)
    if f.figure:
        f.year = int_param(year, 2025, 1990, 2100)
    found = list_projects(conn, principal, f)
    values = {"adcode": f.adcode or "", "list_kind": f.list_kind or "", "q": f.q or "", "figure": f.figure or "",
              "year": str(f.year or "")}
    base = "/projects?" + "&".join(f"{k}={v}" for k, v in values.items() if v)
    pager = Pager(f.page, PAGE, found["total"], base)
    return show(request, conn, "wb_projects.html", {
        "found": found, "values": values, "pager": pager, "list_kinds": list(LIST_KINDS.items()),
        "counties": list(counties.items()), "figures": [(k, v[0]) for k, v in FIGURES.items()],
        "may_import": can(principal, "imports", "write")})


@router.get("/projects/{project_id:int}")
def project_page(request: Request, project_id: int, principal: Principal = PageUser,
                 conn: Connection = Depends(connection)) -> Response:
    try:
        p = get_project(conn, principal, project_id)
    except NotFound as exc:
        raise PageNotFound(str(exc)) from None
    return show(request, conn, "wb_project.html", {"p": p})


@router.get("/projects/import")
def projects_import_page(principal: Principal = PageUser) -> Response:
    """The project list is imported on the imports page (dry run first), with its kind chosen."""
    require_grant(principal, "imports", "write")
    return see_other("/imports?kind=projects")


@router.get("/chains")
def chains_page(request: Request, saved: str | None = None, error: str | None = None, principal: Principal = PageUser,
                conn: Connection = Depends(connection)) -> Response:
    links = chains.list_links(conn, principal)
    clusters = cluster_choices(conn)
    return show(request, conn, "wb_chains.html", {
        "links": links, "clusters": clusters, "positions": list(CHAIN_POSITIONS.items()),
        "standings": list(CHAIN_STANDINGS.items()), "statuses": list(TARGET_STATUSES.items()),
        "may_edit": can(principal, "chain_links", "write"), "may_edit_targets": can(principal, "chain_targets", "write"),
        "sees_targets": can(principal, "chain_targets", "read"), "saved": saved, "error": error})


def _back(act: Any) -> Response:
    try:
        act()
    except (HggisError, Conflict) as exc:
        return see_other("/chains?error=" + str(exc)[:200])
    return see_other("/chains?saved=1")


@router.post("/chains/links")
def chains_add_link(cluster_id: Annotated[int, Form(ge=1, le=2**31 - 1)], name: Annotated[str, Form(min_length=1, max_length=200)],
                    position: Annotated[str, Form(max_length=20)], standing: Annotated[str, Form(max_length=20)],
                    notes: Annotated[str, Form(max_length=500)] = "", principal: Principal = FormUser,
                    db: Engine = Depends(engine)) -> Response:
    def act() -> None:
        with transaction(db, principal.actor, "新增产业链环节") as conn:
            chains.create_link(conn, principal, cluster_id, {"name": name.strip(), "position": position,
                                                              "standing": standing, "notes": notes.strip() or None})
    return _back(act)


@router.post("/chains/links/{link_id:int}/targets")
def chains_add_target(link_id: int, name: Annotated[str, Form(min_length=1, max_length=200)],
                      status: Annotated[str, Form(max_length=20)] = "listed", principal: Principal = FormUser,
                      db: Engine = Depends(engine)) -> Response:
    def act() -> None:
        with transaction(db, principal.actor, "新增招商目标企业") as conn:
            chains.add_target(conn, principal, link_id, {"name": name.strip(), "status": status})
    return _back(act)


@router.post("/chains/targets/{target_id:int}")
def chains_target_status(target_id: int, status: Annotated[str, Form(max_length=20)],
                         version: Annotated[int, Form(ge=1, le=2_000_000_000)], principal: Principal = FormUser,
                         db: Engine = Depends(engine)) -> Response:
    def act() -> None:
        with transaction(db, principal.actor, "修改招商目标企业状态") as conn:
            chains.update_target(conn, principal, target_id, {"status": status}, version)
    return _back(act)
