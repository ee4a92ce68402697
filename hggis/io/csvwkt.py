"""CSV with a WKT geometry column (what spreadsheets and databases export).

A CSV carries no CRS, so ``--crs`` is always required; the refusal proposes one from the
coordinates. Excel on Chinese Windows saves CSV in GBK, so the encoding is sniffed when
not given. A row whose WKT does not parse arrives with no geometry and is reported.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hggis.io.base import Source, SpatialReadError, normalise_encoding, sniff_text_encoding

WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "图形", "坐标串")
SNIFF_BYTES = 2_000_000


class CsvWktHandler:
    name = "csv"

    def can_handle(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in (".csv", ".txt")

    def resolve(self, path: Path, *, layer: str | None, encoding: str | None) -> Source:
        head = path.open("rb").read(SNIFF_BYTES)
        if encoding:
            codec, why = normalise_encoding(encoding), f"--encoding {encoding}"
        elif head.startswith(b"\xef\xbb\xbf"):
            codec, why = "utf-8-sig", "UTF-8 byte-order mark"
        else:
            codec, why = sniff_text_encoding(head[: head.rfind(b"\n") + 1] or head)
        text = head.decode(codec or "utf-8", errors="replace").lstrip("\ufeff")
        header = next(csv.reader(io.StringIO(text)), [])
        wkt = [h for h in header if h.strip().lower() in WKT_COLUMNS]
        if not wkt:
            raise SpatialReadError(
                f"{path.name}：没有 WKT 图形列（现有列：{'、'.join(header)}）",
                "请将图形列命名为 WKT（或 geometry、几何）",
            )
        src = Source(gdal_path=str(path), driver="CSV", layer=path.stem, layers=(path.stem,))
        src.encoding = "utf-8" if codec == "utf-8-sig" else codec
        src.encoding_source = why
        src.never_has_crs = True
        src.open_options = {
            "GEOM_POSSIBLE_NAMES": wkt[0],
            "KEEP_GEOM_COLUMNS": "NO",
            "AUTODETECT_TYPE": "NO",
        }
        return src
