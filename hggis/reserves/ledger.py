"""The county reserve ledger (储备台账): 标准地 in reserve against the plan's 500–1000 亩.

One function, :func:`reserve_ledger`, computes what the CLI prints, the API returns, the
Excel sheet holds and the dashboard shows. Areas are the parcels' ellipsoidal ``area_mu``
(as recorded at the date asked for). The target comes from ``reserve_targets``: the row
valid on the date, a county's own row taking precedence over the city-wide one.

Status against the target: below the minimum is 短缺 (short by min − reserve), above the
maximum is 超出 (above by reserve − max), otherwise 达标. Land on offer (挂牌出让中) is
reported beside the reserve but does not count towards it: it is leaving the reserve.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, scope_clause
from hggis.geo import total_mu
from hggis.reserves.asof import state_source
from hggis.reserves.common import LOCAL_TZ, InvalidRequest, end_of_day, list_scope, today_local
from hggis.reserves.contiguity import components_sql, tolerance_m

CITY_ADCODE = "421100"
STATUS_LABELS = {"short": "短缺", "within": "达标", "above": "超出"}


@dataclass
class LedgerRow:
    adcode: str
    name: str
    reserve_mu: float
    reserve_parcels: int
    on_offer_mu: float
    on_offer_parcels: int
    largest_block_mu: float
    largest_block_parcels: int
    target_min_mu: float | None
    target_max_mu: float | None
    target_edition: str | None
    status: str | None  # short / within / above
    gap_mu: float  # how far outside the target (0 when within)
    status_label: str
    since_reserve_mu: float | None = None
    since_reserve_parcels: int | None = None
    change_mu: float | None = None
    change_parcels: int | None = None


@dataclass
class Ledger:
    as_of: dt.date | dt.datetime
    since: dt.date | dt.datetime | None
    scope: str
    tolerance_m: float
    rows: list[LedgerRow]
    total: LedgerRow
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "scope": self.scope,
            "adjacency_tolerance_m": self.tolerance_m,
            "counties": [asdict(r) for r in self.rows],
            "total": asdict(self.total),
            "counts": self.counts,
        }


def target_status(reserve_mu: float, lo: float | None, hi: float | None) -> tuple[str | None, float, str]:
    """(status, gap in 亩, Chinese label) of a reserve against a [lo, hi] target."""
    if lo is None or hi is None:
        return None, 0.0, "无目标"
    if reserve_mu < lo:
        gap = round(lo - reserve_mu, 2)
        return "short", gap, f"短缺 {gap:.2f} 亩"
    if reserve_mu > hi:
        gap = round(reserve_mu - hi, 2)
        return "above", gap, f"超出 {gap:.2f} 亩"
    return "within", 0.0, "达标"


def _visible_counties(conn: Connection, principal: Principal, scope: str) -> list[tuple[str, str]]:
    if scope == "all":
        params: dict[str, Any]
        sql, params = "SELECT adcode, name FROM counties ORDER BY adcode", {}
    elif scope == "county":
        sql, params = "SELECT adcode, name FROM counties WHERE adcode = ANY(:a) ORDER BY adcode", {"a": sorted(principal.counties)}
    else:
        sql = "SELECT DISTINCT c.adcode, c.name FROM counties c JOIN parks k ON k.adcode = c.adcode WHERE k.id = ANY(:p) ORDER BY c.adcode"
        params = {"p": sorted(principal.parks)}
    return [(r[0], r[1]) for r in conn.execute(text(sql), params)]


def _figures(conn: Connection, principal: Principal, cutoff: dt.datetime | None, tol: float) -> dict[str, dict[str, Any]]:
    """Per county: reserve and on-offer sums and the largest contiguous reserve block."""
    source, params = state_source(cutoff)
    where, scope_params = scope_clause(principal, "reserves", "read", "s.adcode", "s.park_id")
    land = f"SELECT s.* FROM ({source}) s WHERE s.status IN ('reserve', 'on_offer') AND {where}"
    reserve = "SELECT * FROM land WHERE status = 'reserve'"
    sql = f"""
        WITH land AS ({land}),
        sums AS (
            SELECT adcode,
                   coalesce(sum(area_mu) FILTER (WHERE status = 'reserve'), 0) AS reserve_mu,
                   count(*) FILTER (WHERE status = 'reserve') AS reserve_parcels,
                   coalesce(sum(area_mu) FILTER (WHERE status = 'on_offer'), 0) AS on_offer_mu,
                   count(*) FILTER (WHERE status = 'on_offer') AS on_offer_parcels
            FROM land GROUP BY adcode
        ),
        blocks AS (
            SELECT adcode, cid, sum(area_mu) AS mu, count(*) AS n
            FROM ({components_sql(reserve)}) b GROUP BY adcode, cid
        ),
        largest AS (
            SELECT DISTINCT ON (adcode) adcode, mu, n FROM blocks ORDER BY adcode, mu DESC
        )
        SELECT s.*, coalesce(l.mu, 0) AS largest_block_mu, coalesce(l.n, 0) AS largest_block_parcels
        FROM sums s LEFT JOIN largest l USING (adcode)
    """
    rows = conn.execute(text(sql), {**params, **scope_params, "tol": tol}).mappings()
    return {r["adcode"]: dict(r) for r in rows}


def _targets(conn: Connection, day: dt.date) -> dict[str, tuple[float, float, str]]:
    rows = conn.execute(
        text(
            """
            SELECT DISTINCT ON (c.adcode) c.adcode, t.min_mu, t.max_mu, t.edition
            FROM counties c
            JOIN reserve_targets t ON (t.adcode = c.adcode OR t.adcode IS NULL) AND t.valid_from <= :day
            ORDER BY c.adcode, (t.adcode IS NULL), t.valid_from DESC, t.id DESC
            """
        ),
        {"day": day},
    )
    return {r.adcode: (float(r.min_mu), float(r.max_mu), r.edition) for r in rows}


def _row(adcode: str, name: str, fig: dict[str, Any], target: tuple[float | None, float | None, str] | None) -> LedgerRow:
    reserve_mu = round(float(fig.get("reserve_mu", 0.0)), 2)
    lo, hi, edition = target if target else (None, None, None)
    status, gap, label = target_status(reserve_mu, lo, hi)
    return LedgerRow(
        adcode=adcode,
        name=name,
        reserve_mu=reserve_mu,
        reserve_parcels=int(fig.get("reserve_parcels", 0)),
        on_offer_mu=round(float(fig.get("on_offer_mu", 0.0)), 2),
        on_offer_parcels=int(fig.get("on_offer_parcels", 0)),
        largest_block_mu=round(float(fig.get("largest_block_mu", 0.0)), 2),
        largest_block_parcels=int(fig.get("largest_block_parcels", 0)),
        target_min_mu=lo,
        target_max_mu=hi,
        target_edition=edition,
        status=status,
        gap_mu=gap,
        status_label=label,
    )


def _total(rows: list[LedgerRow], scope: str) -> LedgerRow:
    """The city (or the caller's visible part of it): sums, the largest block of any county."""
    with_target = [r for r in rows if r.target_min_mu is not None]
    lo = sum(r.target_min_mu for r in with_target) if with_target else None  # type: ignore[misc]
    hi = sum(r.target_max_mu for r in with_target) if with_target else None  # type: ignore[misc]
    largest = max(rows, key=lambda r: r.largest_block_mu, default=None)
    fig = {
        "reserve_mu": total_mu(r.reserve_mu for r in rows),
        "reserve_parcels": sum(r.reserve_parcels for r in rows),
        "on_offer_mu": total_mu(r.on_offer_mu for r in rows),
        "on_offer_parcels": sum(r.on_offer_parcels for r in rows),
        "largest_block_mu": largest.largest_block_mu if largest else 0.0,
        "largest_block_parcels": largest.largest_block_parcels if largest else 0,
    }
    name = "黄冈市合计" if scope == "all" else "合计（可见范围）"
    editions = sorted({r.target_edition for r in with_target if r.target_edition})
    total = _row("421100", name, fig, (lo, hi, "; ".join(editions)) if lo is not None else None)
    if any(r.since_reserve_mu is not None for r in rows):
        total.since_reserve_mu = round(sum(r.since_reserve_mu or 0.0 for r in rows), 2)
        total.since_reserve_parcels = sum(r.since_reserve_parcels or 0 for r in rows)
        total.change_mu = round(total.reserve_mu - total.since_reserve_mu, 2)
        total.change_parcels = total.reserve_parcels - total.since_reserve_parcels
    return total


def _instant(value: dt.date | dt.datetime) -> tuple[dt.date, dt.datetime]:
    """(day, cutoff): a date means the end of that day in 黄冈; a datetime is taken as it is."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)
        return aware.astimezone(LOCAL_TZ).date(), aware
    return value, end_of_day(value)


def reserve_ledger(
    conn: Connection,
    principal: Principal,
    as_of: dt.date | dt.datetime | None = None,
    since: dt.date | dt.datetime | None = None,
) -> Ledger:
    """The ledger at the end of ``as_of`` (default now), with the change since ``since``.

    Dates mean the end of that day in 黄冈 (Asia/Shanghai); datetimes are exact instants.
    Public callers are refused: the reserve is not part of the public view (they see land
    on offer through the site finder). County officers see their counties, park managers
    the land of their parks, city administrators everything.
    """
    scope = list_scope(principal, "reserves", "read")
    if scope == "public":
        raise Forbidden("the reserve ledger is not public: anonymous callers see land on offer via /api/sites")
    now = dt.datetime.now(LOCAL_TZ)
    day, cutoff = _instant(as_of) if as_of is not None else (today_local(), None)
    if cutoff is not None and day > now.date():
        raise InvalidRequest("as_of", f"{day.isoformat()} is in the future")
    since_cut = None
    if since is not None:
        _since_day, since_cut = _instant(since)
        if since_cut >= (cutoff or now):
            raise InvalidRequest("since", f"must be before as_of ({(as_of or day)})")
    conn.execute(text("SELECT set_config('jit', 'off', true)"))  # see hggis.reserves.sites
    tol = tolerance_m(conn)
    figures = _figures(conn, principal, cutoff, tol)
    before = _figures(conn, principal, since_cut, tol) if since_cut is not None else None
    targets = _targets(conn, day)
    rows: list[LedgerRow] = []
    for adcode, name in _visible_counties(conn, principal, scope):
        row = _row(adcode, name, figures.get(adcode, {}), targets.get(adcode))
        if before is not None:
            then = before.get(adcode, {})
            row.since_reserve_mu = round(float(then.get("reserve_mu", 0.0)), 2)
            row.since_reserve_parcels = int(then.get("reserve_parcels", 0))
            row.change_mu = round(row.reserve_mu - row.since_reserve_mu, 2)
            row.change_parcels = row.reserve_parcels - row.since_reserve_parcels
        rows.append(row)
    counts = {k: sum(1 for r in rows if r.status == k) for k in STATUS_LABELS}
    return Ledger(as_of=as_of or day, since=since, scope=scope, tolerance_m=tol, rows=rows, total=_total(rows, scope), counts=counts)


def dashboard_data(conn: Connection, principal: Principal, since_days: int = 30) -> dict[str, Any]:
    """The ledger of today with the change over the last ``since_days`` days, for a dashboard."""
    since = today_local() - dt.timedelta(days=since_days)
    ledger = reserve_ledger(conn, principal, since=since)
    data = ledger.to_dict()
    data["summary"] = {
        "counties_short": ledger.counts.get("short", 0),
        "counties_within": ledger.counts.get("within", 0),
        "counties_above": ledger.counts.get("above", 0),
        "reserve_mu": ledger.total.reserve_mu,
        "on_offer_mu": ledger.total.on_offer_mu,
        "change_mu": ledger.total.change_mu,
    }
    return data
