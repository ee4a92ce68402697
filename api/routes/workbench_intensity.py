"""开发区土地集约利用评价 page: a run's parks with score, indicators and potentials; running a year.

Thin: every figure comes from hggis.intensity.runs, which checks the role and the scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import FormUser, PageRoute, PageUser, int_param, require_grant, see_other, show
from hggis import clock
from hggis.access.policy import Principal, grant
from hggis.errors import HggisError
from hggis.intensity import runs

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
#: the indicators the page's table shows (the report has all of them)
SHOWN = ("supply_rate", "built_rate", "industrial_far", "building_coefficient", "investment_intensity",
         "industrial_tax_per_mu", "idle_disposal_rate")


def _page(request: Request, conn: Connection, principal: Principal, run_id: int | None,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    all_runs = runs.list_runs(conn, principal)
    by_id = {r["id"]: r for r in all_runs}
    run = by_id.get(run_id) if run_id in by_id else (all_runs[0] if all_runs else None)
    results = runs.read_results(conn, principal, run["id"]) if run else []
    for r in results:
        r["by_key"] = {i["key"]: i for i in r["indicators"]}
    shown = [i for i in (results[0]["indicators"] if results else []) if i["key"] in SHOWN and i["enabled"]]
    return show(request, conn, "wb_intensity.html", {
        "run": run, "results": results, "shown": shown,
        "run_choices": [(r["id"], f"{r['year']} 年度 · 批次 #{r['id']}（{clock.display_date(r['created_at'])}）")
                        for r in all_runs],
        "may_run": grant(principal, "evaluation", "run") is not None,
        "may_simulate": grant(principal, "land_swap", "simulate") is not None,
        "values": values or {}, "errors": errors or {},
    }, status_code=status)


@router.get("/intensity")
def intensity_page(request: Request, run: str | None = None, principal: Principal = PageUser,
                   conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "evaluation")
    return _page(request, conn, principal, int_param(run, 0, lo=0) or None)


@router.post("/intensity/run")
def run_intensity(request: Request, year: Annotated[str, Form(max_length=4)] = "",
                  reason: Annotated[str, Form(max_length=500)] = "", principal: Principal = FormUser,
                  db: Engine = Depends(engine)) -> Response:
    values: dict[str, Any] = {"year": year, "reason": reason}
    errors: dict[str, str] = {}
    y = int_param(year, 0, lo=0)
    if not 1990 <= y <= 2100:
        errors["year"] = "请填写评价年度（四位数字，例如 2024）"
    else:
        try:
            summary = runs.run_intensity(db, principal, y, None, reason.strip() or None)
            return see_other(f"/intensity?run={summary.run_id}&done=1")
        except HggisError as exc:
            if exc.kind == "forbidden":
                raise
            errors["_run"] = f"未能评价：{exc}"
    with db.connect() as conn:
        return _page(request, conn, principal, None, values, errors, 422)
