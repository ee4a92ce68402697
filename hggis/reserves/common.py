"""What the reserves modules share: settings, input errors, local time, the metric CRS."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock, errors
from hggis.access.policy import Forbidden, Principal, Scope, grant
from hggis.errors import Invalid
from hggis.geo import GK_ZONES

LOCAL_TZ = clock.local_tz()
AVAILABLE_STATUSES = ("reserve", "on_offer")
PUBLIC_STATUSES = ("on_offer",)
"""The public view of ``reserves``: land on the market. A recovered parcel that is offered
again has status ``on_offer`` too; ``reserve`` and ``recovered`` land is not yet for sale."""

_ZONE_SPLIT = (GK_ZONES[38].east + GK_ZONES[39].west) / 2  # 115.5°E


class InvalidRequest(Invalid):
    """Input that cannot be answered (HTTP 422): names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(errors.NotFound):
    """The named object does not exist (HTTP 404)."""


def gk_srid_sql(lon_sql: str) -> str:
    """SQL choosing the unprefixed CGCS2000 3° GK zone (EPSG:4547/4548) for a longitude.

    Distances of 0.5 m are measured in this plane: its scale error inside 黄冈 (< 0.03 %)
    moves a 0.5 m tolerance by less than 0.2 mm.
    """
    return (
        f"(CASE WHEN ({lon_sql}) < {_ZONE_SPLIT} THEN {GK_ZONES[38].epsg_unprefixed} "
        f"ELSE {GK_ZONES[39].epsg_unprefixed} END)"
    )


def get_setting(conn: Connection, key: str) -> Any:
    value = conn.execute(text("SELECT value FROM reserve_settings WHERE key = :k"), {"k": key}).scalar_one_or_none()
    if value is None:
        raise LookupError(f"reserve setting {key!r} is missing (migration 0006 creates it)")
    return value


def set_setting(conn: Connection, principal: Principal, key: str, value: Any) -> None:
    """Change a city-wide setting (city administrators only); history keeps the old value."""
    require_city_scope(principal, "reserves", "write")
    updated = conn.execute(
        text(
            "UPDATE reserve_settings SET value = CAST(:v AS jsonb), version = version + 1, updated_at = now() "
            "WHERE key = :k"
        ),
        {"k": key, "v": json.dumps(value, ensure_ascii=False)},
    ).rowcount
    if not updated:
        raise InvalidRequest("key", f"unknown setting {key!r}")


def list_scope(principal: Principal, resource: str, action: str) -> Scope:
    """The scope of a list or search (filtered by ``scope_clause``); Forbidden when none."""
    scope = grant(principal, resource, action)
    if scope is None:
        raise Forbidden(f"role {principal.role} may not {action} {resource}")
    return scope


def require_city_scope(principal: Principal, resource: str, action: str) -> None:
    """City-wide rules (targets, editions, weights) are set by a role with scope 'all'."""
    scope = list_scope(principal, resource, action)
    if scope != "all":
        raise Forbidden(f"{principal.username} may not change city-wide {resource} settings: scope is {scope}")


def today_local() -> dt.date:
    return dt.datetime.now(LOCAL_TZ).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in 黄冈 (Asia/Shanghai): 'as of a date' includes that day."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=LOCAL_TZ)


def known_county(conn: Connection, adcode: str) -> str:
    name = conn.execute(text("SELECT name FROM counties WHERE adcode = :a"), {"a": adcode}).scalar_one_or_none()
    if name is None:
        raise InvalidRequest("adcode", f"unknown county {adcode!r} (a 6-digit code of 黄冈, e.g. 421181)")
    return name
