"""Server-rendered pages (Chinese)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection

from api.deps import Public, connection
from api.pages_common import render
from hggis.summary import dataset_label, holdings

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Public])


@router.get("/", response_class=HTMLResponse)
def home(request: Request, conn: Connection = Depends(connection)) -> HTMLResponse:
    return render(request, "home.html", {"h": holdings(conn), "demo": dataset_label(conn)})
