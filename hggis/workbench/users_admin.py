"""User administration from the web: what ``hggis user`` does at the terminal, for city administrators.

``hggis.access.users`` holds the user, token and password primitives; the CLI calls them as
the operator, who holds the database anyway. From the web the caller is a signed-in
principal, so every function here checks ``users.write`` (or ``users.read``) first and
then calls the primitive. The rules themselves (a role's scope, the last active city
administrator, no token for a disabled user) live in the primitives, so the terminal obeys
them too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.access.users import (
    DEFAULT_TOKEN_DAYS,
    IssuedToken,
    UserError,
    create_user,
    issue_token,
    list_users,
    revoke_tokens,
    set_active,
    set_password,
    set_role_scope,
    tokens_of,
    user_row,
)
from hggis.db.models import County, Park

__all__ = [
    "DEFAULT_TOKEN_DAYS", "UserError", "admin_create_user", "admin_issue_token", "admin_revoke_tokens",
    "admin_set_active", "admin_set_password", "admin_set_role_scope", "explain", "get_user", "list_users", "scope_choices",
    "user_tokens",
]


def get_user(conn: Connection, by: Principal, uid: int) -> dict[str, Any]:
    authorize(by, "users", "read")
    return user_row(conn, uid)


def user_tokens(conn: Connection, by: Principal, uid: int) -> list[dict[str, Any]]:
    """A user's tokens (prefix, label, dates, state); the secret is never stored, so never shown."""
    authorize(by, "users", "read")
    return tokens_of(conn, uid)


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
    authorize(by, "users", "write")
    set_role_scope(conn, uid, role, counties, parks)


def admin_set_active(conn: Connection, by: Principal, uid: int, active: bool) -> None:
    authorize(by, "users", "write")
    set_active(conn, uid, active)


def admin_set_password(conn: Connection, by: Principal, uid: int, password: str) -> None:
    authorize(by, "users", "write")
    get_user(conn, by, uid)
    set_password(conn, uid, password)


def admin_issue_token(conn: Connection, by: Principal, uid: int, days: int, label: str | None) -> IssuedToken:
    """A new API token, returned once (only its SHA-256 is stored)."""
    authorize(by, "users", "write")
    return issue_token(conn, uid, days, label)


def admin_revoke_tokens(conn: Connection, by: Principal, uid: int, prefix: str | None = None) -> int:
    authorize(by, "users", "write")
    get_user(conn, by, uid)
    return revoke_tokens(conn, uid, prefix)


def scope_choices(conn: Connection) -> dict[str, Any]:
    """Every county and park a user's scope may name (the administrator's form offers them all)."""
    counties = conn.execute(select(County.adcode, County.name).order_by(County.adcode)).all()
    parks = conn.execute(
        select(Park.id, Park.name, County.name.label("county")).join(County, County.adcode == Park.adcode)
        .order_by(Park.adcode, Park.name)
    ).all()
    return {
        "counties": [(c.adcode, c.name) for c in counties],
        "parks": [(str(k.id), f"{k.name}（{k.county}）") for k in parks],
        "county_names": {c.adcode: c.name for c in counties},
        "park_names": {k.id: k.name for k in parks},
    }


def explain(error: UserError) -> tuple[str, str]:
    """The form field a refusal is about and the message to show beside it."""
    return error.field or "_form", error.shown
