"""GeoJSON from web tools: CRS84 by definition (RFC 7946) unless an old ``crs`` member says
otherwise. Web tools often export AMap (GCJ-02) coordinates; that cannot be seen in the
file, so ``--source-datum gcj02`` is the caller's statement and the report reminds them.
"""

from __future__ import annotations

from pathlib import Path

from hggis.io.base import Source


class GeoJSONHandler:
    name = "geojson"

    def can_handle(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in (".geojson", ".json")

    def resolve(self, path: Path, *, layer: str | None, encoding: str | None) -> Source:
        src = Source(gdal_path=str(path), driver="GeoJSON", layer=None, layers=(path.stem,))
        src.implied_crs = "OGC:CRS84"
        src.encoding_source = "UTF-8（GeoJSON 标准）"
        if encoding:
            src.notes.append(f"已忽略指定的编码 {encoding}：GeoJSON 总是 UTF-8")
        return src
