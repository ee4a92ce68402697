"""Server-rendered pages (Chinese)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Connection

from api.deps import connection
from hggis.summary import dataset_label, holdings

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, conn: Connection = Depends(connection)) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, "home.html", {"h": holdings(conn), "demo": dataset_label(conn)}
    )
