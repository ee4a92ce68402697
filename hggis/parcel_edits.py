"""Changing parcels: edits with a version check, retirement, split and merge.

Each function takes the acting Principal, checks scope itself (so no route can skip it),
stamps the transaction with the actor and reason for the audit trail, and changes nothing
when it refuses. Stale versions are refused with who changed the parcel meanwhile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import errors
from hggis.access.policy import Principal, authorize, can
from hggis.db.models import CONTRACT_KINDS, PARCEL_STATUSES
from hggis.db.session import set_actor
from hggis.geo import M2_PER_MU
from hggis.identifiers import validate_credit_code, validate_parcel_code
from hggis.parcel_integrity import Candidate, Violation, candidate_rows, check_candidates
from hggis.parcel_values import footprint_problem
from hggis.parcels import (
    InvalidParcel,
    ParcelInput,
    check_parcel,
    create_parcels,
    refuse_values,
    refuse_violations,
)
from hggis.terrain.service import refresh_terrain
from hggis.validation import InvalidGeometry, as_multipolygon

# Column -> Python type accepted in an edit. Geometry is handled separately.
EDITABLE: dict[str, type] = {
    "status": str,
    "park_id": int,
    "land_use": str,
    "holder_id": int,
    "intended_industry": str,
    "contract_kind": str,
    "contract_no": str,
    "contract_signed_on": dt.date,
    "land_price": Decimal,
    "agreed_start_date": dt.date,
    "agreed_completion_date": dt.date,
    "planned_investment": Decimal,
    "started_on": dt.date,
    "built_footprint_m2": float,
    "investment_to_date": Decimal,
    "halted_since": dt.date,
    "completed_on": dt.date,
    "production_stopped_since": dt.date,
    "floor_area_m2": float,
    "delivered_on": dt.date,
    "supervision_no": str,
}
SPLIT_AREA_TOLERANCE = 0.005  # children must cover the parent's area within 0.5 %
ADJACENCY_TOLERANCE_M = 0.5  # merge: parcels within this distance count as adjacent


class NotFound(errors.NotFound):
    """No such (live) parcel."""


@dataclass
class StaleVersion(errors.Conflict):
    """The caller edited an older version; tells who changed it meanwhile."""

    code: str
    expected: int
    current: int
    changed_by: str | None
    changed_at: dt.datetime | None

    def extra(self) -> dict[str, Any]:
        return {"current_version": self.current, "changed_by": self.changed_by,
                "changed_at": self.changed_at.isoformat() if self.changed_at else None}

    def __str__(self) -> str:
        who = f" by {self.changed_by} at {self.changed_at:%Y-%m-%d %H:%M}" if self.changed_by else ""
        return f"宗地 {self.code} was changed{who}: you edited version {self.expected}, it is now {self.current}"


def _locked(conn: Connection, code: str) -> Any:
    row = conn.execute(
        text("SELECT id, code, adcode, park_id, version, status, retired_at FROM parcels WHERE code = :c FOR UPDATE"),
        {"c": code.strip().upper()},
    ).first()
    if row is None or row.retired_at is not None:
        raise NotFound(f"宗地 {code} not found" + (" (retired)" if row is not None else ""))
    return row


def _check_version(conn: Connection, row: Any, expected: int) -> None:
    if row.version == expected:
        return
    last = conn.execute(
        text(
            "SELECT actor, at FROM history WHERE table_name = 'parcels' AND object_id = :o "
            "ORDER BY id DESC LIMIT 1"
        ),
        {"o": str(row.id)},
    ).first()
    raise StaleVersion(row.code, expected, row.version, last.actor if last else None, last.at if last else None)


def _coerce(field: str, value: Any) -> Any:
    if value is None:
        return None
    kind = EDITABLE[field]
    try:
        if kind is dt.date and isinstance(value, str):
            return dt.date.fromisoformat(value)
        return kind(value) if not isinstance(value, kind) else value
    except (ValueError, TypeError, ArithmeticError):
        raise InvalidParcel(f"{field}: {value!r} is not a valid {kind.__name__}", field=field) from None


def _validate_changes(conn: Connection, principal: Principal, row: Any, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(EDITABLE) - {"geometry", "holder_credit_code"})
    if unknown:
        raise InvalidParcel(f"宗地 {row.code}: fields that cannot be edited: {', '.join(unknown)}", field=unknown[0])
    clean = {k: _coerce(k, v) for k, v in changes.items() if k not in ("geometry", "holder_credit_code")}
    if "holder_credit_code" in changes:
        if "holder_id" in clean:
            raise InvalidParcel("holder_credit_code: give the holder by credit code or by holder_id, not both",
                                field="holder_credit_code")
        clean["holder_id"] = _holder_by_credit_code(conn, changes["holder_credit_code"])
    elif clean.get("holder_id") is not None:
        _check_holder_readable(conn, principal, clean["holder_id"])
    if "status" in clean and clean["status"] not in PARCEL_STATUSES:
        raise InvalidParcel(f"status: unknown value {clean['status']!r}", field="status")
    if clean.get("contract_kind") not in (None, *CONTRACT_KINDS):
        raise InvalidParcel(f"contract_kind: one of {', '.join(CONTRACT_KINDS)}", field="contract_kind")
    if clean.get("park_id") is not None:
        # that the park exists, is in the parcel's county and holds it: parcel_integrity
        authorize(principal, "parcels", "write", row.adcode, clean["park_id"])
    return clean


def _holder_by_credit_code(conn: Connection, raw: Any) -> int | None:
    """The enterprise with this credit code (whoever knows the code may name the holder by it)."""
    if raw is None or not str(raw).strip():
        return None
    try:
        code = validate_credit_code(str(raw))
    except ValueError as exc:
        raise InvalidParcel(f"holder_credit_code: {exc}", field="holder_credit_code") from None
    eid = conn.execute(text("SELECT id FROM enterprises WHERE credit_code = :c"), {"c": code}).scalar_one_or_none()
    if eid is None:
        raise InvalidParcel(f"holder_credit_code: no enterprise is registered with {code}", field="holder_credit_code")
    return int(eid)


def _check_holder_readable(conn: Connection, principal: Principal, holder_id: int) -> None:
    """An id names a holder only if the caller may read that enterprise.

    Otherwise the edit would read back any firm's name and credit code. The refusal is the
    same for an id out of scope and an id that does not exist, so it leaks neither.
    """
    row = conn.execute(text("SELECT adcode, park_id FROM enterprises WHERE id = :i"), {"i": holder_id}).first()
    if row is None or not can(principal, "enterprises", "read", row.adcode, row.park_id):
        raise InvalidParcel(
            f"holder_id: no enterprise {holder_id} that you may read; give the holder's credit code "
            "(holder_credit_code) instead",
            field="holder_id",
        )


def _check_values(conn: Connection, row: Any, clean: dict[str, Any]) -> None:
    """The parcel's numbers and dates after the change make sense (only the changed ones are judged)."""
    current = dict(
        conn.execute(
            text(f"SELECT area_mu, {', '.join(EDITABLE)} FROM parcels WHERE id = :i"), {"i": row.id}
        ).mappings().one()
    )
    merged = {**current, **clean}
    refuse_values(merged, set(clean))
    if "built_footprint_m2" in clean:
        why = footprint_problem(merged["built_footprint_m2"], current["area_mu"] * M2_PER_MU)
        if why:
            raise InvalidParcel(f"built_footprint_m2: {why}", field="built_footprint_m2")


def _check_place(conn: Connection, row: Any, clean: dict[str, Any], wkb: bytes | None) -> list[Violation]:
    """Integrity of the parcel's new outline or park (against every other live parcel)."""
    if wkb is None:
        wkb = bytes(conn.execute(text("SELECT ST_AsBinary(geom) FROM parcels WHERE id = :i"), {"i": row.id}).scalar_one())
    park_id = clean["park_id"] if "park_id" in clean else row.park_id
    cand = Candidate(row.id, row.code, wkb, park_id, replaces_id=row.id)
    return refuse_violations(check_candidates(conn, candidate_rows([cand])))


def update_parcel(
    conn: Connection,
    principal: Principal,
    code: str,
    changes: dict[str, Any],
    expected_version: int,
    reason: str | None = None,
    warnings: list[Violation] | None = None,
) -> int:
    """Apply ``changes`` if the parcel is still at ``expected_version``; returns the new version.

    Slivers the new outline leaves with neighbours are appended to ``warnings``.
    """
    row = _locked(conn, code)
    authorize(principal, "parcels", "write", row.adcode, row.park_id)
    _check_version(conn, row, expected_version)
    clean = _validate_changes(conn, principal, row, changes)
    if "status" in clean and clean["status"] != row.status and not (reason and reason.strip()):
        raise InvalidParcel(f"宗地 {row.code}: a reason is required to change the status", field="reason")
    _check_values(conn, row, clean)
    params: dict[str, Any] = {**clean, "id": row.id, "v": expected_version}
    sets = [f"{k} = :{k}" for k in clean]
    wkb = None
    if "geometry" in changes:
        try:
            geom = as_multipolygon(changes["geometry"], f"宗地 {row.code}")
        except InvalidGeometry as exc:
            raise InvalidParcel(str(exc), field="geometry") from None
        check_parcel(conn, ParcelInput(code=row.code, geometry=geom, status=row.status))
        wkb = shapely.to_wkb(geom)
        sets.append("geom = ST_GeomFromWKB(:wkb, 4490)")
        params["wkb"] = wkb
    if "geometry" in changes or clean.get("park_id") is not None:
        found = _check_place(conn, row, clean, wkb)
        if warnings is not None:
            warnings.extend(found)
    if not sets:
        return row.version
    set_actor(conn, principal.actor, reason)
    new_version = conn.execute(
        text(f"UPDATE parcels SET {', '.join(sets)}, version = version + 1 WHERE id = :id AND version = :v RETURNING version"),
        params,
    ).scalar_one_or_none()
    if new_version is None:  # only possible if the row lock was bypassed
        _check_version(conn, _locked(conn, code), expected_version)
        raise errors.Conflict(f"宗地 {code} 已被他人修改，请刷新后重试")
    if "geometry" in changes:
        refresh_terrain(conn, [row.id])  # slope and elevation follow the new outline
    return new_version


def add_parcel(
    conn: Connection, principal: Principal, data: ParcelInput, reason: str | None = None,
    warnings: list[Violation] | None = None,
) -> int:
    """Create a parcel within the caller's scope (its holder, if any, one the caller may read)."""
    try:
        code = validate_parcel_code(data.code)
    except ValueError as exc:
        raise InvalidParcel(str(exc), field="code") from None
    authorize(principal, "parcels", "write", code[:6], data.park_id)
    if data.holder_id is not None:
        _check_holder_readable(conn, principal, data.holder_id)
    set_actor(conn, principal.actor, reason or "新增宗地")
    created = create_parcels(conn, [data])
    if warnings is not None:
        warnings.extend(created.warnings)
    return created.ids[0]


def retire_parcel(conn: Connection, principal: Principal, code: str, expected_version: int, reason: str) -> None:
    """Soft retirement: the parcel leaves every live view but keeps its row and history."""
    if not reason or not reason.strip():
        raise InvalidParcel(f"宗地 {code}: a reason is required to retire a parcel", field="reason")
    row = _locked(conn, code)
    authorize(principal, "parcels", "write", row.adcode, row.park_id)
    _check_version(conn, row, expected_version)
    set_actor(conn, principal.actor, reason)
    conn.execute(text("UPDATE parcels SET retired_at = now(), version = version + 1 WHERE id = :i"), {"i": row.id})


def _copy_attributes(conn: Connection, parcel_id: int) -> dict[str, Any]:
    return dict(
        conn.execute(
            text(
                "SELECT status, park_id, land_use, holder_id, intended_industry, contract_kind, contract_no, "
                "land_price, agreed_start_date, agreed_completion_date, planned_investment FROM parcels WHERE id = :i"
            ),
            {"i": parcel_id},
        ).mappings().one()
    )


def split_parcel(
    conn: Connection,
    principal: Principal,
    code: str,
    children: list[tuple[str, BaseGeometry]],
    expected_version: int,
    reason: str,
    warnings: list[Violation] | None = None,
) -> list[str]:
    """Replace a parcel by children that tile it; the children record the parent's code."""
    if len(children) < 2:
        raise InvalidParcel("a split needs at least two child parcels")
    if not reason or not reason.strip():
        raise InvalidParcel(f"宗地 {code}: a reason is required to split a parcel", field="reason")
    row = _locked(conn, code)
    authorize(principal, "parcels", "write", row.adcode, row.park_id)
    _check_version(conn, row, expected_version)
    geoms = []
    for child_code, geom in children:
        validate_parcel_code(child_code, adcode=row.adcode)
        geoms.append(as_multipolygon(geom, f"宗地 {child_code}"))
    _check_tiling(conn, row, [c for c, _ in children], geoms)
    attrs = _copy_attributes(conn, row.id)
    set_actor(conn, principal.actor, reason)
    conn.execute(text("UPDATE parcels SET retired_at = now(), version = version + 1 WHERE id = :i"), {"i": row.id})
    created = create_parcels(
        conn,
        [ParcelInput(code=child_code, geometry=geom, parent_codes=[row.code], **attrs)
         for (child_code, _), geom in zip(children, geoms, strict=True)],
        replaces=[row.id],
    )
    if warnings is not None:
        warnings.extend(created.warnings)
    refresh_terrain(conn, created.ids)
    return [c for c, _ in children]


def _check_tiling(conn: Connection, parent: Any, codes: list[str], geoms: list[BaseGeometry]) -> None:
    """Children lie inside the parent, do not overlap, and cover its area (PostGIS, ellipsoidal)."""
    result = conn.execute(
        text(
            """
            WITH c AS (SELECT ST_GeomFromWKB(w, 4490) AS g, i FROM unnest(CAST(:wkbs AS bytea[])) WITH ORDINALITY AS t(w, i)),
                 p AS (SELECT geom FROM parcels WHERE id = :pid)
            SELECT
              (SELECT array_agg(i ORDER BY i) FROM c, p
                WHERE ST_Area(ST_Difference(c.g, p.geom)::geography) > 1.0) AS outside,
              (SELECT count(*) FROM c a JOIN c b ON a.i < b.i
                WHERE ST_Area(ST_Intersection(a.g, b.g)::geography) > 1.0) AS overlaps,
              (SELECT ST_Area(ST_Union(g)::geography) FROM c) AS children_m2,
              (SELECT ST_Area(geom::geography) FROM p) AS parent_m2
            """
        ),
        {"wkbs": [shapely.to_wkb(g) for g in geoms], "pid": parent.id},
    ).one()
    if result.outside:
        names = ", ".join(codes[i - 1] for i in result.outside)
        raise InvalidParcel(f"split of {parent.code}: child parcels extend outside the parent: {names}")
    if result.overlaps:
        raise InvalidParcel(f"split of {parent.code}: child parcels overlap each other")
    if abs(result.children_m2 - result.parent_m2) > SPLIT_AREA_TOLERANCE * result.parent_m2:
        share = result.children_m2 / result.parent_m2 * 100
        raise InvalidParcel(f"split of {parent.code}: children cover {share:.1f} % of the parent, not all of it")


def merge_parcels(
    conn: Connection,
    principal: Principal,
    codes_and_versions: dict[str, int],
    new_code: str,
    reason: str,
    warnings: list[Violation] | None = None,
) -> str:
    """Merge adjacent parcels into one; the new parcel records the parents' codes."""
    if len(codes_and_versions) < 2:
        raise InvalidParcel("a merge needs at least two parcels")
    if not reason or not reason.strip():
        raise InvalidParcel("a reason is required to merge parcels")
    versions = {c.strip().upper(): v for c, v in codes_and_versions.items()}
    rows = [_locked(conn, c) for c in sorted(versions)]
    for row in rows:
        authorize(principal, "parcels", "write", row.adcode, row.park_id)
        _check_version(conn, row, versions[row.code])
    if len({r.adcode for r in rows}) > 1:
        raise InvalidParcel("parcels of different counties cannot be merged")
    validate_parcel_code(new_code, adcode=rows[0].adcode)
    ids = [r.id for r in rows]
    merged = conn.execute(
        text(
            """
            SELECT ST_AsBinary(ST_Multi(ST_Union(geom))),
                   ST_NumGeometries(ST_Union(ST_Buffer(geom::geography, :tol / 2.0)::geometry))
            FROM parcels WHERE id = ANY(:ids)
            """
        ),
        {"ids": ids, "tol": ADJACENCY_TOLERANCE_M},
    ).one()
    if merged[1] != 1:
        raise InvalidParcel("the parcels are not adjacent: only touching parcels can be merged")
    attrs = _copy_attributes(conn, rows[0].id)
    set_actor(conn, principal.actor, reason)
    conn.execute(text("UPDATE parcels SET retired_at = now(), version = version + 1 WHERE id = ANY(:ids)"), {"ids": ids})
    geom = shapely.from_wkb(bytes(merged[0]))
    created = create_parcels(
        conn, [ParcelInput(code=new_code, geometry=geom, parent_codes=[r.code for r in rows], **attrs)], replaces=ids
    )
    if warnings is not None:
        warnings.extend(created.warnings)
    refresh_terrain(conn, created.ids)
    return new_code
