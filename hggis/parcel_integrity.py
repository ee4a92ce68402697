"""Where a parcel may lie: inside its county and park, clear of other live parcels, of a plausible size.

Every writer of parcels (API, pages, imports, split/merge, demo) hands its candidate rows
to :func:`check_candidates` before writing, so the rule exists once. The rows are any
selectable with the columns of :data:`CANDIDATE_COLUMNS` (a VALUES list for one parcel,
the import's staging table for 100 000), and each rule is one set-based query in PostGIS,
so the cost does not grow with round trips.

Thresholds are settings (``HGGIS_BOUNDARY_TOLERANCE_M``, ``HGGIS_OVERLAP_TOLERANCE_M2``,
``HGGIS_PARCEL_MIN_MU``, ``HGGIS_PARCEL_MAX_MU``). An overlap up to the tolerance is a
sliver: written, but reported as a warning so it is not silently kept. Parcels that a
write replaces (the parcel being edited, a split's or merge's parents, the stored rows an
import updates) are not compared with their own successors.

The database backs this up with a statement-level trigger (migration 0013) for the two
tolerance-free invariants (the park is in the parcel's county; the parcel's inner point
is in its county), so even a raw SQL write cannot place a parcel in another county.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    ARRAY,
    Integer,
    LargeBinary,
    Text,
    and_,
    any_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from hggis.config import get_settings
from hggis.db.models import SRID, County, Parcel, Park, table_of
from hggis.geo import M2_PER_MU

CANDIDATE_COLUMNS = ("idx", "code", "adcode", "park_id", "geom", "replaces_id")
# Overlaps smaller than this (m²) are floating-point noise of shared edges, not slivers.
NOISE_M2 = 0.01

parcels = table_of(Parcel)
counties = table_of(County)
parks = table_of(Park)

RULE_LABELS = {
    "unknown_county": "县（市、区）不存在",
    "outside_county": "超出所属县（市、区）界",
    "unknown_park": "园区不存在",
    "park_county": "园区不属于该县（市、区）",
    "outside_park": "超出所属园区范围",
    "overlap": "与现有宗地重叠",
    "sliver": "与现有宗地有细小重叠（碎片）",
    "area_too_small": "面积过小",
    "area_too_large": "面积过大",
}


@dataclass(frozen=True)
class Candidate:
    """One parcel about to be written (``replaces_id``: the stored parcel it replaces, if any)."""

    idx: int
    code: str
    geometry_wkb: bytes
    park_id: int | None = None
    replaces_id: int | None = None

    @property
    def adcode(self) -> str:
        return self.code[:6]


@dataclass(frozen=True)
class Violation:
    """A rule a candidate breaks: ``rule`` is the stable code, ``field`` the input it is about."""

    idx: int
    code: str
    rule: str
    message: str
    field: str = "geometry"
    severity: str = "error"  # error: refused; warning: written and reported

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "rule": self.rule, "field": self.field, "severity": self.severity,
                "message": self.message}


def candidate_rows(rows: Sequence[Candidate]) -> FromClause:
    """A few candidates as a VALUES list shaped like :data:`CANDIDATE_COLUMNS` (a CTE)."""
    v = values(
        column("idx", Integer), column("code", Text), column("park_id", Integer),
        column("wkb", LargeBinary), column("replaces_id", Integer), name="cand_values",
    ).data([(r.idx, r.code, r.park_id, r.geometry_wkb, r.replaces_id) for r in rows])
    return select(
        v.c.idx, v.c.code, func.substr(v.c.code, 1, 6).label("adcode"), cast(v.c.park_id, Integer).label("park_id"),
        func.ST_GeomFromWKB(cast(v.c.wkb, LargeBinary), SRID, type_=Geometry(srid=SRID)).label("geom"),
        cast(v.c.replaces_id, Integer).label("replaces_id"),
    ).cte("parcel_candidates")


def _eroded(geom: ColumnElement, tolerance_m: float) -> ColumnElement:
    """The parcel shrunk by the tolerance (metres, on the ellipsoid); its inner point if that leaves nothing."""
    # geography's ST_Buffer answers in SRID 4326 (the same numbers for CGCS2000): relabel it
    shrunk = func.ST_SetSRID(func.geometry(func.ST_Buffer(cast(geom, Geography(srid=SRID)), -tolerance_m)), SRID)
    return case((func.ST_IsEmpty(shrunk), func.ST_PointOnSurface(geom)), else_=shrunk)


def _outside(boundary: ColumnElement, geom: ColumnElement, tolerance_m: float) -> ColumnElement:
    """True when ``geom`` sticks out of ``boundary`` by more than the tolerance (cheap test first)."""
    return case(
        (func.ST_Covers(boundary, geom), false()),
        else_=~func.coalesce(func.ST_Covers(boundary, _eroded(geom, tolerance_m)), false()),
    )


def _m2(geom: ColumnElement) -> ColumnElement:
    return func.ST_Area(cast(geom, Geography(srid=SRID)))


def _county_rule(conn: Connection, cand: FromClause, tol: float) -> list[Violation]:
    c = cand.c
    b = counties.alias("city")
    city = (select(func.ST_Union(b.c.boundary)).where(b.c.boundary.isnot(None), b.c.boundary.op("&&")(c.geom))
            .scalar_subquery())
    # A unit without a polygon of its own (龙感湖管理区) must still lie in 黄冈.
    boundary = func.coalesce(counties.c.boundary, city)
    q = (
        select(
            c.idx, c.code, c.adcode, counties.c.name,
            func.coalesce(_m2(func.ST_Difference(c.geom, boundary)), _m2(c.geom)),
        )
        .select_from(cand.outerjoin(counties, counties.c.adcode == c.adcode))
        .where(or_(counties.c.adcode.is_(None), func.coalesce(_outside(boundary, c.geom, tol), literal(True))))
        .order_by(c.idx)
    )
    out = []
    for idx, code, adcode, name, outside_m2 in conn.execute(q):
        if name is None:
            out.append(Violation(idx, code, "unknown_county", f"宗地 {code}：县级代码 {adcode} 不是黄冈市的县（市、区）"))
        else:
            out.append(Violation(idx, code, "outside_county",
                                 f"宗地 {code}：超出所属县（市、区）{name}（{adcode}）边界 {outside_m2:,.0f} 平方米"
                                 f"（容差 {tol:g} 米）"))
    return out


def _park_rule(conn: Connection, cand: FromClause, tol: float) -> list[Violation]:
    c = cand.c
    q = (
        select(c.idx, c.code, c.adcode, c.park_id, parks.c.name, parks.c.adcode, parks.c.boundary.isnot(None))
        .select_from(cand.outerjoin(parks, parks.c.id == c.park_id))
        .where(
            c.park_id.isnot(None),
            or_(
                parks.c.id.is_(None),
                parks.c.adcode != c.adcode,
                and_(parks.c.boundary.isnot(None), _outside(parks.c.boundary, c.geom, tol)),
            ),
        )
        .order_by(c.idx)
    )
    out = []
    for idx, code, adcode, park_id, name, park_adcode, _has in conn.execute(q):
        if name is None:
            out.append(Violation(idx, code, "unknown_park", f"园区：没有编号为 {park_id} 的园区", "park_id"))
        elif park_adcode != adcode:
            out.append(Violation(idx, code, "park_county",
                                 f"园区：园区 {name}（编号 {park_id}）位于 {park_adcode}，而宗地 {code} 位于 {adcode}",
                                 "park_id"))
        else:
            out.append(Violation(idx, code, "outside_park",
                                 f"宗地 {code}：超出所属园区 {name} 的范围（容差 {tol:g} 米）"))
    return out


def _overlap_violations(rows: Sequence[Any], tol_m2: float) -> list[Violation]:
    out = []
    for idx, code, other, m2 in rows:
        if m2 is None or m2 < NOISE_M2:
            continue
        if m2 > tol_m2:
            out.append(Violation(idx, code, "overlap",
                                 f"宗地 {code}：与宗地 {other} 重叠 {m2:,.1f} 平方米（容差 {tol_m2:g} 平方米）"))
        else:
            out.append(Violation(idx, code, "sliver",
                                 f"宗地 {code}：与宗地 {other} 有 {m2:.2f} 平方米的细小重叠", severity="warning"))
    return out


def _overlap_live_rule(conn: Connection, cand: FromClause, also_excluded: Sequence[int], tol_m2: float) -> list[Violation]:
    c = cand.c
    p = parcels.c
    r = cand.alias("replaced")
    replaced = exists(select(literal(1)).select_from(r).where(r.c.replaces_id == p.id)).correlate(parcels)
    q = (
        select(c.idx, c.code, p.code, _m2(func.ST_Intersection(c.geom, p.geom)))
        .select_from(cand.join(parcels, p.geom.op("&&")(c.geom)))
        .where(
            p.retired_at.is_(None),
            ~replaced,
            p.id.not_in(list(also_excluded)) if also_excluded else literal(True),
            func.ST_Relate(c.geom, p.geom, "T********"),
        )
        .order_by(c.idx, p.code)
    )
    return _overlap_violations(conn.execute(q).all(), tol_m2)


def _overlap_each_other_rule(conn: Connection, cand: FromClause, tol_m2: float) -> list[Violation]:
    a = cand.alias("a")
    b = cand.alias("b")
    q = (
        select(a.c.idx, a.c.code, b.c.idx, b.c.code, _m2(func.ST_Intersection(a.c.geom, b.c.geom)))
        .select_from(a.join(b, and_(a.c.idx < b.c.idx, a.c.geom.op("&&")(b.c.geom))))
        .where(func.ST_Relate(a.c.geom, b.c.geom, "T********"))
        .order_by(a.c.idx, b.c.idx)
    )
    rows = []
    for ia, ca, ib, cb, m2 in conn.execute(q):
        rows += [(ia, ca, cb, m2), (ib, cb, ca, m2)]
    return _overlap_violations(rows, tol_m2)


def _size_rule(conn: Connection, cand: FromClause, lo: float, hi: float) -> list[Violation]:
    """Area outside [lo, hi] 亩; candidates may bring their ellipsoidal ``area_m2`` (an import has it)."""
    c = cand.c
    m2 = c.area_m2 if "area_m2" in c else _m2(c.geom)
    mu = (func.coalesce(m2, _m2(c.geom)) / M2_PER_MU).label("mu")
    # MATERIALIZED: the two comparisons below would otherwise each compute the geodesic area.
    inner = select(c.idx, c.code, mu).cte("candidate_sizes").prefix_with("MATERIALIZED")
    q = select(inner).where(or_(inner.c.mu < lo, inner.c.mu > hi)).order_by(inner.c.idx)
    out = []
    for idx, code, area in conn.execute(q):
        rule = "area_too_small" if area < lo else "area_too_large"
        out.append(Violation(idx, code, rule,
                             f"宗地 {code}：面积 {area:,.2f} 亩不在合理范围（{lo:g}–{hi:g} 亩）"))
    return out


def check_candidates(conn: Connection, cand: FromClause, also_excluded: Sequence[int] = ()) -> list[Violation]:
    """Every violation of the candidates, by rule, errors and warnings, ordered by candidate.

    ``cand`` has the columns of :data:`CANDIDATE_COLUMNS` (and may have ``area_m2``, the
    ellipsoidal area already computed, which the size rule then uses); ``also_excluded`` are stored
    parcel ids the write retires (a split's or merge's parents).
    """
    s = get_settings()
    found = [
        *_county_rule(conn, cand, s.hggis_boundary_tolerance_m),
        *_park_rule(conn, cand, s.hggis_boundary_tolerance_m),
        *_size_rule(conn, cand, s.hggis_parcel_min_mu, s.hggis_parcel_max_mu),
        *_overlap_live_rule(conn, cand, also_excluded, s.hggis_overlap_tolerance_m2),
        *_overlap_each_other_rule(conn, cand, s.hggis_overlap_tolerance_m2),
    ]
    return sorted(found, key=lambda v: (v.idx, v.severity != "error", v.rule))


def stored_candidates(ids: Sequence[int]) -> FromClause:
    """Rows already written in this transaction, as candidates (each replaces itself)."""
    p = parcels.c
    return (
        select(p.id.label("idx"), p.code, p.adcode, p.park_id, p.geom, p.id.label("replaces_id"))
        .where(p.id == any_(cast(list(ids), ARRAY(Integer))))
        .subquery("parcel_candidates")
    )


def errors_of(found: list[Violation]) -> list[Violation]:
    return [v for v in found if v.severity == "error"]


def warnings_of(found: list[Violation]) -> list[Violation]:
    return [v for v in found if v.severity == "warning"]
