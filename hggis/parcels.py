"""Creating and reading parcels: the one path by which a 宗地 enters the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.db.models import PARCEL_STATUSES
from hggis.identifiers import validate_parcel_code
from hggis.validation import InvalidGeometry, as_multipolygon, outside_huanggang


class InvalidParcel(ValueError):
    """A parcel that cannot be stored, with the reason."""


@dataclass
class ParcelInput:
    code: str
    geometry: BaseGeometry  # EPSG:4490 lon/lat
    status: str
    park_id: int | None = None
    land_use: str = "0601"
    holder_id: int | None = None
    intended_industry: str | None = None
    contract_kind: str | None = None
    contract_no: str | None = None
    land_price: Decimal | None = None
    agreed_start_date: dt.date | None = None
    agreed_completion_date: dt.date | None = None
    planned_investment: Decimal | None = None
    parent_codes: list[str] = field(default_factory=list)


def check_parcel(conn: Connection, data: ParcelInput) -> tuple[str, shapely.MultiPolygon]:
    """Validate code, status and geometry; raise InvalidParcel naming the parcel and the fault."""
    try:
        code = validate_parcel_code(data.code)
        geom = as_multipolygon(data.geometry, f"宗地 {code}")
    except (ValueError, InvalidGeometry) as exc:
        raise InvalidParcel(str(exc)) from None
    if data.status not in PARCEL_STATUSES:
        raise InvalidParcel(f"宗地 {code}: unknown status {data.status!r} (one of {', '.join(PARCEL_STATUSES)})")
    if outside_huanggang(conn, [geom]):
        p = geom.representative_point()
        raise InvalidParcel(f"宗地 {code}: lies outside 黄冈市 (a point inside it: {p.x:.5f}, {p.y:.5f})")
    return code, geom


def create_parcel(conn: Connection, data: ParcelInput) -> int:
    """Insert a parcel after validation; the caller's transaction names the actor."""
    code, geom = check_parcel(conn, data)
    exists = conn.execute(text("SELECT 1 FROM parcels WHERE code = :c"), {"c": code}).first()
    if exists:
        raise InvalidParcel(f"宗地 {code}: already exists")
    return conn.execute(
        text(
            """
            INSERT INTO parcels (code, geom, adcode, park_id, land_use, status, holder_id, intended_industry,
                                 contract_kind, contract_no, land_price, agreed_start_date,
                                 agreed_completion_date, planned_investment, parent_codes)
            VALUES (:code, ST_GeomFromWKB(:wkb, 4490), :adcode, :park_id, :land_use, :status, :holder_id,
                    :intended_industry, :contract_kind, :contract_no, :land_price, :agreed_start_date,
                    :agreed_completion_date, :planned_investment, :parent_codes)
            RETURNING id
            """
        ),
        {
            "code": code,
            "wkb": shapely.to_wkb(geom),
            "adcode": code[:6],
            "park_id": data.park_id,
            "land_use": data.land_use,
            "status": data.status,
            "holder_id": data.holder_id,
            "intended_industry": data.intended_industry,
            "contract_kind": data.contract_kind,
            "contract_no": data.contract_no,
            "land_price": data.land_price,
            "agreed_start_date": data.agreed_start_date,
            "agreed_completion_date": data.agreed_completion_date,
            "planned_investment": data.planned_investment,
            "parent_codes": data.parent_codes,
        },
    ).scalar_one()
