"""The legal documents of an idle-land case: issue (numbered), record the service, download.

Thin: each route calls one hggis.idle.documents function (which checks role and scope);
a document the case's facts do not support is refused with 422 naming every missing fact,
one the procedure does not allow with 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine

from api.deps import SignedIn, connection, engine
from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.idle import documents
from hggis.idle.document_tables import DOCUMENT_KINDS, SERVICE_METHODS
from hggis.idle.render_docx import to_docx
from hggis.idle.render_pdf import to_pdf
from hggis.idle.tables import DISPOSAL_KINDS
from hggis.inputs import RowId

router = APIRouter(prefix="/api/idle", tags=["idle land 闲置土地"])
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    served_on: dt.date
    service_method: Literal[SERVICE_METHODS]  # type: ignore[valid-type]
    served_to: str | None = Field(None, max_length=200, description="who signed for it (default: the recipient)")
    reason: str = Field("登记送达", min_length=2, max_length=1000)

    def to_service(self) -> documents.Service:
        return documents.Service(self.served_on, self.service_method, self.served_to)


class DocumentIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal[DOCUMENT_KINDS]  # type: ignore[valid-type]
    reason: str = Field(..., min_length=2, max_length=1000)
    issued_on: dt.date | None = None
    recipient: str | None = Field(None, max_length=200, description="受送达人 (default: the holder)")
    served_on: dt.date | None = None
    service_method: Literal[SERVICE_METHODS] | None = None  # type: ignore[valid-type]
    served_to: str | None = Field(None, max_length=200)
    proves_document_id: int | None = Field(None, ge=1, description="送达回证: the document it proves")
    proposed_disposal: Literal[DISPOSAL_KINDS] | None = None  # type: ignore[valid-type]
    place: str | None = Field(None, max_length=300, description="送达回证: 送达地点")
    server: str | None = Field(None, max_length=200, description="送达回证: 送达人")


@router.post("/cases/{case_id}/documents", status_code=201,
             summary="Issue a document of the procedure (numbered 机关代字〔年份〕N号; 422 names missing facts)")
def post_document(case_id: RowId, body: DocumentIssue, principal: Principal = SignedIn,
                  db: Engine = Depends(engine)) -> dict[str, Any]:
    if (body.served_on is None) != (body.service_method is None):
        raise HTTPException(422, detail="送达日期 served_on 和送达方式 service_method 须同时填写（或都不填，稍后登记送达）")
    service = (documents.Service(body.served_on, body.service_method, body.served_to)
               if body.served_on is not None and body.service_method is not None else None)
    params = body.model_dump(exclude_none=True, include={"proves_document_id", "proposed_disposal", "place", "server"})

    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            return documents.issue_document(conn, principal, case_id, body.kind, body.reason, body.issued_on,
                                            body.recipient, service, **params)

    return act()


@router.get("/cases/{case_id}/documents", summary="The documents issued on a case, with service and deadlines")
def get_documents(case_id: RowId, principal: Principal = SignedIn,
                  conn: Connection = Depends(connection)) -> dict[str, Any]:
    return {"items": documents.list_documents(conn, principal, case_id)}


@router.post("/cases/{case_id}/documents/{doc_id}/service",
             summary="Record the service (送达) of a document issued without it (once)")
def post_service(case_id: RowId, doc_id: RowId, body: ServiceIn, principal: Principal = SignedIn,
                 db: Engine = Depends(engine)) -> dict[str, Any]:
    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            return documents.serve_document(conn, principal, case_id, doc_id, body.to_service(), body.reason)

    return act()


def _file(conn: Connection, principal: Principal, case_id: RowId, doc_id: RowId, fmt: str) -> Response:
    doc = documents.get_document(conn, principal, case_id, doc_id, with_content=True)
    body, media = (to_docx(doc["content"]), DOCX) if fmt == "docx" else (to_pdf(doc["content"]), "application/pdf")
    name = f"{doc['kind_label']}-{doc['number']}.{fmt}"
    ascii_name = f"idle-document-{doc_id}.{fmt}"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})


@router.get("/cases/{case_id}/documents/{doc_id}.docx", summary="The document as DOCX (editable), with its 宗地图")
def get_docx(case_id: RowId, doc_id: RowId, principal: Principal = SignedIn,
             conn: Connection = Depends(connection)) -> Response:
    return _file(conn, principal, case_id, doc_id, "docx")


@router.get("/cases/{case_id}/documents/{doc_id}.pdf", summary="The document as PDF, with its 宗地图")
def get_pdf(case_id: RowId, doc_id: RowId, principal: Principal = SignedIn,
            conn: Connection = Depends(connection)) -> Response:
    return _file(conn, principal, case_id, doc_id, "pdf")


@router.get("/cases/{case_id}/documents/{doc_id}", summary="One document: number, service, deadline, content")
def get_document(case_id: RowId, doc_id: RowId, principal: Principal = SignedIn,
                 conn: Connection = Depends(connection)) -> dict[str, Any]:
    return documents.get_document(conn, principal, case_id, doc_id, with_content=True)


@router.get("/document-offices", summary="Issuing offices per county: name, 机关代字, GK zone of the 宗地图")
def get_offices(principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    return {"items": documents.list_offices(conn)}


class OfficeChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=2, max_length=1000)
    office_name: str | None = Field(None, min_length=2, max_length=200)
    code_prefix: str | None = Field(None, min_length=1, max_length=50, description="机关代字, e.g. 黄州自然资闲")
    gk_epsg: Literal[4526, 4527, 4547, 4548] | None = None
    address: str | None = Field(None, max_length=300)
    phone: str | None = Field(None, max_length=50)


@router.patch("/document-offices/{adcode}", summary="Change a county office's name, 机关代字 or zone (audited)")
def patch_office(adcode: str, body: OfficeChanges, principal: Principal = SignedIn,
                 db: Engine = Depends(engine)) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True, exclude={"reason"})

    def act() -> dict[str, Any]:
        with transaction(db, principal.actor, body.reason) as conn:
            return documents.update_office(conn, principal, adcode, changes, body.reason)

    return act()
