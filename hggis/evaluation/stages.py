"""What a run must respect of its year's stages, inside the run's own transaction.

A run is refused once the year is final (the 公示 is closed and the results stand), and
while a published land list still has unanswered correction requests (scoring would use
an area somebody has disputed without an answer). A run records the land list it scored
from and the run of the year it supersedes; while the year is on notice (公示), the notice
moves to the new run and every upheld objection not yet applied is marked as applied by
it. All of it is audited (notices and objections), so the history tells which run was on
notice when and which re-run answered which objection.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from hggis.db.models import table_of
from hggis.errors import Conflict
from hggis.evaluation.publication_tables import (
    EvaluationLandCorrection,
    EvaluationLandList,
    EvaluationNotice,
    EvaluationObjection,
)
from hggis.evaluation.tables import EvaluationRun

LISTS = table_of(EvaluationLandList)
CORRECTIONS = table_of(EvaluationLandCorrection)
NOTICES = table_of(EvaluationNotice)
OBJECTIONS = table_of(EvaluationObjection)
RUNS = table_of(EvaluationRun)


class StageError(Conflict):
    """A step the year's stage does not allow now; the message names what is open or done."""


@dataclass(frozen=True)
class Stage:
    year: int
    land_list_id: int | None
    current_run_id: int | None
    notice_id: int | None
    notice_status: str | None


def stage_of(conn: Connection, year: int) -> Stage:
    """The year's newest land list, current run and notice."""
    list_id = conn.execute(select(func.max(LISTS.c.id)).where(LISTS.c.year == year)).scalar_one()
    run_id = conn.execute(select(func.max(RUNS.c.id)).where(RUNS.c.year == year)).scalar_one()
    notice = conn.execute(select(NOTICES.c.id, NOTICES.c.status).where(NOTICES.c.year == year)).first()
    return Stage(year, list_id, run_id, notice.id if notice else None, notice.status if notice else None)


def open_corrections(conn: Connection, list_id: int) -> list[tuple[int, str]]:
    """(correction id, firm name) of the unanswered correction requests of a land list."""
    rows = conn.execute(
        select(CORRECTIONS.c.id, CORRECTIONS.c.name)
        .where(CORRECTIONS.c.list_id == list_id, CORRECTIONS.c.status == "open")
        .order_by(CORRECTIONS.c.id)
    ).all()
    return [(r.id, r.name) for r in rows]


def named(items: list[tuple[int, str]], limit: int = 5) -> str:
    """"#3 某某公司、#5 …" for a refusal message."""
    shown = "、".join(f"#{i} {n}" for i, n in items[:limit])
    return shown + (f" 等 {len(items)} 项" if len(items) > limit else "")


def before_run(conn: Connection, year: int) -> Stage:
    """Refuse a run of a final year, or of a year whose land list has open corrections."""
    stage = stage_of(conn, year)
    if stage.notice_status == "final":
        raise StageError(f"{year} 年度评价结果已定稿（批次 #{stage.current_run_id}），不能再评价", field="year")
    if stage.land_list_id is not None:
        still_open = open_corrections(conn, stage.land_list_id)
        if still_open:
            raise StageError(
                f"{year} 年度用地面积公布（第 {stage.land_list_id} 号）还有 {len(still_open)} 项更正申请未答复："
                f"{named(still_open)}；答复后再评价", field="year")
    return stage


def after_run(conn: Connection, stage: Stage, run_id: int) -> None:
    """Record what the run scored from and replaced; move the year's notice to it."""
    conn.execute(
        RUNS.update().where(RUNS.c.id == run_id)
        .values(land_list_id=stage.land_list_id, supersedes_run_id=stage.current_run_id)
    )
    if stage.notice_id is None:
        return
    conn.execute(
        NOTICES.update().where(NOTICES.c.id == stage.notice_id)
        .values(run_id=run_id, version=NOTICES.c.version + 1)
    )
    conn.execute(
        OBJECTIONS.update()
        .where(OBJECTIONS.c.notice_id == stage.notice_id, OBJECTIONS.c.status == "upheld",
               OBJECTIONS.c.rerun_id.is_(None))
        .values(rerun_id=run_id, version=OBJECTIONS.c.version + 1)
    )


def run_stage_label(conn: Connection, run_id: int, year: int) -> str:
    """A run's place in its year, in Chinese: on notice, final, superseded, or not (yet) on notice."""
    notice = conn.execute(select(NOTICES).where(NOTICES.c.year == year)).first()
    if notice is not None and notice.run_id == run_id:
        if notice.status == "final":
            return "已定稿"
        return f"公示中（{notice.starts_on.isoformat()} 至 {notice.ends_on.isoformat()}）"
    later = conn.execute(select(func.min(RUNS.c.id)).where(RUNS.c.year == year, RUNS.c.id > run_id)).scalar_one()
    if later is not None:
        return f"已被批次 #{later} 替代"
    return "未公示（试算或待公示）"
