"""A stored document's content as a PDF (A4, Chinese text embedded, 宗地图 as vectors)."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing as RLDrawing, Polygon as RLPolygon, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hggis.idle.fonts import document_font
from hggis.idle.parcel_map import Drawing, layout

FONT = "HggisCJK"
MAP_W, MAP_H = 160.0, 110.0  # mm


@lru_cache(maxsize=1)
def _register() -> str:
    pdfmetrics.registerFont(TTFont(FONT, str(document_font()), subfontIndex=0))
    return FONT


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    font = _register()
    body = ParagraphStyle("body", fontName=font, fontSize=12, leading=21, wordWrap="CJK", alignment=TA_JUSTIFY,
                          firstLineIndent=24)
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=20, leading=30, alignment=TA_CENTER, spaceAfter=4),
        "number": ParagraphStyle("number", fontName=font, fontSize=12, leading=18, alignment=TA_CENTER, spaceAfter=10),
        "to": ParagraphStyle("to", parent=body, firstLineIndent=0, spaceBefore=4),
        "body": body,
        "small": ParagraphStyle("small", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK"),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=10.5, leading=14, wordWrap="CJK"),
        "sign": ParagraphStyle("sign", parent=body, alignment=TA_RIGHT, firstLineIndent=0),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=14, leading=22, alignment=TA_CENTER, spaceAfter=6),
    }


def _rgb(c: tuple[int, int, int] | None) -> Any:
    return None if c is None else colors.Color(c[0] / 255, c[1] / 255, c[2] / 255)


def map_flowable(d: Drawing) -> RLDrawing:
    """The layout's primitives as a reportlab vector drawing (1 unit = 1 mm scaled to points)."""
    out = RLDrawing(d.width * mm, d.height * mm)
    for s in d.shapes:
        pts = [v * mm for xy in s.points for v in xy]
        out.add(RLPolygon(pts, fillColor=_rgb(s.fill), strokeColor=_rgb(s.stroke), strokeWidth=s.width * mm))
    for lb in d.labels:
        out.add(String(lb.x * mm, lb.y * mm, lb.text, fontName=_register(), fontSize=lb.size * mm,
                       fillColor=_rgb(lb.color), textAnchor=lb.anchor))
    return out


def _grid(rows: list[list[str]], widths: list[float], style: ParagraphStyle) -> Table:
    data = [[Paragraph(escape(str(c)), style) for c in r] for r in rows]
    t = Table(data, colWidths=[w * mm for w in widths])
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                           ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    return t


def corner_rows(corners: list[dict[str, Any]], groups: int = 2, limit: int = 60) -> list[list[str]]:
    """The corner table with ``groups`` (点号, X, Y) column groups side by side."""
    shown = corners[:limit]
    per = -(-len(shown) // groups) if shown else 0
    header = ["点号", "X（北）", "Y（东）"] * groups
    rows = [header]
    for i in range(per):
        row: list[str] = []
        for g in range(groups):
            j = g * per + i
            row += [shown[j]["name"], f"{shown[j]['x']:.3f}", f"{shown[j]['y']:.3f}"] if j < len(shown) else ["", "", ""]
        rows.append(row)
    return rows


def to_pdf(content: dict[str, Any]) -> bytes:
    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=25 * mm, rightMargin=22 * mm, topMargin=25 * mm,
                            bottomMargin=20 * mm, title=f"{content['title']} {content['number']}",
                            author=content.get("office") or "", subject=content.get("basis") or "")
    story: list[Any] = [Paragraph(escape(content["office"] or ""), st["number"]),
                        Paragraph(escape(content["title"]), st["title"]),
                        Paragraph(escape(content["number"]), st["number"])]
    if content.get("receipt"):
        story.append(_grid(content["receipt"], [45, 118], st["cell"]))
    else:
        story.append(Paragraph(escape(f"{content['recipient']}："), st["to"]))
        story += [Paragraph(escape(p), st["body"]) for p in content["paragraphs"]]
        story.append(Spacer(1, 4 * mm))
        story.append(_grid(content["facts"], [50, 113], st["cell"]))
    story.append(Spacer(1, 3 * mm))
    story.append(Paragraph(escape(f"依据：{content['basis']}"), st["small"]))
    if content.get("cc"):
        story.append(Paragraph(escape("抄送：" + "；".join(content["cc"])), st["small"]))
    story.append(Spacer(1, 10 * mm))
    story.append(KeepTogether([Paragraph(escape(content["office"] or ""), st["sign"]),
                               Paragraph(escape(content["date_text"]), st["sign"])]))
    snap = content.get("map")
    if snap:
        story += [PageBreak(), Paragraph(escape(f"宗地图（{content['parcel_code']}）"), st["h2"]),
                  map_flowable(layout(snap, MAP_W, MAP_H)), Spacer(1, 4 * mm),
                  Paragraph(escape(f"界址点坐标（CGCS2000 3°带第{snap['zone']}带，EPSG:{snap['epsg']}，单位：米）"), st["small"]),
                  _grid(corner_rows(snap["corners"]), [14, 33.5, 33.5] * 2, st["small"])]
        if len(snap["corners"]) > 60:
            story.append(Paragraph(f"共 {len(snap['corners'])} 个界址点，其余见界址点成果表。", st["small"]))
        if snap["neighbours"]:
            story.append(Paragraph(escape("相邻宗地：" + "、".join(n["code"] for n in snap["neighbours"])), st["small"]))
    doc.build(story)
    return buf.getvalue()
