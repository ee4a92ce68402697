"""Who is calling: Bearer token, session cookie, or the anonymous public.

Bad credentials get one answer, 401 with no hint of which part was wrong. Repeated
failures from one client are refused for a while (429) and logged, without the secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request

from hggis.access.policy import PUBLIC, Principal
from hggis.access.users import verify_session, verify_token

log = logging.getLogger("hggis.auth")
SESSION_COOKIE = "hggis_session"
UNAUTHORIZED = "invalid or expired credentials"


class FailureLimiter:
    """At most ``limit`` authentication failures per client in ``window`` seconds."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._trim(key, time.monotonic())) >= self.limit

    def record(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._trim(key, now).append(now)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse(request: Request, kind: str) -> HTTPException:
    limiter: FailureLimiter = request.app.state.auth_limiter
    key = client_key(request)
    limiter.record(key)
    log.warning("authentication failure (%s) from %s on %s", kind, key, request.url.path)
    return HTTPException(401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def resolve_principal(request: Request) -> Principal:
    """The caller; sets ``request.state.csrf_token`` for signed-in web sessions."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    limiter: FailureLimiter = request.app.state.auth_limiter
    engine = request.app.state.engine
    request.state.csrf_token = None
    header = request.headers.get("authorization")
    principal: Principal = PUBLIC
    if header is not None:
        if limiter.blocked(client_key(request)):
            raise HTTPException(429, detail="too many failed sign-ins from this address; try again later")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refuse(request, "malformed authorization header")
        with engine.begin() as conn:
            found = verify_token(conn, token.strip())
        if found is None:
            raise _refuse(request, "bad token")
        principal = found
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
