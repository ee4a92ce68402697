"""Users, API tokens and web sessions: creation, verification, revocation.

A token is ``hggis_<prefix>_<secret>`` with a 256-bit secret. It is shown once and stored
only as its SHA-256, which finds the row by a unique index: with that much randomness a
slow hash adds no protection, only ~0.3 s per request. The public prefix names the token
for revocation. Passwords, which people choose, keep argon2. Verification failures return
None without saying why, so a caller learns nothing about which part was wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from hggis.access.policy import ROLES, Principal, authorize
from hggis.access.tables import PHONE, USERNAME, ApiToken, User, UserPassword, WebSession
from hggis.db.models import County, Park, table_of
from hggis.errors import Invalid

TOKEN_PREFIX = "hggis_"
DEFAULT_TOKEN_DAYS = 90
SESSION_HOURS = 12
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # passwords only


class UserError(Invalid):
    """A user operation that cannot be done, with the reason.

    ``message`` is the operator's (English, at the terminal); ``shown`` is the same refusal
    in Chinese for the administrator's page, next to the form ``field`` it is about, so no
    door has to recognise a refusal by its wording.
    """

    def __init__(self, message: str, *, field: str = "_form", shown: str | None = None) -> None:
        super().__init__(message, field=field)
        self.shown = shown or message


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    prefix: str
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _principal(row) -> Principal:  # noqa: ANN001
    return Principal(
        username=row.username,
        role=row.role,
        counties=frozenset(row.counties or ()),
        parks=frozenset(row.park_ids or ()),
        user_id=row.id,
    )


def check_role_scope(conn: Connection, role: str, counties: list[str], parks: list[int]) -> None:
    """A role exists and its scope names real counties and parks (UserError otherwise)."""
    if role not in ROLES or role == "public":
        raise UserError(f"unknown role {role!r}: one of park_manager, county_officer, city_admin", field="role",
                        shown="请选择角色：园区管理员、县级自然资源干部或市级管理员")
    if role == "county_officer" and not counties:
        raise UserError("a county_officer needs at least one county (--county)", field="counties",
                        shown="县级自然资源干部须至少选择一个县（市、区）")
    if role == "park_manager" and not parks:
        raise UserError("a park_manager needs at least one park (--park)", field="parks",
                        shown="园区管理员须至少选择一个园区")
    known = set(conn.execute(select(table_of(County).c.adcode)).scalars())
    if unknown := [c for c in counties if c not in known]:
        raise UserError(f"unknown county code(s): {', '.join(unknown)}", field="counties", shown="所选县（市、区）不存在")
    known_parks = set(conn.execute(select(table_of(Park).c.id)).scalars())
    if unknown_parks := [p for p in parks if p not in known_parks]:
        raise UserError(f"unknown park id(s): {', '.join(map(str, unknown_parks))}", field="parks",
                        shown="所选园区不存在")


def _scope_of(role: str, counties: list[str], parks: list[int]) -> tuple[list[str], list[int]]:
    """The scope a role keeps: a city administrator has none, an officer counties, a manager parks."""
    counties, parks = sorted(set(counties)), sorted(set(parks))
    if role == "city_admin":
        return [], []
    if role == "county_officer":
        return counties, []
    return [], parks


def create_user(
    conn: Connection,
    by: Principal | None,
    username: str,
    role: str,
    counties: list[str] | None = None,
    parks: list[int] | None = None,
    display_name: str | None = None,
    unit: str | None = None,
    phone: str | None = None,
) -> int:
    """Create a user; ``by`` None means the operator's terminal (bootstrap of the first admin)."""
    if by is not None:
        authorize(by, "users", "write")
    counties, parks = sorted(set(counties or [])), sorted(set(parks or []))
    check_role_scope(conn, role, counties, parks)
    u = table_of(User)
    if conn.execute(select(u.c.id).where(u.c.username == username)).first():
        raise UserError(f"user {username} already exists", field="username", shown="该用户名已被使用")
    if phone is not None and not PHONE.fullmatch(phone):
        raise UserError(f"phone {phone!r}: digits, spaces, +, - and brackets, 5–20 characters", field="phone",
                        shown="电话号码应为 5–20 位数字，可含空格、+、- 和括号")
    if not USERNAME.fullmatch(username):
        raise UserError(f"username {username!r}: 2–40 characters, lower-case letters, digits, '_', '.', '-'",
                        field="username", shown="用户名须为 2–40 个字符：小写字母、数字、下划线、点或连字符")
    return conn.execute(
        insert(u).values(username=username, display_name=display_name, unit=unit, phone=phone, role=role,
                         counties=counties, park_ids=parks).returning(u.c.id)
    ).scalar_one()


def principal_of_username(conn: Connection, username: str) -> Principal:
    """An active user's role and scope, for a terminal operator acting in that user's name (``--as``)."""
    u = table_of(User)
    row = conn.execute(select(u).where(u.c.username == username, u.c.active)).first()
    if row is None:
        raise UserError(f"no active user {username}", shown="用户不存在或已停用")
    return _principal(row)


def user_id(conn: Connection, username: str) -> int:
    u = table_of(User)
    uid = conn.execute(select(u.c.id).where(u.c.username == username)).scalar_one_or_none()
    if uid is None:
        raise UserError(f"no user {username}", shown="用户不存在")
    return uid


def user_row(conn: Connection, uid: int) -> dict[str, Any]:
    """One user's record (no secrets), or UserError."""
    u, p = table_of(User), table_of(UserPassword)
    row = conn.execute(
        select(u.c.id, u.c.username, u.c.display_name, u.c.unit, u.c.phone, u.c.role, u.c.counties, u.c.park_ids,
               u.c.active, u.c.created_at, u.c.version,
               exists().where(p.c.user_id == u.c.id).label("has_password"))
        .where(u.c.id == uid)
    ).mappings().first()
    if row is None:
        raise UserError(f"no user {uid}", shown="用户不存在")
    return dict(row)


def tokens_of(conn: Connection, uid: int) -> list[dict[str, Any]]:
    """A user's tokens, newest first, with whether each still works."""
    t = table_of(ApiToken)
    live = and_(t.c.revoked_at.is_(None), t.c.expires_at > func.now())
    rows = conn.execute(
        select(t.c.prefix, t.c.label, t.c.created_at, t.c.expires_at, t.c.revoked_at, t.c.last_used_at,
               live.label("live"))
        .where(t.c.user_id == uid).order_by(t.c.id.desc())
    ).mappings()
    return [dict(r) for r in rows]


def _other_active_admins(conn: Connection, uid: int) -> int:
    u = table_of(User)
    return conn.execute(
        select(func.count()).select_from(u).where(u.c.role == "city_admin", u.c.active, u.c.id != uid)
    ).scalar_one()


def _keep_an_administrator(conn: Connection, user: dict[str, Any]) -> None:
    """Refuse the change that would leave no active city administrator, whoever asks (web or terminal)."""
    if user["role"] == "city_admin" and user["active"] and _other_active_admins(conn, user["id"]) == 0:
        raise UserError(
            "the last active city_admin cannot lose the role or be disabled: make another administrator first",
            field="role", shown="这是系统中最后一位启用的市级管理员，不能降级或停用；请先设置另一位市级管理员",
        )


def set_role_scope(conn: Connection, uid: int, role: str, counties: list[str], parks: list[int]) -> None:
    """Change a user's role and scope; their sessions and tokens carry the new rights at once."""
    check_role_scope(conn, role, sorted(set(counties)), sorted(set(parks)))
    current = user_row(conn, uid)
    if role != "city_admin":
        _keep_an_administrator(conn, current)
    counties, parks = _scope_of(role, counties, parks)
    u = table_of(User)
    conn.execute(update(u).where(u.c.id == uid).values(role=role, counties=counties, park_ids=parks,
                                                        version=u.c.version + 1))


def issue_token(conn: Connection, uid: int, days: int = DEFAULT_TOKEN_DAYS, label: str | None = None) -> IssuedToken:
    """A new token for an enabled user: a disabled user's token would be refused at once, so none is made."""
    if not 1 <= days <= 3650:
        raise UserError("token lifetime must be between 1 and 3650 days", field="days",
                        shown="有效期应在 1 至 3650 天之间")
    user = user_row(conn, uid)
    if not user["active"]:
        raise UserError(f"user {user['username']} is disabled: enable them before issuing a token",
                        shown="该用户已停用，请先启用再签发令牌")
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires = _now() + dt.timedelta(days=days)
    conn.execute(insert(table_of(ApiToken)).values(user_id=uid, prefix=prefix, token_hash=_sha256(token), label=label,
                                                   expires_at=expires))
    return IssuedToken(token=token, prefix=prefix, expires_at=expires)


def revoke_tokens(conn: Connection, uid: int, prefix: str | None = None) -> int:
    """Revoke one token (by prefix) or all live tokens of a user; returns how many."""
    t = table_of(ApiToken)
    which = update(t).where(t.c.user_id == uid, t.c.revoked_at.is_(None))
    if prefix is not None:
        which = which.where(t.c.prefix == prefix)
    return conn.execute(which.values(revoked_at=func.now())).rowcount


def set_active(conn: Connection, uid: int, active: bool) -> None:
    """Enable or disable a user; disabling also ends their web sessions.

    Tokens of a disabled user are refused while it stays disabled (verification checks
    ``active``) and work again if it is re-enabled; revoke them to end them for good. The
    last active city administrator cannot be disabled, from the web or the terminal.
    """
    if not active:
        _keep_an_administrator(conn, user_row(conn, uid))
    u = table_of(User)
    conn.execute(update(u).where(u.c.id == uid).values(active=active, version=u.c.version + 1))
    if not active:
        end_user_sessions(conn, uid)


def verify_token(conn: Connection, token: str) -> Principal | None:
    """The token's user, or None if the token is malformed, unknown, expired or revoked."""
    if not token.startswith(TOKEN_PREFIX) or token.count("_") < 2 or len(token) > 200:
        return None
    t, u = table_of(ApiToken), table_of(User)
    row = conn.execute(
        select(t.c.id.label("token_id"), u)
        .join_from(t, u, u.c.id == t.c.user_id)
        .where(t.c.token_hash == _sha256(token), t.c.revoked_at.is_(None), t.c.expires_at > func.now(), u.c.active)
    ).first()
    if row is None:
        return None
    conn.execute(
        update(t)
        .where(t.c.id == row.token_id)
        .where(or_(t.c.last_used_at.is_(None), t.c.last_used_at < func.now() - dt.timedelta(minutes=1)))
        .values(last_used_at=func.now())
    )
    return _principal(row)


def set_password(conn: Connection, uid: int, password: str) -> None:
    """Set a user's password and end their web sessions (whoever knew the old one is signed out)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters", field="password",
                        shown=f"密码至少需要 {MIN_PASSWORD} 个字符")
    p = table_of(UserPassword)
    new = pg_insert(p).values(user_id=uid, password_hash=_hasher.hash(password))
    conn.execute(new.on_conflict_do_update(index_elements=[p.c.user_id],
                                           set_={"password_hash": new.excluded.password_hash,
                                                 "updated_at": func.now()}))
    end_user_sessions(conn, uid)


def verify_password(conn: Connection, username: str, password: str) -> Principal | None:
    u, p = table_of(User), table_of(UserPassword)
    row = conn.execute(
        select(u, p.c.password_hash).join_from(u, p, p.c.user_id == u.c.id).where(u.c.username == username, u.c.active)
    ).first()
    if row is None:
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return _principal(row)


def _sha256(secret: str) -> str:
    """How a 256-bit random secret (token or session id) is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(conn: Connection, uid: int, hours: int = SESSION_HOURS) -> tuple[str, str]:
    """A new web session: (session id for the cookie, CSRF token for forms)."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute(insert(table_of(WebSession)).values(user_id=uid, session_hash=_sha256(sid), csrf_token=csrf,
                                                      expires_at=func.now() + dt.timedelta(hours=hours)))
    return sid, csrf


def verify_session(conn: Connection, session_id: str) -> tuple[Principal, str] | None:
    """The session's user and CSRF token, or None if unknown, expired or ended."""
    if not session_id or len(session_id) > 100:
        return None
    s, u = table_of(WebSession), table_of(User)
    row = conn.execute(
        select(s.c.csrf_token, u).join_from(s, u, u.c.id == s.c.user_id)
        .where(s.c.session_hash == _sha256(session_id), s.c.revoked_at.is_(None), s.c.expires_at > func.now(),
               u.c.active)
    ).first()
    return None if row is None else (_principal(row), row.csrf_token)


def end_session(conn: Connection, session_id: str) -> None:
    """End the one session named by a cookie (sign-out)."""
    s = table_of(WebSession)
    conn.execute(update(s).where(s.c.session_hash == _sha256(session_id), s.c.revoked_at.is_(None))
                 .values(revoked_at=func.now()))


def end_user_sessions(conn: Connection, uid: int) -> int:
    """End every live web session of a user; returns how many."""
    s = table_of(WebSession)
    return conn.execute(
        update(s).where(s.c.user_id == uid, s.c.revoked_at.is_(None)).values(revoked_at=func.now())
    ).rowcount


def list_users(conn: Connection, by: Principal) -> list[dict]:
    authorize(by, "users", "read")
    u, t = table_of(User), table_of(ApiToken)
    live = and_(t.c.revoked_at.is_(None), t.c.expires_at > func.now())
    rows = conn.execute(
        select(u.c.id, u.c.username, u.c.display_name, u.c.unit, u.c.phone, u.c.role, u.c.counties, u.c.park_ids,
               u.c.active, u.c.created_at, func.count(t.c.id).filter(live).label("live_tokens"))
        .select_from(u.outerjoin(t, t.c.user_id == u.c.id))
        .group_by(u.c.id).order_by(u.c.username)
    ).mappings()
    return [dict(r) for r in rows]
