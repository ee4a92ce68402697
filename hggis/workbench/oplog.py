"""操作日志: the administrators' view of who changed what, read from the append-only history.

Nothing is logged twice: the history the triggers write is the log. Filters by person,
table, action and date; newest first, paged by the history id (stable while rows arrive).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize
from hggis.db.models import History, table_of
from hggis.workbench.labels import ACTION_LABELS, TABLE_LABELS
from hggis.workbench.people import people
from hggis.workbench.words import reason_text

HISTORY = table_of(History)
#: tables a reader names in Chinese (others by their own name)
TABLE_NAMES = {**TABLE_LABELS, "parks": "园区", "enterprises": "企业", "enterprise_years": "企业年度数据",
               "users": "用户", "api_tokens": "令牌", "idle_cases": "闲置土地案件", "idle_flags": "园区标记",
               "evaluation_models": "评价模型", "counties": "县（市、区）", "clusters": "产业集群"}


@dataclass
class OplogFilter:
    actor: str | None = None  # part of the account or name as recorded
    table: str | None = None
    action: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None


def operation_log(conn: Connection, principal: Principal, f: OplogFilter, limit: int = 50,
                  before_id: int | None = None) -> dict[str, Any]:
    authorize(principal, "users", "read")  # the administrators' page: who did what, everywhere
    tz = clock.local_tz()
    cond: list[ColumnElement[bool]] = []
    if f.actor:
        cond.append(HISTORY.c.actor.ilike(f"%{f.actor}%", escape="\\"))
    if f.table:
        cond.append(HISTORY.c.table_name == f.table)
    if f.action:
        cond.append(HISTORY.c.action == f.action)
    if f.since:
        cond.append(HISTORY.c.at >= dt.datetime.combine(f.since, dt.time(), tz))
    if f.until:
        cond.append(HISTORY.c.at < dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time(), tz))
    if before_id:
        cond.append(HISTORY.c.id < before_id)
    where = and_(True, *cond)
    rows = conn.execute(
        select(HISTORY.c.id, HISTORY.c.at, HISTORY.c.actor, HISTORY.c.table_name, HISTORY.c.object_id,
               HISTORY.c.action, HISTORY.c.reason).where(where).order_by(HISTORY.c.id.desc()).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    who = people(conn, (r.actor for r in rows))
    tables = sorted(conn.execute(select(func.distinct(HISTORY.c.table_name))).scalars())
    return {
        "items": [{"id": r.id, "at": r.at, "who": who.get(r.actor, r.actor), "table": TABLE_NAMES.get(r.table_name, r.table_name),
                   "object_id": r.object_id, "action": ACTION_LABELS.get(r.action, r.action),
                   "reason": reason_text(r.reason)} for r in rows],
        "next_before": rows[-1].id if more and rows else None,
        "tables": [(t, TABLE_NAMES.get(t, t)) for t in tables],
    }
