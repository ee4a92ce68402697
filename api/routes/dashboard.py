"""The plan dashboard page (/dashboard, 考核) and its Excel export: thin over hggis.dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from api.deps import SignedIn, connection, read_connection
from api.pages_common import render
from api.workbench import PageRoute
from hggis.access.policy import Principal, grant
from hggis.dashboard.excel import filename, workbook_bytes
from hggis.dashboard.pipeline import pipeline_dashboard
from hggis.dashboard.service import Dashboard, DashboardError, plan_dashboard
from hggis.investor.enquiries import counts_by_park
from hggis.summary import dataset_label

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)

Year = Annotated[int | None, Query(ge=1990, le=2100, description="year of the figures (default: latest)")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _dashboard(conn: Connection, principal: Principal, year: int | None) -> Dashboard:
    try:
        return plan_dashboard(conn, principal, year)
    except DashboardError as exc:
        raise HTTPException(422, detail=[{"loc": ["query", exc.field], "msg": exc.reason}]) from None


@router.get("/dashboard")
def dashboard_page(request: Request, year: Year = None, principal: Principal = SignedIn,
                   conn: Connection = Depends(connection)) -> Response:
    d = _dashboard(conn, principal, year)
    pipeline = pipeline_dashboard(conn, principal, d.year) if grant(principal, "projects", "read") else None
    enquiry_counts = counts_by_park(conn, principal) if grant(principal, "enquiries", "read") else None
    return render(request, "dashboard.html", {"d": d, "demo": dataset_label(conn), "pipeline": pipeline,
                                              "enquiry_counts": enquiry_counts})


@router.get("/dashboard.xlsx")
def dashboard_xlsx(year: Year = None, principal: Principal = SignedIn,
                   conn: Connection = Depends(read_connection)) -> Response:
    d = _dashboard(conn, principal, year)
    return Response(workbook_bytes(d, demo=dataset_label(conn) is not None), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename(d)}"'})
