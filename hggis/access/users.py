"""Users, API tokens and web sessions: creation, verification, revocation.

A token is ``hggis_<prefix>_<secret>``: the prefix finds the row, argon2 verifies the
whole token. It is shown once and never stored in clear. Verification failures return
None without saying why, so a caller learns nothing about which part was wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import ROLES, Principal, authorize

TOKEN_PREFIX = "hggis_"
DEFAULT_TOKEN_DAYS = 90
SESSION_HOURS = 12
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# prefix -> SHA-256 of a token that already passed argon2 in this process. Argon2 is slow on
# purpose (~0.3 s here), too slow for every request of a desktop GIS paging through a layer;
# the row (revocation, expiry, active user) is still read from the database on every call.
_verified: dict[str, str] = {}


class UserError(ValueError):
    """A user operation that cannot be done, with the reason."""


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    prefix: str
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
                "INSERT INTO users (username, display_name, role, counties, park_ids) "
                "VALUES (:u, :d, :r, :c, :p) RETURNING id"
            ),
            {"u": username, "d": display_name, "r": role, "c": counties, "p": parks},
        ).scalar_one()
    except Exception as exc:  # the CHECK on the username format
        if "username_format" in str(exc):
            raise UserError(
                f"username {username!r}: 2–40 characters, lower-case letters, digits, '_', '.', '-'"
            ) from None
        raise


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
        {"u": uid, "p": prefix, "h": _hasher.hash(token), "l": label, "e": expires},
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
    conn.execute(text("UPDATE users SET active = :a, version = version + 1 WHERE id = :u"), {"a": active, "u": uid})


def verify_token(conn: Connection, token: str) -> Principal | None:
    """The token's user, or None if the token is malformed, unknown, expired or revoked."""
    if not token.startswith(TOKEN_PREFIX) or token.count("_") < 2 or len(token) > 200:
        return None
    prefix = token[len(TOKEN_PREFIX):].split("_", 1)[0]
    row = conn.execute(
        text(
            "SELECT t.id AS token_id, t.token_hash, t.expires_at, t.revoked_at, u.* FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.prefix = :p"
        ),
        {"p": prefix},
    ).first()
    if row is None:
        _hasher.hash(token)  # same work as a real check: no timing hint that the prefix is unknown
        return None
    if row.revoked_at is not None or row.expires_at <= _now() or not row.active:
        _verified.pop(prefix, None)
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    known = _verified.get(prefix)
    if known is None or not secrets.compare_digest(known, digest):
        try:
            _hasher.verify(row.token_hash, token)
        except (VerificationError, InvalidHashError):
            return None
        _verified[prefix] = digest
    conn.execute(
        text("UPDATE api_tokens SET last_used_at = now() WHERE id = :i AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"),
        {"i": row.token_id},
    )
    return _principal(row)


def set_password(conn: Connection, uid: int, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    conn.execute(
        text(
            "INSERT INTO user_passwords (user_id, password_hash) VALUES (:u, :h) "
            "ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()"
        ),
        {"u": uid, "h": _hasher.hash(password)},
    )


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


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(conn: Connection, uid: int, hours: int = SESSION_HOURS) -> tuple[str, str]:
    """A new web session: (session id for the cookie, CSRF token for forms)."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    conn.execute(
        text(
            "INSERT INTO web_sessions (user_id, session_hash, csrf_token, expires_at) "
            "VALUES (:u, :h, :c, now() + make_interval(hours => :hrs))"
        ),
        {"u": uid, "h": _session_hash(sid), "c": csrf, "hrs": hours},
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
        {"h": _session_hash(session_id)},
    ).first()
    return None if row is None else (_principal(row), row.csrf_token)


def end_session(conn: Connection, session_id: str) -> None:
    conn.execute(
        text("UPDATE web_sessions SET revoked_at = now() WHERE session_hash = :h AND revoked_at IS NULL"),
        {"h": _session_hash(session_id)},
    )


def list_users(conn: Connection, by: Principal) -> list[dict]:
    authorize(by, "users", "read")
    rows = conn.execute(
        text(
            """
            SELECT u.id, u.username, u.display_name, u.role, u.counties, u.park_ids, u.active, u.created_at,
                   count(t.id) FILTER (WHERE t.revoked_at IS NULL AND t.expires_at > now()) AS live_tokens
            FROM users u LEFT JOIN api_tokens t ON t.user_id = u.id
            GROUP BY u.id ORDER BY u.username
            """
        )
    ).mappings()
    return [dict(r) for r in rows]
