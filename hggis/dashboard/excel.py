"""The plan dashboard as an Excel workbook (Chinese sheets and headers), from ``plan_dashboard``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from hggis.dashboard.service import Dashboard

HEAD = PatternFill("solid", fgColor="DDE6F0")


def _sheet(wb: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], note: str | None = None) -> Worksheet:
    ws = wb.create_sheet(title)
    if note:
        ws.append([note])
        ws.append([])
    ws.append(list(headers))
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.fill = HEAD
    for row in rows:
        ws.append(list(row))
    for i, h in enumerate(headers, start=1):
        width = max([len(str(h)) * 2] + [len(str(r[i - 1])) + 2 for r in rows if r[i - 1] is not None] + [8])
        ws.column_dimensions[ws.cell(row=header_row, column=i).column_letter].width = min(width, 48)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    return ws


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def build_workbook(d: Dashboard, demo: bool = False) -> Workbook:
    wb = Workbook()
    cover = wb.active
    cover.title = "概览"
    cover.append(["黄冈市制造强县行动方案考核看板"])
    cover["A1"].font = Font(bold=True, size=14)
    cover.append(["年度", d.year])
    cover.append(["范围", d.scope_label])
    if demo:
        cover.append(["说明", "示例数据：合成数据，非真实统计"])
    cover.append([])
    cover.append(["指标", "目标（2025 年）", "实际", "说明"])
    for cell in cover[cover.max_row]:
        cell.font = Font(bold=True)
        cell.fill = HEAD
    o = d.output
    t = d.target
    city = d.scope == "all"
    of_city = "" if city else "全市目标；实际为本范围数字"
    share = (f"完成目标 {o['progress_pct']}%" if o["progress_pct"] else "") if city else (
        f"全市目标；本范围占 {o['share_of_city_pct']}%" if o["share_of_city_pct"] is not None else of_city)
    rows = [
        ("规上工业总产值（亿元）", t("above_size_output"), o["total_yi"], share),
        ("超千亿县市区（个）", t("county_output_over"), o["counties_over"] if o["counties_over"] is not None else "—",
         of_city if d.scope != "park" else "县级指标，不适用于园区"),
        ("超 500 亿元园区（个）", t("parks_output_over"), d.parks["count_over"], of_city),
        ("新开工工业项目（个）", t("projects_started"), _last(d.projects["years"], "started"), f"{d.year} 年 {of_city}".strip()),
        ("新投产工业项目（个）", t("projects_completed"), _last(d.projects["years"], "completed"), f"{d.year} 年 {of_city}".strip()),
        ("规上企业数年增长（%）", t("above_size_growth"), _last(d.above_size, "growth_pct"), of_city),
        ("标准地储备达标县市区（个）", t("county_reserve"), d.reserve["within"] if d.reserve["within"] is not None else "—",
         d.reserve["source"] + ("；园区储备计入所在县目标" if d.scope == "park" else "")),
    ]
    for label, target, actual, note in rows:
        cover.append([label, target.text() if target else "—", actual, note])
    cover.column_dimensions["A"].width = 30
    cover.column_dimensions["B"].width = 24
    cover.column_dimensions["D"].width = 36

    _sheet(wb, "规上工业产值", ["县市区代码", "县市区", "规上企业（家）", f"{d.year} 年产值（亿元）",
                               f"{d.year - 1} 年产值（亿元）", "增长（%）", "超千亿"],
           [(r["adcode"], r["name"], r["enterprises"], r["output_yi"], r["output_prev_yi"], r["growth_pct"],
             _yes(r["over_threshold"])) for r in o["counties"]]
           + [("", "合计", o["enterprises"], o["total_yi"], o["total_prev_yi"], o["growth_pct"], "")])
    _sheet(wb, "产业集群", ["集群", "层级", "产业", f"{d.year} 年产值（亿元）", "层级目标（亿元）", "集群目标（亿元）",
                          "完成（%）", "达到层级"],
           [(r["name"], r["tier"], r["industry"], r["output_yi"], r["tier_target_yi"], r["own_target_yi"],
             r["progress_pct"], _yes(r["reached"])) for r in d.clusters])
    _sheet(wb, "标准地储备", ["县市区代码", "县市区", "储备（亩）", "储备宗数", "挂牌出让中（亩）", "最大连片（亩）",
                           "目标下限（亩）", "目标上限（亩）", "状态", "差额（亩）"],
           [(r["adcode"], r["name"], r["reserve_mu"], r["parcels"], r["on_offer_mu"], r["largest_block_mu"],
             r["target_min"], r["target_max"], r["status_label"], r["gap_mu"]) for r in d.reserve["rows"]],
           note=d.reserve["source"])
    _sheet(wb, "工业项目开工投产", ["年度", "新开工（个）", "新投产（个）"],
           [(r["year"], r["started"], r["completed"]) for r in d.projects["years"]])
    _sheet(wb, "规上企业数量", ["年度", "规上企业（家）", "增长（%）"],
           [(r["year"], r["enterprises"], r["growth_pct"]) for r in d.above_size])
    _sheet(wb, "园区产值", ["园区", "县市区", "企业（家）", f"{d.year} 年产值（亿元）", "超 500 亿元"],
           [(r["name"], r["county"], r["enterprises"], r["output_yi"], _yes(r["over_threshold"])) for r in d.parks["rows"]])
    _sheet(wb, "考核目标", ["指标代码", "对象", "指标", "目标", "门槛", "单位", "版本", "目标年度", "说明"],
           [(t.indicator, t.subject or "全市", t.label, t.text(), t.threshold, t.unit, t.version, t.target_year, t.note)
            for t in d.targets.values()])
    return wb


def _last(rows: list[dict[str, Any]], key: str) -> Any:
    return rows[-1][key] if rows else None


def workbook_bytes(d: Dashboard, demo: bool = False) -> bytes:
    buf = io.BytesIO()
    build_workbook(d, demo).save(buf)
    return buf.getvalue()


def filename(d: Dashboard) -> str:
    return f"hggis-plan-dashboard-{d.year}.xlsx"
