"""Web sign-in and sign-out: a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS).

The sign-in form is protected by a double-submit CSRF token (cookie + hidden field),
signed-in forms by the session's own CSRF token. Failed sign-ins are limited per client
address and per account name (api.security, hggis.access.failures). Sign-out always ends
the server-side session named by the cookie: a forged sign-out can only sign a user out,
while refusing one would leave a session valid that the user believes ended.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.deps import Public, engine
from api.pages_common import render
from api.security import SESSION_COOKIE, client_key, log, retry_after
from hggis.access.users import SESSION_HOURS, end_session, start_session, verify_password
from hggis.db.session import transaction

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[Public])
LOGIN_CSRF_COOKIE = "hggis_login_csrf"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")  # controls and backslash: browsers drop them or read "/"


def _secure(request: Request) -> bool:
    """HTTPS as the client sees it (api.proxies resolves the scheme from trusted proxies only)."""
    return request.url.scheme == "https"


def _local_path(target: str) -> bool:
    parts = urlsplit(target)
    return (target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc
            and not _CONTROL.search(target))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never send a signed-in user to another one.

    Checked as sent and once percent-decoded, so ``//host``, ``/\\host``, ``/%2F%2Fhost``,
    ``/%5Chost``, schemes (``http:``, ``javascript:``) and tabs or newlines that a browser
    would strip all fall back to the home page.
    """
    if target and len(target) <= 2000 and _local_path(target) and _local_path(unquote(target)):
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
    address, account = client_key(request), username.strip()
    with transaction(db, f"{account} (sign-in)") as conn:
        # Checked before the password: a blocked guesser must not learn that a guess was right.
        if limiter.blocked(conn, address, account):
            log.warning("web sign-in refused (too many failures) from %s", address)
            refused = render(request, "login.html", {"csrf": csrf, "next": _safe_next(next),
                                                     "error": "登录失败次数过多，请稍后再试。"}, status_code=429)
            refused.headers.update(retry_after(limiter))
            return refused
        principal = verify_password(conn, account, password)
        if principal is None:
            limiter.record(conn, address, account)
            log.warning("web sign-in failure from %s", address)
            return render(request, "login.html", {"csrf": csrf, "next": _safe_next(next),
                                                  "error": "用户名或密码错误。"}, status_code=401)
        limiter.forget(conn, account=account)
        assert principal.user_id is not None  # a password sign-in is always a user's
        session_id, _ = start_session(conn, principal.user_id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="lax", secure=_secure(request),
        max_age=SESSION_HOURS * 3600, path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: Engine = Depends(engine)) -> Response:
    """End the session named by the cookie on the server, with or without the form's token."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and len(session_id) <= 100:
        with transaction(db, "sign-out") as conn:
            end_session(conn, session_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
