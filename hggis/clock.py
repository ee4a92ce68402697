"""The local calendar: legal dates in hggis are dates in 黄冈, whatever the server's zone.

Deadlines, "today" in a case step, flags and scans must agree with the officer's own
calendar; a server on UTC would otherwise call 01:00 Beijing time "yesterday" and refuse a
step dated today as a future date.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hggis.config import get_settings


def local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().hggis_timezone)


def now() -> dt.datetime:
    """The current instant, in the local zone."""
    return dt.datetime.now(local_tz())


def today() -> dt.date:
    """Today's date in 黄冈 (HGGIS_TIMEZONE, default Asia/Shanghai)."""
    return now().date()


def _as_instant(value: dt.datetime | str) -> dt.datetime:
    """A stored instant (a datetime, or ISO text as the API dicts carry it); naive means UTC."""
    instant = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


def display_time(value: dt.datetime | str | None, empty: str = "—") -> str:
    """An instant as people in 黄冈 read it, "2026年12月3日 17:00", for every page and file.

    Stored instants are UTC (timestamptz); a server on UTC would otherwise print its own
    zone's clock. The one formatter of displayed timestamps: pages, Excel, CSV, reports.
    """
    if value is None or value == "":
        return empty
    local = _as_instant(value).astimezone(local_tz())
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def display_date(value: dt.date | dt.datetime | str | None, empty: str = "—") -> str:
    """A calendar date in Chinese, "2026年12月3日"; an instant is first put in the local zone."""
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value or len(value) > 10 else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = _as_instant(value).astimezone(local_tz()).date()
    return f"{value.year}年{value.month}月{value.day}日"
