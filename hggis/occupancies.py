"""Writing who uses a parcel: occupancies with a share, a role and a period.

Every door (API, parcel page, CLI, the occupancy import) goes through these functions, so
the rules are checked once: the caller may write the parcel (an occupancy is part of the
parcel's record), the enterprise is named by credit code, shares are in (0, 1] or come
from floor area over the parcel's 总建筑面积, the period is ordered, and the shares of one
parcel never exceed 100 % at any moment (checked here set-based to name the parcel, and
by the database's deferred trigger at commit for any path that skips this module).
Edits carry the version the caller read; history is written by the audit triggers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, cast, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from hggis import clock
from hggis.access.policy import Forbidden, Principal, authorize
from hggis.db.expressions import in_array
from hggis.db.models import OCCUPANCY_ROLES, Enterprise, Occupancy, Parcel, table_of
from hggis.errors import Conflict, Invalid, NotFound
from hggis.identifiers import validate_credit_code
from hggis.land_uses import SHARE_EPSILON, land_uses_on

OCCUPANCIES = table_of(Occupancy)
PARCELS = table_of(Parcel)
ENTERPRISES = table_of(Enterprise)

ROLE_LABELS = {"holder": "权利人", "lessee": "承租"}
#: words people write in a 角色 column, and the role they mean
ROLE_WORDS = {
    "holder": "holder", "权利人": "holder", "持有": "holder", "自有": "holder", "共有": "holder",
    "lessee": "lessee", "承租": "lessee", "租用": "lessee", "租赁": "lessee", "分租": "lessee", "转租": "lessee",
}
assert set(ROLE_WORDS.values()) <= set(OCCUPANCY_ROLES)


class InvalidOccupancy(Invalid):
    """An occupancy that cannot be written; ``field`` names the input at fault."""


class OccupancyNotFound(NotFound):
    """No such occupancy, or none the caller may see (the same answer, so it leaks nothing)."""


@dataclass
class StaleOccupancy(Conflict):
    occupancy_id: int
    expected: int
    current: int

    def extra(self) -> dict[str, Any]:
        return {"current_version": self.current}

    def __str__(self) -> str:
        return f"用地记录 {self.occupancy_id} 已被他人修改：您编辑的是第 {self.expected} 版，当前为第 {self.current} 版"


@dataclass
class OccupancyInput:
    """One user of one parcel; ``share`` or ``floor_area_m2`` (then share = floor area / parcel's)."""

    parcel_code: str
    credit_code: str
    role: str = "lessee"
    share: float | None = None
    floor_area_m2: float | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


def parse_role(value: Any) -> str:
    word = str(value).strip() if value is not None else ""
    if not word:
        return "lessee"
    if word in ROLE_WORDS:
        return ROLE_WORDS[word]
    raise InvalidOccupancy(f"角色 {value!r} 不可识别（可填：权利人、承租）", field="role")


def _parcel(conn: Connection, code: str, lock: bool = False) -> Any:
    q = select(PARCELS.c.id, PARCELS.c.code, PARCELS.c.adcode, PARCELS.c.park_id, PARCELS.c.floor_area_m2,
               PARCELS.c.retired_at).where(PARCELS.c.code == code.strip().upper())
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None or row.retired_at is not None:
        raise OccupancyNotFound(f"宗地 {code} 不存在" + ("（已注销）" if row is not None else ""))
    return row


def _enterprise_id(conn: Connection, credit_code: str) -> int:
    try:
        code = validate_credit_code(credit_code)
    except ValueError as exc:
        raise InvalidOccupancy(f"统一社会信用代码: {exc}", field="credit_code") from None
    eid = conn.execute(select(ENTERPRISES.c.id).where(ENTERPRISES.c.credit_code == code)).scalar_one_or_none()
    if eid is None:
        raise InvalidOccupancy(f"统一社会信用代码 {code} 尚未登记企业（先导入企业年度数据）", field="credit_code")
    return int(eid)


def resolve_share(share: float | None, floor_area_m2: float | None, parcel_floor_area: float | None,
                  parcel_code: str) -> float:
    """The share as stored: given, or floor area over the parcel's total floor area."""
    if share is None:
        if floor_area_m2 is None:
            raise InvalidOccupancy("份额或建筑面积须填其一", field="share")
        if not parcel_floor_area:
            raise InvalidOccupancy(f"宗地 {parcel_code} 未登记总建筑面积，无法由建筑面积折算份额", field="floor_area_m2")
        share = floor_area_m2 / parcel_floor_area
    if not (0 < share <= 1):  # also refuses NaN
        raise InvalidOccupancy(f"份额 {share!r} 须大于 0 且不超过 1（100%）", field="share")
    return round(float(share), 5)


def check_period(valid_from: dt.date | None, valid_to: dt.date | None) -> None:
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidOccupancy(f"终止日期 {valid_to} 早于起始日期 {valid_from}", field="valid_to")


def share_overflows(conn: Connection, parcel_ids: Iterable[int]) -> list[tuple[str, float]]:
    """(parcel code, highest total share) of the parcels whose users' shares exceed 1 at some moment.

    The total peaks at the start of some period, so it is evaluated at every start
    (NULL = since ever); the same rule as the deferred trigger of migration 0014.
    """
    ids = sorted(set(parcel_ids))
    if not ids:
        return []
    o1, o2 = OCCUPANCIES.alias("o1"), OCCUPANCIES.alias("o2")
    start = func.coalesce(o1.c.valid_from, dt.date.min)
    covers = and_(
        o2.c.parcel_id == o1.c.parcel_id,
        or_(o2.c.valid_from.is_(None), o2.c.valid_from <= start),
        or_(o2.c.valid_to.is_(None), o2.c.valid_to >= start),
    )
    at_start = (
        select(o1.c.parcel_id, func.sum(cast(o2.c.share, Float)).label("total"))
        .select_from(o1.join(o2, covers))
        .where(in_array(o1.c.parcel_id, ids))
        .group_by(o1.c.parcel_id, o1.c.id)
        .subquery()
    )
    q = (
        select(PARCELS.c.code, func.max(at_start.c.total))
        .join(at_start, at_start.c.parcel_id == PARCELS.c.id)
        .group_by(PARCELS.c.code)
        .having(func.max(at_start.c.total) > 1 + SHARE_EPSILON)
        .order_by(PARCELS.c.code)
    )
    return [(str(c), float(t)) for c, t in conn.execute(q).all()]


def refuse_overflow(conn: Connection, parcel_id: int) -> None:
    over = share_overflows(conn, [parcel_id])
    if over:
        code, total = over[0]
        raise InvalidOccupancy(f"宗地 {code}：各用地企业的份额合计 {total:.5g}，超过 1（100%）", field="share")


def _as_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id, "parcel_code": row.parcel_code, "credit_code": row.credit_code, "name": row.name,
        "role": row.role, "role_label": ROLE_LABELS.get(row.role, row.role), "share": float(row.share),
        "floor_area_m2": row.floor_area_m2, "valid_from": row.valid_from, "valid_to": row.valid_to,
        "version": row.version,
    }


def _select_occupancies():  # noqa: ANN202 - a Select of the joined columns
    o, p, e = OCCUPANCIES, PARCELS, ENTERPRISES
    return (
        select(o.c.id, p.c.code.label("parcel_code"), e.c.credit_code, e.c.name, o.c.role, o.c.share,
               o.c.floor_area_m2, o.c.valid_from, o.c.valid_to, o.c.version, p.c.adcode, p.c.park_id)
        .select_from(o.join(p, p.c.id == o.c.parcel_id).join(e, e.c.id == o.c.enterprise_id))
    )


def list_for_parcel(conn: Connection, principal: Principal, code: str, on: dt.date | None = None) -> dict[str, Any]:
    """The parcel's recorded occupancies, and who uses it on ``on`` (today) with what share."""
    parcel = _parcel(conn, code)
    authorize(principal, "parcels", "read", parcel.adcode, parcel.park_id)
    day = on or clock.today()
    rows = conn.execute(_select_occupancies().where(OCCUPANCIES.c.parcel_id == parcel.id)
                        .order_by(OCCUPANCIES.c.id)).all()
    uses = land_uses_on(day)
    in_force = conn.execute(
        select(uses.c.occupancy_id, uses.c.occupant_id, uses.c.share, ENTERPRISES.c.credit_code, ENTERPRISES.c.name)
        .join(ENTERPRISES, ENTERPRISES.c.id == uses.c.occupant_id)
        .where(uses.c.parcel_id == parcel.id)
    ).all()
    by_occupancy = {u.occupancy_id: float(u.share) for u in in_force if u.occupancy_id is not None}
    items = []
    for r in rows:
        d = _as_dict(r)
        d["recorded_share"], d["share"], d["implied"] = d["share"], by_occupancy.get(r.id, 0.0), False
        items.append(d)
    for u in in_force:
        if u.occupancy_id is None:  # the holder's share nobody else uses
            items.insert(0, {"id": None, "parcel_code": parcel.code, "credit_code": u.credit_code, "name": u.name,
                             "role": "holder", "role_label": ROLE_LABELS["holder"], "share": float(u.share),
                             "recorded_share": None, "floor_area_m2": None, "valid_from": None, "valid_to": None,
                             "version": None, "implied": True})
    return {"parcel_code": parcel.code, "on": day, "items": items}


def add_occupancy(conn: Connection, principal: Principal, data: OccupancyInput) -> dict[str, Any]:
    parcel = _parcel(conn, data.parcel_code, lock=True)
    authorize(principal, "parcels", "write", parcel.adcode, parcel.park_id)
    if data.role not in OCCUPANCY_ROLES:
        raise InvalidOccupancy(f"角色 {data.role!r} 不可识别（可填：权利人、承租）", field="role")
    check_period(data.valid_from, data.valid_to)
    share = resolve_share(data.share, data.floor_area_m2, parcel.floor_area_m2, parcel.code)
    eid = _enterprise_id(conn, data.credit_code)
    exists = conn.execute(select(OCCUPANCIES.c.id).where(OCCUPANCIES.c.parcel_id == parcel.id,
                                                         OCCUPANCIES.c.enterprise_id == eid)).first()
    if exists is not None:
        raise InvalidOccupancy(f"宗地 {parcel.code} 已有该企业的用地记录（{exists.id}），请修改那条记录", field="credit_code")
    new_id = conn.execute(
        insert(OCCUPANCIES).values(parcel_id=parcel.id, enterprise_id=eid, share=share, role=data.role,
                                   floor_area_m2=data.floor_area_m2, valid_from=data.valid_from,
                                   valid_to=data.valid_to).returning(OCCUPANCIES.c.id)
    ).scalar_one()
    refuse_overflow(conn, parcel.id)
    return get_occupancy(conn, principal, int(new_id))


def _locked_occupancy(conn: Connection, principal: Principal, occupancy_id: int, action: str) -> Row[Any]:
    row = conn.execute(
        _select_occupancies().add_columns(OCCUPANCIES.c.parcel_id, PARCELS.c.floor_area_m2.label("parcel_floor_area"))
        .where(OCCUPANCIES.c.id == occupancy_id).with_for_update(of=OCCUPANCIES)
    ).first()
    if row is None:
        raise OccupancyNotFound(f"用地记录 {occupancy_id} 不存在")
    try:
        authorize(principal, "parcels", "read", row.adcode, row.park_id)
    except Forbidden:
        raise OccupancyNotFound(f"用地记录 {occupancy_id} 不存在") from None
    authorize(principal, "parcels", action, row.adcode, row.park_id)
    return row


def get_occupancy(conn: Connection, principal: Principal, occupancy_id: int) -> dict[str, Any]:
    return _as_dict(_locked_occupancy(conn, principal, occupancy_id, "read"))


EDITABLE = ("share", "floor_area_m2", "role", "valid_from", "valid_to")


def update_occupancy(
    conn: Connection, principal: Principal, occupancy_id: int, changes: dict[str, Any], expected: int
) -> dict[str, Any]:
    row = _locked_occupancy(conn, principal, occupancy_id, "write")
    if row.version != expected:
        raise StaleOccupancy(occupancy_id, expected, row.version)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidOccupancy(f"不可修改的字段: {', '.join(unknown)}", field=unknown[0])
    values = dict(changes)
    if "role" in values and values["role"] not in OCCUPANCY_ROLES:
        raise InvalidOccupancy(f"角色 {values['role']!r} 不可识别（可填：权利人、承租）", field="role")
    check_period(values.get("valid_from", row.valid_from), values.get("valid_to", row.valid_to))
    if values.get("share") is not None:
        values["share"] = resolve_share(values["share"], None, None, row.parcel_code)
    elif values.get("floor_area_m2") is not None:
        values["share"] = resolve_share(None, values["floor_area_m2"], row.parcel_floor_area, row.parcel_code)
    elif "share" in values:
        raise InvalidOccupancy("份额不能为空（结束用地请填终止日期）", field="share")
    conn.execute(update(OCCUPANCIES).where(OCCUPANCIES.c.id == occupancy_id)
                 .values(**values, version=OCCUPANCIES.c.version + 1))
    refuse_overflow(conn, row.parcel_id)
    return get_occupancy(conn, principal, occupancy_id)


def delete_occupancy(conn: Connection, principal: Principal, occupancy_id: int, expected: int) -> None:
    """Remove a record entered by mistake; an occupancy that ended gets ``valid_to`` instead."""
    row = _locked_occupancy(conn, principal, occupancy_id, "write")
    if row.version != expected:
        raise StaleOccupancy(occupancy_id, expected, row.version)
    conn.execute(delete(OCCUPANCIES).where(OCCUPANCIES.c.id == occupancy_id))
