"""The reserve ledger as a Chinese Excel workbook (储备台账), for officers who report upwards."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from hggis import clock
from hggis.reserves.ledger import Ledger, LedgerRow

COLUMNS: list[tuple[str, str, str | None]] = [
    # header, attribute, number format
    ("行政区划代码", "adcode", None),
    ("县（市、区）", "name", None),
    ("储备面积（亩）", "reserve_mu", "0.00"),
    ("储备宗数", "reserve_parcels", "0"),
    ("挂牌出让中面积（亩）", "on_offer_mu", "0.00"),
    ("挂牌出让中宗数", "on_offer_parcels", "0"),
    ("最大连片面积（亩）", "largest_block_mu", "0.00"),
    ("最大连片宗数", "largest_block_parcels", "0"),
    ("目标下限（亩）", "target_min_mu", "0"),
    ("目标上限（亩）", "target_max_mu", "0"),
    ("目标状态", "status_label", None),
]
SINCE_COLUMNS: list[tuple[str, str, str | None]] = [
    ("比较日储备面积（亩）", "since_reserve_mu", "0.00"),
    ("面积变化（亩）", "change_mu", "+0.00;-0.00;0.00"),
    ("宗数变化", "change_parcels", "+0;-0;0"),
]
FILLS = {"short": "FDE9E7", "within": "E6F4EA", "above": "FFF4E5"}


def ledger_workbook(ledger: Ledger) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "标准地储备台账"
    columns = COLUMNS + (SINCE_COLUMNS if ledger.since else [])
    title = f"黄冈市标准地储备台账（截至 {clock.display_date(ledger.as_of)}）"
    if ledger.since:
        title += f"，与 {clock.display_date(ledger.since)} 比较"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([
        f"面积为 CGCS2000 椭球面积（亩）；连片按边界相距 ≤ {ledger.tolerance_m:g} 米合并；"
        "挂牌出让中地块不计入储备目标。"
    ])
    ws.append([h for h, _, _ in columns])
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in [*ledger.rows, ledger.total]:
        _append(ws, row, columns)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for i, (header, _, _) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(header) * 2)
    ws.freeze_panes = "C4"
    return wb


def _append(ws, row: LedgerRow, columns: list[tuple[str, str, str | None]]) -> None:  # noqa: ANN001
    ws.append([getattr(row, attr) for _, attr, _ in columns])
    for i, (_, _, fmt) in enumerate(columns, start=1):
        cell = ws.cell(row=ws.max_row, column=i)
        if fmt:
            cell.number_format = fmt
    if row.status in FILLS:
        status_col = [a for _, a, _ in columns].index("status_label") + 1
        ws.cell(row=ws.max_row, column=status_col).fill = PatternFill("solid", fgColor=FILLS[row.status])


def write_ledger_xlsx(ledger: Ledger, path: Path) -> Path:
    ledger_workbook(ledger).save(path)
    return path


def ledger_xlsx_bytes(ledger: Ledger) -> bytes:
    buf = io.BytesIO()
    ledger_workbook(ledger).save(buf)
    return buf.getvalue()
