"""The 招商 office's enquiry pages: list in scope, answer, close. Thin over hggis.investor.enquiries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import (
    FormUser,
    Pager,
    PageRoute,
    int_param,
    page_user,
    see_other,
    show,
)
from hggis.access.policy import Principal, can
from hggis.db.models import ENQUIRY_STATUSES
from hggis.db.session import transaction
from hggis.errors import HggisError
from hggis.investor import enquiries

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
PAGE = 30
PageUser = Depends(page_user)


def _list(request: Request, conn: Connection, principal: Principal, status: str | None, page: int,
          errors: dict[int, str] | None = None, values: dict[int, str] | None = None, status_code: int = 200) -> Response:
    status = status if status in ENQUIRY_STATUSES else None
    total = enquiries.list_enquiries(conn, principal, status, 1, 0)["total"]
    pager = Pager(page, PAGE, total, "/enquiries", (("status", status),) if status else ())
    data = enquiries.list_enquiries(conn, principal, status, PAGE, pager.offset)
    context: dict[str, Any] = {
        "items": data["items"], "total": total, "pager": pager, "status": status, "statuses": ENQUIRY_STATUSES,
        "counts": enquiries.counts_by_park(conn, principal), "errors": errors or {}, "values": values or {},
        "may_write": lambda e: can(principal, "enquiries", "write", e["adcode"], e["park_id"]),
        "done": request.query_params.get("done"),
    }
    return show(request, conn, "wb_enquiries.html", context, status_code=status_code)


@router.get("/enquiries")
def enquiry_list(request: Request, status: str | None = None, page: str | None = None, principal: Principal = PageUser,
                 conn: Connection = Depends(connection)) -> Response:
    return _list(request, conn, principal, status, int_param(page, 1))


@router.post("/enquiries/{enquiry_id}/answer")
def answer(request: Request, enquiry_id: int, answer: Annotated[str, Form(max_length=enquiries.ANSWER_MAX + 100)] = "",
           version: Annotated[int | None, Form(ge=1)] = None, principal: Principal = FormUser,
           db: Engine = Depends(engine)) -> Response:
    try:
        with transaction(db, principal.actor, "答复投资咨询") as conn:
            enquiries.answer(conn, principal, enquiry_id, answer, version)
    except HggisError as exc:
        if exc.kind in ("forbidden", "not_found"):
            raise
        with db.connect() as conn:
            return _list(request, conn, principal, None, 1, {enquiry_id: str(exc)}, {enquiry_id: answer}, 422)
    return see_other(f"/enquiries?done={enquiry_id}#enquiry-{enquiry_id}")


@router.post("/enquiries/{enquiry_id}/close")
def close(request: Request, enquiry_id: int, reason: Annotated[str, Form(max_length=500)] = "",
          version: Annotated[int | None, Form(ge=1)] = None, principal: Principal = FormUser,
          db: Engine = Depends(engine)) -> Response:
    try:
        with transaction(db, principal.actor, reason.strip() or "关闭投资咨询") as conn:
            enquiries.close(conn, principal, enquiry_id, version)
    except HggisError as exc:
        if exc.kind in ("forbidden", "not_found"):
            raise
        with db.connect() as conn:
            return _list(request, conn, principal, None, 1, {enquiry_id: str(exc)}, status_code=409)
    return see_other(f"/enquiries?done={enquiry_id}#enquiry-{enquiry_id}")
