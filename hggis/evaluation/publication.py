"""The stages of an evaluation year: land publication and corrections, 公示, objections, final.

The doors (API, CLI, workbench) call these functions and nothing else:

- ``publish_land``: freeze each listed firm's land (its own and its unit's, parcel codes)
  and the figures that will be used into a land list, for the firms to check; a park
  manager exports their parks' part (``land_list_workbook``, Chinese XLSX);
- ``record_correction`` / ``answer_correction``: a firm's or park's request to correct a
  published area, answered (accepted / rejected with the reason) before scoring. The
  correction itself is made where the data lives (parcel, occupancy or figures doors,
  with history); publishing again gives the corrected list;
- scoring is ``hggis.evaluation.runs.run_evaluation`` (refused while corrections are open);
- ``open_notice``: the 公示 of the year's current run, ``HGGIS_EVALUATION_NOTICE_DAYS``
  days (inclusive) from its first day;
- ``lodge_objection`` / ``answer_objection``: who may lodge (decision): park and county
  staff record a firm's **written** objection (channel ``firm``, with the date the letter
  was received, which must lie in the period), and a park manager lodges the park's own
  (channel ``park``, dated the day it is lodged). Everybody lodges only for firms whose
  result they may read. No public door. The city (the role that runs evaluations)
  answers: upheld or rejected, always with the reason; an upheld objection is corrected
  through the figure / land doors and the year re-run, which supersedes the run on notice;
- ``finalise``: only after the period has ended, with every objection answered and every
  upheld one applied by a later run; refused otherwise, naming what is still open.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from hggis import clock
from hggis.access.policy import Principal, authorize, can, grant
from hggis.config import get_settings
from hggis.db.models import table_of
from hggis.db.session import transaction
from hggis.errors import Forbidden, Invalid, NotFound
from hggis.evaluation import land
from hggis.evaluation.compute import is_above
from hggis.evaluation.frames import write_frame
from hggis.evaluation.model import FIGURES
from hggis.evaluation.publication_tables import (
    OBJECTION_CHANNELS,
    OBJECTION_SUBJECTS,
    EvaluationLandListItem,
)
from hggis.evaluation.runs import authorize_read, prepare
from hggis.evaluation.stages import (
    CORRECTIONS,
    LISTS,
    NOTICES,
    OBJECTIONS,
    RUNS,
    StageError,
    named,
    open_corrections,
    stage_of,
)
from hggis.evaluation.tables import EvaluationResult

ITEMS = table_of(EvaluationLandListItem)
RESULTS = table_of(EvaluationResult)
RESULT_LIST_LABELS = {"above": "规上企业", "below": "规下企业", "tenant": "租赁企业（无自有用地）"}
CHANNEL_LABELS = {"firm": "企业书面异议（园区/县级代为登记）", "park": "园区异议"}
SUBJECT_LABELS = {"land": "用地面积", "figures": "经济数据", "classification": "分类/分组", "other": "其他"}
STATUS_LABELS = {"open": "待答复", "accepted": "已采纳", "rejected": "不予采纳", "upheld": "异议成立", "final": "已定稿"}
ITEM_COLUMNS = ("list_id", "enterprise_id", "credit_code", "name", "park_id", "adcode", "result_list", "own_land_mu",
                "land_mu", "merged_into", "parcel_codes", "figures")


class PublicationError(Invalid):
    """A stage step with a bad input (missing statement, unknown firm, a date outside the period)."""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _row(r: Any) -> dict[str, Any]:
    return {k: _iso(v) for k, v in r._mapping.items()}


def _text(value: str | None, what: str, field: str) -> str:
    if value is None or not value.strip():
        raise PublicationError(f"请填写{what}", field=field)
    return value.strip()


# ----------------------------------------------------------------------------------------
# (a) land publication and corrections
# ----------------------------------------------------------------------------------------


def _list_items(conn: Connection, year: int, model_id: int | None) -> tuple[int, pd.DataFrame]:
    """Every listed firm's land and figures as the run would attribute them (nothing stored)."""
    ev = prepare(conn, year, model_id)
    units = land.attribute(ev.inputs, ev.params)
    f = units.frame
    if f.empty:
        raise PublicationError(f"{year} 年度没有列入评价的企业（无用地、无经济数据）：先导入宗地和企业年度数据", field="year")
    revenue = f["own_revenue"].where(f["own_revenue"].notna(), f["revenue"])
    above = is_above(revenue, f["above_size"].fillna(0).to_numpy(dtype=np.int64), ev.params)
    result_list = np.where(f["tenant"].to_numpy(dtype=bool), "tenant",
                           np.where(f["has_figures"].to_numpy(dtype=bool), np.where(above, "above", "below"),
                                    np.full(len(f), None, dtype=object)))
    own = units.land
    codes = own.groupby("occupant_id")["parcel_code"].apply(lambda s: "{" + ",".join(sorted(set(s))) + "}")
    figures = [
        json.dumps({c: float(v) for c in FIGURES if pd.notna(v := row[c])}, ensure_ascii=False) if row["has_figures"] else "{}"
        for _, row in f.iterrows()
    ]
    items = pd.DataFrame({
        "enterprise_id": f.index.astype("int64"),
        "credit_code": f["credit_code"].to_numpy(),
        "name": f["name"].to_numpy(),
        "park_id": f["park_id"].astype("Int64").to_numpy(),
        "adcode": f["adcode"].to_numpy(),
        "result_list": result_list,
        "own_land_mu": f["own_land_mu"].round(4).to_numpy(),
        "land_mu": f["land_mu"].round(4).to_numpy(),
        "merged_into": f["merged_into"].astype("Int64").to_numpy(),
        "parcel_codes": f.index.map(codes).fillna("{}").to_numpy(),
        "figures": figures,
    })
    return ev.model_id, items


def publish_land(engine: Engine, principal: Principal, year: int, reason: str | None = None,
                 model_id: int | None = None) -> dict[str, Any]:
    """Freeze the year's land areas and figures into a new land list (the one being checked)."""
    authorize(principal, "evaluation", "run")
    with transaction(engine, principal.actor, reason or f"公布 {year} 年度亩均评价用地面积") as conn:
        stage = stage_of(conn, year)
        if stage.notice_id is not None:
            raise StageError(f"{year} 年度评价结果已进入公示（批次 #{stage.current_run_id}），不再公布用地面积；"
                             "用地有误请登记异议", field="year")
        mid, items = _list_items(conn, year, model_id)
        list_id = conn.execute(
            LISTS.insert().values(year=year, model_id=mid, published_by=principal.actor, reason=reason,
                                  n_items=len(items), total_land_mu=float(items["own_land_mu"].sum()))
            .returning(LISTS.c.id)
        ).scalar_one()
        items["list_id"] = list_id
        write_frame(conn, "evaluation_land_list_items", items, ITEM_COLUMNS)
        return _land_list_head(conn, list_id)


def _land_list_head(conn: Connection, list_id: int) -> dict[str, Any]:
    row = conn.execute(select(LISTS).where(LISTS.c.id == list_id)).first()
    if row is None:
        raise NotFound(f"没有用地面积公布 {list_id}")
    return _row(row)


def _current_list_id(conn: Connection, year: int) -> int:
    list_id = stage_of(conn, year).land_list_id
    if list_id is None:
        raise NotFound(f"{year} 年度尚未公布用地面积：先公布（hggis evaluate publish-land --year {year}）")
    return list_id


def land_list(conn: Connection, principal: Principal, year: int, park_id: int | None = None) -> dict[str, Any]:
    """The newest land list of the year, the caller's part of it (park managers: their parks)."""
    authorize_read(principal)
    list_id = _current_list_id(conn, year)
    q = select(ITEMS).where(ITEMS.c.list_id == list_id).where(_scope(principal, ITEMS))
    if park_id is not None:
        q = q.where(ITEMS.c.park_id == park_id)
    items = [_row(r) for r in conn.execute(q.order_by(ITEMS.c.result_list, ITEMS.c.adcode, ITEMS.c.name))]
    corrections = [_row(r) for r in conn.execute(
        select(CORRECTIONS).where(CORRECTIONS.c.list_id == list_id).where(_scope(principal, CORRECTIONS))
        .order_by(CORRECTIONS.c.id))]
    return {**_land_list_head(conn, list_id), "items": items, "corrections": corrections}


def _scope(principal: Principal, table: Any) -> Any:
    """The caller's evaluation read scope over a table with adcode and park_id (SQLAlchemy Core)."""
    scope = grant(principal, "evaluation", "read")
    if scope is None:
        raise Forbidden(f"role {principal.role} may not read evaluation")
    if scope == "county":
        return table.c.adcode.in_(sorted(principal.counties))
    if scope == "park":
        return table.c.park_id.in_(sorted(principal.parks))
    return table.c.adcode.isnot(None)


def _may_act_for(principal: Principal, adcode: str, park_id: int | None, what: str) -> None:
    if principal.is_public or not can(principal, "evaluation", "read", adcode=adcode, park_id=park_id):
        raise Forbidden(f"{principal.username} may not {what} for a firm outside their scope")


def record_correction(engine: Engine, principal: Principal, year: int, enterprise_id: int, statement: str,
                      claimed_land_mu: float | None = None) -> dict[str, Any]:
    """Record a firm's or park's request to correct its published land area (before scoring)."""
    text_ = _text(statement, "更正理由（哪宗地、应为多少、依据）", "statement")
    if claimed_land_mu is not None and not 0 <= claimed_land_mu <= 1e6:
        raise PublicationError(f"申请面积 {claimed_land_mu} 亩不在 0–1000000 之间", field="claimed_land_mu")
    with transaction(engine, principal.actor, f"{year} 年度用地面积更正申请") as conn:
        stage = stage_of(conn, year)
        if stage.notice_id is not None:
            raise StageError(f"{year} 年度评价结果已进入公示，用地面积更正请作为异议登记", field="year")
        list_id = _current_list_id(conn, year)
        item = conn.execute(select(ITEMS).where(ITEMS.c.list_id == list_id, ITEMS.c.enterprise_id == enterprise_id)).first()
        if item is None:
            raise NotFound(f"企业 {enterprise_id} 不在 {year} 年度用地面积公布（第 {list_id} 号）中", field="enterprise")
        _may_act_for(principal, item.adcode, item.park_id, "record a land correction")
        cid = conn.execute(
            CORRECTIONS.insert().values(
                list_id=list_id, year=year, enterprise_id=enterprise_id, credit_code=item.credit_code, name=item.name,
                park_id=item.park_id, adcode=item.adcode, published_land_mu=item.own_land_mu,
                claimed_land_mu=claimed_land_mu, statement=text_, lodged_by=principal.actor,
            ).returning(CORRECTIONS.c.id)
        ).scalar_one()
        return _row(conn.execute(select(CORRECTIONS).where(CORRECTIONS.c.id == cid)).one())


def answer_correction(engine: Engine, principal: Principal, correction_id: int, accepted: bool,
                      answer: str) -> dict[str, Any]:
    """Accept or reject a correction request, with the reason (the evaluating authority)."""
    authorize(principal, "evaluation", "run")
    reply = _text(answer, "答复意见（采纳时写明已如何更正）", "answer")
    with transaction(engine, principal.actor, f"答复用地面积更正申请 #{correction_id}") as conn:
        row = conn.execute(select(CORRECTIONS).where(CORRECTIONS.c.id == correction_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"没有用地面积更正申请 #{correction_id}")
        if row.status != "open":
            raise StageError(f"更正申请 #{correction_id} 已于 {clock.display_time(row.answered_at)} 答复"
                             f"（{STATUS_LABELS[row.status]}）")
        conn.execute(CORRECTIONS.update().where(CORRECTIONS.c.id == correction_id).values(
            status="accepted" if accepted else "rejected", answer=reply, answered_by=principal.actor,
            answered_at=func.now(), version=CORRECTIONS.c.version + 1))
        return _row(conn.execute(select(CORRECTIONS).where(CORRECTIONS.c.id == correction_id)).one())


def land_list_workbook(conn: Connection, principal: Principal, year: int, park_id: int | None = None) -> bytes:
    """The land list as a Chinese XLSX: one sheet per result list, and the correction requests."""
    from hggis.evaluation.report import F2, F4, _fit, _names, _table

    data = land_list(conn, principal, year, park_id)
    counties, parks, _ = _names(conn)
    names = {i["enterprise_id"]: i["name"] for i in data["items"]}
    wb = Workbook()
    cover = wb.active
    cover.title = "说明"
    cover["A1"] = f"黄冈市{year}年度工业企业亩均效益评价用地面积公布（第 {data['id']} 号）"
    facts = [
        ("公布时间", clock.display_time(data["published_at"])),
        ("公布人", data["published_by"]),
        ("范围", parks.get(park_id, "") if park_id else "本人权限范围内全部企业"),
        ("用地面积", "宗地椭球面积（亩）× 使用份额；承租企业的用地和数据并入宗地权利人评价的，列于权利人名下"),
        ("核对", "如有异议，请在评价前提出更正申请（写明宗地代码、应为面积及依据）"),
    ]
    _table(cover, ["项目", "内容"], facts, [None, None], start_row=3)
    _fit(cover, header_row=3)
    figure_keys = list(FIGURES)
    headers = ["企业名称", "统一社会信用代码", "县（市、区）", "园区", "宗地代码", "本企业用地（亩）", "计入评价用地（亩）",
               "并入企业", *[f"{FIGURES[c][0]}（{FIGURES[c][1]}）" for c in figure_keys]]
    formats = [None, None, None, None, None, F4, F4, None, *[F2] * len(figure_keys)]
    for key, label in RESULT_LIST_LABELS.items():
        ws = wb.create_sheet(label[:12])
        rows = [
            [i["name"], i["credit_code"], counties.get(i["adcode"], i["adcode"]), parks.get(i["park_id"], ""),
             "、".join(i["parcel_codes"]), i["own_land_mu"], i["land_mu"],
             names.get(i["merged_into"], i["merged_into"] or ""), *[i["figures"].get(c) for c in figure_keys]]
            for i in data["items"] if i["result_list"] == key
        ]
        _table(ws, headers, rows, formats, freeze="C2")
        _fit(ws)
    ws = wb.create_sheet("更正申请")
    rows = [[c["id"], c["name"], c["credit_code"], c["published_land_mu"], c["claimed_land_mu"], c["statement"],
             STATUS_LABELS.get(c["status"], c["status"]), c["answer"] or ""] for c in data["corrections"]]
    _table(ws, ["编号", "企业名称", "统一社会信用代码", "公布面积（亩）", "申请面积（亩）", "更正理由", "状态", "答复"], rows,
           [None, None, None, F4, F4, None, None, None])
    _fit(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def land_list_filename(year: int, park_name: str | None = None) -> str:
    return f"亩均评价用地面积公布_{year}{'_' + park_name if park_name else ''}.xlsx"


# ----------------------------------------------------------------------------------------
# (c) 公示 and objections
# ----------------------------------------------------------------------------------------


def notice_days() -> int:
    return get_settings().hggis_evaluation_notice_days


def open_notice(engine: Engine, principal: Principal, run_id: int, starts_on: dt.date | None = None,
                days: int | None = None) -> dict[str, Any]:
    """Put the year's current run on 公示 for ``days`` days (inclusive) from ``starts_on`` (today)."""
    authorize(principal, "evaluation", "run")
    length = days if days is not None else notice_days()
    if not 1 <= length <= 90:
        raise PublicationError(f"公示期 {length} 天：应为 1–90 天", field="days")
    first = starts_on or clock.today()
    with transaction(engine, principal.actor, f"亩均评价结果公示（批次 #{run_id}）") as conn:
        run = conn.execute(select(RUNS.c.id, RUNS.c.year, RUNS.c.created_at).where(RUNS.c.id == run_id)).first()
        if run is None:
            raise NotFound(f"没有评价批次 {run_id}", field="run_id")
        stage = stage_of(conn, run.year)
        if stage.notice_id is not None:
            raise StageError(f"{run.year} 年度已在公示（批次 #{stage.current_run_id}）；更正后重新评价即替换公示批次")
        if stage.current_run_id != run_id:
            raise StageError(f"批次 #{run_id} 不是 {run.year} 年度最新的评价（最新为 #{stage.current_run_id}）", field="run_id")
        if stage.land_list_id is None:
            raise StageError(f"{run.year} 年度尚未公布用地面积：评价前应先公布用地面积供企业核对", field="run_id")
        still_open = open_corrections(conn, stage.land_list_id)
        if still_open:
            raise StageError(f"用地面积更正申请未答复：{named(still_open)}")
        run_day = run.created_at.astimezone(clock.local_tz()).date()
        if first < run_day:
            raise PublicationError(f"公示开始日 {first} 早于评价日 {run_day}", field="starts_on")
        ends = first + dt.timedelta(days=length - 1)
        nid = conn.execute(NOTICES.insert().values(
            year=run.year, run_id=run_id, starts_on=first, ends_on=ends, opened_by=principal.actor,
        ).returning(NOTICES.c.id)).scalar_one()
        return _row(conn.execute(select(NOTICES).where(NOTICES.c.id == nid)).one())


def _notice_of(conn: Connection, year: int, lock: bool = False) -> Any:
    q = select(NOTICES).where(NOTICES.c.year == year)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFound(f"{year} 年度评价结果尚未公示", field="year")
    return row


def _period(n: Any) -> str:
    return f"{n.starts_on.isoformat()} 至 {n.ends_on.isoformat()}"


def lodge_objection(engine: Engine, principal: Principal, year: int, enterprise_id: int, channel: str, subject: str,
                    statement: str, received_on: dt.date | None = None, firm_contact: str | None = None) -> dict[str, Any]:
    """Record an objection to a firm's result during the year's 公示 period (refused outside it)."""
    if channel not in OBJECTION_CHANNELS:
        raise PublicationError(f"channel {channel!r}: firm（企业书面异议）或 park（园区异议）", field="channel")
    if subject not in OBJECTION_SUBJECTS:
        raise PublicationError(f"subject {subject!r}: {', '.join(OBJECTION_SUBJECTS)}", field="subject")
    if channel == "park" and principal.role != "park_manager":
        raise Forbidden("园区异议由园区管理员提出；县、市人员请登记企业的书面异议（channel=firm）")
    reason_text = _text(statement, "异议内容及依据", "statement")
    today = clock.today()
    day = received_on if channel == "firm" and received_on is not None else today
    if day > today:
        raise PublicationError(f"收到日期 {day} 晚于今天 {today}", field="received_on")
    with transaction(engine, principal.actor, f"{year} 年度亩均评价异议") as conn:
        notice = _notice_of(conn, year)
        if notice.status == "final":
            raise StageError(f"{year} 年度评价结果已定稿，公示期 {_period(notice)} 已结束，异议不予受理")
        if not notice.starts_on <= day <= notice.ends_on:
            when = "已结束" if day > notice.ends_on else "尚未开始"
            raise StageError(f"{year} 年度公示期为 {_period(notice)}，{'收到' if channel == 'firm' else '提出'}日期 {day} "
                             f"公示期{when}，异议不予受理", field="received_on")
        result = conn.execute(select(RESULTS.c.credit_code, RESULTS.c.name, RESULTS.c.park_id, RESULTS.c.adcode)
                              .where(RESULTS.c.run_id == notice.run_id, RESULTS.c.enterprise_id == enterprise_id)).first()
        if result is None:
            raise NotFound(f"企业 {enterprise_id} 不在公示的评价批次 #{notice.run_id} 中", field="enterprise")
        _may_act_for(principal, result.adcode, result.park_id, "lodge an objection")
        oid = conn.execute(OBJECTIONS.insert().values(
            notice_id=notice.id, year=year, run_id=notice.run_id, enterprise_id=enterprise_id,
            credit_code=result.credit_code, name=result.name, park_id=result.park_id, adcode=result.adcode,
            channel=channel, subject=subject, statement=reason_text, received_on=day,
            firm_contact=(firm_contact or "").strip() or None, lodged_by=principal.actor,
        ).returning(OBJECTIONS.c.id)).scalar_one()
        return _row(conn.execute(select(OBJECTIONS).where(OBJECTIONS.c.id == oid)).one())


def answer_objection(engine: Engine, principal: Principal, objection_id: int, upheld: bool, answer: str) -> dict[str, Any]:
    """Uphold or reject an objection, with the reason; an upheld one is applied by the next run."""
    authorize(principal, "evaluation", "run")
    reply = _text(answer, "答复意见及理由", "answer")
    with transaction(engine, principal.actor, f"答复亩均评价异议 #{objection_id}") as conn:
        row = conn.execute(select(OBJECTIONS).where(OBJECTIONS.c.id == objection_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"没有异议 #{objection_id}")
        if row.status != "open":
            raise StageError(f"异议 #{objection_id} 已答复（{STATUS_LABELS[row.status]}）")
        notice = _notice_of(conn, row.year)
        if notice.status == "final":
            raise StageError(f"{row.year} 年度评价结果已定稿")
        conn.execute(OBJECTIONS.update().where(OBJECTIONS.c.id == objection_id).values(
            status="upheld" if upheld else "rejected", answer=reply, answered_by=principal.actor,
            answered_at=func.now(), version=OBJECTIONS.c.version + 1))
        return _row(conn.execute(select(OBJECTIONS).where(OBJECTIONS.c.id == objection_id)).one())


def list_objections(conn: Connection, principal: Principal, year: int) -> list[dict[str, Any]]:
    authorize_read(principal)
    rows = conn.execute(select(OBJECTIONS).where(OBJECTIONS.c.year == year).where(_scope(principal, OBJECTIONS))
                        .order_by(OBJECTIONS.c.id)).all()
    return [_row(r) for r in rows]


# ----------------------------------------------------------------------------------------
# (d) final
# ----------------------------------------------------------------------------------------


def what_is_open(conn: Connection, year: int, today: dt.date | None = None) -> list[str]:
    """Why the year cannot be made final now (empty: it can)."""
    day = today or clock.today()
    stage = stage_of(conn, year)
    if stage.notice_id is None:
        return [f"{year} 年度评价结果尚未公示"]
    notice = _notice_of(conn, year)
    if notice.status == "final":
        return [f"{year} 年度评价结果已于 {clock.display_time(notice.finalised_at)} 定稿"]
    problems = []
    if day <= notice.ends_on:
        problems.append(f"公示期 {_period(notice)} 尚未结束（今天 {day}）")
    rows = conn.execute(select(OBJECTIONS.c.id, OBJECTIONS.c.name, OBJECTIONS.c.status, OBJECTIONS.c.rerun_id)
                        .where(OBJECTIONS.c.notice_id == notice.id).order_by(OBJECTIONS.c.id)).all()
    unanswered = [(r.id, r.name) for r in rows if r.status == "open"]
    if unanswered:
        problems.append(f"{len(unanswered)} 项异议未答复：{named(unanswered)}")
    not_applied = [(r.id, r.name) for r in rows if r.status == "upheld" and r.rerun_id is None]
    if not_applied:
        problems.append(f"{len(not_applied)} 项异议已成立但尚未更正数据并重新评价：{named(not_applied)}")
    return problems


def finalise(engine: Engine, principal: Principal, year: int) -> dict[str, Any]:
    """Make the year's current run final (refused while the period runs or anything is open)."""
    authorize(principal, "evaluation", "run")
    with transaction(engine, principal.actor, f"{year} 年度亩均评价结果定稿") as conn:
        _notice_of(conn, year, lock=True)
        problems = what_is_open(conn, year)
        if problems:
            raise StageError(f"{year} 年度评价结果不能定稿：" + "；".join(problems), field="year")
        conn.execute(NOTICES.update().where(NOTICES.c.year == year).values(
            status="final", finalised_by=principal.actor, finalised_at=func.now(), version=NOTICES.c.version + 1))
        return _row(_notice_of(conn, year))


def year_status(conn: Connection, principal: Principal, year: int) -> dict[str, Any]:
    """Where the year stands: land list, corrections, run, notice, objections, what blocks final."""
    authorize_read(principal)
    stage = stage_of(conn, year)
    out: dict[str, Any] = {"year": year, "land_list": None, "open_corrections": 0, "current_run_id": stage.current_run_id,
                           "notice": None, "objections": [], "final": stage.notice_status == "final"}
    if stage.land_list_id is not None:
        out["land_list"] = _land_list_head(conn, stage.land_list_id)
        out["open_corrections"] = len(open_corrections(conn, stage.land_list_id))
    if stage.notice_id is not None:
        notice = _notice_of(conn, year)
        out["notice"] = _row(notice)
        out["objections"] = list_objections(conn, principal, year)
        history = conn.execute(select(RUNS.c.id, RUNS.c.supersedes_run_id, RUNS.c.created_at)
                               .where(RUNS.c.year == year).order_by(RUNS.c.id)).all()
        out["runs"] = [_row(r) for r in history]
    out["stage"] = ("final" if out["final"] else "notice" if stage.notice_id else "scored" if stage.current_run_id
                    else "land_published" if stage.land_list_id else "none")
    out["blocking_final"] = what_is_open(conn, year) if stage.notice_id and not out["final"] else []
    return out
