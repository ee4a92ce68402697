"""Creating and reading parcels: the one path by which a 宗地 enters the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.db.models import PARCEL_STATUSES
from hggis.errors import Invalid
from hggis.identifiers import validate_parcel_code
from hggis.parcel_integrity import Candidate, Violation, candidate_rows, check_candidates, errors_of, warnings_of
from hggis.parcel_values import value_problems
from hggis.validation import InvalidGeometry, as_multipolygon, outside_huanggang


class InvalidParcel(Invalid):
    """A parcel that cannot be stored, with the reason; ``violations`` lists broken rules by code."""

    def __init__(self, message: str, violations: list[Violation] | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []
        self.field = field or (self.violations[0].field if self.violations else None)

    def problems(self) -> list[tuple[str | None, str, str]]:
        """One entry per broken integrity rule, typed by its stable code."""
        if not self.violations:
            return super().problems()
        return [(v.field, v.message, f"parcel_integrity.{v.rule}") for v in self.violations]


def refuse_violations(found: list[Violation]) -> list[Violation]:
    """Raise InvalidParcel listing every error; return the warnings (slivers) otherwise."""
    errors = errors_of(found)
    if errors:
        raise InvalidParcel("; ".join(v.message for v in errors), errors)
    return warnings_of(found)


def refuse_values(values: dict[str, Any], changed: set[str] | None = None) -> None:
    """Raise InvalidParcel naming the first field whose value makes no sense (all are listed).

    ``changed``: only judge these fields (and orderings involving them), so a stored oddity
    does not block an unrelated edit.
    """
    problems = value_problems(values, changed)
    if problems:
        message = "; ".join(f"{f}: {why}" for f, why in problems)
        raise InvalidParcel(message, field=problems[0][0])


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
    except ValueError as exc:
        raise InvalidParcel(str(exc), field="code") from None
    try:
        geom = as_multipolygon(data.geometry, f"宗地 {code}")
    except (ValueError, InvalidGeometry) as exc:
        raise InvalidParcel(str(exc), field="geometry") from None
    if data.status not in PARCEL_STATUSES:
        raise InvalidParcel(f"宗地 {code}: unknown status {data.status!r} (one of {', '.join(PARCEL_STATUSES)})",
                            field="status")
    if outside_huanggang(conn, [geom]):
        p = geom.representative_point()
        raise InvalidParcel(f"宗地 {code}: lies outside 黄冈市 (a point inside it: {p.x:.5f}, {p.y:.5f})",
                            field="geometry")
    return code, geom


def create_parcel(conn: Connection, data: ParcelInput) -> int:
    """Insert one parcel after every check; the caller's transaction names the actor."""
    return create_parcels(conn, [data]).ids[0]


@dataclass
class Created:
    """Ids of the new parcels (in input order) and the warnings (slivers) their checks reported."""

    ids: list[int]
    warnings: list[Violation] = field(default_factory=list)


def create_parcels(conn: Connection, items: list[ParcelInput], replaces: list[int] | None = None) -> Created:
    """Check a set of new parcels together (against the live ones and each other), then insert them.

    ``replaces``: stored parcels these retire (a split's or merge's parents), not compared.
    """
    checked = []
    for i, data in enumerate(items):
        code, geom = check_parcel(conn, data)
        refuse_values(vars(data))
        if conn.execute(text("SELECT 1 FROM parcels WHERE code = :c"), {"c": code}).first():
            raise InvalidParcel(f"宗地 {code}: already exists", field="code")
        checked.append(Candidate(i, code, shapely.to_wkb(geom), data.park_id))
    if len({c.code for c in checked}) < len(checked):
        raise InvalidParcel("the same parcel code appears twice", field="code")
    warnings = refuse_violations(check_candidates(conn, candidate_rows(checked), replaces or []))
    ids = [_insert(conn, cand, data) for cand, data in zip(checked, items, strict=True)]
    return Created(ids, warnings)


def _insert(conn: Connection, cand: Candidate, data: ParcelInput) -> int:
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
            "code": cand.code,
            "wkb": cand.geometry_wkb,
            "adcode": cand.adcode,
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
