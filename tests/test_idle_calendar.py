""""One full year" on calendar dates: Python and the SQL of the scan agree, leap days included."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from hggis.idle.calendar import (
    add_years,
    days_since,
    due_within,
    full_years_passed,
    is_overdue,
    period_end,
    reached_on,
    sql_reached_on,
    sql_reached_on_interval,
)

D = dt.date


@pytest.mark.parametrize(
    ("start", "years", "last_day", "reached"),
    [
        (D(2023, 6, 30), 1, D(2024, 6, 30), D(2024, 7, 1)),
        (D(2023, 6, 30), 2, D(2025, 6, 30), D(2025, 7, 1)),
        # 29 February: no corresponding day in a common year → 28 February is the last day (民法典 第二百零二条)
        (D(2024, 2, 29), 1, D(2025, 2, 28), D(2025, 3, 1)),
        (D(2024, 2, 29), 2, D(2026, 2, 28), D(2026, 3, 1)),
        (D(2024, 2, 29), 4, D(2028, 2, 29), D(2028, 3, 1)),  # leap year again: the day itself
        # 28 February in the year before a leap year: the anniversary exists, idle on 29 February
        (D(2023, 2, 28), 1, D(2024, 2, 28), D(2024, 2, 29)),
        (D(2023, 3, 1), 1, D(2024, 3, 1), D(2024, 3, 2)),
        (D(2024, 12, 31), 1, D(2025, 12, 31), D(2026, 1, 1)),
    ],
)
def test_period_end_and_first_day(start, years, last_day, reached):
    assert period_end(start, years) == last_day
    assert reached_on(start, years) == reached
    assert not full_years_passed(start, last_day, years)
    assert full_years_passed(start, reached, years)


def test_add_years_clamps_only_the_leap_day():
    assert add_years(D(2024, 2, 29), 1) == D(2025, 2, 28)
    assert add_years(D(2024, 2, 28), 1) == D(2025, 2, 28)
    assert add_years(D(2024, 3, 1), -1) == D(2023, 3, 1)


def test_within_thirty_days():
    opened = D(2025, 1, 1)
    assert due_within(opened, 30) == D(2025, 1, 31)
    assert not is_overdue(opened, 30, D(2025, 1, 31))
    assert is_overdue(opened, 30, D(2025, 2, 1))
    assert days_since(D(2025, 3, 1), D(2025, 3, 1)) == 1


def test_sql_agrees_with_python_on_every_day_around_leap_days(engine):
    starts = [D(2019, 1, 1) + dt.timedelta(days=i) for i in range(0, 366 * 6, 1)]
    expr = sql_reached_on("d", "y")
    expr_iv = sql_reached_on_interval("d", "make_interval(years => y)")
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT d, y, {expr} AS r, {expr_iv} AS r_iv "
                 "FROM unnest(CAST(:ds AS date[])) d, (VALUES (1), (2)) v(y)"),
            {"ds": starts},
        ).all()
    mismatches = [(d, y, r, r_iv) for d, y, r, r_iv in rows if not r == r_iv == reached_on(d, y)]
    assert len(rows) == 2 * len(starts) and mismatches == []
