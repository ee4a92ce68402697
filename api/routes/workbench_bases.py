"""块状经济基地 page: the bases with their members, output of a year and recognition status.

Thin: figures come from hggis.bases.service; a city administrator records the year's
recognition from the page (the decision keeps the figures it was based on).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import FormUser, PageRoute, PageUser, int_param, see_other, show
from hggis import clock
from hggis.access.policy import Principal, grant
from hggis.bases import service
from hggis.errors import HggisError

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)


def _year(value: str | None) -> int:
    return int_param(value, clock.today().year - 1, lo=1990, hi=2100)


def _page(request: Request, conn: Connection, principal: Principal, year: int, error: str | None = None,
          status_code: int = 200) -> Response:
    bases = service.base_outputs(conn, principal, year)
    return show(request, conn, "wb_bases.html", {
        "year": year, "bases": bases, "error": error, "threshold": service.THRESHOLD_YI,
        "may_decide": grant(principal, "clusters", "write") is not None,
        "recognised": sum(1 for b in bases if b["recognition"] and b["recognition"]["recognised"]),
        "done": request.query_params.get("done") == "1",
    }, status_code=status_code)


@router.get("/bases")
def page(request: Request, year: str = "", principal: Principal = PageUser,
         conn: Connection = Depends(connection)) -> Response:
    return _page(request, conn, principal, _year(year))


@router.post("/bases/recognitions")
def recognise(request: Request, year: Annotated[str, Form(max_length=4)] = "",
              reason: Annotated[str, Form(max_length=500)] = "", principal: Principal = FormUser,
              db: Engine = Depends(engine)) -> Response:
    y = _year(year)
    try:
        service.recognise(db, principal, y, None, reason.strip() or None)
    except HggisError as exc:
        with db.connect() as conn:
            return _page(request, conn, principal, y, str(exc), 403 if exc.kind == "forbidden" else 422)
    return see_other(f"/bases?year={y}&done=1")
