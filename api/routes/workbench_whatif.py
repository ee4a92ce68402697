"""腾笼换鸟测算 page: choose a D-class occupant's land, type in a candidate project, see before/after.

Thin: hggis.intensity.whatif computes (read-only, rolled back) and checks the role and the
park; this module only parses the form and shows the numbers.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine
from starlette.datastructures import FormData

from api.deps import connection, engine
from api.workbench import FormUser, PageRoute, PageUser, require_grant, show
from hggis.access.choices import place_names
from hggis.access.policy import Principal
from hggis.errors import HggisError
from hggis.intensity import whatif

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
NUMBERS = {"investment": "承诺投资", "yearly_tax": "预计年税收", "output": "预计年产值", "land_mu": "用地需求",
           "floor_area_m2": "规划总建筑面积"}
OPTIONAL = ("floor_area_m2",)


def _page(request: Request, conn: Connection, principal: Principal, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, result: dict | None = None, status: int = 200) -> Response:
    occupants = whatif.d_class_occupants(conn, principal)
    parks = place_names(conn)[1]
    choices = [(f"{o['enterprise_id']}:{o['park_id']}", f"{o['name']}（{parks.get(o['park_id'], '')}，"
                f"{o['land_mu']:.1f} 亩，{o['year']} 年 D 类）") for o in occupants]
    return show(request, conn, "wb_whatif.html", {"occupants": occupants, "occupant_choices": choices,
                                                  "values": values or {}, "errors": errors or {}, "result": result},
                status_code=status)


@router.get("/whatif")
def whatif_page(request: Request, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "land_swap", "simulate")
    return _page(request, conn, principal)


def _numbers(form: FormData) -> tuple[dict[str, float | None], dict[str, str]]:
    out: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for key, label in NUMBERS.items():
        raw = str(form.get(key, "")).strip().replace(",", "")
        if not raw and key in OPTIONAL:
            out[key] = None
            continue
        try:
            v = float(raw)
        except ValueError:
            errors[key] = f"{label}：请填写数字"
            continue
        if not math.isfinite(v) or v < 0:
            errors[key] = f"{label}：须为非负数"
        out[key] = v
    return out, errors


@router.post("/whatif")
async def whatif_run(request: Request, principal: Principal = FormUser,
                     db: Engine = Depends(engine)) -> Response:
    form = await request.form()
    values = {k: str(v)[:200] for k, v in form.items() if k != "csrf"}
    numbers, errors = _numbers(form)
    occupant = values.get("occupant", "")
    eid, _, park = occupant.partition(":")
    if not (eid.isdigit() and park.isdigit()):
        errors["occupant"] = "请选择 D 类企业用地"
    if not values.get("name", "").strip():
        errors["name"] = "请填写候选项目名称"
    result = None
    if not errors:
        cand = whatif.Commitments(name=values["name"].strip(), investment=numbers["investment"] or 0.0,
                                  yearly_tax=numbers["yearly_tax"] or 0.0, output=numbers["output"] or 0.0,
                                  land_mu=numbers["land_mu"] or 0.0, floor_area_m2=numbers["floor_area_m2"])
        try:
            result = whatif.what_if(db, principal, int(eid), cand, int(park))
        except HggisError as exc:
            if exc.kind == "forbidden":
                raise
            errors[exc.field if exc.field in NUMBERS else "_form"] = str(exc)
    with db.connect() as conn:
        return _page(request, conn, principal, values, errors, result, 422 if errors else 200)
