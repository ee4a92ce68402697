"""The published terms of land on offer (起始价, 供地方式, listing dates) and the parks' 招商 contacts.

Both are set by the officers who own the land (``parcels.write``) or the park (``parks.write``),
inside a ``transaction`` so history records who changed what and why. Only reserve or
on-offer land carries offer terms: once supplied, the contract (``parcels.land_price``,
confidential) takes over.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.db.models import SUPPLY_METHODS, Parcel, ParcelOffer, Park, table_of
from hggis.errors import Conflict, Invalid, NotFound

OFFERS = table_of(ParcelOffer)
PARKS = table_of(Park)

OFFER_FIELDS: dict[str, str] = {
    "start_price": "起始价（万元）",
    "supply_method": "供地方式",
    "listing_start": "挂牌（公告）开始日期",
    "listing_end": "挂牌截止日期",
    "term_years": "出让年限（年）",
    "note": "说明",
}
CONTACT_FIELDS: dict[str, str] = {
    "contact_office": "招商部门",
    "contact_person": "联系人",
    "contact_phone": "联系电话",
    "contact_email": "电子邮箱",
    "contact_address": "地址",
}
OFFER_STATUSES = ("reserve", "on_offer")
MAX_TEXT = 500
MAX_PRICE = Decimal(999999999999)  # numeric(14, 2)
PHONE = re.compile(r"^[0-9+()\- 转]{5,40}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$")


class InvalidTerms(Invalid):
    """An offer term or contact that breaks its rule; ``field`` names it."""


class StaleTerms(Conflict):
    """The terms changed since the caller read them."""


def _parcel(conn: Connection, code: str) -> Any:
    p = table_of(Parcel)
    row = conn.execute(select(p.c.id, p.c.code, p.c.adcode, p.c.park_id, p.c.status)
                       .where(p.c.code == code.strip().upper(), p.c.retired_at.is_(None))).first()
    if row is None:
        raise NotFound(f"没有宗地 {code}")
    return row


def _text(field: str, value: Any) -> str | None:
    text = None if value is None else str(value).strip()
    if text and len(text) > MAX_TEXT:
        raise InvalidTerms(f"{field}: 超过 {MAX_TEXT} 字", field=field)
    return text or None


def _date(field: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidTerms(f"{OFFER_FIELDS[field]}：{value!r} 不是日期（YYYY-MM-DD）", field=field) from None


def clean_offer(values: dict[str, Any]) -> dict[str, Any]:
    """Typed offer terms, each refusal naming its field."""
    unknown = sorted(set(values) - set(OFFER_FIELDS))
    if unknown:
        raise InvalidTerms(f"未知字段 {unknown[0]}（可用：{', '.join(OFFER_FIELDS)}）", field=unknown[0])
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key == "start_price":
            if value in (None, ""):
                clean[key] = None
                continue
            try:
                price = Decimal(str(value).strip())
            except InvalidOperation:
                raise InvalidTerms(f"起始价 {value!r} 不是数字（万元）", field=key) from None
            if not (price.is_finite() and 0 <= price <= MAX_PRICE):
                raise InvalidTerms("起始价应为 0 及以上的万元数", field=key)
            clean[key] = price.quantize(Decimal("0.01"))
        elif key == "supply_method":
            method = _text(key, value)
            if method is not None and method not in SUPPLY_METHODS:
                raise InvalidTerms(f"供地方式 {method!r} 不在 {'、'.join(SUPPLY_METHODS)} 之中", field=key)
            clean[key] = method
        elif key in ("listing_start", "listing_end"):
            clean[key] = _date(key, value)
        elif key == "term_years":
            if value in (None, ""):
                clean[key] = None
                continue
            try:
                years = int(str(value).strip())
            except ValueError:
                raise InvalidTerms(f"出让年限 {value!r} 不是整数", field=key) from None
            if not 1 <= years <= 70:
                raise InvalidTerms("出让年限应在 1–70 年之间（法定最高年限：工业用地 50 年、居住用地 70 年）", field=key)
            clean[key] = years
        else:
            clean[key] = _text(key, value)
    return clean


def read_offer(conn: Connection, parcel_id: int) -> dict[str, Any] | None:
    o = OFFERS
    row = conn.execute(select(o).where(o.c.parcel_id == parcel_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["start_price"] = None if row["start_price"] is None else float(row["start_price"])
    return out


def set_offer(conn: Connection, principal: Principal, code: str, values: dict[str, Any],
              expected_version: int | None = None) -> dict[str, Any]:
    """Set (some of) the offer terms of reserve / on-offer land; unnamed terms keep their value."""
    parcel = _parcel(conn, code)
    authorize(principal, "parcels", "write", adcode=parcel.adcode, park_id=parcel.park_id)
    if parcel.status not in OFFER_STATUSES:
        raise InvalidTerms(f"宗地 {parcel.code} 不是储备或挂牌出让中的土地：起始价和供地方式只为待供应土地发布", field="code")
    clean = clean_offer(values)
    o = OFFERS
    current = conn.execute(select(o).where(o.c.parcel_id == parcel.id).with_for_update()).mappings().first()
    version = current["version"] if current else 0
    if expected_version is not None and expected_version != version:
        raise StaleTerms(f"宗地 {parcel.code} 的供地信息已被他人修改（现为第 {version} 版）", field="version")
    merged = {k: (current[k] if current else None) for k in OFFER_FIELDS} | clean
    start, end = merged["listing_start"], merged["listing_end"]
    if start and end and end < start:
        raise InvalidTerms("挂牌截止日期早于开始日期", field="listing_end")
    if current is None:
        conn.execute(insert(o).values(parcel_id=parcel.id, **merged))
    else:
        conn.execute(update(o).where(o.c.parcel_id == parcel.id)
                     .values(**merged, version=o.c.version + 1, updated_at=dt.datetime.now(dt.UTC)))
    result = read_offer(conn, parcel.id)
    assert result is not None
    return {"code": parcel.code, **result}


def clean_contacts(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(CONTACT_FIELDS))
    if unknown:
        raise InvalidTerms(f"未知字段 {unknown[0]}（可用：{', '.join(CONTACT_FIELDS)}）", field=unknown[0])
    clean = {k: _text(k, v) for k, v in values.items()}
    phone, email = clean.get("contact_phone"), clean.get("contact_email")
    if phone and not PHONE.match(phone):
        raise InvalidTerms(f"联系电话 {phone!r} 不像电话号码", field="contact_phone")
    if email and not EMAIL.match(email):
        raise InvalidTerms(f"电子邮箱 {email!r} 格式不对", field="contact_email")
    return clean


def park_contacts(conn: Connection, park_id: int) -> dict[str, Any]:
    k = PARKS
    row = conn.execute(select(k.c.id, k.c.name, k.c.version, *(k.c[c] for c in CONTACT_FIELDS))
                       .where(k.c.id == park_id)).mappings().first()
    if row is None:
        raise NotFound(f"没有园区 {park_id}")
    return dict(row)


def set_park_contacts(conn: Connection, principal: Principal, park_id: int, values: dict[str, Any],
                      expected_version: int | None = None) -> dict[str, Any]:
    """Set the park's 招商 contacts (county officers: parks of their county)."""
    k = PARKS
    row = conn.execute(select(k.c.id, k.c.adcode, k.c.version).where(k.c.id == park_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"没有园区 {park_id}")
    authorize(principal, "parks", "write", adcode=row.adcode, park_id=row.id)
    if expected_version is not None and expected_version != row.version:
        raise StaleTerms(f"园区联系方式已被他人修改（现为第 {row.version} 版）", field="version")
    clean = clean_contacts(values)
    if clean:
        conn.execute(update(k).where(k.c.id == park_id).values(**clean, version=k.c.version + 1))
    return park_contacts(conn, park_id)
