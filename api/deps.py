"""FastAPI dependencies: database connections and the calling principal."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from api.security import require_user, resolve_principal
from hggis.access.policy import Principal
from hggis.db.reads import PRIMARY_READS_COOKIE


def engine(request: Request) -> Engine:
    return request.app.state.engine


log = logging.getLogger(__name__)


def _closing(conn: Connection) -> Iterator[Connection]:
    try:
        yield conn
    finally:
        try:
            conn.close()
        except OperationalError as exc:
            log.warning("database connection lost while closing a read connection: %s", str(exc).splitlines()[0])


def read_connection(request: Request) -> Iterator[Connection]:
    """A read connection from a read replica when one is usable (hggis/db/reads.py), else the primary.

    For the read-only doors only (maps, tiles, OGC reads, exports, reports): nothing on it may
    write. A browser that has just written (the primary-reads cookie) reads the primary, so
    it sees its own change at once.
    """
    sticky = PRIMARY_READS_COOKIE in request.cookies
    yield from _closing(request.app.state.reads.connect(primary_only=sticky))


def connection(request: Request) -> Iterator[Connection]:
    """A read connection for one request; writes use hggis.db.session.transaction.

    It is closed after the answer has been computed (and may be on its way). When the
    database dies in between (a crash, a restart) the closing ROLLBACK fails; that must not
    turn a complete answer into a dropped connection. SQLAlchemy has then already discarded
    the dead connection, and the pool's pre-ping replaces it on the next checkout.
    """
    yield from _closing(request.app.state.engine.connect())


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
