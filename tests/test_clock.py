"""Legal dates are 黄冈 dates, whatever zone the server's clock is in."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hggis import clock
from hggis.config import get_settings


def test_today_is_the_date_in_beijing_not_on_the_server(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    assert clock.now().utcoffset() == dt.timedelta(hours=8)
    assert clock.today() == dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_the_zone_is_a_setting(monkeypatch):
    monkeypatch.setenv("HGGIS_TIMEZONE", "UTC")
    get_settings.cache_clear()
    try:
        assert clock.now().utcoffset() == dt.timedelta(0)
    finally:
        monkeypatch.delenv("HGGIS_TIMEZONE")
        get_settings.cache_clear()
