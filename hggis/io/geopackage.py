"""GeoPackages: one file, many layers; the caller chooses unless there is only one."""

from __future__ import annotations

from pathlib import Path

import pyogrio

from hggis.io.base import Source, SpatialReadError


class GeoPackageHandler:
    name = "geopackage"

    def can_handle(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".gpkg"

    def resolve(self, path: Path, *, layer: str | None, encoding: str | None) -> Source:
        try:
            listed = pyogrio.list_layers(str(path))
        except Exception as exc:  # GDAL says why (not a GeoPackage, corrupt …)
            raise SpatialReadError(f"{path.name}：无法作为 GeoPackage 打开：{exc}") from None
        spatial = [str(name) for name, geom_type in listed if geom_type is not None]
        if not spatial:
            raise SpatialReadError(f"{path.name}：没有含图形的图层")
        if layer is None:
            if len(spatial) > 1:
                raise SpatialReadError(
                    f"{path.name}：包含 {len(spatial)} 个图层", "请指定图层：" + "、".join(spatial)
                )
            layer = spatial[0]
        elif layer not in spatial:
            raise SpatialReadError(f"{path.name}：没有图层 {layer!r}", "现有图层：" + "、".join(spatial))
        src = Source(gdal_path=str(path), driver="GPKG", layer=layer, layers=tuple(spatial))
        src.encoding_source = "UTF-8（GeoPackage 总是 UTF-8）"
        if encoding:
            src.notes.append(f"已忽略指定的编码 {encoding}：GeoPackage 文本总是 UTF-8")
        return src
