"""User administration pages (city administrators): users, roles and scopes, passwords, tokens.

Thin: each post calls one function of ``hggis.workbench.users_admin`` (which checks
``users.write``) inside a transaction named after the administrator. A new token is shown
once, in the response to the post that created it, and never again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import FormUser, PageNotFound, Pager, PageRoute, PageUser, choice, int_param, see_other, show
from hggis.access.policy import ROLE_LABELS, Principal, authorize
from hggis.db.session import transaction
from hggis.errors import Invalid
from hggis.inputs import is_row_id
from hggis.workbench.labels import ACTION_LABELS
from hggis.workbench.oplog import OplogFilter, operation_log
from hggis.workbench.users_admin import (
    DEFAULT_TOKEN_DAYS,
    UserError,
    admin_create_user,
    admin_issue_token,
    admin_revoke_tokens,
    admin_set_active,
    admin_set_password,
    admin_set_role_scope,
    explain,
    get_user,
    list_users,
    scope_choices,
    user_tokens,
)

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
PAGE = 50
ROLE_CHOICES = [(r, ROLE_LABELS[r]) for r in ("park_manager", "county_officer", "city_admin")]
Text = Annotated[str, Form(max_length=200)]
Many = Annotated[list[str], Form()]


def _parks(values: list[str]) -> list[int]:
    return [int(v) for v in values if is_row_id(v.strip())][:100]


def _list_page(request: Request, conn: Connection, principal: Principal, page: int = 1,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    users = list_users(conn, principal)
    pager = Pager(page, PAGE, len(users), "/users")
    return show(request, conn, "wb_users.html", {
        "users": users[pager.offset:pager.offset + PAGE], "pager": pager, "roles": ROLE_CHOICES,
        "role_labels": ROLE_LABELS, "choices": scope_choices(conn), "values": values or {"role": "county_officer"},
        "errors": errors or {}, "created": request.query_params.get("created"),
    }, status_code=status_code)


@router.get("/users")
def users(request: Request, page: str | None = None, principal: Principal = PageUser,
          conn: Connection = Depends(connection)) -> Response:
    authorize(principal, "users", "read")
    return _list_page(request, conn, principal, int_param(page, 1))


@router.post("/users")
def create(
    request: Request,
    username: Text = "",
    display_name: Text = "",
    unit: Text = "",
    phone: Text = "",
    role: Text = "",
    counties: Many = [],  # noqa: B006 - FastAPI copies defaults
    parks: Many = [],  # noqa: B006
    password: Text = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    values = {"username": username, "display_name": display_name, "unit": unit, "phone": phone, "role": role,
              "counties": counties, "parks": parks}
    try:
        with transaction(db, principal.actor, f"创建用户 {username.strip()}") as conn:
            uid = admin_create_user(conn, principal, username.strip(), role, counties, _parks(parks),
                                    display_name.strip() or None, password or None, unit.strip() or None,
                                    phone.strip() or None)
        return see_other(f"/users/{uid}?created=1")
    except UserError as exc:
        field, message = explain(exc)
        errors = {field: message}
    with db.connect() as conn:
        return _list_page(request, conn, principal, values=values, errors=errors, status_code=422)


def _user_page(request: Request, conn: Connection, principal: Principal, uid: int, status_code: int = 200,
               **extra: Any) -> Response:
    try:
        user = get_user(conn, principal, uid)
    except UserError:
        raise PageNotFound(f"用户 {uid} 不存在") from None
    context = {
        "user": user, "tokens": user_tokens(conn, principal, uid), "roles": ROLE_CHOICES, "role_labels": ROLE_LABELS,
        "choices": scope_choices(conn), "default_days": DEFAULT_TOKEN_DAYS, "errors": {}, "new_token": None,
        "done": request.query_params.get("done"), "created": request.query_params.get("created"),
        "is_self": user["id"] == principal.user_id,
        **extra,
    }
    response = show(request, conn, "wb_user.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/users/{uid}")
def user(request: Request, uid: int, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    authorize(principal, "users", "read")
    return _user_page(request, conn, principal, uid)


def _act(request: Request, db: Engine, principal: Principal, uid: int, reason: str, done: str, work) -> Response:  # noqa: ANN001
    """Run one administrative change; on refusal show the user page with the message."""
    try:
        with transaction(db, principal.actor, reason) as conn:
            work(conn)
        return see_other(f"/users/{uid}?done={done}")
    except UserError as exc:
        field, message = explain(exc)
    with db.connect() as conn:
        return _user_page(request, conn, principal, uid, status_code=422, errors={field: message})


@router.post("/users/{uid}/role")
def set_role(
    request: Request, uid: int, role: Text = "", counties: Many = [], parks: Many = [],  # noqa: B006
    principal: Principal = FormUser, db: Engine = Depends(engine),
) -> Response:
    return _act(request, db, principal, uid, f"修改用户 {uid} 的角色和管辖范围", "role",
                lambda conn: admin_set_role_scope(conn, principal, uid, role, counties, _parks(parks)))


@router.post("/users/{uid}/password")
def set_password(request: Request, uid: int, password: Text = "", principal: Principal = FormUser,
                 db: Engine = Depends(engine)) -> Response:
    return _act(request, db, principal, uid, f"重设用户 {uid} 的登录密码", "password",
                lambda conn: admin_set_password(conn, principal, uid, password))


@router.post("/users/{uid}/active")
def set_active(request: Request, uid: int, active: Text = "", principal: Principal = FormUser,
               db: Engine = Depends(engine)) -> Response:
    on = active == "1"
    return _act(request, db, principal, uid, f"{'启用' if on else '停用'}用户 {uid}", "enabled" if on else "disabled",
                lambda conn: admin_set_active(conn, principal, uid, on))


@router.post("/users/{uid}/tokens")
def issue(
    request: Request, uid: int, days: Text = str(DEFAULT_TOKEN_DAYS), label: Text = "",
    principal: Principal = FormUser, db: Engine = Depends(engine),
) -> Response:
    n = int_param(days, -1, lo=-1)
    errors: dict[str, str] = {}
    if n < 1:
        errors["days"] = "有效期应为 1 至 3650 之间的整数（天）"
    else:
        try:
            with transaction(db, principal.actor, f"为用户 {uid} 签发令牌") as conn:
                token = admin_issue_token(conn, principal, uid, n, label.strip() or None)
            with db.connect() as conn:
                return _user_page(request, conn, principal, uid, new_token=token)
        except UserError as exc:
            field, message = explain(exc)
            errors[field] = message
    with db.connect() as conn:
        return _user_page(request, conn, principal, uid, status_code=422, errors=errors)


@router.post("/users/{uid}/tokens/revoke")
def revoke(request: Request, uid: int, prefix: Text = "", principal: Principal = FormUser,
           db: Engine = Depends(engine)) -> Response:
    what = f"令牌 {prefix}" if prefix else "全部令牌"
    return _act(request, db, principal, uid, f"吊销用户 {uid} 的{what}", "revoked",
                lambda conn: admin_revoke_tokens(conn, principal, uid, prefix.strip() or None))


@router.get("/oplog")
def oplog(request: Request, actor: str | None = None, table: str | None = None, action: str | None = None,
          since: str | None = None, until: str | None = None, before: str | None = None,
          principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    """操作日志 for city administrators: the history of every table, filtered, newest first."""
    authorize(principal, "users", "read")

    def day(value: str | None, field: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise Invalid(f"日期 {value!r} 不可识别（请写 2024-03-01）", field=field) from None

    values = {"actor": (actor or "")[:60], "table": (table or "")[:60], "action": action or "",
              "since": since or "", "until": until or ""}
    f = OplogFilter(actor=values["actor"] or None, table=values["table"] or None,
                    action=choice(action, ACTION_LABELS), since=day(since, "since"), until=day(until, "until"))
    log = operation_log(conn, principal, f, before_id=int_param(before, 0, lo=0, hi=2**31 - 1) or None)
    more = urlencode({**{k: v for k, v in values.items() if v}, "before": log["next_before"] or ""})
    return show(request, conn, "wb_oplog.html", {"log": log, "values": values, "more_query": more,
                                                 "actions": list(ACTION_LABELS.items())})
