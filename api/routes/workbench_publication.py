"""亩均评价公布与异议 page: a year's stages (land publication, corrections, 公示, objections, final).

Thin: every step calls hggis.evaluation.publication; a refusal is shown on the page with the
core's message (which names what is open, or the dates of the period).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import FormUser, PageRoute, PageUser, int_param, require_grant, see_other, show
from hggis import clock
from hggis.access.choices import place_names, scope_choices
from hggis.access.policy import Principal, grant
from hggis.errors import HggisError
from hggis.evaluation import publication
from hggis.inputs import is_row_id

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DONE = {
    "published": "已公布用地面积。", "correction": "已登记更正申请。", "answered": "已答复。",
    "notice": "评价结果已进入公示。", "objection": "已登记异议。", "final": "评价结果已定稿。",
}


def _year(value: str | None) -> int:
    return int_param(value, clock.today().year - 1, lo=1990, hi=2100)


def _page(request: Request, conn: Connection, principal: Principal, year: int, error: str | None = None,
          status_code: int = 200) -> Response:
    require_grant(principal, "evaluation")
    status = publication.year_status(conn, principal, year)
    try:
        listing = publication.land_list(conn, principal, year)
    except HggisError:
        listing = None
    return show(request, conn, "wb_publication.html", {
        "year": year, "status": status, "listing": listing, "error": error,
        "firm_choices": [(str(i["enterprise_id"]), f"{i['name']}（{i['credit_code']}）") for i in (listing or {}).get("items", [])],
        "done": DONE.get(request.query_params.get("done", "")),
        "may_decide": grant(principal, "evaluation", "run") is not None,
        "is_park_manager": principal.role == "park_manager",
        "parks": scope_choices(conn, principal, "evaluation").parks,
        "park_names": place_names(conn)[1],
        "labels": {"list": publication.RESULT_LIST_LABELS, "status": publication.STATUS_LABELS,
                   "subject": publication.SUBJECT_LABELS, "channel": publication.CHANNEL_LABELS},
        "notice_days": publication.notice_days(), "today": clock.today().isoformat(),
    }, status_code=status_code)


@router.get("/evaluation/publication")
def page(request: Request, year: str = "", principal: Principal = PageUser,
         conn: Connection = Depends(connection)) -> Response:
    return _page(request, conn, principal, _year(year))


@router.get("/evaluation/publication/land-list.xlsx")
def land_list_xlsx(request: Request, year: str = "", park: str = "", principal: Principal = PageUser,
                   conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "evaluation")
    y = _year(year)
    park_id = int(park) if is_row_id(park) else None
    try:
        data = publication.land_list_workbook(conn, principal, y, park_id)
    except HggisError as exc:
        return _page(request, conn, principal, y, str(exc), 404)
    name = publication.land_list_filename(y)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"land-list-{y}.xlsx\"; filename*=UTF-8''{quote(name)}"})


def _act(request: Request, db: Engine, principal: Principal, year: int, done: str, step: Callable[[], Any]) -> Response:
    """Do one step; on a refusal show the page again with the reason."""
    try:
        step()
    except HggisError as exc:
        with db.connect() as conn:
            code = {"conflict": 409, "forbidden": 403, "not_found": 404}.get(exc.kind, 422)
            return _page(request, conn, principal, year, str(exc), code)
    return see_other(f"/evaluation/publication?year={year}&done={done}")


def _float(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        raise publication.PublicationError(f"面积 {value!r} 不是数字", field="claimed_land_mu") from None


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        raise publication.PublicationError(f"日期 {value!r} 应为 年-月-日", field="date") from None


def _id(value: str, what: str) -> int:
    if not is_row_id(value):
        raise publication.PublicationError(f"请选择{what}", field="enterprise")
    return int(value)


@router.post("/evaluation/publication/land-list")
def publish(request: Request, year: Annotated[str, Form(max_length=4)] = "", reason: Annotated[str, Form(max_length=500)] = "",
            principal: Principal = FormUser, db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "published",
                lambda: publication.publish_land(db, principal, y, reason.strip() or None))


@router.post("/evaluation/publication/corrections")
def correction(request: Request, year: Annotated[str, Form(max_length=4)] = "",
               enterprise_id: Annotated[str, Form(max_length=10)] = "", claimed_land_mu: Annotated[str, Form(max_length=20)] = "",
               statement: Annotated[str, Form(max_length=4000)] = "", principal: Principal = FormUser,
               db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "correction", lambda: publication.record_correction(
        db, principal, y, _id(enterprise_id, "企业"), statement, _float(claimed_land_mu)))


@router.post("/evaluation/publication/corrections/{correction_id}/answer")
def answer_correction(request: Request, correction_id: int, year: Annotated[str, Form(max_length=4)] = "",
                      decision: Annotated[str, Form(max_length=10)] = "", answer: Annotated[str, Form(max_length=4000)] = "",
                      principal: Principal = FormUser, db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "answered", lambda: publication.answer_correction(
        db, principal, correction_id, decision == "accepted", answer))


@router.post("/evaluation/publication/notice")
def notice(request: Request, year: Annotated[str, Form(max_length=4)] = "", run_id: Annotated[str, Form(max_length=10)] = "",
           starts_on: Annotated[str, Form(max_length=10)] = "", principal: Principal = FormUser,
           db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "notice", lambda: publication.open_notice(
        db, principal, _id(run_id, "评价批次"), _date(starts_on)))


@router.post("/evaluation/publication/objections")
def objection(request: Request, year: Annotated[str, Form(max_length=4)] = "",
              enterprise_id: Annotated[str, Form(max_length=10)] = "", channel: Annotated[str, Form(max_length=10)] = "firm",
              subject: Annotated[str, Form(max_length=20)] = "other", statement: Annotated[str, Form(max_length=4000)] = "",
              received_on: Annotated[str, Form(max_length=10)] = "", firm_contact: Annotated[str, Form(max_length=200)] = "",
              principal: Principal = FormUser, db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "objection", lambda: publication.lodge_objection(
        db, principal, y, _id(enterprise_id, "企业"), channel, subject, statement, _date(received_on), firm_contact))


@router.post("/evaluation/publication/objections/{objection_id}/answer")
def answer_objection(request: Request, objection_id: int, year: Annotated[str, Form(max_length=4)] = "",
                     decision: Annotated[str, Form(max_length=10)] = "", answer: Annotated[str, Form(max_length=4000)] = "",
                     principal: Principal = FormUser, db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "answered", lambda: publication.answer_objection(
        db, principal, objection_id, decision == "upheld", answer))


@router.post("/evaluation/publication/final")
def final(request: Request, year: Annotated[str, Form(max_length=4)] = "", principal: Principal = FormUser,
          db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    return _act(request, db, principal, y, "final", lambda: publication.finalise(db, principal, y))
