"""Which server answers a read: a healthy read replica, or the primary.

The read-only doors (anonymous maps, tiles, OGC reads, exports, reports) ask
:meth:`ReadRouter.connect`; everything else, and every write, uses the primary engine.

A replica is used only while it is reachable and at most ``HGGIS_REPLICA_MAX_LAG_S`` behind
the primary. Lag is measured every ``HGGIS_REPLICA_CHECK_S`` per worker: zero when the
replica has replayed up to the primary's current WAL position, else the age of the last
transaction it replayed. Because WAL is replayed in commit order, a replica within the bound
shows every write committed more than that bound ago.

Read-your-writes is therefore a stickiness window, not an LSN wait: after a browser's own
write (any successful POST/PUT/PATCH/DELETE) the service sets a short cookie, and while it
lives that browser's reads go to the primary. The window is the lag bound plus one check
interval, so by the time it expires every replica still in use has replayed the write. It
costs no query per read and works across API processes (the cookie travels with the
browser); an LSN wait would hold a request until replay, or need the LSN in the cookie anyway.

A replica that fails or falls behind degrades to the primary with one log line (and one
more when it is back); the caller never sees an error for it.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import cast, func, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import UserDefinedType

from hggis.db.engine import mask_url

log = logging.getLogger(__name__)

#: the cookie that sends a browser's reads to the primary for a while after its own write
PRIMARY_READS_COOKIE = "hggis_primary_reads"


class PgLsn(UserDefinedType):
    """PostgreSQL's pg_lsn (a WAL position), so positions compare as positions, not text."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "pg_lsn"


@dataclass
class _ReplicaState:
    engine: Engine
    checked_at: float = -math.inf
    usable: bool = True
    reason: str = ""
    lag_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        url = self.engine.url
        return f"{url.host or 'localhost'}:{url.port or 5432}"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


class ReadRouter:
    """The primary engine and zero or more replica engines, with each replica's last known health."""

    def __init__(self, primary: Engine, replicas: list[Engine], max_lag_s: float, check_s: float) -> None:
        self.primary = primary
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self._replicas = [_ReplicaState(engine) for engine in replicas]
        self._turn = itertools.count()

    @property
    def replicas(self) -> list[Engine]:
        return [state.engine for state in self._replicas]

    @property
    def sticky_s(self) -> int:
        """How long a browser reads the primary after its own write (see the module docstring)."""
        return math.ceil(self.max_lag_s + self.check_s)

    # ---------------------------------------------------------------- health

    def _primary_lsn(self) -> str:
        with self.primary.connect() as conn:
            return str(conn.execute(select(func.pg_current_wal_lsn())).scalar_one())

    def _measure(self, state: _ReplicaState) -> tuple[bool, str, float]:
        """(usable, reason if not, lag in seconds) of one replica, right now."""
        try:
            primary_lsn = self._primary_lsn()
        except SQLAlchemyError:
            return True, "", 0.0  # the primary itself is away: the replica is the better answer
        try:
            with state.engine.connect() as conn:
                caught_up, lag = conn.execute(
                    select(
                        # NULL replay position: not a standby (a promoted copy is current)
                        func.coalesce(func.pg_last_wal_replay_lsn() >= cast(literal(primary_lsn), PgLsn()), True),
                        func.coalesce(
                            func.extract("epoch", func.now() - func.pg_last_xact_replay_timestamp()), math.inf
                        ),
                    )
                ).one()
        except SQLAlchemyError as exc:
            return False, f"unreachable ({_first_line(exc)})", math.inf
        lag_s = 0.0 if caught_up else float(lag)
        if lag_s > self.max_lag_s:
            return False, f"{lag_s:.1f} s behind the primary (limit {self.max_lag_s:g} s)", lag_s
        return True, "", lag_s

    def _refresh(self, state: _ReplicaState, now: float) -> None:
        if now - state.checked_at < self.check_s or not state.lock.acquire(blocking=False):
            return
        try:
            usable, reason, lag_s = self._measure(state)
            self._record(state, usable, reason, lag_s, time.monotonic())
        finally:
            state.lock.release()

    def _record(self, state: _ReplicaState, usable: bool, reason: str, lag_s: float, now: float) -> None:
        if state.usable and not usable:
            log.warning("read replica %s not used, reads go to the primary: %s", state.name, reason)
        elif usable and not state.usable:
            log.warning("read replica %s back in use (%.1f s behind)", state.name, lag_s)
        state.usable, state.reason, state.lag_s, state.checked_at = usable, reason, lag_s, now

    def health(self) -> list[dict[str, object]]:
        """Each replica's state after a fresh measurement (for `hggis db status` and tests)."""
        out = []
        for state in self._replicas:
            state.checked_at = -math.inf
            self._refresh(state, time.monotonic())
            out.append({"replica": state.name, "usable": state.usable, "lag_s": state.lag_s, "reason": state.reason})
        return out

    # ---------------------------------------------------------------- choosing

    def _candidates(self) -> list[_ReplicaState]:
        now = time.monotonic()
        for state in self._replicas:
            self._refresh(state, now)
        usable = [state for state in self._replicas if state.usable]
        if not usable:
            return []
        start = next(self._turn) % len(usable)
        return usable[start:] + usable[:start]

    def connect(self, primary_only: bool = False) -> Connection:
        """A read connection: a usable replica's (round robin), else the primary's.

        A replica that refuses the connection is marked unusable (one log line) and the next
        one, finally the primary, answers instead.
        """
        if not primary_only:
            for state in self._candidates():
                try:
                    return state.engine.connect()
                except SQLAlchemyError as exc:
                    self._record(state, False, f"unreachable ({_first_line(exc)})", math.inf, time.monotonic())
        return self.primary.connect()

    def dispose(self) -> None:
        for state in self._replicas:
            state.engine.dispose()

    def __repr__(self) -> str:
        names = ", ".join(mask_url(state.engine.url.render_as_string(hide_password=True)) for state in self._replicas)
        return f"ReadRouter(replicas=[{names}])"
