"""Tables of the legal documents of an idle-land case (migration 0018).

- ``idle_document_offices``: the issuing office of each county (自然资源主管部门), its
  机关代字 and the Gauss-Krüger zone its 宗地图 coordinates are given in: data, editable by
  a city administrator, audited;
- ``idle_document_sequences``: the last number issued per office and year, taken with an
  atomic upsert so two officers issuing at once never get the same number;
- ``idle_documents``: every issued document with its number, the facts it was written from
  (frozen at issue, so the document reads the same years later) and its service (送达).
  Audited and append-only: the one change allowed is recording the service once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base, _in

DOCUMENT_KINDS = (
    "investigation_notice",
    "finding",
    "situation_notice",
    "hearing_notice",
    "fee_decision",
    "recovery_decision",
    "service_receipt",
)
SERVICE_METHODS = ("direct", "left_at_address", "post", "entrusted", "electronic", "public_notice")
GK_EPSG_CODES = (4526, 4527, 4547, 4548)
DUE_KINDS = ("reply", "hearing_request", "payment", "deregistration")


class IdleDocumentOffice(Base):
    """The office that issues a county's documents: name, 机关代字, GK zone of its maps."""

    __tablename__ = "idle_document_offices"

    adcode: Mapped[str] = mapped_column(ForeignKey("counties.adcode"), primary_key=True)
    office_name: Mapped[str] = mapped_column(Text)
    code_prefix: Mapped[str] = mapped_column(Text)  # 机关代字, e.g. 黄州自然资闲
    gk_epsg: Mapped[int] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint("gk_epsg IN (4526, 4527, 4547, 4548)", name="gk_epsg"),
        CheckConstraint("length(btrim(code_prefix)) > 0 AND length(btrim(office_name)) > 0", name="named"),
    )


class IdleDocumentSequence(Base):
    """Last number issued by an office in a year (one row per office-year, upserted)."""

    __tablename__ = "idle_document_sequences"

    adcode: Mapped[str] = mapped_column(ForeignKey("idle_document_offices.adcode"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("last_serial > 0", name="positive"),)


class IdleDocument(Base):
    """One issued document of a case (append-only except for recording its service once)."""

    __tablename__ = "idle_documents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("idle_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    adcode: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(Text, unique=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(Text)
    proves_document_id: Mapped[int | None] = mapped_column(ForeignKey("idle_documents.id"))
    content: Mapped[dict] = mapped_column(JSONB)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    served_on: Mapped[dt.date | None] = mapped_column(Date)
    service_method: Mapped[str | None] = mapped_column(Text)
    served_to: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_kind: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("adcode", "year", "serial", name="uq_idle_documents_office_year_serial"),
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
        CheckConstraint("service_method IS NULL OR " + _in("service_method", SERVICE_METHODS), name="service_method"),
        CheckConstraint("due_kind IS NULL OR " + _in("due_kind", DUE_KINDS), name="due_kind"),
        CheckConstraint("(served_on IS NULL) = (service_method IS NULL)", name="service_complete"),
        CheckConstraint("served_on IS NULL OR served_on >= issued_on", name="served_after_issue"),
        CheckConstraint("(kind = 'service_receipt') = (proves_document_id IS NOT NULL)", name="receipt_proves"),
        CheckConstraint("length(btrim(reason)) > 0", name="reason_given"),
    )
