"""Transactions that know who is acting and why.

The audit triggers read ``hggis.actor`` and ``hggis.reason`` from the transaction, so every
write in hggis goes through ``transaction()``: the history then names a person (or a
command) instead of the database role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine


def set_actor(conn: Connection, actor: str, reason: str | None = None) -> None:
    """Label the current transaction's changes (transaction-local, like SET LOCAL)."""
    conn.execute(
        text("SELECT set_config('hggis.actor', :actor, true), set_config('hggis.reason', :reason, true)"),
        {"actor": actor, "reason": reason or ""},
    )


@contextmanager
def transaction(engine: Engine, actor: str, reason: str | None = None) -> Iterator[Connection]:
    """One all-or-nothing unit of work, attributed to ``actor``."""
    with engine.begin() as conn:
        set_actor(conn, actor, reason)
        yield conn
