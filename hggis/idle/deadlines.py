"""What is due: overdue investigations, thresholds ahead, cases and flags waiting on the officer.

One list, built by SQL as of a date, in the caller's read scope, sorted by due date.
The API, the CLI and the CSV/XLSX exports all print :func:`deadlines`.

- ``investigation_overdue``: a case still 疑似闲置 after the 30 days of 第五条 (due on the
  30th day after opening; overdue from the 31st);
- ``threshold_1y`` / ``threshold_2y`` / ``threshold_halted`` / ``threshold_halted_2y``: parcels
  that will become idle (one full year not started), recoverable (two full years), halted-idle
  or (where the rule set sanctions halted land) recoverable after halting within the
  look-ahead window (as_of, as_of + N days], N from the rule set (default 90);
- ``case_waiting_officer``: open cases whose next step is the officer's (not those in the
  holder's 30-day response or payment period);
- ``flag_waiting_officer``: park managers' flags not yet confirmed or dismissed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, scope_clause
from hggis.errors import Invalid
from hggis.idle.cases import STATE_LABELS
from hggis.idle.documents import KIND_LABELS as DOCUMENT_LABELS
from hggis.idle.rules import rule_set_in_force
from hggis.idle.scan import PARCEL_FACTS_CTES, SCAN_WORK_MEM, no_jit

KIND_LABELS: dict[str, str] = {
    "investigation_overdue": "调查逾期（立案后三十日内未发出调查通知书，第五条）",
    "threshold_1y": "即将满一年未动工开发（将构成闲置土地，第二条）",
    "threshold_2y": "即将满两年未动工开发（可无偿收回，第十四条）",
    "threshold_halted": "中止开发建设即将满一年（第二条第二款）",
    "threshold_halted_2y": "中止开发建设即将满两年（可无偿收回，第十四条）",
    "case_waiting_officer": "待县级干部办理的案件",
    "flag_waiting_officer": "园区标记待核实",
    "document_reply": "使用权人提交材料、陈述申辩期限（文书送达之日起计算）",
    "document_hearing_request": "听证申请期限（《听证权利告知书》送达之日起计算，第十五条）",
    "document_payment": "缴纳土地闲置费期限（决定书送达之日起计算，第十七条）",
    "document_deregistration": "办理注销登记期限（决定书送达之日起计算，第十七条）",
}
NEXT_STEP = {
    "suspected": "发出《闲置土地调查通知书》",
    "notice_issued": "下达《闲置土地认定书》或经调查不构成闲置结案",
    "finding_issued": "向社会公开（低效用地：决定处置方式）",
    "publicly_listed": "决定处置方式",
    "disposal_decided": "登记收回或结案",
    "recovered": "纳入政府土地储备",
    "in_reserve": "按新的控制指标重新出让或结案",
}
COLUMNS: dict[str, str] = {
    "kind_label": "类型",
    "due_on": "期限",
    "days_left": "剩余天数",
    "parcel_code": "宗地代码",
    "county": "县（市、区）",
    "park": "园区",
    "holder": "使用权人",
    "case_id": "案件编号",
    "case_state_label": "案件状态",
    "flag_id": "标记编号",
    "waiting_on_label": "等待谁办理",
    "detail": "说明",
}


def _thresholds_sql(scope: str) -> str:
    """Parcels crossing a threshold in (as_of, as_of + :look]; the detail text is built only for those."""
    facts = PARCEL_FACTS_CTES.replace("{scope}", scope)
    return f"""
    WITH {facts},
    near AS (  -- cheap pre-filter: some threshold date falls in the window
      SELECT f.*, (f.started AND f.completed IS NULL AND f.halted IS NOT NULL
                   AND (f.built_footprint_m2 < r.footprint_fraction * f.area_m2
                        OR (f.planned_ex > 0 AND GREATEST(f.invest_ex, 0) < r.investment_fraction * f.planned_ex)))
                   AS halted_short
        FROM facts f CROSS JOIN r
       WHERE (f.idle1_from > :as_of AND f.idle1_from <= :as_of + :look)
          OR (f.idle2_from > :as_of AND f.idle2_from <= :as_of + :look)
          OR (f.halt_from > :as_of AND f.halt_from <= :as_of + :look)
          OR (f.halt2_from > :as_of AND f.halt2_from <= :as_of + :look)
    )
    SELECT t.kind, t.due_on, f.id AS parcel_id, NULL::int AS case_id, NULL::int AS flag_id,
           CASE t.kind
             WHEN 'threshold_1y' THEN '约定动工开发日期 ' || f.s || '，自 ' || f.idle1_from || ' 起构成闲置土地'
             WHEN 'threshold_2y' THEN '约定动工开发日期 ' || f.s || '，自 ' || f.idle2_from || ' 起满两年可无偿收回'
             WHEN 'threshold_halted_2y' THEN '自 ' || f.halted || ' 中止开发建设，' || f.halt2_from || ' 起满两年可无偿收回'
             ELSE '自 ' || f.halted || ' 中止开发建设，' || f.halt_from || ' 起满一年'
           END AS detail
      FROM near f CROSS JOIN r
      CROSS JOIN LATERAL (VALUES
        ('threshold_1y', f.idle1_from, f.s IS NOT NULL AND NOT f.started),
        ('threshold_2y', f.idle2_from, f.s IS NOT NULL AND NOT f.started),
        ('threshold_halted', f.halt_from, f.halted_short),
        ('threshold_halted_2y', f.halt2_from,
         f.halted_short AND 'recovery_without_compensation' = ANY(r.disposals_halted))
      ) AS t(kind, due_on, hit)
     WHERE t.due_on > :as_of AND t.due_on <= :as_of + :look AND t.hit
    """


def deadlines(
    conn: Connection, principal: Principal, as_of: dt.date, lookahead_days: int | None = None
) -> list[dict[str, Any]]:
    """Everything due in the caller's scope as of ``as_of``, earliest first."""
    where, params = scope_clause(principal, "idle_cases", "read", "p.adcode", "p.park_id")
    rules = rule_set_in_force(conn, as_of)
    look = lookahead_days if lookahead_days is not None else rules.lookahead_days
    if not 1 <= look <= 3650:
        raise Invalid("lookahead_days must be between 1 and 3650", field="lookahead_days", location="query")
    # the window comes from the rule set unless the caller asks for another
    thresholds = _thresholds_sql(where)
    waiting_holder = (
        "(c.state = 'notice_issued' AND :as_of <= c.due_on) OR "
        "(c.state = 'disposal_decided' AND c.due_kind IN ('payment', 'deregistration') AND :as_of <= c.due_on)"
    )
    sql = f"""
    WITH items AS (
      SELECT 'investigation_overdue' AS kind, c.due_on, c.parcel_id, c.id AS case_id, NULL::int AS flag_id,
             '立案日期 ' || c.opened_on || '，应于 ' || c.due_on || ' 前发出调查通知书' AS detail
        FROM idle_cases c JOIN parcels p ON p.id = c.parcel_id
       WHERE c.state = 'suspected' AND :as_of > c.due_on AND {where}
      UNION ALL
      SELECT 'case_waiting_officer', c.due_on, c.parcel_id, c.id, NULL,
             CASE c.state {" ".join(f"WHEN '{k}' THEN '{v}'" for k, v in NEXT_STEP.items())} END
        FROM idle_cases c JOIN parcels p ON p.id = c.parcel_id
       WHERE c.state NOT IN ('closed', 'reoffered') AND NOT (c.state = 'suspected' AND :as_of > c.due_on)
         AND NOT ({waiting_holder}) AND {where}
      UNION ALL
      SELECT 'flag_waiting_officer', NULL, f.parcel_id, f.case_id, f.id,
             f.flagged_on || ' ' || f.flagged_by || '：' || f.note
        FROM idle_flags f JOIN parcels p ON p.id = f.parcel_id
       WHERE f.status = 'open' AND {where}
      UNION ALL
      -- periods that run from a document's service: shown while running, and once ended until the
      -- officer issues the case's next document
      SELECT 'document_' || d.due_kind, d.due_on, c.parcel_id, c.id, NULL,
             '《' || CASE d.kind {" ".join(f"WHEN '{k}' THEN '{v}'" for k, v in DOCUMENT_LABELS.items())} END
             || '》' || d.number || '，' || d.served_on || ' 送达'
        FROM idle_documents d JOIN idle_cases c ON c.id = d.case_id JOIN parcels p ON p.id = c.parcel_id
       WHERE d.due_on IS NOT NULL AND c.state NOT IN ('closed', 'reoffered') AND d.due_on >= CAST(:as_of AS date) - :look
         AND (d.due_on >= :as_of OR NOT EXISTS (SELECT 1 FROM idle_documents l WHERE l.case_id = d.case_id AND l.id > d.id
                                                 AND l.kind <> 'service_receipt'))
         AND {where}
      UNION ALL
      SELECT * FROM ({thresholds}) th
    )
    SELECT i.kind, i.due_on, i.due_on - CAST(:as_of AS date) AS days_left, p.code AS parcel_code,
           co.name AS county, k.name AS park, e.name AS holder, i.case_id, c.state AS case_state, i.flag_id,
           CASE WHEN i.kind LIKE 'threshold%' THEN NULL
                WHEN i.kind LIKE 'document%' AND i.due_on >= :as_of THEN 'holder' ELSE 'officer' END AS waiting_on,
           i.detail
      FROM items i JOIN parcels p ON p.id = i.parcel_id JOIN counties co ON co.adcode = p.adcode
      LEFT JOIN parks k ON k.id = p.park_id LEFT JOIN enterprises e ON e.id = p.holder_id
      LEFT JOIN idle_cases c ON c.id = i.case_id
     ORDER BY i.due_on NULLS LAST, i.kind, p.code
    """
    no_jit(conn, SCAN_WORK_MEM)
    rows = conn.execute(text(sql), {**params, "as_of": as_of, "rs": rules.id, "look": look})
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["kind_label"] = KIND_LABELS[item["kind"]]
        item["case_state_label"] = STATE_LABELS.get(item["case_state"] or "")
        item["waiting_on_label"] = {"officer": "县级干部", "holder": "使用权人"}.get(item["waiting_on"] or "")
        out.append(item)
    return out


def _cells(row: dict[str, Any]) -> list[Any]:
    return [row.get(key) for key in COLUMNS]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with Chinese headers (UTF-8 with BOM so that Excel opens it correctly)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(COLUMNS.values())
    for row in rows:
        writer.writerow(["" if v is None else v for v in _cells(row)])
    return buf.getvalue()


def to_xlsx(rows: list[dict[str, Any]], as_of: dt.date) -> bytes:
    """One sheet, Chinese headers, dates as dates, frozen header row, fitted column widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "闲置土地期限"
    ws.append([f"闲置和低效用地期限提醒（截至 {clock.display_date(as_of)}）"])
    ws["A1"].font = Font(bold=True)
    ws.append(list(COLUMNS.values()))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(_cells(row))
    for r in ws.iter_rows(min_row=3, min_col=2, max_col=2):
        for cell in r:
            cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A3"
    for i, (key, header) in enumerate(COLUMNS.items(), start=1):
        values = [header, *(str(row[key]) for row in rows if row.get(key) is not None)]
        width = max(sum(2 if ord(ch) > 127 else 1 for ch in v) for v in values)  # CJK is double width
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
