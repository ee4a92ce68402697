"""A stored document's content as DOCX, editable by the office (宗地图 as a PNG picture).

Fonts follow the habit of 公文 (GB/T 9704): 宋体 title, 仿宋 body, set for East Asian text
so Word and WPS pick them; a machine without them falls back to its own Chinese font.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document as new_docx
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph

from hggis.idle.parcel_map import layout
from hggis.idle.render_map import to_png
from hggis.idle.render_pdf import MAP_H, MAP_W, corner_rows

TITLE_FONT, BODY_FONT = "宋体", "仿宋"


def _font(run: Any, name: str, size: float, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _para(doc: Any, text: str, size: float = 16, font: str = BODY_FONT, align: Any = None, indent: bool = False,
          bold: bool = False) -> Paragraph:
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    p.paragraph_format.space_after = Pt(4)
    _font(p.add_run(text), font, size, bold)
    return p


def _table(doc: Any, rows: list[list[str]], widths_mm: list[float], size: float = 12) -> None:
    t = doc.add_table(rows=len(rows), cols=len(rows[0]))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for row, values in zip(t.rows, rows, strict=True):
        for cell, width, value in zip(row.cells, widths_mm, values, strict=True):  # row.cells once: t.cell() is O(n)
            cell.width = Mm(width)
            _font(cell.paragraphs[0].add_run(str(value)), BODY_FONT, size)


def to_docx(content: dict[str, Any]) -> bytes:
    doc = new_docx()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.left_margin, sec.right_margin, sec.top_margin, sec.bottom_margin = Mm(28), Mm(26), Mm(37), Mm(35)
    props = doc.core_properties
    props.title = f"{content['title']} {content['number']}"
    props.author = content.get("office") or ""
    props.subject = content.get("basis") or ""
    _para(doc, content.get("office") or "", 16, TITLE_FONT, WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, content["title"], 22, TITLE_FONT, WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _para(doc, content["number"], 16, BODY_FONT, WD_ALIGN_PARAGRAPH.CENTER)
    if content.get("receipt"):
        _table(doc, content["receipt"], [45, 111], 14)
    else:
        _para(doc, f"{content['recipient']}：")
        for text in content["paragraphs"]:
            _para(doc, text, indent=True)
        _table(doc, content["facts"], [50, 106])
    _para(doc, f"依据：{content['basis']}", 12)
    if content.get("cc"):
        _para(doc, "抄送：" + "；".join(content["cc"]), 12)
    _para(doc, "")
    _para(doc, content.get("office") or "", align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(doc, content["date_text"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    snap = content.get("map")
    if snap:
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _para(doc, f"宗地图（{content['parcel_code']}）", 16, TITLE_FONT, WD_ALIGN_PARAGRAPH.CENTER, bold=True)
        picture = io.BytesIO(to_png(layout(snap, MAP_W, MAP_H)))
        doc.add_picture(picture, width=Mm(MAP_W))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _para(doc, f"界址点坐标（CGCS2000 3°带第{snap['zone']}带，EPSG:{snap['epsg']}，单位：米）", 10.5)
        _table(doc, corner_rows(snap["corners"]), [12, 30, 30] * 2, 9)
        if len(snap["corners"]) > 60:
            _para(doc, f"共 {len(snap['corners'])} 个界址点，其余见界址点成果表。", 10.5)
        if snap["neighbours"]:
            _para(doc, "相邻宗地：" + "、".join(n["code"] for n in snap["neighbours"]), 10.5)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


__all__ = ["to_docx"]
