""""One full year" (满一年) and "within N days" on calendar dates.

The 办法 counts periods in years from the agreed start date but does not say how. We
follow the general rules of the Civil Code (《中华人民共和国民法典》):

- 第二百零一条: a period counted in years, months or days starts on the day *after* the
  event (the agreed start date itself is not counted);
- 第二百零二条: a period in years ends on the corresponding day of the final year; when
  that month has no corresponding day, on the last day of that month.

So for an agreed start date S the one-year period runs from S+1 to the anniversary of S
(its last day), and the land is idle from the day after the anniversary. A start on
29 February ends its year on 28 February of a common year (the month-end rule of 第二百零
二条), so it is idle from 1 March; in a leap year the anniversary is 29 February itself.
PostgreSQL's ``date + interval 'n years'`` clamps 29 February the same way, so the SQL
fragments below and these functions agree (tests check both on every leap-day case).

"Within 30 days of suspicion" (第五条) ends on the 30th day after the day of suspicion
(the day itself not counted): due on ``start + 30``, overdue from ``start + 31``. We do
not extend a last day that falls on a public holiday (第二百零三条): no holiday calendar
is kept, and the earlier date is the safe side for the authority's own deadlines.
"""

from __future__ import annotations

import datetime as dt

ONE_DAY = dt.timedelta(days=1)


def add_years(start: dt.date, years: int) -> dt.date:
    """The corresponding day ``years`` later; 29 February → 28 February in a common year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year: last day of February
        return dt.date(start.year + years, 2, 28)


def period_end(start: dt.date, years: int) -> dt.date:
    """Last day of a period of ``years`` full years counted from ``start`` (民法典 第二百零二条)."""
    return add_years(start, years)


def reached_on(start: dt.date, years: int) -> dt.date:
    """First day on which ``years`` full years have passed since ``start`` (e.g. idle from)."""
    return period_end(start, years) + ONE_DAY


def full_years_passed(start: dt.date, as_of: dt.date, years: int) -> bool:
    return as_of >= reached_on(start, years)


def due_within(start: dt.date, days: int) -> dt.date:
    """Last day of "within ``days`` days" after ``start`` (the day of ``start`` not counted)."""
    return start + dt.timedelta(days=days)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """Last day of "within ``days`` working days" after ``start``: Monday–Friday counted.

    No holiday calendar is kept (see above), so a period spanning a public holiday ends
    earlier here than in law: the officer checks holidays before acting on the date.
    """
    day = start
    left = days
    while left > 0:
        day += ONE_DAY
        if day.weekday() < 5:
            left -= 1
    return day


def is_overdue(start: dt.date, days: int, as_of: dt.date) -> bool:
    return as_of > due_within(start, days)


def days_since(first_day: dt.date, as_of: dt.date) -> int:
    """Days from ``first_day`` to ``as_of``, both counted (1 on the first day itself)."""
    return (as_of - first_day).days + 1


def sql_reached_on(start_sql: str, years_sql: str) -> str:
    """SQL for :func:`reached_on` (``start_sql`` and ``years_sql`` are trusted fragments)."""
    return f"(({start_sql}) + make_interval(years => {years_sql}))::date + 1"


def sql_reached_on_interval(start_sql: str, interval_sql: str) -> str:
    """Same as :func:`sql_reached_on` with the years as a precomputed ``interval`` (cheaper per row)."""
    return f"(({start_sql}) + {interval_sql})::date + 1"
