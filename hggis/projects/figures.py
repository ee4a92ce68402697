"""The pipeline's figures, each defined once: the dashboard counts with these conditions and the
drill-down lists the projects with the very same ones, so a figure and its list cannot disagree.

The plan (2023-09-12, 三 (二)(三)) names the figures but not how to count them, and domain.md
is silent; the definitions chosen here:

- **新开工 / 新投产** (starts, productions) of year Y: projects whose actual 开工日期 /
  投产日期 falls in Y.
- **协议投资额** (signed investment) of Y: the signed investment of projects whose 签约日期 falls
  in Y (every project in the list is a manufacturing project, as the county lists are).
- **资金到位率** of Y: Σ funds in place at the end of Y (the latest cumulative 到位资金 reported
  on or before 31 Dec Y) over Σ signed investment, both over the projects signed in Y.
- **开工率** of Y: of the projects whose contract says start in Y (计划开工日期 in Y), the share
  that had started by the end of Y.
- **履约率** of Y: of the projects with a contract node (计划开工 or 计划投产) due in Y and already
  due on the reference day, the share that met every such node on time (the actual date on or
  before the planned one). A node not yet due is not counted either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement as Expr

from hggis import clock
from hggis.access.policy import Forbidden, Principal, grant
from hggis.projects.tables import project_funds, projects

P = projects.c


def year_span(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def reference_day(year: int, today: dt.date | None = None) -> dt.date:
    """The day a year's nodes are judged on: its last day, or today while the year runs."""
    return min(year_span(year)[1], today or clock.today())


def funds_by(day: dt.date) -> ColumnElement:
    """A project's cumulative funds in place on ``day`` (万元; NULL if none reported by then)."""
    f = project_funds.c
    return (select(f.amount_wan).where(f.project_id == P.id, f.on_date <= day)
            .order_by(f.on_date.desc()).limit(1).scalar_subquery())


def _in_year(column: ColumnElement, year: int) -> Expr[bool]:
    first, last = year_span(year)
    return column.between(first, last)


def started(year: int, _day: dt.date) -> Expr[bool]:
    return _in_year(P.started_on, year)


def producing(year: int, _day: dt.date) -> Expr[bool]:
    return _in_year(P.producing_on, year)


def signed(year: int, _day: dt.date) -> Expr[bool]:
    return _in_year(P.signed_on, year)


def start_due(year: int, _day: dt.date) -> Expr[bool]:
    return _in_year(P.planned_start_on, year)


def start_met(year: int, _day: dt.date) -> Expr[bool]:
    return and_(start_due(year, _day), P.started_on <= year_span(year)[1])


def _node_due(planned: ColumnElement, year: int, day: dt.date) -> Expr[bool]:
    return and_(_in_year(planned, year), planned <= day)


def _node_missed(planned: ColumnElement, actual: ColumnElement, year: int, day: dt.date) -> Expr[bool]:
    return and_(_node_due(planned, year, day), or_(actual.is_(None), actual > planned))


def nodes_due(year: int, day: dt.date) -> Expr[bool]:
    return or_(_node_due(P.planned_start_on, year, day), _node_due(P.planned_production_on, year, day))


def nodes_met(year: int, day: dt.date) -> Expr[bool]:
    return and_(nodes_due(year, day),
                ~_node_missed(P.planned_start_on, P.started_on, year, day),
                ~_node_missed(P.planned_production_on, P.producing_on, year, day))


Condition = Callable[[int, dt.date], Expr[bool]]
#: figure → (Chinese label, condition); the drill-down's ``figure=`` takes these names
FIGURES: dict[str, tuple[str, Condition]] = {
    "started": ("新开工项目", started),
    "producing": ("新投产项目", producing),
    "signed": ("当年签约项目", signed),
    "start_due": ("计划当年开工项目", start_due),
    "start_met": ("计划当年开工且已开工项目", start_met),
    "nodes_due": ("合同节点当年到期项目", nodes_due),
    "nodes_met": ("合同节点按期完成项目", nodes_met),
}


def rate(part: float, whole: float) -> float | None:
    """A percentage with one decimal; None when there is nothing to divide by."""
    return round(part / whole * 100, 1) if whole else None


def scope_condition(principal: Principal, action: str = "read") -> Expr[bool]:
    """The projects the principal may see (``projects`` grant: county or all)."""
    scope = grant(principal, "projects", action)
    if scope in ("all", "public"):
        return true()
    if scope == "county":
        return P.adcode.in_(sorted(principal.counties))
    return false()


def require_grant(principal: Principal, resource: str, action: str) -> None:
    """Refuse a role without any grant (a list then filters to the caller's scope)."""
    if grant(principal, resource, action) is None:
        raise Forbidden(f"role {principal.role} may not {action} {resource}")
