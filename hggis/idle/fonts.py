"""The Chinese font of the generated documents (PDF text and the 宗地图 raster).

PDF embedding (reportlab) needs TrueType outlines; WenQuanYi Micro Hei has them and is
installed by scripts/setup-system.sh. ``HGGIS_DOCUMENT_FONT`` names another file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hggis.config import get_settings

CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)


class FontMissing(RuntimeError):
    """No usable Chinese TrueType font: documents cannot be rendered."""


@lru_cache(maxsize=1)
def document_font() -> Path:
    configured = get_settings().hggis_document_font
    for path in ((configured,) if configured else CANDIDATES):
        if path.is_file():
            return path
    raise FontMissing(
        "no Chinese TrueType font for the documents: install fonts-wqy-microhei (scripts/setup-system.sh) "
        "or set HGGIS_DOCUMENT_FONT"
    )
