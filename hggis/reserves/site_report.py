"""选址报告: the site finder's result as an Excel workbook an office can file and print.

One sheet with the search conditions, a location map drawn here (county outlines and the
candidate sites with their rank; no base map, so it works offline), and the ranked sites
with the reasons of their rank (``hggis.reserves.sites``' explanation); a second sheet
lists every parcel of every site. Printed A4 landscape, fitted to the page width, the
header row repeated.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import shape

from hggis import clock
from hggis.reserves.sites import SiteQuery

FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
MAP_SIZE = (900, 600)
COLUMNS = (("排名", 6), ("县（市、区）", 12), ("园区", 22), ("面积（亩）", 10), ("宗地数", 8), ("平均坡度（°）", 11),
           ("距离（米）", 10), ("得分", 8), ("排名理由", 90))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for path in FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def _rings(geometry: dict[str, Any]) -> Iterable[list[tuple[float, float]]]:
    geom = shape(geometry)
    for poly in getattr(geom, "geoms", [geom]):
        if hasattr(poly, "exterior"):
            yield list(poly.exterior.coords)


def location_map(outlines: list[dict[str, Any]], results: list[dict[str, Any]]) -> bytes:
    """A PNG of the counties searched and the sites found, with rank labels, a north arrow and a scale bar."""
    sites = [r for r in results if r.get("geometry")]
    frame = [shape(f["geometry"]).bounds for f in outlines] + [shape(r["geometry"]).bounds for r in sites]
    if not frame:
        frame = [(114.4, 29.8, 116.1, 31.6)]  # 黄冈市
    x0, y0 = min(b[0] for b in frame), min(b[1] for b in frame)
    x1, y1 = max(b[2] for b in frame), max(b[3] for b in frame)
    k = math.cos(math.radians((y0 + y1) / 2))  # metres east per degree shrink with latitude
    w, h = MAP_SIZE
    pad = 40
    scale = min((w - 2 * pad) / max((x1 - x0) * k, 1e-9), (h - 2 * pad) / max(y1 - y0, 1e-9))

    def px(lon: float, lat: float) -> tuple[float, float]:
        return pad + (lon - x0) * k * scale, h - pad - (lat - y0) * scale

    image = Image.new("RGB", MAP_SIZE, "white")
    draw = ImageDraw.Draw(image)
    for f in outlines:
        for ring in _rings(f["geometry"]):
            draw.line([px(*c[:2]) for c in ring], fill=(150, 150, 150), width=1)
    label = _font(16)
    for r in sites:
        for ring in _rings(r["geometry"]):
            draw.polygon([px(*c[:2]) for c in ring], fill=(31, 95, 168), outline=(11, 61, 107))
        c = shape(r["geometry"]).representative_point()
        x, y = px(c.x, c.y)  # a marker, since a site is often a speck at county scale
        draw.ellipse([x - 11, y - 11, x + 11, y + 11], fill=(192, 57, 43), outline="white", width=2)
        draw.text((x, y), str(r["site_rank"]), fill="white", font=label, anchor="mm")
    # north arrow
    draw.polygon([(w - 30, 20), (w - 38, 44), (w - 22, 44)], fill="black")
    draw.text((w - 30, 52), "北", fill="black", font=_font(14), anchor="mt")
    # scale bar: a round length near a fifth of the width (degrees of latitude ≈ 111.32 km)
    metres_per_px = 111_320 / scale
    target = metres_per_px * w / 5
    step = 10 ** math.floor(math.log10(target))
    length = max(s * step for s in (1, 2, 5) if s * step <= target)
    bar = length / metres_per_px
    draw.rectangle([pad, h - 22, pad + bar, h - 16], fill="black")
    draw.text((pad + bar + 8, h - 19), f"{length / 1000:g} 公里" if length >= 1000 else f"{length:g} 米",
              fill="black", font=_font(13), anchor="lm")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _conditions(q: SiteQuery, labels: dict[str, str]) -> list[tuple[str, str]]:
    out = [("面积区间", f"{q.min_mu:g} – {q.max_mu:g} 亩")]
    for name, value in (("县（市、区）", labels.get("county")), ("园区", labels.get("park")),
                        ("意向产业", labels.get("industry")), ("靠近", labels.get("near"))):
        if value:
            out.append((name, value))
    if q.max_slope_deg is not None:
        out.append(("坡度上限", f"{q.max_slope_deg:g}°"))
    return out


def _print_setup(ws: Worksheet, header_row: int) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"


def site_report(q: SiteQuery, found: dict[str, Any], outlines: list[dict[str, Any]], labels: dict[str, str],
                demo: str | None = None) -> bytes:
    """The workbook's bytes."""
    wb = Workbook()
    ws = wb.active
    ws.title = "选址报告"
    ws.append(["招商选址报告"])
    ws["A1"].font = Font(size=16, bold=True)
    ws.append([f"生成时间：{clock.display_time(clock.now())}" + (f"；{demo}" if demo else "")])
    for name, value in _conditions(q, labels):
        ws.append([f"{name}：{value}"])
    ws.append([f"共 {len(found['results'])} 个候选地块（按综合得分排名；得分只用于本次选址，不是企业评价）"])
    ws.append([])
    image_row = ws.max_row + 1
    picture = SheetImage(io.BytesIO(location_map(outlines, found["results"])))
    picture.width, picture.height = MAP_SIZE[0] * 0.75, MAP_SIZE[1] * 0.75
    ws.add_image(picture, f"A{image_row}")
    header_row = image_row + 24  # below the picture (≈ 450 pt at 20 pt a row)
    for col, (title, width) in enumerate(COLUMNS, start=1):
        ws.cell(header_row, col, title).font = Font(bold=True)
        ws.column_dimensions[ws.cell(header_row, col).column_letter].width = width
    for r in found["results"]:
        ws.append([r["site_rank"], r["county"], "、".join(r["parks"]) or "—", r["area_mu"], r["parcel_count"],
                   r["mean_slope_deg"], r["distance_m"], r["site_score"], r["explanation"]])
        ws.cell(ws.max_row, len(COLUMNS)).alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    if found["results"]:
        ws.auto_filter.ref = f"A{header_row}:{ws.cell(ws.max_row, len(COLUMNS)).coordinate}"
    _print_setup(ws, header_row)
    parcels = wb.create_sheet("宗地清单")
    parcels.append(["排名", "宗地代码"])
    for cell in parcels[1]:
        cell.font = Font(bold=True)
    for r in found["results"]:
        for code in r["parcels"]:
            parcels.append([r["site_rank"], code])
    parcels.column_dimensions["B"].width = 24
    parcels.freeze_panes = "A2"
    parcels.auto_filter.ref = f"A1:B{max(parcels.max_row, 1)}"
    _print_setup(parcels, 1)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
