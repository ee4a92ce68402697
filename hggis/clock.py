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
