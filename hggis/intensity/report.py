"""The yearly report of the park land-intensity evaluation, as an Excel workbook (openpyxl).

Sheets (Chinese): 封面 (the run, the model version, every indicator with its weight, ideal
value, standardisation and whether each was verified, with the source), 园区得分 (score,
rank, every indicator's value and standardised value), 潜力测算 (扩展/结构/强度/管理潜力,
尚可供地年数) and 基础数据 (the sums each park was computed from). Only the parks the caller
may read are listed. Numbers are numeric cells with a number format.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal
from hggis.db.models import County
from hggis.evaluation.report import BOLD, F2, F4, TITLE, _fit, _table
from hggis.intensity.model import IntensityModel, parse_params
from hggis.intensity.runs import get_run, read_results
from hggis.intensity.score import POTENTIAL_LABELS

YES_NO = {True: "已核实", False: "未核实"}
INPUT_LABELS: dict[str, tuple[str, str]] = {
    "parcels": ("宗地数", "宗"), "registered_mu": ("已达到供地条件土地（入库宗地）", "亩"),
    "supplied_mu": ("已供应国有建设用地", "亩"), "built_mu": ("已建成城镇建设用地", "亩"),
    "built_floor_m2": ("已建成用地总建筑面积", "平方米"), "built_footprint_m2": ("已建成用地建筑基底面积", "平方米"),
    "built_without_floor": ("已建成但未登记建筑面积的宗地", "宗"),
    "industrial_built_mu": ("已建成工矿仓储用地", "亩"), "industrial_floor_m2": ("工矿仓储用地总建筑面积", "平方米"),
    "industrial_footprint_m2": ("工矿仓储用地建筑基底面积", "平方米"),
    "industrial_investment": ("工矿仓储用地累计固定资产投资", "万元"), "unsupplied_mu": ("尚未供应土地", "亩"),
    "idle_status_mu": ("疑似闲置土地", "亩"), "paid_supplied_mu": ("出让方式供应土地", "亩"),
    "due_mu": ("到期项目用地", "亩"), "due_disposed_mu": ("已处置到期项目用地", "亩"),
    "idle_found_mu": ("闲置土地", "亩"), "idle_disposed_mu": ("已处置闲置土地", "亩"),
    "supplied_in_window_mu": ("评价期内供地", "亩"), "outline_mu": ("园区范围面积", "亩"),
    "tax": ("园区企业税收", "万元"), "industrial_tax": ("工业企业税收", "万元"), "output": ("园区企业总产值", "万元"),
    "revenue": ("园区企业营业收入", "万元"), "employees": ("从业人员", "人"),
    "enterprises_with_figures": ("报送数据的企业", "家"),
}


def _shown(ind: dict[str, Any]) -> float | None:
    """An indicator value in display units (percentages × 100)."""
    return None if ind["value"] is None else ind["value"] * ind["scale"]


def _cover(wb: Workbook, run: dict[str, Any], params_raw: dict[str, Any], note: str | None) -> None:
    ws = wb.active
    ws.title = "封面"
    ws["A1"] = f"{run['year']} 年度开发区土地集约利用评价报告"
    ws["A1"].font = TITLE
    facts = [("评价年度", run["year"]), ("评价批次", f"#{run['id']}"), ("评价时间", clock.display_time(run["created_at"])),
             ("评价参数版本", f"#{run['model_id']} {run['model_name']}"), ("运行人", run["actor"]),
             ("参评园区", run["n_parks"]), ("标准化方法", "理想值比例法：min(实际值 / 理想值, 1)"),
             ("集约度分值", "100 × Σ 权重 × 标准化值（启用指标的权重之和为 1）")]
    if run["is_demo"]:
        facts.append(("数据", "示例数据（合成），不代表真实情况"))
    for i, (k, v) in enumerate(facts, start=3):
        ws.cell(row=i, column=1, value=k).font = BOLD
        ws.cell(row=i, column=2, value=v)
    start = len(facts) + 5
    ws.cell(row=start - 1, column=1, value="评价指标、权重与理想值").font = BOLD
    params = parse_params(params_raw)
    rows = [(i.target, i.sub_target, i.label, i.unit or "—", "启用" if i.enabled else "未启用（无数据）", i.weight,
             i.ideal * i.scale, YES_NO[i.verified.formula], YES_NO[i.verified.weight], YES_NO[i.verified.ideal],
             i.source) for i in params.indicators]
    _table(ws, ["目标层", "子目标层", "指标", "单位", "状态", "权重", "理想值", "公式", "权重来源", "理想值来源", "依据说明"],
           rows, [None, None, None, None, None, F4, F2, None, None, None, None], start_row=start, freeze="A1")
    if note:
        ws.cell(row=start + len(rows) + 2, column=1, value="说明").font = BOLD
        ws.cell(row=start + len(rows) + 2, column=2, value=note)
    _fit(ws, header_row=start)


def build_workbook(conn: Connection, principal: Principal, run_id: int) -> Workbook:
    run = get_run(conn, principal, run_id)
    results = read_results(conn, principal, run_id)
    m = IntensityModel.__table__.c
    model = conn.execute(select(m.params, m.note).where(m.id == run["model_id"])).one()
    counties = dict(conn.execute(select(County.adcode, County.name)).all())
    wb = Workbook()
    _cover(wb, run, model.params, model.note)
    enabled = [i for i in (results[0]["indicators"] if results else []) if i["enabled"]]
    ws = wb.create_sheet("园区得分")
    headers = ["排名", "园区", "县（市、区）", "级别", "集约度分值"]
    fmts: list[str | None] = [None, None, None, None, F2]
    for i in enabled:
        headers += [f"{i['label']}（{i['unit']}）" if i["unit"] else i["label"], f"{i['label']} 标准化值"]
        fmts += [F2, F4]
    rows = []
    for r in results:
        by_key = {i["key"]: i for i in r["indicators"]}
        row: list[Any] = [r["rank"], r["name"], counties.get(r["adcode"], r["adcode"]), r["level"], r["score"]]
        for i in enabled:
            got = by_key.get(i["key"], {})
            row += [_shown(got) if got else None, got.get("standardised")]
        rows.append(row)
    _table(ws, headers, rows, fmts, freeze="C2")
    _fit(ws)
    ws = wb.create_sheet("潜力测算")
    keys = list(POTENTIAL_LABELS)
    _table(ws, ["园区", "县（市、区）", *[f"{POTENTIAL_LABELS[k][0]}（{POTENTIAL_LABELS[k][1]}）" for k in keys]],
           [[r["name"], counties.get(r["adcode"], r["adcode"]), *[r["potentials"].get(k) for k in keys]] for r in results],
           [None, None, *[F2] * len(keys)], freeze="B2")
    _fit(ws)
    ws = wb.create_sheet("基础数据")
    keys = list(INPUT_LABELS)
    _table(ws, ["园区", *[f"{INPUT_LABELS[k][0]}（{INPUT_LABELS[k][1]}）" for k in keys]],
           [[r["name"], *[r["inputs"].get(k) for k in keys]] for r in results], [None, *[F2] * len(keys)], freeze="B2")
    _fit(ws)
    return wb


def report_bytes(conn: Connection, principal: Principal, run_id: int) -> bytes:
    buf = io.BytesIO()
    build_workbook(conn, principal, run_id).save(buf)
    return buf.getvalue()


def report_filename(year: int, run_id: int) -> str:
    return f"开发区土地集约利用评价_{year}_批次{run_id}.xlsx"
