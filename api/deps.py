"""FastAPI dependencies: a database connection per request."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.engine import Connection, Engine


def engine(request: Request) -> Engine:
    return request.app.state.engine


def connection(request: Request) -> Iterator[Connection]:
    """A read connection for one request; writes use hggis.db.session.transaction."""
    with request.app.state.engine.connect() as conn:
        yield conn
