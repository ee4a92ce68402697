"""Investor enquiries: the public form's checks, storage for the park's 招商 office, answers.

No account is needed to send one, so the door defends itself: a signed form token with a
minimum fill time (scripts post at once) and a maximum age, a honeypot field people never
see, size limits per field, a per-address hourly limit and a refusal of the same content
again within a window (settings ``hggis_enquiry_*``). The sender's address is stored only
as a salted hash. Enquiries are read and answered within ``enquiries`` scope (park managers
their parks, county officers their counties); anonymous callers never see one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, case, func, select, text, update
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize, scope_clause
from hggis.config import get_settings
from hggis.db.models import ENQUIRY_STATUSES, Enquiry, Parcel, Park, table_of
from hggis.errors import Conflict, Forbidden, Invalid, NotFound, TooMany

ENQUIRIES = table_of(Enquiry)
PARKS = table_of(Park)

FIELD_LIMITS: dict[str, tuple[str, int, bool]] = {
    # field -> (Chinese label, max characters, required)
    "name": ("姓名", 50, True),
    "firm": ("企业名称", 100, False),
    "contact": ("联系方式", 100, True),
    "project": ("项目简介", 2000, False),
}
ANSWER_MAX = 4000
LAND_NEED_MAX_MU = 100_000
TOKEN_MAX_AGE = dt.timedelta(hours=24)
HONEYPOT = "website"  # the hidden field's name: people leave it empty, form-filling scripts do not


class InvalidEnquiry(Invalid):
    """A field of the enquiry breaks its rule (the message is shown to the investor)."""


class RefusedEnquiry(Invalid):
    """A scripted or expired form: refused without saying which check caught it in detail."""


class RepeatedEnquiry(Conflict):
    """The same enquiry was already sent within the repeat window."""


class EnquiryNotFound(NotFound):
    """No enquiry with this id in the caller's scope."""


@lru_cache(maxsize=1)
def _secret() -> bytes:
    configured = get_settings().hggis_form_secret
    return configured.encode() if configured else secrets.token_bytes(32)


def _sign(message: str) -> str:
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()[:32]


def form_token(code: str, at: dt.datetime | None = None) -> str:
    """The token a served form carries: when it was served, for which parcel, signed."""
    issued = int((at or clock.now()).timestamp())
    return f"{issued}.{_sign(f'{issued}:{code}')}"


def check_token(token: str, code: str, now: dt.datetime | None = None) -> None:
    """Refuse a form not served by us for this parcel, sent back too fast, or too old."""
    issued_text, _, signature = (token or "").partition(".")
    if not issued_text.isdigit() or not hmac.compare_digest(signature.encode(), _sign(f"{issued_text}:{code}").encode()):
        raise RefusedEnquiry("表单已失效，请刷新页面后重新填写", field="form_token")
    age = (now or clock.now()).timestamp() - int(issued_text)
    if age < get_settings().hggis_enquiry_min_fill_seconds:
        raise RefusedEnquiry("提交过快，疑似自动提交，未受理；请稍候几秒再提交", field="form_token")
    if age > TOKEN_MAX_AGE.total_seconds():
        raise RefusedEnquiry("表单已过期（超过 24 小时），请刷新页面后重新填写", field="form_token")


def sender_hash(address: str) -> str:
    return hmac.new(_secret(), f"sender:{address}".encode(), hashlib.sha256).hexdigest()


def clean_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The enquiry's fields, trimmed and within their limits; land need in 亩 (optional)."""
    clean: dict[str, Any] = {}
    for key, (label, limit, required) in FIELD_LIMITS.items():
        text = str(values.get(key) or "").strip()
        if required and not text:
            raise InvalidEnquiry(f"请填写{label}", field=key)
        if len(text) > limit:
            raise InvalidEnquiry(f"{label}过长（{len(text)} 字，最多 {limit} 字）", field=key)
        clean[key] = text or None
    raw = str(values.get("land_need_mu") or "").strip()
    clean["land_need_mu"] = None
    if raw:
        try:
            need = Decimal(raw)
        except InvalidOperation:
            raise InvalidEnquiry(f"用地需求 {raw[:20]!r} 不是数字（亩）", field="land_need_mu") from None
        if not (need.is_finite() and 0 < need <= LAND_NEED_MAX_MU):
            raise InvalidEnquiry(f"用地需求应大于 0 且不超过 {LAND_NEED_MAX_MU} 亩", field="land_need_mu")
        clean["land_need_mu"] = need.quantize(Decimal("0.01"))
    return clean


def _content_hash(parcel_id: int, clean: dict[str, Any]) -> str:
    body = "\x1f".join([str(parcel_id), *(str(clean.get(k) or "").casefold() for k in ("name", "contact", "project"))])
    return hashlib.sha256(body.encode()).hexdigest()


def submit(conn: Connection, code: str, values: dict[str, Any], address: str, token: str,
           honeypot: str = "") -> dict[str, Any]:
    """Store an investor's enquiry about land on offer, after the form's defences; returns its id."""
    p = table_of(Parcel)
    parcel = conn.execute(select(p.c.id, p.c.code, p.c.adcode, p.c.park_id)
                          .where(p.c.code == code.strip().upper(), p.c.retired_at.is_(None), p.c.status == "on_offer")).first()
    if parcel is None:
        raise NotFound(f"没有挂牌出让中的宗地 {code}")
    if honeypot.strip():
        raise RefusedEnquiry("提交被拒绝：疑似自动提交", field=HONEYPOT)
    check_token(token, parcel.code)
    clean = clean_fields(values)
    settings = get_settings()
    sender = sender_hash(address)
    content = _content_hash(parcel.id, clean)
    now = clock.now()
    q = ENQUIRIES
    conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(sender))))  # one sender's posts in turn
    recent = conn.execute(select(func.count()).select_from(q).where(
        q.c.sender_hash == sender, q.c.created_at > now - dt.timedelta(hours=1))).scalar_one()
    if recent >= settings.hggis_enquiry_per_hour:
        raise TooMany(f"提交过于频繁：每个地址每小时最多 {settings.hggis_enquiry_per_hour} 条咨询，请稍后再试")
    earlier = conn.execute(select(q.c.created_at).where(
        q.c.content_hash == content, q.c.created_at > now - dt.timedelta(hours=settings.hggis_enquiry_repeat_hours))
        .order_by(q.c.created_at.desc()).limit(1)).scalar_one_or_none()
    if earlier is not None:
        raise RepeatedEnquiry("相同的咨询已经提交过，园区招商部门会尽快答复，请勿重复提交")
    new_id = conn.execute(q.insert().values(
        parcel_id=parcel.id, adcode=parcel.adcode, park_id=parcel.park_id, sender_hash=sender, content_hash=content,
        created_at=now, **clean).returning(q.c.id)).scalar_one()
    return {"id": new_id, "code": parcel.code, "status": "open"}


def _columns() -> list[Any]:
    q, p, k = ENQUIRIES, table_of(Parcel), PARKS
    return [q.c.id, p.c.code, q.c.adcode, q.c.park_id, k.c.name.label("park"), q.c.name, q.c.firm, q.c.contact,
            q.c.project, q.c.land_need_mu, q.c.status, q.c.answer, q.c.answered_by, q.c.answered_at, q.c.closed_at,
            q.c.created_at, q.c.version]


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    d["land_need_mu"] = None if d["land_need_mu"] is None else float(d["land_need_mu"])
    d["status_label"] = ENQUIRY_STATUSES[d["status"]]
    return d


def _from() -> Any:
    q, p, k = ENQUIRIES, table_of(Parcel), PARKS
    return q.join(p, p.c.id == q.c.parcel_id).outerjoin(k, k.c.id == q.c.park_id)


def list_enquiries(conn: Connection, principal: Principal, status: str | None = None, limit: int = 100,
                   offset: int = 0) -> dict[str, Any]:
    """Enquiries in the caller's scope, newest first; ``status`` filters (open/answered/closed)."""
    where, params = scope_clause(principal, "enquiries", "read", "enquiries.adcode", "enquiries.park_id")
    if status is not None and status not in ENQUIRY_STATUSES:
        raise Invalid(f"status {status!r}: one of {', '.join(ENQUIRY_STATUSES)}", field="status")
    q = ENQUIRIES
    cond = and_(text(where).bindparams(**params) if params else text(where),
                q.c.status == status if status else q.c.id.isnot(None))
    total = conn.execute(select(func.count()).select_from(q).where(cond)).scalar_one()
    rows = conn.execute(select(*_columns()).select_from(_from()).where(cond)
                        .order_by(q.c.created_at.desc(), q.c.id.desc()).limit(limit).offset(offset)).all()
    return {"total": total, "items": [_row(r) for r in rows]}


def get_enquiry(conn: Connection, principal: Principal, enquiry_id: int) -> dict[str, Any]:
    q = ENQUIRIES
    row = conn.execute(select(*_columns()).select_from(_from()).where(q.c.id == enquiry_id)).first()
    if row is None:
        raise EnquiryNotFound(f"没有咨询 #{enquiry_id}")
    try:
        authorize(principal, "enquiries", "read", adcode=row.adcode, park_id=row.park_id)
    except Forbidden:
        raise EnquiryNotFound(f"没有咨询 #{enquiry_id}") from None  # outside the scope: not even that it exists
    return _row(row)


def _for_write(conn: Connection, principal: Principal, enquiry_id: int, expected_version: int | None) -> dict[str, Any]:
    current = get_enquiry(conn, principal, enquiry_id)
    authorize(principal, "enquiries", "write", adcode=current["adcode"], park_id=current["park_id"])
    if current["status"] == "closed":
        raise Conflict(f"咨询 #{enquiry_id} 已关闭", field="status")
    if expected_version is not None and expected_version != current["version"]:
        raise Conflict(f"咨询 #{enquiry_id} 已被他人处理（现为第 {current['version']} 版），请刷新后再试", field="version")
    return current


def answer(conn: Connection, principal: Principal, enquiry_id: int, body_text: str,
           expected_version: int | None = None) -> dict[str, Any]:
    """Record the office's answer (may be revised until the enquiry is closed)."""
    body = (body_text or "").strip()
    if not body:
        raise Invalid("请填写答复内容", field="answer")
    if len(body) > ANSWER_MAX:
        raise Invalid(f"答复过长（最多 {ANSWER_MAX} 字）", field="answer")
    _for_write(conn, principal, enquiry_id, expected_version)
    q = ENQUIRIES
    conn.execute(update(q).where(q.c.id == enquiry_id).values(
        answer=body, status="answered", answered_by=principal.actor, answered_at=clock.now(), version=q.c.version + 1))
    return get_enquiry(conn, principal, enquiry_id)


def close(conn: Connection, principal: Principal, enquiry_id: int, expected_version: int | None = None) -> dict[str, Any]:
    """Close an enquiry (answered, or not to be followed up: the history's reason says why)."""
    _for_write(conn, principal, enquiry_id, expected_version)
    q = ENQUIRIES
    conn.execute(update(q).where(q.c.id == enquiry_id).values(status="closed", closed_at=clock.now(),
                                                                version=q.c.version + 1))
    return get_enquiry(conn, principal, enquiry_id)


def counts_by_park(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    """Open / answered / closed enquiries per park in the caller's scope (land outside parks: park None)."""
    where, params = scope_clause(principal, "enquiries", "read", "enquiries.adcode", "enquiries.park_id")
    q, k = ENQUIRIES, PARKS
    counts = [func.count(case((q.c.status == s, 1))).label(s) for s in ENQUIRY_STATUSES]
    rows = conn.execute(
        select(q.c.park_id, k.c.name.label("park"), *counts).select_from(q.outerjoin(k, k.c.id == q.c.park_id))
        .where(text(where).bindparams(**params) if params else text(where))
        .group_by(q.c.park_id, k.c.name).order_by(k.c.name)
    ).all()
    return [dict(r._mapping) for r in rows]
