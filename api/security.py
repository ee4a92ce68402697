"""Who is calling: Bearer token, session cookie, or the anonymous public; and CSRF.

Bad credentials get one answer, 401 with no hint of which part was wrong. Failures are
counted per client address in the database (shared by all worker processes); once an
address has used up its failures, its further *failures* get 429. A valid token is always
accepted, so one guesser cannot lock out an office behind the same NAT, and with 256-bit
tokens the limit costs an attacker nothing they could have had. Logs never hold the secret.

A browser sends the session cookie with any request, also one forged by another site, so
every cookie-authenticated unsafe request must prove it comes from our pages:
:func:`csrf_guard`, one dependency of the whole application, checks it before any route.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from hggis.access.failures import FailureLimiter
from hggis.access.policy import PUBLIC, Principal
from hggis.access.users import verify_session, verify_token

log = logging.getLogger("hggis.auth")
SESSION_COOKIE = "hggis_session"
UNAUTHORIZED = "invalid or expired credentials"
TOO_MANY = "too many failed sign-ins from this address; try again later"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sign-in has its own double-submit token (no session yet); sign-out ends the session named
# by the cookie whatever it is sent with: a forged sign-out only signs a user out.
CSRF_EXEMPT_PATHS = frozenset({"/login", "/logout"})


class CsrfRejected(Exception):
    """A cookie-authenticated write without the session's CSRF token or a same-site origin."""


def client_key(request: Request) -> str:
    """The client address (already resolved from trusted proxies by api.proxies)."""
    return request.client.host if request.client else "unknown"


def retry_after(limiter: FailureLimiter) -> dict[str, str]:
    return {"Retry-After": str(int(limiter.window_s))}


def _bearer_principal(request: Request, header: str) -> Principal:
    """The token's user; 401 for a bad token, 429 for a bad token from a blocked address."""
    limiter: FailureLimiter = request.app.state.auth_limiter
    scheme, _, token = header.partition(" ")
    token = token.strip()
    kind = "bad token" if scheme.lower() == "bearer" and token else "malformed authorization header"
    address = client_key(request)
    with request.app.state.engine.begin() as conn:
        found = verify_token(conn, token) if kind == "bad token" else None
        blocked = found is None and limiter.blocked(conn, address)
        if found is None and not blocked:
            limiter.record(conn, address)  # committed: the refusal is raised after the block
    if found is not None:
        return found
    if blocked:
        raise HTTPException(429, detail=TOO_MANY, headers=retry_after(limiter))
    log.warning("authentication failure (%s) from %s on %s", kind, address, request.url.path)
    raise HTTPException(401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def resolve_principal(request: Request) -> Principal:
    """The caller; sets ``request.state.csrf_token`` for signed-in web sessions."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    engine = request.app.state.engine
    request.state.csrf_token = None
    header = request.headers.get("authorization")
    principal: Principal = PUBLIC
    if header is not None:
        principal = _bearer_principal(request, header)
    elif session_id := request.cookies.get(SESSION_COOKIE):
        with engine.connect() as conn:
            found_session = verify_session(conn, session_id)
        if found_session is not None:
            principal, request.state.csrf_token = found_session
    request.state.principal = principal
    return principal


def require_user(request: Request) -> Principal:
    """A signed-in user (401 for the public)."""
    principal = resolve_principal(request)
    if principal.is_public:
        raise HTTPException(401, detail="sign-in required", headers={"WWW-Authenticate": "Bearer"})
    return principal


def _same_host(request: Request, url: str) -> bool:
    """``url`` (an Origin or Referer) names this site's host and port."""
    host = request.headers.get("host", "").lower()
    parts = urlsplit(url)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host


async def _sent_token(request: Request) -> str:
    """The CSRF token sent with the request: X-CSRF-Token, or the form field ``csrf``."""
    if given := request.headers.get(CSRF_HEADER):
        return given
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # parsed once: FastAPI reuses it
        return value if isinstance(value, str) else ""
    return ""


async def csrf_guard(request: Request) -> None:
    """Refuse a cookie-authenticated POST/PUT/PATCH/DELETE that is not from our own pages.

    Proof is the session's CSRF token (header ``X-CSRF-Token`` or form field ``csrf``) or,
    for JSON clients such as the API docs page, an ``Origin`` (else ``Referer``) naming this
    host. Bearer-token requests are exempt: browsers never add that header on their own.
    """
    if request.method not in UNSAFE_METHODS or request.url.path in CSRF_EXEMPT_PATHS:
        return
    if SESSION_COOKIE not in request.cookies:
        return
    await run_in_threadpool(resolve_principal, request)
    expected = getattr(request.state, "csrf_token", None)
    if expected is None:
        return  # a Bearer token, or a cookie of no live session (the route sees the public)
    given = await _sent_token(request)
    if given and secrets.compare_digest(given.encode(), expected.encode()):
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and _same_host(request, origin):
        return
    log.warning("CSRF refusal: %s %s from %s (origin %r)", request.method, request.url.path,
                client_key(request), request.headers.get("origin"))
    raise CsrfRejected()
