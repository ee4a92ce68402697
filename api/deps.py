"""FastAPI dependencies: database connections and the calling principal."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from api.security import require_user, resolve_principal
from hggis.access.policy import Principal


def engine(request: Request) -> Engine:
    return request.app.state.engine


def connection(request: Request) -> Iterator[Connection]:
    """A read connection for one request; writes use hggis.db.session.transaction."""
    with request.app.state.engine.connect() as conn:
        yield conn


def public() -> None:
    """Marks a route as open to anonymous callers on purpose (it shows public data only)."""


def principal(request: Request) -> Principal:
    """The caller: a user (token or session) or the anonymous public."""
    return resolve_principal(request)


def user(request: Request) -> Principal:
    """A signed-in user; anonymous callers get 401."""
    return require_user(request)


Public = Depends(public)
Caller = Depends(principal)
SignedIn = Depends(user)
