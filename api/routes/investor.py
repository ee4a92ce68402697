"""The investor's doors over HTTP: the public view and PDF sheet of land on offer, the officers'
setting of offer terms and park contacts, and the enquiries API.

Thin: every rule is in ``hggis.investor``; writes run in ``transaction`` with the caller's
reason so history says who and why.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import Public, SignedIn, connection, engine
from hggis.access.policy import Principal
from hggis.db.models import ENQUIRY_STATUSES
from hggis.db.session import transaction
from hggis.inputs import INT4_MAX
from hggis.investor import enquiries
from hggis.investor.commitments import commitments, project_mu
from hggis.investor.portal import investor_view, public_part
from hggis.investor.sheet import parcel_sheet
from hggis.investor.terms import set_offer, set_park_contacts

router = APIRouter(tags=["investor"])
RowId = Annotated[int, Field(ge=1, le=INT4_MAX)]


def share_url(request: Request, code: str) -> str:
    """The stable public address of a parcel page (behind a proxy: the host the visitor used)."""
    return str(request.base_url).rstrip("/") + f"/parcels/{code}"


@router.get("/api/parcels/{code}/investor", summary="Public investor view of land on offer (terms, indicators, "
            "commitments for a project size, park and contacts, distances, chain links)")
def investor(code: str, mu: Annotated[str | None, Query(max_length=20, description="project size in 亩")] = None,
             _: None = Public, conn: Connection = Depends(connection)) -> dict[str, Any]:
    view = investor_view(conn, code)
    if mu:
        size = project_mu(mu, view["parcel"]["area_mu"])
        view["project_mu"], view["commitments"] = size, commitments(view["_values"], size)
    return public_part(view)


@router.get("/parcels/{code}/sheet.pdf", summary="地块推介 one-page PDF of land on offer", response_class=Response,
            include_in_schema=False)
def sheet(request: Request, code: str, _: None = Public, conn: Connection = Depends(connection)) -> Response:
    code = code.strip().upper()
    pdf = parcel_sheet(conn, code, share_url(request, code))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="dikuai-tuijie-{code}.pdf"',
                             "Cache-Control": "no-store"})


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_price: float | str | None = Field(None, description="起始价, 万元")
    supply_method: str | None = Field(None, description="挂牌, 拍卖, 招标, 协议, 先租后让 or 弹性年期出让")
    listing_start: str | None = None
    listing_end: str | None = None
    term_years: int | str | None = None
    note: str | None = Field(None, max_length=500)
    version: int | None = Field(None, ge=0, description="the version you read (0: none yet)")
    reason: str = Field(..., min_length=2, max_length=500)


@router.put("/api/parcels/{code}/offer", summary="Set the published offer terms (起始价, 供地方式, listing dates)")
def put_offer(code: str, body: OfferIn, principal: Principal = SignedIn, db: Engine = Depends(engine)) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True, exclude={"reason", "version"})
    with transaction(db, principal.actor, body.reason) as conn:
        return set_offer(conn, principal, code, values, body.version)


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_office: str | None = Field(None, max_length=500)
    contact_person: str | None = Field(None, max_length=500)
    contact_phone: str | None = Field(None, max_length=500)
    contact_email: str | None = Field(None, max_length=500)
    contact_address: str | None = Field(None, max_length=500)
    version: int | None = Field(None, ge=1)
    reason: str = Field(..., min_length=2, max_length=500)


@router.put("/api/parks/{park_id}/contacts", summary="Set a park's 招商 office contacts")
def put_contacts(park_id: RowId, body: ContactsIn, principal: Principal = SignedIn,
                 db: Engine = Depends(engine)) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True, exclude={"reason", "version"})
    with transaction(db, principal.actor, body.reason) as conn:
        return set_park_contacts(conn, principal, park_id, values, body.version)


@router.get("/api/enquiries", summary="Investor enquiries in your scope (park managers: their parks)")
def list_enquiries(status: Annotated[str | None, Query(description="one of: " + ", ".join(ENQUIRY_STATUSES))] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
                   principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return enquiries.list_enquiries(conn, principal, status, limit, offset)


@router.get("/api/enquiries/counts", summary="Open / answered / closed enquiries per park (your scope)")
def enquiry_counts(principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return enquiries.counts_by_park(conn, principal)


@router.get("/api/enquiries/{enquiry_id}", summary="One enquiry")
def get_enquiry(enquiry_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return enquiries.get_enquiry(conn, principal, enquiry_id)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(..., min_length=1, max_length=enquiries.ANSWER_MAX)
    version: int | None = Field(None, ge=1)


@router.post("/api/enquiries/{enquiry_id}/answer", summary="Answer an enquiry")
def answer_enquiry(enquiry_id: RowId, body: AnswerIn, principal: Principal = SignedIn,
                   db: Engine = Depends(engine)) -> dict[str, Any]:
    with transaction(db, principal.actor, "答复投资咨询") as conn:
        return enquiries.answer(conn, principal, enquiry_id, body.answer, body.version)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=2, max_length=500)
    version: int | None = Field(None, ge=1)


@router.post("/api/enquiries/{enquiry_id}/close", summary="Close an enquiry (the reason goes to history)")
def close_enquiry(enquiry_id: RowId, body: CloseIn, principal: Principal = SignedIn,
                  db: Engine = Depends(engine)) -> dict[str, Any]:
    with transaction(db, principal.actor, body.reason) as conn:
        return enquiries.close(conn, principal, enquiry_id, body.version)
