"""User administration from the web: what ``hggis user`` does at the terminal, for city administrators.

``hggis.access.users`` holds the user, token and password primitives; the CLI calls them as
the operator, who holds the database anyway. From the web the caller is a signed-in
principal, so every function here checks ``users.write`` (or ``users.read``) first and
then calls the primitive. Changing a user's role or scope is new here: it follows the same
conditions as ``create_user`` (a county officer needs a county, a park manager a park,
codes must exist), and the last active city administrator cannot demote or disable
themself out of the system.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.access.users import (
    DEFAULT_TOKEN_DAYS,
    IssuedToken,
    UserError,
    check_role_scope,
    create_user,
    issue_token,
    list_users,
    revoke_tokens,
    set_active,
    set_password,
)

__all__ = [
    "DEFAULT_TOKEN_DAYS", "UserError", "admin_create_user", "admin_issue_token", "admin_revoke_tokens",
    "admin_set_active", "admin_set_password", "admin_set_role_scope", "get_user", "list_users", "scope_choices",
    "user_tokens",
]


def get_user(conn: Connection, by: Principal, uid: int) -> dict[str, Any]:
    authorize(by, "users", "read")
    row = conn.execute(
        text("SELECT id, username, display_name, unit, phone, role, counties, park_ids, active, created_at, version "
             "FROM users WHERE id = :u"),
        {"u": uid},
    ).mappings().first()
    if row is None:
        raise UserError(f"no user {uid}")
    has_password = conn.execute(text("SELECT 1 FROM user_passwords WHERE user_id = :u"), {"u": uid}).first() is not None
    return {**dict(row), "has_password": has_password}


def user_tokens(conn: Connection, by: Principal, uid: int) -> list[dict[str, Any]]:
    """A user's tokens (prefix, label, dates, state); the secret is never stored, so never shown."""
    authorize(by, "users", "read")
    rows = conn.execute(
        text(
            "SELECT prefix, label, created_at, expires_at, revoked_at, last_used_at, "
            "(revoked_at IS NULL AND expires_at > now()) AS live FROM api_tokens WHERE user_id = :u ORDER BY id DESC"
        ),
        {"u": uid},
    ).mappings()
    return [dict(r) for r in rows]


def _other_admins(conn: Connection, uid: int) -> int:
    return conn.execute(
        text("SELECT count(*) FROM users WHERE role = 'city_admin' AND active AND id <> :u"), {"u": uid}
    ).scalar_one()


def admin_create_user(
    conn: Connection,
    by: Principal,
    username: str,
    role: str,
    counties: list[str],
    parks: list[int],
    display_name: str | None,
    password: str | None,
    unit: str | None = None,
    phone: str | None = None,
) -> int:
    """Create a user (``create_user`` checks the caller) and, if given, their web password."""
    uid = create_user(conn, by, username, role, counties, parks, display_name, unit, phone)
    if password:
        set_password(conn, uid, password)
    return uid


def admin_set_role_scope(
    conn: Connection, by: Principal, uid: int, role: str, counties: list[str], parks: list[int]
) -> None:
    """Change a user's role and scope; their sessions and tokens carry the new rights at once."""
    authorize(by, "users", "write")
    counties, parks = sorted(set(counties)), sorted(set(parks))
    check_role_scope(conn, role, counties, parks)
    current = get_user(conn, by, uid)
    if current["role"] == "city_admin" and role != "city_admin" and _other_admins(conn, uid) == 0:
        raise UserError("the last active city_admin cannot lose the role: make another administrator first")
    if role == "city_admin":
        counties, parks = [], []
    elif role == "county_officer":
        parks = []
    else:
        counties = []
    conn.execute(
        text("UPDATE users SET role = :r, counties = :c, park_ids = :p, version = version + 1 WHERE id = :u"),
        {"r": role, "c": counties, "p": parks, "u": uid},
    )


def admin_set_active(conn: Connection, by: Principal, uid: int, active: bool) -> None:
    authorize(by, "users", "write")
    current = get_user(conn, by, uid)
    if not active and current["role"] == "city_admin" and _other_admins(conn, uid) == 0:
        raise UserError("the last active city_admin cannot be disabled")
    set_active(conn, uid, active)


def admin_set_password(conn: Connection, by: Principal, uid: int, password: str) -> None:
    authorize(by, "users", "write")
    get_user(conn, by, uid)
    set_password(conn, uid, password)


def admin_issue_token(conn: Connection, by: Principal, uid: int, days: int, label: str | None) -> IssuedToken:
    """A new API token, returned once (only its SHA-256 is stored)."""
    authorize(by, "users", "write")
    user = get_user(conn, by, uid)
    if not user["active"]:
        raise UserError(f"user {user['username']} is disabled: enable them before issuing a token")
    return issue_token(conn, uid, days, label)


def admin_revoke_tokens(conn: Connection, by: Principal, uid: int, prefix: str | None = None) -> int:
    authorize(by, "users", "write")
    get_user(conn, by, uid)
    return revoke_tokens(conn, uid, prefix)


def scope_choices(conn: Connection) -> dict[str, Any]:
    counties = conn.execute(text("SELECT adcode, name FROM counties ORDER BY adcode")).all()
    parks = conn.execute(text("SELECT k.id, k.name, c.name AS county FROM parks k JOIN counties c ON c.adcode = k.adcode ORDER BY k.adcode, k.name")).all()
    return {
        "counties": [(c.adcode, c.name) for c in counties],
        "parks": [(str(k.id), f"{k.name}（{k.county}）") for k in parks],
        "county_names": {c.adcode: c.name for c in counties},
        "park_names": {k.id: k.name for k in parks},
    }


# Service messages (English, shared with the CLI) -> (form field, Chinese message for the page).
_MESSAGES: tuple[tuple[str, str, str], ...] = (
    ("unknown role", "role", "请选择角色：园区管理员、县级自然资源干部或市级管理员"),
    ("county_officer needs", "counties", "县级自然资源干部须至少选择一个县（市、区）"),
    ("park_manager needs", "parks", "园区管理员须至少选择一个园区"),
    ("unknown county", "counties", "所选县（市、区）不存在"),
    ("unknown park", "parks", "所选园区不存在"),
    ("already exists", "username", "该用户名已被使用"),
    ("username", "username", "用户名须为 2–40 个字符：小写字母、数字、下划线、点或连字符"),
    ("password must", "password", "密码至少需要 10 个字符"),
    ("token lifetime", "days", "有效期应在 1 至 3650 天之间"),
    ("last active city_admin", "role", "这是系统中最后一位启用的市级管理员，不能降级或停用；请先设置另一位市级管理员"),
    ("is disabled", "_form", "该用户已停用，请先启用再签发令牌"),
    ("no user", "_form", "用户不存在"),
)


def explain(error: UserError) -> tuple[str, str]:
    """The form field a refusal is about and the message to show beside it."""
    message = str(error)
    for needle, field, chinese in _MESSAGES:
        if needle in message:
            return field, chinese
    return "_form", message
