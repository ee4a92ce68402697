"""Web sign-in and sign-out: a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS).

The sign-in form is protected by a double-submit CSRF token (cookie + hidden field),
signed-in forms by the session's own CSRF token.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.deps import Public, engine
from api.pages_common import render
from api.security import SESSION_COOKIE, client_key, log, resolve_principal
from hggis.access.users import SESSION_HOURS, end_session, start_session, verify_password
from hggis.db.session import transaction

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Public])
LOGIN_CSRF_COOKIE = "hggis_login_csrf"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": None})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
    db: Engine = Depends(engine),
) -> Response:
    limiter = request.app.state.auth_limiter
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        return render(request, "login.html", {"csrf": cookie or "", "next": _safe_next(next),
                                              "error": "表单已过期，请刷新页面后重新登录。"}, status_code=400)
    if limiter.blocked(client_key(request)):
        return render(request, "login.html", {"csrf": csrf, "next": _safe_next(next),
                                              "error": "登录失败次数过多，请稍后再试。"}, status_code=429)
    with transaction(db, f"{username} (sign-in)") as conn:
        principal = verify_password(conn, username.strip(), password)
        if principal is None:
            limiter.record(client_key(request))
            log.warning("web sign-in failure from %s", client_key(request))
            return render(request, "login.html", {"csrf": csrf, "next": _safe_next(next),
                                                  "error": "用户名或密码错误。"}, status_code=401)
        session_id, _ = start_session(conn, principal.user_id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="lax", secure=_secure(request),
        max_age=SESSION_HOURS * 3600, path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf: Annotated[str, Form(max_length=100)] = "",
    db: Engine = Depends(engine),
) -> Response:
    resolve_principal(request)
    expected = getattr(request.state, "csrf_token", None)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and expected and secrets.compare_digest(expected, csrf):
        with transaction(db, "sign-out") as conn:
            end_session(conn, session_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
