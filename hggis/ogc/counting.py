"""``numberMatched`` that stays fast on a million parcels.

The rule, in order:

1. If the page itself proves the total (offset paging, and fewer rows came back than
   asked for), ``numberMatched`` is ``offset + numberReturned``: no extra query.
2. Otherwise the planner's row estimate for the filtered query is read with EXPLAIN
   (statistics; no rows are read). Above ``ESTIMATE_SKIP × EXACT_CAP`` rows an exact
   count is not attempted.
3. Otherwise the rows are counted with a cap: ``count(*)`` over at most ``EXACT_CAP + 1``
   rows. At or below the cap the count is exact.

``numberMatched`` is only ever an exact number. When it is not known (rule 2 skipped
the count, or rule 3 hit the cap), it is left out of the response, which OGC API –
Features allows, and the planner's estimate is given instead as the foreign member
``numberMatchedEstimate`` (an approximation, for display such as "约 12 万"). GDAL and
QGIS then page through the ``next`` links, which they do anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

EXACT_CAP = 50_000
ESTIMATE_SKIP = 4


@dataclass(frozen=True)
class Matched:
    exact: int | None
    estimate: int | None = None


def planner_estimate(conn: Connection, from_where: str, params: dict[str, Any]) -> int:
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {from_where}"), params).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def capped_count(conn: Connection, from_where: str, params: dict[str, Any], cap: int) -> int:
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {from_where} LIMIT {int(cap) + 1}) AS capped"
    return conn.execute(text(sql), params).scalar_one()


def number_matched(
    conn: Connection,
    from_where: str,
    params: dict[str, Any],
    known_total: int | None = None,
    cap: int | None = None,
) -> Matched:
    """How many features match ``FROM … WHERE …`` (``from_where``), by the rule above."""
    cap = EXACT_CAP if cap is None else cap
    if known_total is not None:
        return Matched(known_total)
    estimate = planner_estimate(conn, from_where, params)
    if estimate > cap * ESTIMATE_SKIP:
        return Matched(None, estimate)
    counted = capped_count(conn, from_where, params, cap)
    if counted <= cap:
        return Matched(counted)
    return Matched(None, max(estimate, counted))
