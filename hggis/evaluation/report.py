"""The Excel report of a run, as officials use it (openpyxl).

Sheets: 封面 (the run and every model parameter, the benchmarks, the class counts),
规上企业 and 规下企业 (every indicator value and score, total, rank, class, the rules
applied), 园区 and 县（市、区） (aggregates and the park intensity figures, with rank),
未参评企业 (with the reason), 数据质量 (the findings) and 差别化政策 (measures per class).
Headers are Chinese with the unit in the header; numeric cells are numbers (never text)
with a number format; header rows are frozen; column widths fit their content (CJK
characters count double). The report holds only what the caller may read: a park
manager's report lists their parks' enterprises.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal
from hggis.db.models import PARCEL_STATUSES
from hggis.evaluation import policies
from hggis.evaluation.aggregates import read_aggregates
from hggis.evaluation.model import CLASS_LABELS, DENOMINATORS, FIGURES, GROUP_LONG_LABELS, QUALITY_CHECKS, ModelParams
from hggis.evaluation.results import REASON_LABELS, quality_field_labels, rule_text, run_model
from hggis.evaluation.runs import authorize_read, get_run, result_scope
from hggis.workbench.words import plain_text

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=16)
F2 = "0.00"
F4 = "0.0000"
INT = "0"
PCT = "0.0%"
LESSEE_RULES = {"merge_into_holder": "承租企业并入宗地权利人评价", "own_share": "承租企业按自身份额单独评价"}
BENCH_MODES = {"regional": "同年同组区域值（Σ分子/Σ分母）", "fixed": "固定公布值"}
SHEET_GROUP = {"above": "规上企业", "below": "规下企业"}
TENANT_SHEET = {"above": "租赁企业（规上）", "below": "租赁企业（规下）"}


def display_width(value: Any) -> int:
    s = value if isinstance(value, str) else (f"{value:,.2f}" if isinstance(value, float) else str(value))
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _fit(ws: Worksheet, header_row: int = 1, max_width: int = 60) -> None:
    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=header_row):
        for cell in row:
            if cell.value is None:
                continue
            widths[cell.column] = max(widths.get(cell.column, 0), display_width(cell.value))
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max_width, max(6, w + 2))


def _table(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Any]], formats: Sequence[str | None],
           start_row: int = 1, freeze: str | None = None) -> None:
    for j, h in enumerate(headers, start=1):
        c = ws.cell(row=start_row, column=j, value=h)
        c.font, c.fill = BOLD, HEADER_FILL
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=False)
    for i, r in enumerate(rows, start=start_row + 1):
        for j, (v, fmt) in enumerate(zip(r, formats, strict=True), start=1):
            c = ws.cell(row=i, column=j, value=v)
            if fmt and isinstance(v, (int, float)):
                c.number_format = fmt
    ws.freeze_panes = freeze or f"A{start_row + 1}"


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _names(conn: Connection) -> tuple[dict[str, str], dict[int, str], dict[str, str]]:
    counties: dict[str, str] = {a: n for a, n in conn.execute(text("SELECT adcode, name FROM counties"))}
    parks: dict[int, str] = {i: n for i, n in conn.execute(text("SELECT id, name FROM parks"))}
    industries: dict[str, str] = {c: n for c, n in conn.execute(text("SELECT code, name FROM industries"))}
    return counties, parks, industries


def _cover(ws: Worksheet, conn: Connection, run: dict[str, Any], params: ModelParams, principal: Principal,
           benchmarks: Sequence[Any]) -> None:
    ws.title = "封面"
    ws["A1"] = f"黄冈市{run['year']}年度工业企业亩均效益综合评价"
    ws["A1"].font = TITLE
    row = 2
    if run["is_demo"]:
        ws.cell(row=row, column=1, value="示例数据：合成数据，非真实统计").font = Font(bold=True, color="C00000")
        row += 1
    scope = "全市" if principal.role == "city_admin" else (
        "所辖县（市、区）" if principal.role == "county_officer" else "所辖园区")
    ov = params.overrides
    facts: list[tuple[str, Any, str | None]] = [
        ("评价年度", run["year"], INT),
        ("评价批次号", run["id"], INT),
        ("评价时间", clock.display_time(run["created_at"]), None),
        ("报表生成时间", clock.display_time(clock.now()), None),
        ("报表范围", scope, None),
        ("评价模型", f"{plain_text(run['model_name'])}（编号 {run['model_id']}）", None),
        ("基准值方式", BENCH_MODES[params.benchmark_mode], None),
        ("单项得分上限（倍权重）", params.score_cap, F2),
        ("单项得分下限（倍权重）", params.score_floor, F2),
        ("参评用地门槛（亩）", params.min_land_mu, F2),
        ("规上企业营业收入门槛（万元）", params.above_size_revenue, F2),
        ("承租企业规则", LESSEE_RULES[params.lessee_rule], None),
        ("计入用地的宗地状态", "、".join(PARCEL_STATUSES.get(s, s) for s in params.land_statuses), None),
        ("类别名额（累计比例）", "；".join(f"{q.class_code}类 {q.cumulative:.0%}" for q in params.quotas), None),
        ("名额取整与并列规则", "各类别名次界限取最接近的整数（0.5进位）；总分相同者并列名次、同享较优类别", None),
        ("安全环保事故一票否决", f"是，最高评为{ov.accident_best_class}类" if ov.accident_veto else "否", None),
        ("投产未满年限不列入D类", f"是，投产未满{ov.first_years}年调整为{ov.protected_class}类" if ov.first_years_not_d else "否", None),
        ("新上规企业不列入D类", f"是，调整为{ov.protected_class}类" if ov.newly_above_not_d else "否", None),
        ("公用事业企业", "参评计分，不排名，类别为T" if ov.utilities_class_t else "同其他企业", None),
        ("规上/规下划分", f"按统计部门规上名录（年度数据“规上企业”列）；未注明的按营业收入 ≥ {params.above_size_revenue:g} 万元", None),
        ("租赁企业（无自有用地）", "单独排名、单独分类（基准值同所属规模组）" if params.result_lists.tenants_ranked_separately
         else "与同组用地企业一并排名", None),
        ("税收口径", params.tax_definition.label, None),
        ("计入税种", "、".join(params.tax_definition.included), None),
        ("剔除的一次性税收", "、".join(params.tax_definition.excluded) or "无", None),
        ("出口退税", params.tax_definition.export_rebate, None),
        ("税收口径说明", params.tax_definition.note + ("" if params.tax_definition.verified else "（未核实）"), None),
        ("结果状态", run.get("stage_label") or "", None),
        ("参评/列入企业数", f"{run['n_evaluated']} / {run['n_listed']}", None),
    ]
    start = row + 1
    _table(ws, ["项目", "内容"], [(k, v) for k, v, _ in facts], [None, None], start_row=start)
    for i, (_, _value, fmt) in enumerate(facts, start=start + 1):
        if fmt:
            ws.cell(row=i, column=2).number_format = fmt
    row = start + len(facts) + 2
    bench = {(b.size_group, b.indicator): b for b in benchmarks}
    ind_rows = []
    for group in ("above", "below"):
        for ind in params.group_indicators(group):
            b = bench.get((group, ind.key))
            ind_rows.append(
                (GROUP_LONG_LABELS[group], ind.label, f"{FIGURES[ind.numerator][0]}/{DENOMINATORS[ind.denominator][0]}",
                 ind.unit, ind.weight, _num(b.benchmark) if b else None, b.population if b else None,
                 "按同组平均得分" if ind.missing == "group_average" else "不得分")
            )
    _table(ws, ["组别", "指标", "计算方法", "单位", "权重", "基准值", "基准计算企业数（家）", "缺数据时"], ind_rows,
           [None, None, None, None, F2, F4, INT, None], start_row=row)
    row += len(ind_rows) + 2
    counts = run["class_counts"]
    count_rows = [
        (GROUP_LONG_LABELS[g], *[int(counts.get(g, {}).get(c, 0)) for c in ("A", "B", "C", "D", "T")])
        for g in ("above", "below")
    ]
    _table(ws, ["组别", "A类（家）", "B类（家）", "C类（家）", "D类（家）", "T类（家）"], count_rows,
           [None, INT, INT, INT, INT, INT], start_row=row)
    ws.freeze_panes = None
    _fit(ws, header_row=2)
    ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 30)


def _group_sheet(wb: Workbook, conn: Connection, run: dict[str, Any], params: ModelParams, group: str,
                 rows: Sequence[Any], names: tuple[dict, dict, dict], year_policies: dict[str, list[dict]],
                 title: str) -> None:
    counties, parks, industries = names
    ws = wb.create_sheet(title)
    inds = params.group_indicators(group)
    labels = {i.key: i.label for g in ("above", "below") for i in params.group_indicators(g)}
    figure_headers = [f"{FIGURES[c][0]}（{FIGURES[c][1]}）" for c in FIGURES]
    headers = [
        "排名", "企业名称", "统一社会信用代码", "县（市、区）", "园区", "行业", "用地面积（亩）", *figure_headers,
        *[f"{i.label}（{i.unit}）" for i in inds], *[f"{i.label}得分（分）" for i in inds],
        "总分（分）", "类别", "类别名称", "按名额类别", "参评企业数（家）", "差别化电价（元/千瓦时）", "电价调整额（万元/年）", "说明",
    ]
    formats = [INT, None, None, None, None, None, F2, *[F2] * len(FIGURES), *[F4] * len(inds), *[F2] * len(inds),
               F2, None, None, None, INT, F2, F2, None]
    out = []
    for r in rows:
        kwh = next((m for m in year_policies.get(r.class_code, []) if m["price_unit"] == policies.KWH_UNIT), None)
        delta = float(kwh["price_delta"]) if kwh else None
        amount = round(delta * r.electricity_10k_kwh, 2) if delta is not None and r.electricity_10k_kwh is not None else None
        rules = "；".join(rule_text(x, params, labels) for x in (r.explanation or {}).get("rules", []))
        out.append(
            [
                r.rank, r.name, r.credit_code, counties.get(r.adcode, r.adcode), parks.get(r.park_id, ""),
                industries.get(r.industry_code, ""), r.land_mu, *[_num(getattr(r, c)) for c in FIGURES],
                *[_num(v) for v in r.indicator_values], *[_num(v) for v in r.indicator_scores],
                _num(r.total_score), r.class_code, CLASS_LABELS[r.class_code], r.quota_class or "", r.group_size,
                delta, amount, rules,
            ]
        )
    _table(ws, headers, out, formats, freeze="C2")
    _fit(ws)


def build_workbook(conn: Connection, principal: Principal, run_id: int) -> Workbook:
    """The report of ``run_id`` restricted to the caller's scope."""
    authorize_read(principal)
    run = get_run(conn, principal, run_id)
    _, params = run_model(conn, run_id)
    names = _names(conn)
    counties, parks, industries = names
    where, bind = result_scope(principal, "r")
    bind = {**bind, "run": run_id}
    benchmarks = conn.execute(
        text("SELECT * FROM evaluation_benchmarks WHERE run_id = :r ORDER BY size_group, position"), {"r": run_id}
    ).all()
    year_policies = policies.policies_for_year(conn, run["year"])
    wb = Workbook()
    _cover(wb.active, conn, run, params, principal, benchmarks)
    # the separate lists of practice: 规上, 规下, then the tenants (no land of their own) of each group
    for group, tenant, title in [*((g, False, SHEET_GROUP[g]) for g in SHEET_GROUP),
                                 *((g, True, TENANT_SHEET[g]) for g in TENANT_SHEET)]:
        rows = conn.execute(
            text(
                f"SELECT r.* FROM evaluation_results r WHERE r.run_id = :run AND {where} AND r.evaluated "
                "AND r.size_group = :g AND r.tenant = :t ORDER BY r.rank NULLS LAST, r.total_score DESC, r.enterprise_id"
            ),
            {**bind, "g": group, "t": tenant},
        ).all()
        _group_sheet(wb, conn, run, params, group, rows, names, year_policies, title)
    _aggregate_sheet(wb, "园区", read_aggregates(conn, principal, run_id, "park"), counties, with_park=True)
    _aggregate_sheet(wb, "县（市、区）", read_aggregates(conn, principal, run_id, "county"), counties, with_park=False)
    _not_evaluated_sheet(wb, conn, where, bind, names)
    _quality_sheet(wb, conn, where, bind, params)
    _policy_sheet(wb, year_policies)
    return wb


def _aggregate_sheet(wb: Workbook, title: str, rows: list[dict[str, Any]], counties: dict[str, str], with_park: bool) -> None:
    ws = wb.create_sheet(title)
    lead = ["排名", "园区", "县（市、区）"] if with_park else ["排名", "县（市、区）"]
    headers = [
        *lead, "列入企业数（家）", "参评企业数（家）", "A类（家）", "B类（家）", "C类（家）", "D类（家）", "T类（家）",
        "参评企业用地（亩）", "参评企业税收（万元）", "亩均税收（万元/亩）", "亩均增加值（万元/亩）", "亩均营业收入（万元/亩）",
        "宗地总面积（亩）", "已供应（亩）", "已建成（亩）", "疑似闲置（亩）", "工业用地已供应（亩）", "土地供应率（%）",
        "土地建成率（%）", "工业用地固定资产投资（万元）", "工业用地亩均固定资产投资（万元/亩）",
        "工业用地亩均营业收入（万元/亩）", "工业用地亩均税收（万元/亩）",
    ]
    formats = [INT, *[None] * (len(lead) - 1), INT, INT, INT, INT, INT, INT, INT, F2, F2, F2, F2, F2, F2, F2, F2, F2,
               F2, PCT, PCT, F2, F2, F2, F2]
    out = []
    for a in rows:
        cc = a["class_counts"] or {}
        n = {c: sum(int(cc.get(g, {}).get(c, 0)) for g in ("above", "below")) for c in ("A", "B", "C", "D", "T")}
        names = [a["name"], counties.get(a["adcode"], a["adcode"])] if with_park else [a["name"]]
        out.append(
            [
                a["rank"], *names, a["n_listed"], a["n_evaluated"], *n.values(), a["evaluated_land_mu"],
                a["evaluated_tax"], a["tax_per_mu"], a["va_per_mu"], a["revenue_per_mu"], a["total_land_mu"],
                a["supplied_mu"], a["built_mu"], a["idle_mu"], a["industrial_supplied_mu"], a["supply_rate"],
                a["built_rate"], a["fixed_investment"], a["investment_per_mu"], a["industrial_revenue_per_mu"],
                a["industrial_tax_per_mu"],
            ]
        )
    _table(ws, headers, out, formats, freeze="B2" if not with_park else "C2")
    _fit(ws)


def _not_evaluated_sheet(wb: Workbook, conn: Connection, where: str, bind: dict, names: tuple[dict, dict, dict]) -> None:
    counties, parks, _ = names
    ws = wb.create_sheet("未参评企业")
    rows = conn.execute(
        text(
            f"SELECT r.* FROM evaluation_results r WHERE r.run_id = :run AND {where} AND NOT r.evaluated "
            "ORDER BY r.reason_code, r.adcode, r.enterprise_id"
        ),
        bind,
    ).all()
    out = [
        [r.name, r.credit_code, counties.get(r.adcode, r.adcode), parks.get(r.park_id, ""), r.land_mu,
         REASON_LABELS.get(r.reason_code, r.reason_code), r.reason]
        for r in rows
    ]
    _table(ws, ["企业名称", "统一社会信用代码", "县（市、区）", "园区", "用地面积（亩）", "未参评类别", "原因"], out,
           [None, None, None, None, F2, None, None], freeze="B2")
    _fit(ws)


def _quality_sheet(wb: Workbook, conn: Connection, where: str, bind: dict, params: ModelParams) -> None:
    ws = wb.create_sheet("数据质量")
    field_labels = quality_field_labels(params)
    rows = conn.execute(
        text(
            "SELECT q.*, r.name, r.credit_code FROM evaluation_quality_issues q JOIN evaluation_results r "
            f"ON r.run_id = q.run_id AND r.enterprise_id = q.enterprise_id WHERE q.run_id = :run AND {where} "
            "ORDER BY q.blocking DESC, q.check_code, q.id"
        ),
        bind,
    ).all()
    out = [
        [r.name, r.credit_code, QUALITY_CHECKS.get(r.check_code, r.check_code), field_labels.get(r.field, r.field), r.value,
         "是" if r.blocking else "否", r.reason]
        for r in rows
    ]
    _table(ws, ["企业名称", "统一社会信用代码", "检查项", "字段", "数值", "是否阻断", "说明"], out, [None] * 7, freeze="B2")
    _fit(ws)


def _policy_sheet(wb: Workbook, year_policies: dict[str, list[dict[str, Any]]]) -> None:
    ws = wb.create_sheet("差别化政策")
    out = []
    for cls, measures in year_policies.items():
        for m in measures:
            out.append([cls, CLASS_LABELS[cls], m["category"], m["measure"], m["price_item"] or "",
                        _num(m["price_delta"]), m["price_unit"] or ""])
    _table(ws, ["类别", "类别名称", "事项", "措施", "价格项目", "价格调整", "价格单位"], out,
           [None, None, None, None, None, F2, None])
    _fit(ws)


def report_bytes(conn: Connection, principal: Principal, run_id: int) -> bytes:
    buf = io.BytesIO()
    build_workbook(conn, principal, run_id).save(buf)
    return buf.getvalue()


def report_filename(year: int, run_id: int) -> str:
    return f"亩均效益评价_{year}_批次{run_id}.xlsx"
