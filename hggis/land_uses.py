"""Who uses which parcel, with what share, over a period: the one definition of land use.

domain.md §5: an enterprise's land is the parcels it holds. The parcel's holder
(``parcels.holder_id``, the 宗地权利人 of the land register) therefore uses its parcel by
default, without any occupancy row: a land office that imports parcels with the holder's
统一社会信用代码 has said who uses the land. Occupancies refine that: a lessee, a share, a
sub-let, each with an optional period (``valid_from`` / ``valid_to``, inclusive, NULL open).

The rule, in one place for the evaluation, the parcel page and the exports:

- every occupancy row counts, weighted by the part of the period it covers (a lessee that
  moved in on 1 July counts half its share in that year's evaluation);
- the holder has an *implied* share, ``1 − Σ the other users' weighted shares``, unless it
  has an occupancy row of its own on that parcel (then its rows say exactly what it uses);
- an implied share at or below ``SHARE_EPSILON`` is no use (the parcel is fully let).

Shares of one parcel never add up to more than 1 at any moment: ``hggis.occupancies``
checks it before writing and the database's deferred trigger (migration 0014) at commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    and_,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import ColumnElement, FromClause, Subquery

from hggis.db.models import Occupancy, Parcel, table_of

occupancies = table_of(Occupancy)
parcels = table_of(Parcel)

#: half the last digit of numeric(6, 5): smaller differences of shares are rounding
SHARE_EPSILON = 0.000005
IMPLIED_ROLE = "holder"


def year_period(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _overlaps(o: FromClause, start: dt.date, end: dt.date) -> ColumnElement[bool]:
    return and_(
        or_(o.c.valid_from.is_(None), o.c.valid_from <= end),
        or_(o.c.valid_to.is_(None), o.c.valid_to >= start),
    )


def _coverage(o: FromClause, start: dt.date, end: dt.date) -> ColumnElement[Any]:
    """The part of [start, end] the occupancy covers (0–1); date − date is whole days in PostgreSQL."""
    days = (end - start).days + 1
    lo = func.greatest(func.coalesce(o.c.valid_from, start), start)
    hi = func.least(func.coalesce(o.c.valid_to, end), end)
    return cast(hi - lo + 1, Float) / float(days)


def _counted(p: FromClause, statuses: Sequence[str] | None) -> ColumnElement[bool]:
    live = p.c.retired_at.is_(None)
    return and_(live, p.c.status.in_(list(statuses))) if statuses is not None else live


def land_uses(start: dt.date, end: dt.date, statuses: Sequence[str] | None = None) -> Subquery:
    """(parcel_id, occupant_id, role, share, occupancy_id) over [start, end], shares weighted by coverage.

    ``statuses`` limits the parcels (the evaluation counts held land only); ``occupancy_id``
    is NULL for the holder's implied share. For one day (``start == end``) the shares are
    the ones in force that day.
    """
    o = occupancies.alias("o")
    p = parcels.alias("p")
    explicit = (
        select(
            o.c.parcel_id,
            o.c.enterprise_id.label("occupant_id"),
            o.c.role,
            (cast(o.c.share, Float) * _coverage(o, start, end)).label("share"),
            o.c.id.label("occupancy_id"),
        )
        .select_from(o.join(p, p.c.id == o.c.parcel_id))
        .where(_counted(p, statuses), _overlaps(o, start, end))
    )
    others = occupancies.alias("others")
    used_by_others = (
        select(func.coalesce(func.sum(cast(others.c.share, Float) * _coverage(others, start, end)), 0.0))
        .where(
            others.c.parcel_id == p.c.id,
            others.c.enterprise_id != p.c.holder_id,
            _overlaps(others, start, end),
        )
        .scalar_subquery()
    )
    own = occupancies.alias("own")
    holder_has_rows = exists().where(own.c.parcel_id == p.c.id, own.c.enterprise_id == p.c.holder_id)
    implied = (
        select(
            p.c.id.label("parcel_id"),
            p.c.holder_id.label("occupant_id"),
            literal(IMPLIED_ROLE).label("role"),
            (literal(1.0, Float) - used_by_others).label("share"),
            cast(null(), Integer).label("occupancy_id"),
        )
        .where(
            _counted(p, statuses),
            p.c.holder_id.isnot(None),
            ~holder_has_rows,
            literal(1.0, Float) - used_by_others > SHARE_EPSILON,
        )
    )
    return union_all(explicit, implied).subquery("land_uses")


def land_uses_in_year(year: int, statuses: Sequence[str] | None = None) -> Subquery:
    return land_uses(*year_period(year), statuses=statuses)


def land_uses_on(day: dt.date, statuses: Sequence[str] | None = None) -> Subquery:
    return land_uses(day, day, statuses=statuses)
