"""The Excel template for enterprises' annual figures (企业年度数据导入模板).

Headers carry their units so that the importer never guesses: money in 万元, energy in
吨标准煤, electricity in 万千瓦时, emissions in 吨. The credit-code column is formatted as
text so Excel does not turn an all-digit code into a rounded number.
"""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from hggis.io.figures_import import SHEET_NAME

#: (header, width, explanation) in sheet order; headers must resolve through fieldmap.
TEMPLATE_COLUMNS: tuple[tuple[str, int, str], ...] = (
    ("统一社会信用代码", 22, "18 位，末位为校验码（GB 32100-2015）；必填"),
    ("企业名称", 30, "新企业（系统中尚无该信用代码）必填，用于建档"),
    ("所属县（市、区）", 16, "新企业必填：县名（如 黄州区）或行政区划代码（如 421102）"),
    ("年度", 8, "统计年度，如 2024；必填"),
    ("税收（万元）", 14, "评价税收（实缴税金），万元；若填元，请把表头改为“税收（元）”"),
    ("主营业务收入（万元）", 16, "万元"),
    ("工业增加值（万元）", 16, "万元"),
    ("工业总产值（万元）", 16, "万元"),
    ("综合能耗（吨标准煤）", 18, "吨标准煤"),
    ("用电量（万千瓦时）", 16, "万千瓦时"),
    ("主要污染物排放量（吨）", 18, "吨"),
    ("研发经费（万元）", 14, "万元"),
    ("年平均从业人员（人）", 16, "人，整数"),
    ("安全环保事故（是/否）", 16, "当年是否发生安全生产或环保事故（一票否决）"),
    ("公用事业（是/否）", 14, "公用事业单位参评不定档"),
    ("投产年份", 10, "首次投产年份，如 2021"),
)

EXAMPLE_ROW = ("91421102MA4F00001T", "某某科技有限公司", "黄州区", 2024, 120.5, 8600, 2100, 9100, 1500, 420, 12.3,
               260, 180, "否", "否", 2019)

NOTES = (
    "说明",
    "1. 每行一个企业一个年度；同一信用代码同一年度只能出现一次。",
    "2. 金额单位写在表头括号里：万元、元、千元或亿元，系统统一换算为万元。未注明单位的金额列将被拒绝。",
    "3. 空单元格表示“无数据”，不会覆盖系统中已有的数值。",
    "4. 任何一行有错时整表不写入，并列出每个错误的行号、列和原因；命令行 --skip-bad 可只写入正确的行。",
    "5. 信用代码在系统中不存在时：若填写了企业名称和所属县，则新建企业；否则该行被拒绝。",
    "6. 这些数据属于保密信息（税收、产值、能耗等），只对有权限的人员可见。",
)


def build_template() -> bytes:
    """The template workbook as XLSX bytes (for the API download and the CLI)."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for col, (header, width, _note) in enumerate(TEMPLATE_COLUMNS, 1):
        cell = ws.cell(row=1, column=col, value=header)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[cell.column_letter].width = width
    for row in range(2, 2002):
        ws.cell(row=row, column=1).number_format = "@"
    ws.freeze_panes = "B2"
    yes_no = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    ws.add_data_validation(yes_no)
    yes_no.add("N2:O2001")
    year = DataValidation(type="whole", operator="between", formula1="1990", formula2="2100", allow_blank=True)
    ws.add_data_validation(year)
    year.add("D2:D2001")
    info = wb.create_sheet("填写说明")
    info.column_dimensions["A"].width = 26
    info.column_dimensions["B"].width = 70
    info.append(["列", "填写要求"])
    for header, _w, note in TEMPLATE_COLUMNS:
        info.append([header, note])
    info.append([])
    info.append([f"填写示例（在“{SHEET_NAME}”表中每行一条）"])
    info.append([h for h, _w, _n in TEMPLATE_COLUMNS])
    info.append(list(EXAMPLE_ROW))
    info.append([])
    for line in NOTES:
        info.append([line])
    for cell in info[1]:
        cell.font = Font(bold=True)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_template(path: str | Path) -> Path:
    p = Path(path)
    p.write_bytes(build_template())
    return p
