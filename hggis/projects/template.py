"""The Excel templates a county fills in: 项目清单 and 锻长板补短板清单.

Headers carry their units (协议投资额（万元）) so the importer never guesses; the credit-code
and 宗地代码 columns are text so Excel does not round an all-digit code.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

Columns = tuple[tuple[str, int, str], ...]

PROJECT_COLUMNS: Columns = (
    ("项目名称", 30, "必填；同一县（市、区）内不重复，再次导入时按县与名称更新"),
    ("所属县（市、区）", 14, "必填：县名（如 黄州区）或行政区划代码（如 421102）"),
    ("清单类别", 10, "必填：谋划类、前期类、新建类或续建类；变更时记录一次清单调整"),
    ("投资方", 26, "投资企业名称"),
    ("统一社会信用代码", 22, "投资方的 18 位代码；系统中尚无该企业时自动建档"),
    ("产业集群", 20, "如 麻城石材（与系统中的集群名称一致）"),
    ("所属产业", 12, "五大优势产业之一，如 建材家居"),
    ("协议投资额（万元）", 14, "万元；如填亿元，请把表头改为“协议投资额（亿元）”"),
    ("到位资金（万元）", 14, "截至下一列日期的累计到位资金，万元"),
    ("到位资金截至日期", 14, "与到位资金同时填写"),
    ("包保领导", 12, "姓名"),
    ("包保领导职务", 18, "职务或单位"),
    ("签约日期", 12, "如 2025-03-01"),
    ("供地日期", 12, ""),
    ("开工日期", 12, "实际开工日期"),
    ("投产日期", 12, "实际投产日期"),
    ("计划开工日期", 12, "合同约定的开工节点"),
    ("计划投产日期", 12, "合同约定的投产节点"),
    ("重点项目", 8, "是/否"),
    ("集中开工批次", 12, "季度，如 2025Q2 或 2025年第二季度"),
    ("宗地代码", 24, "项目用地的宗地代码，多宗用顿号分隔"),
    ("清单调整日期", 12, "清单类别变更的日期；空则为导入当天"),
    ("备注", 24, ""),
)
PROJECT_EXAMPLE = ("某某新材料产业园项目", "黄州区", "新建类", "某某科技有限公司", "91421102MA4F00001T", "黄州电子信息材料",
                   "光电子信息", 50000, 20000, "2025-06-30", "张三", "副区长", "2025-01-10", "2025-03-01",
                   "2025-04-15", None, "2025-04-30", "2026-06-30", "是", "2025Q2", "421102001001GB00001", None, None)
CHAIN_COLUMNS: Columns = (
    ("产业集群", 20, "必填：系统中的集群名称，如 麻城石材"),
    ("产业链环节", 22, "必填：环节名称，如 石材精深加工"),
    ("链位", 8, "必填：上游、中游或下游"),
    ("长板/短板", 10, "必填：长板（锻长板）或短板（补短板）"),
    ("所属产业", 12, "五大优势产业之一；空则为集群的产业"),
    ("国民经济行业代码", 18, "GB/T 4754 代码，多个用顿号分隔，如 3032、3039"),
    ("说明", 30, "公开"),
    ("目标企业", 24, "招商目标企业名称（保密，仅内部可见）；一行一个，环节信息可重复"),
    ("对接状态", 10, "待对接、已接洽、洽谈中、已签约、已落地、已放弃"),
    ("目标企业备注", 30, "保密"),
)
CHAIN_EXAMPLE = ("麻城石材", "石材精深加工", "中游", "长板", "建材家居", "3032、3039", "花岗岩板材、异型材加工",
                 "某某石业集团", "已接洽", "2025 年 3 月考察")


def _workbook(title: str, columns: Columns, example: tuple, notes: tuple[str, ...], text_cols: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    fill = PatternFill("solid", fgColor="DDEBF7")
    for col, (header, width, _note) in enumerate(columns, 1):
        cell = ws.cell(row=1, column=col, value=header)
        cell.font, cell.fill = Font(bold=True), fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[cell.column_letter].width = width
    for letter in text_cols:
        for row in range(2, 2002):
            ws[f"{letter}{row}"].number_format = "@"
    ws.freeze_panes = "B2"
    info = wb.create_sheet("填写说明")
    info.column_dimensions["A"].width = 22
    info.column_dimensions["B"].width = 70
    info.append(["列", "填写要求"])
    for header, _w, note in columns:
        info.append([header, note])
    info.append([])
    info.append([f"填写示例（在“{title}”表中每行一条）"])
    info.append([h for h, _w, _n in columns])
    info.append(list(example))
    info.append([])
    for line in notes:
        info.append([line])
    return _save(wb, ws)


def _save(wb: Workbook, ws) -> bytes:  # noqa: ANN001 - an openpyxl worksheet
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def project_template() -> bytes:
    """项目清单 template (for the API download, the page and the CLI)."""
    from hggis.projects.importer import SHEET_NAME

    wb_bytes = _workbook(SHEET_NAME, PROJECT_COLUMNS, PROJECT_EXAMPLE, (
        "说明",
        "1. 每行一个项目；任何一行有错时整表不写入，并列出每个错误的行号、列和原因。",
        "2. 空单元格表示“无数据”，不会覆盖系统中已有的数值。",
        "3. 金额单位写在表头括号里：元、千元、万元或亿元，系统统一换算为万元。",
        "4. 实际日期（签约、供地、开工、投产）不能晚于导入当天；投产不能早于开工。",
        "5. 协议投资额、到位资金、投资方信用代码属于内部信息，只对有权限的人员可见。",
    ), "EU")
    return _with_choices(wb_bytes)


def _with_choices(data: bytes) -> bytes:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    kinds = DataValidation(type="list", formula1='"谋划类,前期类,新建类,续建类"', allow_blank=True)
    yes_no = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    ws.add_data_validation(kinds)
    ws.add_data_validation(yes_no)
    kinds.add("C2:C2001")
    yes_no.add("S2:S2001")
    return _save(wb, ws)


def chain_template() -> bytes:
    """锻长板补短板清单 template."""
    from hggis.projects.chains import SHEET_NAME

    return _workbook(SHEET_NAME, CHAIN_COLUMNS, CHAIN_EXAMPLE, (
        "说明",
        "1. 每行一个产业链环节，或一个环节的一个目标企业（环节的各列在各行中须一致）。",
        "2. 任何一行有错时整表不写入，并列出每个错误的行号、列和原因。",
        "3. 环节名称、链位、长板/短板、说明公开展示；目标企业及其状态、备注为保密信息。",
    ), "F")
