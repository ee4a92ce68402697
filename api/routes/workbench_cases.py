"""Idle-land case pages: the work queue, one case with its legal steps, flags to decide.

Thin: the queue is ``hggis.idle.deadlines.deadlines``; a case is ``hggis.idle.cases.get_case``
and its allowed next steps come from hggis.idle (hggis.workbench.case_steps); every step goes through
``hggis.idle.cases.transition`` (which refuses illegal steps with the legal reason), flags
through ``hggis.idle.flags``.
"""

from __future__ import annotations

import datetime as dt
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
from hggis import clock
from hggis.access.policy import Principal, can, grant
from hggis.db.session import transaction
from hggis.idle import cases, deadlines, documents as idle_documents, flags, scan
from hggis.idle.cases import ACTIONS, CaseError, CaseNotFound, IllegalTransition
from hggis.idle.tables import CASE_KINDS, CASE_STATES
from hggis.inputs import RowId
from hggis.workbench.case_form import DISPOSAL_CHOICES, DOCUMENT_HINTS, STEP_FIELDS, field_for_message, read_step
from hggis.workbench.case_steps import allowed_steps
from hggis.workbench.people import people

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
PAGE = 50
QUEUE_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("调查逾期", ("investigation_overdue",)),
    ("90 日内到期的闲置期限", ("threshold_1y", "threshold_2y", "threshold_halted", "threshold_halted_2y")),
    ("待办案件", ("case_waiting_officer",)),
    ("园区标记待核实", ("flag_waiting_officer",)),
    ("文书送达后的期限", ("document_reply", "document_hearing_request", "document_payment", "document_deregistration")),
)
KIND_LABELS = {"idle": "闲置土地", "low_efficiency": "低效用地"}
# the issued document a step's form offers as its document (the newest of these kinds)
STEP_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "issue_notice": ("investigation_notice",),
    "issue_finding": ("finding",),
    "decide_disposal": ("fee_decision", "recovery_decision"),
    "record_recovery": ("recovery_decision",),
}
Reason = Annotated[str, Form(max_length=1000)]


def _queue_page(request: Request, conn: Connection, principal: Principal, page: str | None = None,
                state: str | None = None, flag_errors: dict[int, str] | None = None,
                flag_values: dict[int, str] | None = None, status_code: int = 200) -> Response:
    require_grant(principal, "idle_cases")
    today = clock.today()
    due = deadlines.deadlines(conn, principal, today)
    sections = [(title, [d for d in due if d["kind"] in kinds]) for title, kinds in QUEUE_SECTIONS]
    chosen_state = choice(state, CASE_STATES)
    p = int_param(page, 1)
    listing = cases.list_cases(conn, principal, {"state": chosen_state}, open_only=chosen_state is None,
                               limit=PAGE, offset=(p - 1) * PAGE)
    open_flags = flags.list_flags(conn, principal, {"status": "open"}, limit=200)
    latest = scan.latest_scan_id(conn)
    return show(request, conn, "wb_cases.html", {
        "scan": scan.scan_summary(conn, principal, latest) if latest else None,
        "may_scan": grant(principal, "idle_cases", "write") is not None,
        "today": today, "sections": sections, "listing": listing, "state": chosen_state or "",
        "states": [(s, cases.STATE_LABELS[s]) for s in CASE_STATES],
        "pager": Pager(p, PAGE, listing["total"], "/cases", (("state", chosen_state),) if chosen_state else ()),
        "flags": open_flags["items"], "kinds": list(KIND_LABELS.items()),
        "people": people(conn, [f["flagged_by"] for f in open_flags["items"]]),
        "may_decide": grant(principal, "idle_cases", "write") is not None,
        "flag_errors": flag_errors or {}, "flag_values": flag_values or {},
        "dismissed": request.query_params.get("dismissed"),
    }, status_code=status_code)


@router.get("/cases")
def queue(request: Request, page: str | None = None, state: str | None = None, principal: Principal = PageUser,
          conn: Connection = Depends(connection)) -> Response:
    return _queue_page(request, conn, principal, page, state)


@router.post("/cases/scan")
def run_scan(principal: Principal = FormUser, db: Engine = Depends(engine)) -> Response:
    """Scan the caller's parcels against the idle-land rules as of today (stored; hggis.idle.scan)."""
    today = clock.today()
    reason = f"闲置土地扫描（截至 {today}，工作台）"
    with transaction(db, principal.actor, reason) as conn:
        summary = scan.run_scan(conn, principal, today, reason)
    return see_other(f"/cases/scans/{summary['id']}")


@router.get("/cases/scans/{scan_id}")
def scan_page(request: Request, scan_id: RowId, rule: str | None = None, page: str | None = None,
              principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "idle_cases")
    try:
        summary = scan.scan_summary(conn, principal, scan_id)
    except LookupError:
        raise PageNotFound(f"没有扫描记录 #{scan_id}") from None
    rule_code = choice(rule, {r["code"] for r in summary["by_rule"]})
    p = int_param(page, 1)
    found = scan.scan_results(conn, principal, scan_id, {"rule_code": rule_code}, PAGE, (p - 1) * PAGE)
    return show(request, conn, "wb_scan.html", {
        "s": summary, "rule": rule_code or "", "found": found,
        "may_open": {x["parcel_code"] for x in found["items"]
                     if not x["case_id"] and can(principal, "idle_cases", "write", x["adcode"], x["park_id"])},
        "pager": Pager(p, PAGE, found["total"], f"/cases/scans/{scan_id}", (("rule", rule_code),) if rule_code else ()),
    })


@router.post("/cases/scans/{scan_id}/open")
def open_from_scan(
    request: Request,
    scan_id: RowId,
    parcel_code: Annotated[str, Form(max_length=19)],
    rule_code: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=1000)] = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    """Open the case of one scan finding directly (an officer need not wait for a park's flag)."""
    with db.connect() as conn:
        found = scan.scan_results(conn, principal, scan_id, {"rule_code": rule_code}, 10_000, 0)
    item = next((x for x in found["items"] if x["parcel_code"] == parcel_code.strip().upper()), None)
    if item is None:
        raise PageNotFound(f"扫描 #{scan_id} 中没有宗地 {parcel_code} 的该项结果")
    kind = "idle" if item["category"] == "idle" else "low_efficiency"
    why = reason.strip() or f"依闲置土地扫描 #{scan_id}（{item['rule_name']}）立案"
    with transaction(db, principal.actor, why) as conn:
        case_id = cases.open_case(conn, principal, item["parcel_code"], clock.today(), why, kind=kind,
                                  rule_code=rule_code, source="scan", scan_id=scan_id)
    return see_other(f"/cases/{case_id}")


def _case_page(request: Request, conn: Connection, principal: Principal, case_id: RowId, status_code: int = 200,
               open_action: str | None = None, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, doc_values: dict[str, str] | None = None,
               doc_errors: dict[str, str] | None = None) -> Response:
    try:
        case = cases.get_case(conn, principal, case_id)
    except CaseNotFound:
        raise PageNotFound(f"没有案件 #{case_id}") from None
    may_write = can(principal, "idle_cases", "write", case["adcode"], case["park_id"])
    steps = allowed_steps(conn, principal, case_id) if may_write else []
    documents = [(e, d) for e in case["events"] if e["action"] != "issue_document" for d in (e["documents"] or [])]
    issued = idle_documents.list_documents(conn, principal, case_id)
    names = people(conn, [e["actor"] for e in case["events"]] + [f["flagged_by"] for f in case.get("flags", [])])
    return show(request, conn, "wb_case.html", {
        "c": case, "may_write": may_write, "steps": steps, "actions": ACTIONS, "step_fields": STEP_FIELDS,
        "doc_hints": DOCUMENT_HINTS, "disposal_choices": DISPOSAL_CHOICES, "documents": documents,
        "today": clock.today().isoformat(), "open_action": open_action, "values": values or {},
        "errors": errors or {}, "kind_labels": KIND_LABELS, "done": request.query_params.get("done"), "people": names,
        "issued": issued, "doc_kinds": list(idle_documents.KIND_LABELS.items()),
        "service_methods": list(idle_documents.METHOD_LABELS.items()),
        "proves_choices": [(str(d["id"]), f"{d['kind_label']} {d['number']}") for d in issued
                           if d["kind"] != "service_receipt"],
        "doc_values": doc_values or {}, "doc_errors": doc_errors or {},
        "step_documents": {action: (d["kind_label"], d["number"], str(d["issued_on"])) for action, kinds in
                           STEP_DOCUMENTS.items() for d in issued if d["kind"] in kinds},
    }, status_code=status_code)


@router.get("/cases/{case_id}")
def case(request: Request, case_id: RowId, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    return _case_page(request, conn, principal, case_id)


@router.post("/cases/{case_id}/steps/{action}")
async def step(request: Request, case_id: RowId, action: str, principal: Principal = FormUser,
               db: Engine = Depends(engine)) -> Response:
    if action not in ACTIONS:
        raise PageNotFound(f"没有这一步骤：{action}")
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf"}
    submitted = read_step(action, form)
    errors = dict(submitted.errors)
    if not errors and submitted.on is not None:  # read_step reports a missing date as an error
        try:
            with transaction(db, principal.actor, submitted.reason) as conn:
                cases.transition(conn, principal, case_id, action, submitted.on, submitted.reason,
                                 submitted.documents, **submitted.params)
            return see_other(f"/cases/{case_id}?done={action}#timeline")
        except CaseNotFound:
            raise PageNotFound(f"没有案件 #{case_id}") from None
        except CaseError as exc:  # IllegalTransition included: the legal reason, in Chinese
            message = str(exc)
            errors[field_for_message(action, message)] = message
    with db.connect() as conn:
        return _case_page(request, conn, principal, case_id, status_code=409 if "_form" in errors else 422,
                          open_action=action, values=submitted.values, errors=errors)


DOC_FIELDS = ("kind", "issued_on", "recipient", "proposed_disposal", "proves_document_id", "served_on",
              "service_method", "served_to", "reason")


def _read_document_form(form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """The issue form as (values to show again, arguments of issue_document, errors per field)."""
    values = {k: (form.get(k) or "").strip()[:1000] for k in DOC_FIELDS}
    errors: dict[str, str] = {}
    args: dict[str, Any] = {"params": {}}
    if values["kind"] not in idle_documents.KIND_LABELS:
        errors["kind"] = "请选择文书种类"
    for name in ("issued_on", "served_on"):
        if values[name]:
            try:
                args[name] = dt.date.fromisoformat(values[name])
            except ValueError:
                errors[name] = "请填写日期（年-月-日）"
    if len(values["reason"]) < 2:
        errors["reason"] = "请填写办理意见（至少 2 个字），将记入案卷"
    if bool(values["served_on"]) != bool(values["service_method"]):
        errors["service_method" if values["served_on"] else "served_on"] = "送达日期和送达方式须同时填写（或都不填，稍后登记送达）"
    if values["service_method"] and values["service_method"] not in idle_documents.METHOD_LABELS:
        errors["service_method"] = "请选择送达方式"
    if values["proves_document_id"]:
        if values["proves_document_id"].isdigit():
            args["params"]["proves_document_id"] = int(values["proves_document_id"])
        else:
            errors["proves_document_id"] = "请选择所证明的文书"
    if values["proposed_disposal"]:
        args["params"]["proposed_disposal"] = values["proposed_disposal"]
    return values, args, errors


@router.post("/cases/{case_id}/documents")
async def issue_document(request: Request, case_id: int, principal: Principal = FormUser,
                         db: Engine = Depends(engine)) -> Response:
    """Issue a numbered document (hggis.idle.documents refuses it naming the missing facts)."""
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf"}
    values, args, errors = _read_document_form(form)
    status = 422
    if not errors:
        service = (idle_documents.Service(args["served_on"], values["service_method"], values["served_to"] or None)
                   if args.get("served_on") else None)
        try:
            with transaction(db, principal.actor, values["reason"]) as conn:
                idle_documents.issue_document(conn, principal, case_id, values["kind"], values["reason"],
                                              args.get("issued_on"), values["recipient"] or None, service,
                                              **args["params"])
            return see_other(f"/cases/{case_id}?done=document#documents-section")
        except CaseNotFound:
            raise PageNotFound(f"没有案件 #{case_id}") from None
        except IllegalTransition as exc:
            errors["_form"], status = str(exc), 409
        except CaseError as exc:  # DocumentRefused included: the missing facts, in Chinese
            errors["_form"], status = str(exc), 422
    with db.connect() as conn:
        return _case_page(request, conn, principal, case_id, status_code=status, doc_values=values,
                          doc_errors=errors)


@router.post("/cases/{case_id}/documents/{doc_id}/service")
async def serve_document(request: Request, case_id: int, doc_id: int, principal: Principal = FormUser,
                         db: Engine = Depends(engine)) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf"}
    message = None
    try:
        served_on = dt.date.fromisoformat(form.get("served_on", ""))
        service = idle_documents.Service(served_on, form.get("service_method", ""), form.get("served_to") or None)
        with transaction(db, principal.actor, "登记文书送达") as conn:
            idle_documents.serve_document(conn, principal, case_id, doc_id, service, "登记文书送达")
        return see_other(f"/cases/{case_id}?done=service#documents-section")
    except ValueError as exc:  # CaseError included
        message = str(exc) if isinstance(exc, CaseError) else "请填写送达日期（年-月-日）"
    except CaseNotFound:
        raise PageNotFound(f"没有案件 #{case_id} 的文书 #{doc_id}") from None
    with db.connect() as conn:
        return _case_page(request, conn, principal, case_id, status_code=422, doc_errors={"_form": message})


@router.post("/cases/flags/{flag_id}/confirm")
def confirm_flag(
    request: Request, flag_id: RowId, reason: Reason = "", kind: Annotated[str, Form(max_length=20)] = "idle",
    principal: Principal = FormUser, db: Engine = Depends(engine),
) -> Response:
    return _decide(request, flag_id, principal, db, reason, lambda conn: flags.confirm_flag(
        conn, principal, flag_id, reason.strip(), clock.today(), choice(kind, CASE_KINDS, "idle") or "idle"))


@router.post("/cases/flags/{flag_id}/dismiss")
def dismiss_flag(request: Request, flag_id: RowId, reason: Reason = "", principal: Principal = FormUser,
                 db: Engine = Depends(engine)) -> Response:
    return _decide(request, flag_id, principal, db, reason,
                   lambda conn: flags.dismiss_flag(conn, principal, flag_id, reason.strip(), clock.today()))


def _decide(request: Request, flag_id: RowId, principal: Principal, db: Engine, reason: str, work) -> Response:  # noqa: ANN001
    """Confirm (→ the case page) or dismiss a flag; a refusal is shown beside that flag's form."""
    message = None
    if len(reason.strip()) < 2:
        message = "请填写核实意见（至少 2 个字），将记入案卷"
    else:
        try:
            with transaction(db, principal.actor, reason.strip()) as conn:
                case_id = work(conn)
            if case_id:
                return see_other(f"/cases/{case_id}?done=from_flag")
            return see_other(f"/cases?dismissed={flag_id}")
        except CaseNotFound:
            raise PageNotFound(f"没有标记 #{flag_id}") from None
        except CaseError as exc:
            message = str(exc)
    with db.connect() as conn:
        return _queue_page(request, conn, principal, flag_errors={flag_id: message},
                           flag_values={flag_id: reason}, status_code=422)
