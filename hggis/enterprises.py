"""Creating enterprises: the credit code is checked before the database sees it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal, text
from sqlalchemy.engine import Connection

from hggis.db.models import Enterprise, table_of
from hggis.errors import Invalid
from hggis.identifiers import validate_credit_code

ENTERPRISES = table_of(Enterprise)
#: the name of an enterprise known only by its credit code (from a parcel's 权利人 column);
#: the figures import replaces it with the name its sheet gives
PENDING_NAME_PREFIX = "名称待补："


def pending_name(credit_code: ColumnElement[str]) -> ColumnElement[str]:
    return func.concat(literal(PENDING_NAME_PREFIX), credit_code)


def name_is_pending(name: ColumnElement[str]) -> ColumnElement[bool]:
    return name.startswith(PENDING_NAME_PREFIX, autoescape=True)


class InvalidEnterprise(Invalid):
    """An enterprise that cannot be stored, with the reason."""


@dataclass
class EnterpriseInput:
    credit_code: str
    name: str
    adcode: str
    gbt4754_code: str | None = None
    industry_code: str | None = None
    cluster_id: int | None = None
    park_id: int | None = None


def create_enterprise(conn: Connection, data: EnterpriseInput) -> int:
    try:
        code = validate_credit_code(data.credit_code)
    except ValueError as exc:
        raise InvalidEnterprise(str(exc)) from None
    if not data.name.strip():
        raise InvalidEnterprise(f"企业 {code}: name is empty")
    if conn.execute(text("SELECT 1 FROM enterprises WHERE credit_code = :c"), {"c": code}).first():
        raise InvalidEnterprise(f"企业 {code}: credit code already registered")
    return conn.execute(
        text(
            "INSERT INTO enterprises (credit_code, name, adcode, gbt4754_code, industry_code, cluster_id, park_id) "
            "VALUES (:c, :n, :a, :g, :i, :cl, :p) RETURNING id"
        ),
        {
            "c": code,
            "n": data.name.strip(),
            "a": data.adcode,
            "g": data.gbt4754_code,
            "i": data.industry_code,
            "cl": data.cluster_id,
            "p": data.park_id,
        },
    ).scalar_one()
