"""Limits on failed sign-ins, per client address and per account name, kept in PostgreSQL.

The counters live in the database, not in a process, so ``hggis serve --workers N`` and
several hosts behind one proxy apply one limit, and the clock is the database's. A failure
counts against the address it came from and, for password sign-ins, the account name it
tried: guessing one account's password is bounded however many addresses an attacker
has, and one address cannot try many accounts. Valid credentials are never refused
because of another caller's failures at the same address (a whole office sits behind one
NAT): callers check a token first and ask :meth:`FailureLimiter.blocked` only when it fails.
Password sign-ins are the exception: they are checked against the limit before the
password, or a blocked guesser would still learn when a guess was right.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.engine import Connection

from hggis.access.tables import AuthFailure
from hggis.db.models import table_of

ADDRESS, ACCOUNT = "address", "account"


@dataclass(frozen=True)
class FailureLimiter:
    """At most ``per_address`` / ``per_account`` failures in ``window_s`` seconds."""

    per_address: int = 10
    per_account: int = 10
    window_s: float = 300.0

    @classmethod
    def from_settings(cls) -> FailureLimiter:
        from hggis.config import get_settings

        s = get_settings()
        return cls(s.hggis_auth_failures_per_address, s.hggis_auth_failures_per_account, s.hggis_auth_failure_window_s)

    def _since(self):  # noqa: ANN202 - an SQL expression
        return func.now() - dt.timedelta(seconds=self.window_s)

    def _count(self, conn: Connection, kind: str, subject: str) -> int:
        f = table_of(AuthFailure)
        return conn.execute(
            select(func.count()).where(f.c.kind == kind, f.c.subject == subject, f.c.failed_at > self._since())
        ).scalar_one()

    def blocked(self, conn: Connection, address: str, account: str | None = None) -> bool:
        """Whether this address (or this account name) has used up its failures."""
        if self._count(conn, ADDRESS, address) >= self.per_address:
            return True
        return account is not None and self._count(conn, ACCOUNT, _account_key(account)) >= self.per_account

    def record(self, conn: Connection, address: str, account: str | None = None) -> None:
        """Count one failure (and drop the ones older than the window, so the table stays small).

        The caller's transaction must commit even though the request itself is refused.
        """
        f = table_of(AuthFailure)
        rows = [{"kind": ADDRESS, "subject": address}]
        if account is not None:
            rows.append({"kind": ACCOUNT, "subject": _account_key(account)})
        conn.execute(delete(f).where(f.c.failed_at <= self._since()))
        conn.execute(insert(f), rows)

    def forget(self, conn: Connection, address: str | None = None, account: str | None = None) -> None:
        """Clear the counters of an address and/or account (all of them when both are None)."""
        f = table_of(AuthFailure)
        if address is None and account is None:
            conn.execute(delete(f))
            return
        conditions = []
        if address is not None:
            conditions.append((f.c.kind == ADDRESS) & (f.c.subject == address))
        if account is not None:
            conditions.append((f.c.kind == ACCOUNT) & (f.c.subject == _account_key(account)))
        conn.execute(delete(f).where(or_(*conditions)))


def _account_key(account: str) -> str:
    """Account names as the sign-in form compares them (trimmed, case-folded, bounded)."""
    return account.strip().lower()[:100]
