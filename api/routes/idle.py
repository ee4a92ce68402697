"""Idle and low-efficiency land: scans, cases, flags, deadlines, the public listing.

Thin: each route parses input, calls one hggis.idle function (which checks role and
scope itself) and formats the answer. Refusals: 403 outside scope (global handler),
404 unknown object, 409 a step the procedure does not allow, 422 bad input.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import Caller, SignedIn, connection, engine
from hggis import clock
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.idle import cases, deadlines as dl, flags, listing, rules, scan
from hggis.idle.tables import CASE_KINDS, CASE_STATES, DISPOSAL_KINDS, FLAG_STATUSES, RULE_CATEGORIES
from hggis.inputs import INT4_MAX, MAX_OFFSET, RowId

router = APIRouter(prefix="/api/idle", tags=["idle land 闲置土地"])

Adcode = Annotated[str | None, Query(pattern=r"^4211[0-9]{2}$")]
ParkId = Annotated[int | None, Query(ge=1, le=INT4_MAX)]
Limit = Annotated[int, Query(ge=1, le=5000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Reason = Annotated[str, Field(min_length=2, max_length=1000)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _one_of(name: str, value: str | None, allowed: tuple[str, ...] | list[str]) -> None:
    if value is not None and value not in allowed:
        raise HTTPException(422, detail=[{"loc": ["query", name], "msg": f"unknown {name} {value!r}: one of {', '.join(allowed)}"}])


# ---- rules and scans ------------------------------------------------------------------


@router.get("/rules", summary="The rule set in force on a date, its rules with legal basis, reason codes")
def get_rules(
    as_of: dt.date | None = None, principal: Principal = SignedIn, conn: Connection = Depends(connection)
) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        rs = rules.rule_set_in_force(conn, as_of or clock.today())
        return {
            "rule_set": rs.as_dict(),
            "rules": rules.rule_catalogue(conn, rs.id),
            "delay_reasons": rules.delay_reasons(conn),
            "banned_industries": rules.banned_industries(conn, rs.id),
        }

    return act()


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: dt.date
    reason: str | None = Field(None, max_length=500)


@router.post("/scans", status_code=201, summary="Run a scan as of a date (stored; county officers: their counties)")
def post_scan(body: ScanRequest, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            return scan.run_scan(conn, principal, body.as_of, body.reason)

    return act()


@router.get("/scans", summary="Stored scans, newest first")
def get_scans(principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return scan.list_scans(conn, principal)


@router.get("/scans/{scan_id}", summary="One scan: header and counts per rule in your scope")
def get_scan(scan_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return scan.scan_summary(conn, principal, scan_id)


@router.get("/scans/{scan_id}/results", summary="Candidates: rule, days idle, fee, legal basis, next deadline")
def get_scan_results(
    scan_id: RowId,
    rule_code: str | None = None,
    category: str | None = None,
    adcode: Adcode = None,
    park_id: ParkId = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    _one_of("category", category, RULE_CATEGORIES)
    filters = {"rule_code": rule_code, "category": category, "adcode": adcode, "park_id": park_id}
    return scan.scan_results(conn, principal, scan_id, filters, limit, offset)


@router.get("/scans/{newer}/diff", summary="Parcels whose fired rules changed since an older scan")
def get_scan_diff(
    newer: RowId,
    against: Annotated[int, Query(ge=1, le=INT4_MAX, description="the older scan's id")],
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    rows = scan.diff_scans(conn, principal, against, newer)
    return {"older": against, "newer": newer, "changes": rows}


# ---- cases ----------------------------------------------------------------------------


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(..., min_length=2, max_length=100, description="e.g. 闲置土地调查通知书")
    number: str = Field(..., min_length=1, max_length=200, description="文号")
    date: dt.date | None = None
    uri: str | None = Field(None, max_length=1000)

    def to_document(self) -> cases.Document:
        return cases.Document(self.kind, self.number, self.date, self.uri)


class CaseOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parcel_code: str = Field(..., min_length=19, max_length=19)
    opened_on: dt.date
    reason: Reason
    kind: Literal[CASE_KINDS] = "idle"  # type: ignore[valid-type]
    rule_code: str | None = None
    documents: list[DocumentIn] = []


@router.post("/cases", status_code=201, summary="Open a case on a parcel (疑似闲置)")
def post_case(body: CaseOpen, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            case_id = cases.open_case(
                conn, principal, body.parcel_code, body.opened_on, body.reason, body.kind, body.rule_code,
                documents=[d.to_document() for d in body.documents],
            )
            return cases.get_case(conn, principal, case_id)

    return act()


class CasesFromScan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    opened_on: dt.date
    reason: Reason
    rule_codes: list[str] | None = None


@router.post("/scans/{scan_id}/cases", status_code=201, summary="Open a case for every idle candidate without one")
def post_cases_from_scan(
    scan_id: RowId, body: CasesFromScan, principal: Principal = SignedIn, db: Engine = Depends(engine)
) -> dict[str, Any]:
    def act() -> list[int]:
        with transaction(db, principal.actor, body.reason) as conn:
            return cases.open_cases_from_scan(conn, principal, scan_id, body.opened_on, body.reason, body.rule_codes)

    ids = act()
    return {"opened": len(ids), "case_ids": ids}


@router.get("/cases", summary="Cases in your scope (park managers: their parks)")
def get_cases(
    state: str | None = None,
    kind: str | None = None,
    adcode: Adcode = None,
    park_id: ParkId = None,
    open_only: bool = False,
    limit: Limit = 200,
    offset: Offset = 0,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    _one_of("state", state, CASE_STATES)
    _one_of("kind", kind, CASE_KINDS)
    filters = {"state": state, "kind": kind, "adcode": adcode, "park_id": park_id}
    return cases.list_cases(conn, principal, filters, open_only, limit, offset)


@router.get("/cases/{case_id}", summary="One case with its complete history")
def get_case(case_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return cases.get_case(conn, principal, case_id)


class Indicators(BaseModel):
    model_config = ConfigDict(extra="forbid")
    investment_intensity: Decimal = Field(..., gt=0, description="万元/亩")
    far_min: Decimal | None = Field(None, ge=0)
    far_max: Decimal | None = Field(None, ge=0)
    tax_per_mu: Decimal | None = Field(None, ge=0)
    output_intensity: Decimal | None = Field(None, ge=0)
    energy_per_output: Decimal | None = Field(None, ge=0)
    environment_standard: str | None = Field(None, max_length=500)
    building_coverage_min: Decimal | None = Field(None, ge=0, le=100)
    green_ratio_max: Decimal | None = Field(None, ge=0, le=100)
    admin_ratio_max: Decimal | None = Field(None, ge=0, le=100)
    construction_months: int | None = Field(None, ge=1, le=240)
    production_months: int | None = Field(None, ge=1, le=240)


class Step(BaseModel):
    """One step; the fields after ``documents`` belong to particular actions only."""

    model_config = ConfigDict(extra="forbid")
    action: Literal[tuple(cases.ACTIONS)]  # type: ignore[valid-type]
    on: dt.date
    reason: Reason
    documents: list[DocumentIn] = []
    kind: Literal[DISPOSAL_KINDS] | None = None  # type: ignore[valid-type]
    idle_since: dt.date | None = None
    new_start_date: dt.date | None = None
    new_completion_date: dt.date | None = None
    temporary_use_until: dt.date | None = None
    swap_parcel_code: str | None = Field(None, min_length=19, max_length=19)
    compensation: Decimal | None = Field(None, ge=0, description="万元")
    indicators: Indicators | None = None
    intended_industry: str | None = Field(None, max_length=32)
    paid_on: dt.date | None = None


@router.post("/cases/{case_id}/steps", summary="Apply one step of the procedure (409 when not allowed)")
def post_step(case_id: RowId, body: Step, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    params = body.model_dump(exclude_none=True, exclude={"action", "on", "reason", "documents"})
    if body.indicators is not None:
        params["indicators"] = body.indicators.model_dump(exclude_none=True)

    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            return cases.transition(
                conn, principal, case_id, body.action, body.on, body.reason,
                [d.to_document() for d in body.documents], **params,
            )

    return act()


class CauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason_code: str = Field(..., max_length=50)
    on: dt.date
    reason: Reason
    evidence_ref: str | None = Field(None, max_length=500)
    note: str | None = Field(None, max_length=2000)


@router.post("/parcels/{code}/causes", status_code=201, summary="Record a government cause / force majeure (第八条)")
def post_cause(code: str, body: CauseIn, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    def act() -> int:
        with transaction(db, principal.actor, body.reason) as conn:
            return cases.record_cause(conn, principal, code, body.reason_code, body.on, body.reason,
                                      body.evidence_ref, body.note)

    return {"id": act()}


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agreement_no: str = Field(..., min_length=1, max_length=200)
    signed_on: dt.date
    new_start_date: dt.date
    reason: Reason
    kind: Literal["extension", "change_of_use", "temporary_use"] = "extension"
    new_completion_date: dt.date | None = None
    temporary_use_until: dt.date | None = None


@router.post("/parcels/{code}/agreements", status_code=201, summary="Record an agreement with a new start date")
def post_agreement(code: str, body: AgreementIn, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    def act() -> int:
        with transaction(db, principal.actor, body.reason) as conn:
            return cases.record_extension(conn, principal, code, body.agreement_no, body.signed_on,
                                          body.new_start_date, body.reason, body.kind, body.new_completion_date,
                                          body.temporary_use_until)

    return {"id": act()}


# ---- flags ----------------------------------------------------------------------------


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parcel_code: str = Field(..., min_length=19, max_length=19)
    note: str = Field(..., min_length=2, max_length=2000)
    document_ref: str | None = Field(None, max_length=1000, description="photo or document reference")
    on: dt.date | None = None


@router.post("/flags", status_code=201, summary="Flag a plot as possibly idle (park managers: own parks)")
def post_flag(body: FlagIn, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    def act() -> int:
        with transaction(db, principal.actor, body.note) as conn:
            return flags.flag_parcel(conn, principal, body.parcel_code, body.note, body.document_ref, body.on)

    return {"id": act()}


@router.get("/flags", summary="Flags in your scope, with the case each led to")
def get_flags(
    status: str | None = None,
    adcode: Adcode = None,
    park_id: ParkId = None,
    limit: Limit = 200,
    offset: Offset = 0,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> dict[str, Any]:
    _one_of("status", status, FLAG_STATUSES)
    return flags.list_flags(conn, principal, {"status": status, "adcode": adcode, "park_id": park_id}, limit, offset)


class FlagDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    on: dt.date | None = None
    kind: Literal[CASE_KINDS] = "idle"  # type: ignore[valid-type]
    rule_code: str | None = None


@router.post("/flags/{flag_id}/confirm", summary="Confirm a flag: opens a case (county officers)")
def post_confirm(flag_id: RowId, body: FlagDecision, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    def act() -> int:
        with transaction(db, principal.actor, body.reason) as conn:
            return flags.confirm_flag(conn, principal, flag_id, body.reason, body.on, body.kind, body.rule_code)

    return {"flag_id": flag_id, "case_id": act()}


class FlagDismissal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    on: dt.date | None = None


@router.post("/flags/{flag_id}/dismiss", summary="Dismiss a flag with a reason (county officers)")
def post_dismiss(flag_id: RowId, body: FlagDismissal, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict:
    def act() -> None:
        with transaction(db, principal.actor, body.reason) as conn:
            flags.dismiss_flag(conn, principal, flag_id, body.reason, body.on)

    act()
    return {"flag_id": flag_id, "status": "dismissed"}


# ---- deadlines and the public listing -------------------------------------------------


@router.get("/deadlines", summary="Overdue investigations, thresholds ahead, cases and flags waiting (json|csv|xlsx)",
            responses={200: {"content": {"application/json": {}, "text/csv": {}, XLSX: {}}}})
def get_deadlines(
    as_of: dt.date | None = None,
    lookahead_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    format: Literal["json", "csv", "xlsx"] = "json",  # noqa: A002
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> Any:
    day = as_of or clock.today()
    rows = dl.deadlines(conn, principal, day, lookahead_days)
    name = f"idle-deadlines-{day.isoformat()}"
    if format == "csv":
        return Response(dl.to_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format == "xlsx":
        return Response(dl.to_xlsx(rows, day),
                        media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return {"as_of": day, "items": rows}


@router.get("/public-listing", summary="Publicly listed idle land: location, holder name, idle since (public)")
def get_public_listing(
    adcode: Adcode = None, principal: Principal = Caller, conn: Connection = Depends(connection)
) -> dict[str, Any]:
    return {"items": listing.public_listing(conn, principal, adcode)}
