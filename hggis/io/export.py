"""Giving data back in the forms officers use: GeoPackage, Shapefile (.zip), GeoJSON, CSV.

- Layers: parcels, parks, reserves (标准地储备 and 挂牌出让中), idle cases (parcels with
  their latest case, when hggis.idle is installed), and any FeatureCollection handed in
  (site-finder results from hggis.reserves.sites).
- Who sees what: the caller's scope (``scope_clause``) for signed-in users; anonymous
  callers get the public view, built from the allow-lists of ``hggis.features.LAYERS``,
  and nothing where the policy has no public grant.
- CRS: EPSG:4490 by default, or a CGCS2000 Gauss-Krüger zone (4526/4527/4547/4548) on
  request, reprojected by pyproj (``always_xy``).
- Shapefile: zipped with its .cpg (UTF-8 or GBK), field names cut to the DBF limit of
  10 characters and a ``fields.csv`` inside the zip giving each short name's full name
  and Chinese meaning.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize, scope_clause
from hggis.errors import Invalid
from hggis.features import LAYERS
from hggis.io.crs import EXPORT_EPSG

EXPORT_KINDS = ("parcels", "parks", "reserves", "cases")
FORMATS: dict[str, dict[str, str]] = {
    "gpkg": {"driver": "GPKG", "suffix": ".gpkg", "media_type": "application/geopackage+sqlite3"},
    "shp": {"driver": "ESRI Shapefile", "suffix": ".zip", "media_type": "application/zip"},
    "geojson": {"driver": "GeoJSON", "suffix": ".geojson", "media_type": "application/geo+json"},
    "csv": {"driver": "CSV", "suffix": ".csv", "media_type": "text/csv"},
}
ENCODINGS = {"utf-8": "UTF-8", "utf8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030", "cp936": "GBK"}
RESERVE_STATUSES = ("reserve", "on_offer")

#: Chinese meaning of each exported field (also the mapping file's third column).
FIELD_LABELS: dict[str, str] = {
    "code": "宗地代码",
    "area_mu": "面积（亩，椭球面积）",
    "status": "状态代码",
    "status_label": "状态",
    "adcode": "行政区划代码",
    "county": "县（市、区）",
    "park_id": "园区编号",
    "park": "园区",
    "land_use": "地类编码（GB/T 21010）",
    "intended_industry": "意向产业",
    "holder": "权利人",
    "holder_code": "权利人统一社会信用代码",
    "holder_credit_code": "权利人统一社会信用代码",
    "contract_kind": "供地方式",
    "contract_no": "合同编号",
    "land_price": "出让价款（万元）",
    "agreed_start_date": "约定开工日期",
    "agreed_completion_date": "约定竣工日期",
    "planned_investment": "计划投资（万元）",
    "started_on": "实际开工日期",
    "completed_on": "竣工日期",
    "updated_at": "更新时间",
    "id": "编号",
    "name": "名称",
    "level": "级别",
    "industry": "主导产业",
    "leading_industries": "主导产业（列表）",
    "contact_office": "联系单位",
    "contact_phone": "联系电话",
    "investment_intensity": "投资强度（万元/亩）",
    "far_min": "容积率下限",
    "far_max": "容积率上限",
    "tax_per_mu": "亩均税收（万元/亩）",
    "output_intensity": "产出强度（万元/亩）",
    "case_id": "案件编号",
    "case_kind": "案件类型",
    "case_basis": "认定依据",
    "case_state": "案件阶段",
    "opened_on": "立案日期",
    "idle_since": "闲置起算日",
    "due_on": "期限",
    "due_kind": "期限类型",
    "disposal_kind": "处置方式",
    "disposal_on": "处置日期",
    "outcome": "结果",
    "closed_on": "结案日期",
}
#: Readable DBF names (≤ 10 characters) for fields whose names are longer.
#: DBF names: the abbreviations of the land-survey standards (宗地代码 ZDDM, 地类编码 DLBM, 权利人
#: QLR …) where they exist, so desktop GIS users read them at a glance; fields.csv gives the rest.
SHORT_NAMES: dict[str, str] = {
    "code": "ZDDM",
    "land_use": "DLBM",
    "area_mu": "ZDMJ",
    "holder": "QLR",
    "holder_code": "TYSHXYDM",
    "holder_credit_code": "TYSHXYDM",
    "adcode": "XZQDM",
    "county": "XZQMC",
    "park": "YQMC",
    "park_id": "YQBH",
    "status": "ZTDM",
    "status_label": "ZT",
    "intended_industry": "YXCY",
    "contract_kind": "GDFS",
    "contract_no": "HTBH",
    "land_price": "CRJK",
    "agreed_start_date": "YDKGRQ",
    "agreed_completion_date": "YDJGRQ",
    "planned_investment": "JHTZ",
    "started_on": "SJKGRQ",
    "completed_on": "SJJGRQ",
    "leading_industries": "lead_ind",
    "contact_office": "contact",
    "contact_phone": "phone",
    "investment_intensity": "inv_int",
    "output_intensity": "out_int",
    "disposal_kind": "disp_kind",
    "disposal_on": "disp_on",
}


class ExportError(Invalid):
    """An export that cannot be made as asked (unknown format, CRS, encoding …)."""


@dataclass
class ExportResult:
    path: Path
    format: str
    epsg: int
    features: int
    media_type: str
    fields: list[dict[str, str]] = field(default_factory=list)  # short, name, label

    @property
    def filename(self) -> str:
        return self.path.name


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------

_PARCEL_FIELDS: dict[str, str] = {
    **LAYERS["parcels"].public_fields,
    "area_mu": "round(p.area_mu::numeric, 4)",  # officers compare it with survey figures
    "holder": "e.name",
    "holder_code": "e.credit_code",
    "contract_kind": "p.contract_kind",
    "contract_no": "p.contract_no",
    "land_price": "p.land_price",
    "agreed_start_date": "p.agreed_start_date",
    "agreed_completion_date": "p.agreed_completion_date",
    "planned_investment": "p.planned_investment",
    "started_on": "p.started_on",
    "completed_on": "p.completed_on",
    "updated_at": "p.updated_at",
}
_PARCEL_SOURCE = LAYERS["parcels"].source + " LEFT JOIN enterprises e ON e.id = p.holder_id"
_INDICATOR_FIELDS = {
    "investment_intensity": "ci.investment_intensity",
    "far_min": "ci.far_min",
    "far_max": "ci.far_max",
    "tax_per_mu": "ci.tax_per_mu",
    "output_intensity": "ci.output_intensity",
}
_CASE_COLUMNS = {
    "id": "case_id", "kind": "case_kind", "basis": "case_basis", "state": "case_state",
    "opened_on": "opened_on", "idle_since": "idle_since", "due_on": "due_on", "due_kind": "due_kind",
    "disposal_kind": "disposal_kind", "disposal_on": "disposal_on", "outcome": "outcome", "closed_on": "closed_on",
}


@dataclass(frozen=True)
class _Query:
    source: str
    geom: str
    fields: dict[str, str]
    where: str
    params: dict[str, Any]
    order_by: str


def _table_columns(conn: Connection, table: str) -> set[str]:
    return set(
        conn.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = :t"),
            {"t": table},
        ).scalars()
    )


def _layer_query(conn: Connection, principal: Principal, kind: str) -> _Query:
    if kind == "parks":
        layer = LAYERS["parks"]
        scope = authorize(principal, "parks", "read")
        fields = dict(layer.public_fields)
        if scope != "public":
            fields["contact_phone"] = "k.contact_phone"
        return _Query(layer.source, layer.geom, fields, layer.where, {}, layer.order_by)
    if kind in ("parcels", "reserves"):
        resource = "parcels" if kind == "parcels" else "reserves"
        layer = LAYERS["parcels"]
        public_scope = authorize(principal, resource, "read") if principal.is_public else None
        params: dict[str, Any] = {}
        status_cond = "TRUE"
        if kind == "reserves":
            status_cond = "p.status = ANY(:reserve_statuses)"
            params["reserve_statuses"] = list(RESERVE_STATUSES)
        if public_scope == "public":
            # The public layer's own condition (what investors may see) applies as well.
            where = f"{layer.where} AND {status_cond}"
            return _Query(layer.source, layer.geom, dict(layer.public_fields), where, params, layer.order_by)
        where = f"p.retired_at IS NULL AND {status_cond}"
        cond, scope_params = scope_clause(principal, resource, "read", "p.adcode", "p.park_id")
        fields = dict(_PARCEL_FIELDS)
        source = _PARCEL_SOURCE
        if kind == "reserves":
            fields.update(_INDICATOR_FIELDS)
            source += " LEFT JOIN control_indicators ci ON ci.parcel_id = p.id"
        return _Query(source, layer.geom, fields, f"{where} AND {cond}", {**params, **scope_params}, layer.order_by)
    if kind == "cases":
        if conn.execute(text("SELECT to_regclass('idle_cases')")).scalar() is None:
            raise ExportError("idle cases are not available in this database (hggis.idle is not migrated)")
        cond, scope_params = scope_clause(principal, "idle_cases", "read", "p.adcode", "p.park_id")
        have = _table_columns(conn, "idle_cases")
        case_fields = {out: f"ic.{col}" for col, out in _CASE_COLUMNS.items() if col in have}
        latest = "(SELECT DISTINCT ON (parcel_id) * FROM idle_cases ORDER BY parcel_id, id DESC) ic"
        source = f"{latest} JOIN {_PARCEL_SOURCE} ON p.id = ic.parcel_id"
        fields = {**_PARCEL_FIELDS, **case_fields}
        return _Query(source, "p.geom", fields, f"p.retired_at IS NULL AND {cond}", scope_params, "p.code")
    raise ExportError(f"unknown layer {kind!r}: one of {', '.join(EXPORT_KINDS)}, or sites")


def layer_frame(conn: Connection, principal: Principal, kind: str) -> gpd.GeoDataFrame:
    """The features of one layer the principal may read, in EPSG:4490, fields as allowed."""
    q = _layer_query(conn, principal, kind)
    cols = ", ".join(f"{expr} AS {name}" for name, expr in q.fields.items())
    rows = conn.execute(
        text(f"SELECT {cols}, ST_AsBinary({q.geom}) AS __wkb FROM {q.source} WHERE {q.where} ORDER BY {q.order_by}"),
        q.params,
    )
    df = pd.DataFrame(rows.fetchall(), columns=[*q.fields, "__wkb"])
    wkb = df.pop("__wkb").to_numpy(dtype=object)
    geoms = shapely.from_wkb([bytes(w) if w is not None else None for w in wkb]) if len(wkb) else []
    return gpd.GeoDataFrame(df, geometry=list(geoms) if len(wkb) else [], crs=4490)


def features_frame(fc: dict[str, Any]) -> gpd.GeoDataFrame:
    """A GeoDataFrame from a GeoJSON FeatureCollection (e.g. site-finder results), EPSG:4490.

    Non-scalar properties (lists, objects) are kept as JSON text so every format can hold them.
    """
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
        raise ExportError("expected a GeoJSON FeatureCollection")
    feats = fc.get("features") or []
    props = []
    geoms = []
    for f in feats:
        p = {}
        for k, v in (f.get("properties") or {}).items():
            p[k] = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
        props.append(p)
        geoms.append(shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None)
    return gpd.GeoDataFrame(pd.DataFrame(props), geometry=geoms, crs=4490)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def short_field_names(names: list[str], limit: int = 10) -> dict[str, str]:
    """Unique DBF-safe names (ASCII, ≤ ``limit`` characters) for each field name."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = SHORT_NAMES.get(name, name)
        base = re.sub(r"[^A-Za-z0-9_]", "_", base)[:limit] or "field"
        cand, n = base, 1
        while cand.lower() in used:
            suffix = str(n)
            cand = base[: limit - len(suffix)] + suffix
            n += 1
        used.add(cand.lower())
        out[name] = cand
    return out


def _epsg(crs: Any) -> int:
    try:
        code = int(str(crs).upper().removeprefix("EPSG:"))
    except ValueError:
        raise ExportError(f"unknown CRS {crs!r}: one of {', '.join(map(str, EXPORT_EPSG))}") from None
    if code not in EXPORT_EPSG:
        raise ExportError(f"CRS EPSG:{code} not offered: one of {', '.join(map(str, EXPORT_EPSG))}")
    return code


def _encoding(encoding: str | None) -> str:
    enc = ENCODINGS.get((encoding or "utf-8").strip().lower())
    if enc is None:
        raise ExportError(f"unknown encoding {encoding!r}: utf-8 or gbk")
    return enc


def format_for(path: Path, fmt: str | None) -> str:
    if fmt:
        f = fmt.strip().lower()
        if f not in FORMATS:
            raise ExportError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
        return f
    suffix = path.suffix.lower()
    for f, spec in FORMATS.items():
        if suffix == spec["suffix"] or suffix == f".{f}":
            return f
    if suffix == ".json":
        return "geojson"
    raise ExportError(f"cannot tell the format from {path.name!r}: give --format ({', '.join(FORMATS)})")


def _local_iso(value: Any) -> str:
    """An instant as ISO text in 黄冈's zone (+08:00): machine-readable, and the clock people read."""
    return value.astimezone(clock.local_tz()).isoformat(timespec="seconds")


def _plain(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns every driver can store: lists as text, Decimals as floats."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if s.dtype == object:
            sample = next((v for v in s if v is not None and not (isinstance(v, float) and np.isnan(v))), None)
            if isinstance(sample, (list, tuple)):
                out[col] = s.map(lambda v: "、".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
            elif sample is not None and type(sample).__name__ == "Decimal":
                out[col] = s.map(lambda v: float(v) if v is not None else None)
            elif sample is not None and hasattr(sample, "tzinfo") and getattr(sample, "tzinfo", None) is not None:
                out[col] = s.map(lambda v: _local_iso(v) if v is not None else None)
        elif isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.map(lambda v: _local_iso(v) if pd.notna(v) else None)
    return out


def _mapping_csv(fields: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["字段", "完整名称", "含义"])
    for f in fields:
        w.writerow([f["short"], f["name"], f["label"]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def write_frame(
    gdf: gpd.GeoDataFrame,
    out: str | Path,
    *,
    fmt: str | None = None,
    crs: Any = 4490,
    encoding: str | None = None,
    layer: str = "layer",
) -> ExportResult:
    """Write an EPSG:4490 GeoDataFrame as GeoPackage, zipped Shapefile, GeoJSON or CSV (WKT)."""
    out = Path(out)
    f = format_for(out, fmt)
    epsg = _epsg(crs)
    enc = _encoding(encoding)
    spec = FORMATS[f]
    data = _plain(gdf)
    if epsg != 4490:
        data = data.to_crs(epsg)
    names = [c for c in data.columns if c != data.geometry.name]
    labels = {n: FIELD_LABELS.get(n, n) for n in names}
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    if f == "shp":
        short = short_field_names(names)
        data = data.rename(columns=short)
        fields = [{"short": short[n], "name": n, "label": labels[n]} for n in names]
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{layer}.shp"
            try:
                pyogrio.write_dataframe(data, shp, driver=spec["driver"], encoding=enc)
            except UnicodeEncodeError as exc:
                raise ExportError(f"a value cannot be written in {enc}: {exc.reason}; export with encoding utf-8") from None
            cpg = shp.with_suffix(".cpg")
            cpg.write_text(enc)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).iterdir()):
                    zf.write(part, part.name)
                zf.writestr("fields.csv", _mapping_csv(fields))
    else:
        fields = [{"short": n, "name": n, "label": labels[n]} for n in names]
        kwargs: dict[str, Any] = {}
        if f == "csv":
            kwargs.update(GEOMETRY="AS_WKT", encoding=enc)
            if enc == "UTF-8":
                kwargs["WRITE_BOM"] = "YES"
        if f == "geojson" and epsg == 4490:
            kwargs["COORDINATE_PRECISION"] = 9
        try:
            pyogrio.write_dataframe(data, out, driver=spec["driver"], layer=layer if f == "gpkg" else None, **kwargs)
        except UnicodeEncodeError as exc:
            raise ExportError(f"a value cannot be written in {enc}: {exc.reason}; export with encoding utf-8") from None
    return ExportResult(out, f, epsg, len(data), spec["media_type"], fields)


def export_layer(
    conn: Connection,
    principal: Principal,
    kind: str,
    out: str | Path,
    *,
    fmt: str | None = None,
    crs: Any = 4490,
    encoding: str | None = None,
) -> ExportResult:
    """Export one layer within the principal's scope (public view for anonymous callers)."""
    if kind not in EXPORT_KINDS:
        raise ExportError(f"unknown layer {kind!r}: one of {', '.join(EXPORT_KINDS)}")
    format_for(Path(out), fmt), _epsg(crs), _encoding(encoding)  # refuse bad options before querying
    gdf = layer_frame(conn, principal, kind)
    return write_frame(gdf, out, fmt=fmt, crs=crs, encoding=encoding, layer=kind)


def export_features(
    fc: dict[str, Any], out: str | Path, *, fmt: str | None = None, crs: Any = 4490, encoding: str | None = None,
    layer: str = "sites",
) -> ExportResult:
    """Export a FeatureCollection someone was already allowed to see (e.g. site-finder results)."""
    return write_frame(features_frame(fc), out, fmt=fmt, crs=crs, encoding=encoding, layer=layer)


__all__ = [
    "EXPORT_KINDS",
    "FORMATS",
    "ExportError",
    "ExportResult",
    "export_features",
    "export_layer",
    "features_frame",
    "layer_frame",
    "short_field_names",
    "write_frame",
]
