"""The 宗地图 as a PNG (for the DOCX, which cannot embed vector drawings portably).

Draws the primitives of :func:`hggis.idle.parcel_map.layout` with Pillow; the PDF draws the
same primitives as vectors (hggis.idle.render_pdf).
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from hggis.idle.fonts import document_font
from hggis.idle.parcel_map import Drawing

DPI = 150  # enough for an editable office copy; the PDF carries the map as vectors
_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


@lru_cache(maxsize=16)
def _font(px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(document_font()), px, index=0)


def to_png(d: Drawing, dpi: int = DPI) -> bytes:
    """The drawing as an RGB PNG at ``dpi`` (fast zlib level: the maps are mostly flat colour)."""
    k = dpi / 25.4  # px per mm
    w, h = round(d.width * k), round(d.height * k)
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)

    def px(x: float, y: float) -> tuple[float, float]:
        return x * k, h - y * k

    for s in d.shapes:
        pts = [px(x, y) for x, y in s.points]
        line = max(1, round(s.width * k))
        if s.closed:
            draw.polygon(pts, fill=s.fill, outline=s.stroke, width=line)
        else:
            draw.line(pts, fill=s.stroke, width=line)
    for lb in d.labels:
        size = max(6, round(lb.size * k))  # label size: the em in mm
        draw.text(px(lb.x, lb.y), lb.text, font=_font(size), fill=lb.color, anchor=_ANCHORS[lb.anchor])
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=1)
    return buf.getvalue()
