"""The common reader: any supported spatial file → a GeoDataFrame in EPSG:4490, and a report.

Steps, the same for every format (after GeoNode's upload handlers):

1. a handler (``hggis.io.shapefile`` / ``geopackage`` / ``geojson`` / ``csvwkt``)
   ``can_handle`` the path and resolves it into a :class:`~hggis.io.base.Source`
   (GDAL path, layer, attribute encoding);
2. pyogrio/GDAL reads the features with the file's own coordinates;
3. ``hggis.io.crs.decide_crs`` checks the declared CRS against the coordinates (zone
   prefix, swapped X/Y, missing CRS) or refuses;
4. the coordinates are transformed to CGCS2000 lon/lat; ``source_datum="gcj02"``
   then removes the AMap shift with the iterative inverse.

Geometry validity is *not* judged here: importers decide what to do with invalid
features (report, repair, refuse), so they get them as read.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS

from hggis.geo import CGCS2000_EPSG, gcj02_to_wgs84_arrays
from hggis.io.base import FormatHandler, Source, SpatialReadError, as_path, hide_path, hide_path_in
from hggis.io.crs import CrsDecision, CrsRefused, decide_crs
from hggis.io.csvwkt import CsvWktHandler
from hggis.io.geojson import GeoJSONHandler
from hggis.io.geopackage import GeoPackageHandler
from hggis.io.shapefile import FIELDS_FILE, ShapefileHandler

__all__ = [
    "HANDLERS",
    "ReadReport",
    "SpatialReadError",
    "CrsRefused",
    "handler_for",
    "read_layer",
    "read_layer_with_report",
]

HANDLERS: tuple[FormatHandler, ...] = (
    ShapefileHandler(),
    GeoPackageHandler(),
    GeoJSONHandler(),
    CsvWktHandler(),
)
SOURCE_DATUMS = ("cgcs2000", "wgs84", "gcj02")
_SAMPLE_GEOMS = 2000


@dataclass
class ReadReport:
    """What the reader found and decided, for the import report and the log."""

    path: str
    format: str
    layer: str | None
    layers: list[str]
    features: int
    columns: list[str]
    encoding: str | None
    encoding_source: str
    declared_crs: str | None
    crs: str
    crs_source: str
    gk_zone: int | None
    zone_prefixed: bool | None
    source_datum: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def handler_for(path: Path) -> FormatHandler:
    for handler in HANDLERS:
        if handler.can_handle(path):
            return handler
    raise SpatialReadError(
        f"{path.name}：不是支持的空间数据文件",
        "请使用 Shapefile（.shp、文件夹或 .zip）、GeoPackage（.gpkg）、GeoJSON（.geojson）或带 WKT 列的 CSV",
    )


def _read_raw(src: Source) -> tuple[gpd.GeoDataFrame, CRS | None]:
    kwargs: dict[str, Any] = dict(src.open_options)
    if src.encoding:
        kwargs["encoding"] = src.encoding
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # unparseable WKT → None, reported later
            gdf = pyogrio.read_dataframe(src.gdal_path, layer=src.layer if src.driver == "GPKG" else None, **kwargs)
    except UnicodeDecodeError as exc:
        if src.driver != "ESRI Shapefile" or (src.encoding or "utf-8") != "utf-8":
            raise SpatialReadError(
                f"属性无法按 {src.encoding} 解码（{src.encoding_source}）：{exc.reason}",
                "请指定正确的属性编码（GBK、GB18030 或 UTF-8）",
            ) from None
        gdf = _read_utf8_leniently(src, kwargs)
    except Exception as exc:
        raise SpatialReadError(f"无法读取 {Path(src.gdal_path).name}：{exc}") from None
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise SpatialReadError(f"{Path(src.gdal_path).name}：没有图形列")
    declared = gdf.crs
    if src.never_has_crs:
        declared = None
    return gdf, declared


def _read_utf8_leniently(src: Source, kwargs: dict[str, Any]) -> gpd.GeoDataFrame:
    """Read a UTF-8 DBF whose field names were cut inside a character.

    A DBF field name holds 10 bytes: a Chinese name of 4+ characters in UTF-8 (12+ bytes)
    is cut mid-character by the writer and GDAL cannot decode it. Reading the bytes as
    Latin-1 (lossless) and decoding them again as UTF-8 with replacement keeps every value
    and leaves the cut name recognisable ("宗地代\ufffd" for 宗地代码).
    """
    # ENCODING="" stops GDAL recoding; pyogrio then decodes the raw bytes as ISO-8859-1.
    lenient = {k: v for k, v in kwargs.items() if k != "encoding"} | {"ENCODING": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gdf = pyogrio.read_dataframe(src.gdal_path, **lenient)

    def fix(v: Any) -> Any:
        return v.encode("latin-1").decode("utf-8", errors="replace") if isinstance(v, str) else v

    geom = gdf.geometry.name
    renamed = {c: fix(c) for c in gdf.columns if c != geom}
    gdf = gdf.rename(columns=renamed)
    for col in renamed.values():
        if gdf[col].dtype == object or str(gdf[col].dtype).startswith("str"):
            gdf[col] = gdf[col].map(fix)
    cut = [c for c in renamed.values() if "\ufffd" in c]
    src.notes.append(
        "UTF-8 字段名被 DBF 的 10 字节上限截断：" + "、".join(cut)
        + "（含中文字段名的 Shapefile 请以 GBK 保存，或使用短字段名）"
    )
    return gdf


def _sample_coords(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(geoms)
    idx = np.unique(np.linspace(0, n - 1, min(n, _SAMPLE_GEOMS)).astype(int)) if n else np.array([], dtype=int)
    coords = shapely.get_coordinates(geoms[idx]) if n else np.empty((0, 2))
    return coords[:, 0], coords[:, 1]


def _from_gcj02(geoms: np.ndarray) -> np.ndarray:
    def f(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84_arrays(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, f)


def read_layer_with_report(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: Any = None,
    source_datum: str | None = None,
    encoding: str | None = None,
    shown_as: str | None = None,
) -> tuple[gpd.GeoDataFrame, ReadReport]:
    """Read a layer into EPSG:4490 and say what was detected; raises SpatialReadError/CrsRefused.

    ``crs`` overrides the file's CRS (``--crs``); ``source_datum="gcj02"`` states that the
    lon/lat were taken from AMap/Tencent (GCJ-02), which no file can reveal by itself.
    ``shown_as`` is the name people know the file by (an upload's original name): messages
    and the report use it instead of the path the server read.
    """
    p = as_path(path)
    if shown_as is None:  # the command line: the user's own path may be shown
        return _read(p, layer, crs, source_datum, encoding)
    try:
        gdf, report = _read(p, layer, crs, source_datum, encoding)
    except SpatialReadError as exc:
        hide_path_in(exc, p, shown_as)
        raise
    report.path = shown_as
    report.notes = [hide_path(n, p, shown_as) or n for n in report.notes]
    return gdf, report


def _read(p: Path, layer: str | None, crs: Any, source_datum: str | None,
          encoding: str | None) -> tuple[gpd.GeoDataFrame, ReadReport]:
    datum = (source_datum or "cgcs2000").strip().lower().replace("-", "")
    if datum not in SOURCE_DATUMS:
        raise SpatialReadError(f"无法识别的源坐标基准 {source_datum!r}", "可选：" + "、".join(SOURCE_DATUMS))
    handler = handler_for(p)
    src = handler.resolve(p, layer=layer, encoding=encoding)
    gdf, declared = _read_raw(src)
    geoms = gdf.geometry.values.to_numpy() if hasattr(gdf.geometry.values, "to_numpy") else np.asarray(gdf.geometry)
    xs, ys = _sample_coords(np.asarray(geoms, dtype=object))
    decision: CrsDecision = decide_crs(
        declared, xs, ys, override=crs, implied=src.implied_crs, never_has_crs=src.never_has_crs, what=p.name
    )
    notes = list(src.notes) + list(decision.notes)
    gdf = gdf.set_crs(decision.crs, allow_override=True)
    if decision.epsg != CGCS2000_EPSG:
        gdf = gdf.to_crs(CGCS2000_EPSG)
    else:
        gdf = gdf.set_crs(CGCS2000_EPSG, allow_override=True)
    if datum == "gcj02":
        if not decision.crs.is_geographic:
            notes.append("GCJ-02 是经纬度基准；投影坐标文件按 GCJ-02 处理，在投影转换后作了偏移改正")
        gdf = gdf.set_geometry(gpd.GeoSeries(_from_gcj02(np.asarray(gdf.geometry.values)), index=gdf.index, crs=CGCS2000_EPSG))
        notes.append("GCJ-02（高德、腾讯地图）坐标已转换为 CGCS2000（约偏移 0.55 千米）")
    elif src.driver == "GeoJSON" and decision.crs.is_geographic:
        notes.append(
            "GeoJSON 经纬度按 CGCS2000/WGS84 读取；如取自高德地图，请将源坐标基准选为 GCJ-02"
        )
    gdf = gdf.rename_geometry("geometry") if gdf.geometry.name != "geometry" else gdf
    if src.rename:
        renamed = {k: v for k, v in src.rename.items() if k in gdf.columns and v not in gdf.columns}
        gdf = gdf.rename(columns=renamed)
        if renamed:
            notes.append(f"按 {FIELDS_FILE} 恢复了 {len(renamed)} 个被缩短的字段名（如 {next(iter(renamed))} → {next(iter(renamed.values()))}）")
    report = ReadReport(
        path=str(p),
        format=handler.name,
        layer=src.layer,
        layers=list(src.layers),
        features=len(gdf),
        columns=[c for c in gdf.columns if c != "geometry"],
        encoding=src.encoding,
        encoding_source=src.encoding_source,
        declared_crs=decision.declared,
        crs=decision.label,
        crs_source=decision.source,
        gk_zone=decision.zone,
        zone_prefixed=decision.prefixed,
        source_datum=datum,
        notes=notes,
    )
    gdf.attrs["read_report"] = report
    return gdf, report


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: Any = None,
    source_datum: str | None = None,
    encoding: str | None = None,
    shown_as: str | None = None,
) -> gpd.GeoDataFrame:
    """A layer as a GeoDataFrame in EPSG:4490; ``gdf.attrs["read_report"]`` is the ReadReport.

    Shapefile (.shp, folder or .zip), GeoPackage (``layer``), GeoJSON, CSV with WKT.
    Raises :class:`SpatialReadError` (or its subclass :class:`CrsRefused`) with a hint.
    """
    gdf, _report = read_layer_with_report(path, layer=layer, crs=crs, source_datum=source_datum, encoding=encoding,
                                          shown_as=shown_as)
    return gdf
