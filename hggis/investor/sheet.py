"""The printable one-page 地块推介 sheet (PDF): map, scale bar, north arrow, terms, indicators, contacts.

It reuses the idle-land documents' machinery: ``hggis.idle.parcel_map`` takes the parcel and
its neighbours out of PostGIS into the Gauss-Krüger zone of its longitude and lays them out
at a round scale with the north arrow and scale bar; ``hggis.idle.render_pdf`` draws that
layout as vectors with the embedded CJK font. Everything printed comes from
:func:`hggis.investor.portal.investor_view`, the same data as the public page.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepInFrame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.geo import zone_for_longitude
from hggis.idle.parcel_map import layout, map_snapshot
from hggis.idle.render_pdf import _register, map_flowable
from hggis.investor.portal import investor_view

MAP_W, MAP_H = 174.0, 84.0  # mm: the page's width between margins, about a third of its height
TEXT_H = 170.0  # mm left below the title and map; the text shrinks to fit, so the sheet stays one page


def _styles() -> dict[str, ParagraphStyle]:
    font = _register()
    return {
        "title": ParagraphStyle("t", fontName=font, fontSize=17, leading=22, alignment=1),
        "sub": ParagraphStyle("s", fontName=font, fontSize=9.5, leading=13, alignment=1, textColor=colors.grey),
        "h": ParagraphStyle("h", fontName=font, fontSize=10.5, leading=14, spaceBefore=3, spaceAfter=1,
                            textColor=colors.HexColor("#0b3d6b")),
        "cell": ParagraphStyle("c", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK"),
        "small": ParagraphStyle("m", fontName=font, fontSize=7.5, leading=10, wordWrap="CJK", textColor=colors.grey),
    }


def _table(rows: list[list[str]], widths: list[int], style: ParagraphStyle) -> Table:
    t = Table([[Paragraph(escape(str(c)), style) for c in r] for r in rows], colWidths=[w * mm for w in widths])
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a939c")),
                           ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef2f6")),
                           ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#eef2f6")),
                           ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                           ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    return t


def _pairs(items: list[tuple[str, str]]) -> list[list[str]]:
    """Label/value pairs two to a row (four columns), so the sheet stays on one page."""
    rows = []
    for i in range(0, len(items), 2):
        a = items[i]
        b = items[i + 1] if i + 1 < len(items) else ("", "")
        rows.append([a[0], a[1], b[0], b[1]])
    return rows


def sheet_content(view: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """The sheet's label/value sections, in Chinese (also what the tests read back)."""
    p, offer, park = view["parcel"], view["offer"] or {}, view["park"] or {}
    terms = [("宗地代码", p["code"]), ("面积", f"{p['area_mu']:.2f} 亩"), ("所在地", p["county"]),
             ("意向产业", p["intended_industry"] or "—"),
             ("起始价", f"{offer['start_price']:,.2f} 万元" if offer.get("start_price") is not None else "以公告为准"),
             ("供地方式", offer.get("supply_method") or "以公告为准")]
    if offer.get("listing_start") or offer.get("listing_end"):
        terms.append(("挂牌期", f"{offer.get('listing_start') or '—'} 至 {offer.get('listing_end') or '—'}"))
    if offer.get("term_years"):
        terms.append(("出让年限", f"{offer['term_years']} 年"))
    indicators = [(i["label"], i["text"]) for i in view["indicators"]] or [("控制指标", "尚未发布")]
    commits = [(c["label"], f"{c['value']:,} {c['unit']}") for c in view["commitments"]]
    place = [(d["kind_label"], f"{d['km']:.1f} km（{d['name']}）") for d in view["distances"]]
    place += [("产业链", "、".join(f"{c['name']}（{c['why']}）" for c in view["chain_links"]))] if view["chain_links"] else []
    if view["peer_firms"]:
        place.append(("园区同产业企业", f"{view['peer_firms']} 家"))
    contacts = []
    if park:
        contacts = [("园区", park["name"]), ("级别", park["level"]),
                    ("主导产业", "、".join(park["leading_industries"]) or park.get("industry") or "—")]
        labels = {"contact_office": "招商部门", "contact_person": "联系人", "contact_phone": "电话",
                  "contact_email": "邮箱", "contact_address": "地址"}
        contacts += [(label, park[f]) for f, label in labels.items() if park.get(f)]
    return {"terms": terms, "indicators": indicators, "commitments": commits, "place": place, "contacts": contacts}


def render_sheet(view: dict[str, Any], snapshot: dict[str, Any], share_url: str) -> bytes:
    st = _styles()
    p = view["parcel"]
    sections = sheet_content(view)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=12 * mm,
                            bottomMargin=10 * mm, title=f"地块推介 {p['code']}", author=(view["park"] or {}).get("name") or p["county"],
                            subject="地块推介")
    w4 = [33, 54, 33, 54]
    head: list[Any] = [
        Paragraph(escape(f"地块推介 · {p['county']}{(' · ' + view['park']['name']) if view['park'] else ''}"), st["title"]),
        Paragraph(escape(f"宗地 {p['code']} · {p['area_mu']:.2f} 亩 · 挂牌出让中"), st["sub"]),
        Spacer(1, 2 * mm),
        map_flowable(layout(snapshot, MAP_W, MAP_H)),
        Paragraph(escape("红线为本宗地，灰色为相邻宗地；无底图。"), st["small"]),
    ]
    story: list[Any] = [
        Paragraph("供地信息", st["h"]), _table(_pairs(sections["terms"]), w4, st["cell"]),
        Paragraph("控制指标（标准地，受让人须承诺）", st["h"]), _table(_pairs(sections["indicators"]), w4, st["cell"]),
    ]
    if sections["commitments"]:
        story += [Paragraph(escape(f"按整宗 {view['project_mu']:.2f} 亩测算的承诺"), st["h"]),
                  _table(_pairs(sections["commitments"]), w4, st["cell"])]
    if sections["place"]:
        story += [Paragraph("区位与产业", st["h"]), _table(_pairs(sections["place"]), w4, st["cell"])]
    if sections["contacts"]:
        story += [Paragraph("园区与招商联系", st["h"]), _table(_pairs(sections["contacts"]), w4, st["cell"])]
    story += [Spacer(1, 2 * mm),
              Paragraph(escape(f"在线查看与咨询：{share_url} · 生成于 {clock.today().isoformat()} · "
                               "以自然资源部门挂牌出让公告为准。"), st["small"])]
    doc.build([*head, KeepInFrame(MAP_W * mm, TEXT_H * mm, story, mode="shrink")])
    return buf.getvalue()


def parcel_sheet(conn: Connection, code: str, share_url: str) -> bytes:
    """The 地块推介 PDF of a parcel on offer (NotOnOffer otherwise)."""
    view = investor_view(conn, code)
    epsg = zone_for_longitude(view["parcel"]["lon"]).epsg(prefixed=False)
    return render_sheet(view, map_snapshot(conn, view["_parcel_id"], epsg), share_url)
