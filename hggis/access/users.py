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

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.engine import Connection

from hggis.access.policy import ROLES, Principal, authorize
from hggis.access.tables import ApiToken, User, WebSession
from hggis.db.models import table_of
from hggis.errors import Invalid

TOKEN_PREFIX = "hggis_"
DEFAULT_TOKEN_DAYS = 90
SESSION_HOURS = 12
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # passwords only


class UserError(Invalid):
    """A user operation that cannot be done, with the reason."""


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
        raise UserError(f"unknown role {role!r}: one of park_manager, county_officer, city_admin")
    if role == "county_officer" and not counties:
        raise UserError("a county_officer needs at least one county (--county)")
    if role == "park_manager" and not parks:
        raise UserError("a park_manager needs at least one park (--park)")
    known = set(conn.execute(text("SELECT adcode FROM counties")).scalars())
    if unknown := [c for c in counties if c not in known]:
        raise UserError(f"unknown county code(s): {', '.join(unknown)}")
    known_parks = set(conn.execute(text("SELECT id FROM parks")).scalars())
    if unknown_parks := [p for p in parks if p not in known_parks]:
        raise UserError(f"unknown park id(s): {', '.join(map(str, unknown_parks))}")


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
    if conn.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
        raise UserError(f"user {username} already exists")
    try:
        return conn.execute(
            text(
                "INSERT INTO users (username, display_name, unit, phone, role, counties, park_ids) "
                "VALUES (:u, :d, :unit, :phone, :r, :c, :p) RETURNING id"
            ),
            {"u": username, "d": display_name, "unit": unit, "phone": phone, "r": role, "c": counties, "p": parks},
        ).scalar_one()
    except Exception as exc:  # the CHECK on the username format
        if "phone_format" in str(exc):
            raise UserError(f"phone {phone!r}: digits, spaces, +, - and brackets, 5–20 characters") from None
        if "username_format" in str(exc):
            raise UserError(
                f"username {username!r}: 2–40 characters, lower-case letters, digits, '_', '.', '-'"
            ) from None
        raise


def principal_of_username(conn: Connection, username: str) -> Principal:
    """An active user's role and scope, for a terminal operator acting in that user's name (``--as``)."""
    row = conn.execute(text("SELECT * FROM users WHERE username = :u AND active"), {"u": username}).first()
    if row is None:
        raise UserError(f"no active user {username}")
    return _principal(row)


def user_id(conn: Connection, username: str) -> int:
    uid = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one_or_none()
    if uid is None:
        raise UserError(f"no user {username}")
    return uid


def issue_token(conn: Connection, uid: int, days: int = DEFAULT_TOKEN_DAYS, label: str | None = None) -> IssuedToken:
    if not 1 <= days <= 3650:
        raise UserError("token lifetime must be between 1 and 3650 days")
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    expires = _now() + dt.timedelta(days=days)
    conn.execute(
        text(
            "INSERT INTO api_tokens (user_id, prefix, token_hash, label, expires_at) VALUES (:u, :p, :h, :l, :e)"
        ),
        {"u": uid, "p": prefix, "h": _sha256(token), "l": label, "e": expires},
    )
    return IssuedToken(token=token, prefix=prefix, expires_at=expires)


def revoke_tokens(conn: Connection, uid: int, prefix: str | None = None) -> int:
    """Revoke one token (by prefix) or all live tokens of a user; returns how many."""
    result = conn.execute(
        text(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL "
            "AND (CAST(:p AS text) IS NULL OR prefix = :p)"
        ),
        {"u": uid, "p": prefix},
    )
    return result.rowcount


def set_active(conn: Connection, uid: int, active: bool) -> None:
    """Enable or disable a user; disabling also ends their web sessions.

    Tokens of a disabled user are refused while it stays disabled (verification checks
    ``active``) and work again if it is re-enabled; revoke them to end them for good.
    """
    conn.execute(text("UPDATE users SET active = :a, version = version + 1 WHERE id = :u"), {"a": active, "u": uid})
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
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    conn.execute(
        text(
            "INSERT INTO user_passwords (user_id, password_hash) VALUES (:u, :h) "
            "ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()"
        ),
        {"u": uid, "h": _hasher.hash(password)},
    )
    end_user_sessions(conn, uid)


def verify_password(conn: Connection, username: str, password: str) -> Principal | None:
    row = conn.execute(
        text(
            "SELECT u.*, p.password_hash FROM users u JOIN user_passwords p ON p.user_id = u.id "
            "WHERE u.username = :u AND u.active"
        ),
        {"u": username},
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
    conn.execute(
        text(
            "INSERT INTO web_sessions (user_id, session_hash, csrf_token, expires_at) "
            "VALUES (:u, :h, :c, now() + make_interval(hours => :hrs))"
        ),
        {"u": uid, "h": _sha256(sid), "c": csrf, "hrs": hours},
    )
    return sid, csrf


def verify_session(conn: Connection, session_id: str) -> tuple[Principal, str] | None:
    """The session's user and CSRF token, or None if unknown, expired or ended."""
    if not session_id or len(session_id) > 100:
        return None
    row = conn.execute(
        text(
            "SELECT s.csrf_token, u.* FROM web_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.session_hash = :h AND s.revoked_at IS NULL AND s.expires_at > now() AND u.active"
        ),
        {"h": _sha256(session_id)},
    ).first()
    return None if row is None else (_principal(row), row.csrf_token)


def end_session(conn: Connection, session_id: str) -> None:
    """End the one session named by a cookie (sign-out)."""
    conn.execute(
        text("UPDATE web_sessions SET revoked_at = now() WHERE session_hash = :h AND revoked_at IS NULL"),
        {"h": _sha256(session_id)},
    )


def end_user_sessions(conn: Connection, uid: int) -> int:
    """End every live web session of a user; returns how many."""
    s = table_of(WebSession)
    return conn.execute(
        update(s).where(s.c.user_id == uid, s.c.revoked_at.is_(None)).values(revoked_at=func.now())
    ).rowcount


def list_users(conn: Connection, by: Principal) -> list[dict]:
    authorize(by, "users", "read")
    rows = conn.execute(
        text(
            """
            SELECT u.id, u.username, u.display_name, u.unit, u.phone, u.role, u.counties, u.park_ids, u.active, u.created_at,
                   count(t.id) FILTER (WHERE t.revoked_at IS NULL AND t.expires_at > now()) AS live_tokens
            FROM users u LEFT JOIN api_tokens t ON t.user_id = u.id
            GROUP BY u.id ORDER BY u.username
            """
        )
    ).mappings()
    return [dict(r) for r in rows]
