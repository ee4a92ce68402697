"""The parcel page: facts, map inset, indicators, per-mu result, idle findings, history, actions.

Thin: the page's data comes from ``hggis.workbench.parcel_view.parcel_page``; the officer's
edit goes through ``hggis.workbench.parcel_form.submit_edit`` (→ ``update_parcel`` with its
version check) and the park manager's flag through ``hggis.idle.flags.flag_parcel``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import Caller, Public, connection, engine
from api.nav import maps_href
from api.routes.investor import share_url
from api.security import client_key
from api.workbench import (
    FormUser,
    PageNotFound,
    Pager,
    PageRoute,
    int_param,
    see_other,
    show,
)
from hggis import clock
from hggis.access.policy import PUBLIC, Principal
from hggis.db.models import SUPPLY_METHODS
from hggis.db.session import transaction
from hggis.errors import HggisError, NotFound
from hggis.idle.cases import CaseError, CaseNotFound
from hggis.idle.flags import flag_parcel
from hggis.inputs import RowId
from hggis.investor import enquiries
from hggis.investor.commitments import InvalidProjectSize, commitments, project_mu
from hggis.investor.terms import OFFER_FIELDS, InvalidTerms, StaleTerms, set_offer
from hggis.occupancies import (
    InvalidOccupancy,
    OccupancyInput,
    OccupancyNotFound,
    StaleOccupancy,
    add_occupancy,
    delete_occupancy,
    update_occupancy,
)
from hggis.workbench.parcel_form import (
    FORM_FIELDS,
    LABELS,
    EditOutcome,
    form_values,
    submit_edit,
)
from hggis.workbench.parcel_view import ParcelNotFound, edit_options, parcel_page

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
HISTORY_PAGE = 30
FLAG_NOTE_MAX = 2000


def _data(conn: Connection, principal: Principal, code: str) -> dict[str, Any]:
    try:
        return parcel_page(conn, principal, code)
    except ParcelNotFound as exc:
        raise PageNotFound(str(exc)) from None


def _project_size(data: dict[str, Any], raw: str | None) -> str | None:
    """Recompute the investor's commitments for the size the visitor typed; the refusal, if any."""
    inv = data.get("investor")
    if inv is None or not raw:
        return None
    try:
        size = project_mu(raw, inv["parcel"]["area_mu"])
    except InvalidProjectSize as exc:
        return str(exc)
    inv["project_mu"], inv["commitments"] = size, commitments(inv["_values"], size)
    return None


def _page(
    request: Request,
    conn: Connection,
    principal: Principal,
    code: str,
    status_code: int = 200,
    edit: EditOutcome | None = None,
    flag_values: dict[str, str] | None = None,
    flag_errors: dict[str, str] | None = None,
    hpage: int = 1,
    occ_error: str | None = None,
    occ_values: dict[str, str] | None = None,
    mu: str | None = None,
    enquiry_error: str | None = None,
    enquiry_values: dict[str, str] | None = None,
    offer_error: str | None = None,
) -> Response:
    data = _data(conn, principal, code)
    context: dict[str, Any] = {"d": data, "flag_values": flag_values or {}, "flag_errors": flag_errors or {},
                               "maps": maps_href(request), "occ_error": occ_error, "occ_values": occ_values or {}}
    context["mu_error"] = _project_size(data, mu)
    if data.get("investor"):
        code_ = data["investor"]["parcel"]["code"]
        context.update(share_url=share_url(request, code_), form_token=enquiries.form_token(code_),
                       enquiry_error=enquiry_error, enquiry_values=enquiry_values or {},
                       enquiry_sent=request.query_params.get("enquiry") == "sent", honeypot=enquiries.HONEYPOT,
                       enquiry_limits=enquiries.FIELD_LIMITS)
    context["offer_error"] = offer_error
    context["offer_fields"] = OFFER_FIELDS
    context["supply_methods"] = SUPPLY_METHODS
    if not data["public"]:
        parcel = data["parcel"]
        history = data["history"]
        pager = Pager(hpage, HISTORY_PAGE, len(history), f"/parcels/{parcel['code']}", param="hpage")
        context["history_page"] = history[pager.offset:pager.offset + HISTORY_PAGE]
        context["history_pager"] = pager
        if data["may_edit"]:
            context["edit_fields"] = FORM_FIELDS
            context["edit_labels"] = LABELS
            context["edit_options"] = edit_options(conn, parcel["adcode"])
            context["edit_values"] = edit.values if edit else form_values(parcel)
            context["edit_errors"] = edit.errors if edit else {}
            context["edit_stale"] = edit.stale if edit else None
            # after a stale edit the form carries the current version: saving again is a deliberate overwrite
            context["edit_version"] = parcel["version"]
        context["saved"] = request.query_params.get("saved")
        context["flagged"] = request.query_params.get("flagged")
    return show(request, conn, "wb_parcel.html", context, status_code=status_code)


@router.get("/parcels/{code}")
def parcel(request: Request, code: str, hpage: str | None = None, mu: str | None = None, principal: Principal = Caller,
           conn: Connection = Depends(connection)) -> Response:
    return _page(request, conn, principal, code, hpage=int_param(hpage, 1), mu=(mu or "")[:20] or None)


ENQUIRY_FORM_FIELDS = ("name", "firm", "contact", "project", "land_need_mu")
ENQUIRY_STATUS = {"too_many": 429, "conflict": 409}


@router.post("/parcels/{code}/enquiries")
async def send_enquiry(request: Request, code: str, _: None = Public, db: Engine = Depends(engine)) -> Response:
    """The public enquiry form of land on offer: no account; the defences are in hggis.investor.enquiries."""
    form = await request.form()
    values = {k: str(form.get(k, ""))[:10_000] for k in ENQUIRY_FORM_FIELDS}
    try:
        with transaction(db, "public (投资咨询表单)", "投资者在挂牌地块页面提交咨询") as conn:
            sent = enquiries.submit(conn, code, values, client_key(request), str(form.get("form_token", ""))[:200],
                                    str(form.get(enquiries.HONEYPOT, ""))[:1000])
    except NotFound as exc:
        raise PageNotFound(str(exc)) from None
    except HggisError as exc:
        with db.connect() as conn:
            return _page(request, conn, PUBLIC, code, status_code=ENQUIRY_STATUS.get(exc.kind, 422),
                         enquiry_error=str(exc), enquiry_values=values)
    return see_other(f"/parcels/{sent['code']}?enquiry=sent#enquiry")


@router.post("/parcels/{code}/offer")
async def edit_offer(request: Request, code: str, reason: Annotated[str, Form(max_length=500)] = "",
                     version: Annotated[int | None, Form(ge=0)] = None, principal: Principal = FormUser,
                     db: Engine = Depends(engine)) -> Response:
    """The officer's form for 起始价, 供地方式 and listing dates (set_offer checks scope and values)."""
    form = await request.form()
    values = {k: str(form.get(k, ""))[:1000] for k in OFFER_FIELDS}
    if len(reason.strip()) < 2:
        with db.connect() as conn:
            return _page(request, conn, principal, code, status_code=422, offer_error="请填写修改原因（记入变更历史）")
    try:
        with transaction(db, principal.actor, reason.strip()) as conn:
            saved = set_offer(conn, principal, code, values, version)
    except (InvalidTerms, StaleTerms) as exc:
        with db.connect() as conn:
            return _page(request, conn, principal, code, status_code=409 if exc.kind == "conflict" else 422,
                         offer_error=str(exc))
    return see_other(f"/parcels/{saved['code']}?saved_offer={saved['version']}#offer")


@router.post("/parcels/{code}/edit")
async def edit_parcel(
    request: Request,
    code: str,
    version: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form(max_length=1000)] = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    form = await request.form()
    submitted = {name: str(form.get(name, ""))[:1000] for name, _, _ in FORM_FIELDS}
    with db.connect() as conn:
        parcel = _data(conn, principal, code)["parcel"]
    with transaction(db, principal.actor, reason.strip() or None) as conn:
        outcome = submit_edit(conn, principal, parcel, submitted, version, reason)
    if outcome.saved:
        return see_other(f"/parcels/{parcel['code']}?saved={outcome.new_version}#history")
    with db.connect() as conn:
        return _page(request, conn, principal, code, status_code=409 if outcome.stale else 422, edit=outcome)


@router.post("/parcels/{code}/flag")
def flag(
    request: Request,
    code: str,
    note: Annotated[str, Form(max_length=FLAG_NOTE_MAX)] = "",
    document_ref: Annotated[str, Form(max_length=1000)] = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    values = {"note": note, "document_ref": document_ref}
    errors: dict[str, str] = {}
    if len(note.strip()) < 2:
        errors["note"] = "请写明现场所见（至少 2 个字），例如“厂房空置，无生产迹象”"
    if not errors:
        try:
            with transaction(db, principal.actor, note.strip()) as conn:
                flag_id = flag_parcel(conn, principal, code, note.strip(), document_ref.strip() or None, clock.today())
            return see_other(f"/parcels/{code.strip().upper()}?flagged={flag_id}#idle")
        except CaseNotFound as exc:
            raise PageNotFound(str(exc)) from None
        except CaseError as exc:
            errors["_flag"] = f"未能标记：{exc}"
    with db.connect() as conn:
        return _page(request, conn, principal, code, status_code=422, flag_values=values, flag_errors=errors)



def _occupancy_outcome(request: Request, db: Engine, principal: Principal, code: str, act: Any,
                       values: dict[str, str] | None = None) -> Response:
    """Run an occupancy change; back to the table on success, the page with the reason otherwise."""
    try:
        act()
    except OccupancyNotFound as exc:
        raise PageNotFound(str(exc)) from None
    except (InvalidOccupancy, StaleOccupancy) as exc:
        with db.connect() as conn:
            status = 409 if isinstance(exc, StaleOccupancy) else 422
            return _page(request, conn, principal, code, status_code=status, occ_error=str(exc), occ_values=values)
    return see_other(f"/parcels/{code.strip().upper()}?saved=occupancy#occupants")


def _number(text_: str, field: str) -> float | None:
    text_ = text_.strip().rstrip("%％")
    if not text_:
        return None
    try:
        return float(text_)
    except ValueError:
        raise InvalidOccupancy(f"{field}：{text_!r} 不是数字", field=field) from None


def _day(text_: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text_.strip()) if text_.strip() else None
    except ValueError:
        raise InvalidOccupancy(f"日期 {text_!r} 不可识别（请写 2024-03-01）") from None


@router.post("/parcels/{code}/occupancies")
def add_occupancy_form(
    request: Request,
    code: str,
    credit_code: Annotated[str, Form(max_length=40)],
    role: Annotated[str, Form(max_length=20)] = "lessee",
    share_pct: Annotated[str, Form(max_length=20)] = "",
    floor_area_m2: Annotated[str, Form(max_length=20)] = "",
    valid_from: Annotated[str, Form(max_length=20)] = "",
    valid_to: Annotated[str, Form(max_length=20)] = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    values = {"credit_code": credit_code, "share_pct": share_pct, "floor_area_m2": floor_area_m2,
              "valid_from": valid_from, "valid_to": valid_to}

    def act() -> None:
        pct = _number(share_pct, "份额")
        data = OccupancyInput(parcel_code=code, credit_code=credit_code.strip(), role=role,
                              share=None if pct is None else pct / 100.0,
                              floor_area_m2=_number(floor_area_m2, "使用建筑面积"),
                              valid_from=_day(valid_from), valid_to=_day(valid_to))
        with transaction(db, principal.actor, "登记用地企业") as conn:
            add_occupancy(conn, principal, data)

    return _occupancy_outcome(request, db, principal, code, act, values)


@router.post("/parcels/{code}/occupancies/{occupancy_id}/end")
def end_occupancy_form(
    request: Request,
    code: str,
    occupancy_id: RowId,
    version: Annotated[int, Form(ge=1, le=2_000_000_000)],
    valid_to: Annotated[str, Form(max_length=20)],
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    def act() -> None:
        with transaction(db, principal.actor, "用地企业终止使用") as conn:
            update_occupancy(conn, principal, occupancy_id, {"valid_to": _day(valid_to)}, version)

    return _occupancy_outcome(request, db, principal, code, act)


@router.post("/parcels/{code}/occupancies/{occupancy_id}/delete")
def delete_occupancy_form(
    request: Request,
    code: str,
    occupancy_id: RowId,
    version: Annotated[int, Form(ge=1, le=2_000_000_000)],
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    def act() -> None:
        with transaction(db, principal.actor, "删除误录的用地企业记录") as conn:
            delete_occupancy(conn, principal, occupancy_id, version)

    return _occupancy_outcome(request, db, principal, code, act)
