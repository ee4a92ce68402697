"""Reference features (roads, ports, rail …) and the public distance summaries of a parcel.

hggis held no transport layers before; this small table takes them from a GeoJSON file
(CLI ``hggis investor load-reference`` or ``POST /api/reference-features``). Each feature
has a ``kind`` (``REFERENCE_KINDS``) and a ``name``; a file is loaded in one transaction
(all or nothing), a feature with the same kind and name replaces the stored one.
Distances are ellipsoidal (geography), rounded for the public: "距最近港口 3.2 km".
"""

from __future__ import annotations

import json
from typing import Any

from shapely.geometry import shape
from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, grant
from hggis.db.models import REFERENCE_KINDS, SRID, Parcel, ReferenceFeature
from hggis.errors import Forbidden, Invalid

MAX_FEATURES = 10_000
# a loose box around 湖北 and its neighbours: coordinates outside are a CRS mistake (e.g. metres)
LON_RANGE, LAT_RANGE = (105.0, 122.0), (24.0, 36.0)
NEAREST_WITHIN_KM = 100.0  # farther than this is not "nearby" and is not shown


class InvalidReferenceFile(Invalid):
    """A reference-feature file that cannot be loaded; the message names the feature and field."""


def parse_features(raw: bytes | str, source: str, default_kind: str | None = None) -> list[dict[str, Any]]:
    """Features of a GeoJSON FeatureCollection as rows (kind, name, WKT), checked one by one."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidReferenceFile(f"{source}: 不是有效的 GeoJSON（{exc}）", field="file") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list) or not features:
        raise InvalidReferenceFile(f"{source}: 应为含要素的 FeatureCollection", field="file")
    if len(features) > MAX_FEATURES:
        raise InvalidReferenceFile(f"{source}: 要素过多（{len(features)} 个，上限 {MAX_FEATURES}）", field="file")
    rows = []
    for i, feature in enumerate(features, start=1):
        where = f"{source} 第 {i} 个要素"
        props = (feature or {}).get("properties") or {}
        kind = str(props.get("kind") or default_kind or "").strip()
        if kind not in REFERENCE_KINDS:
            raise InvalidReferenceFile(f"{where}: kind {kind!r} 应为 {', '.join(REFERENCE_KINDS)} 之一", field="kind")
        name = str(props.get("name") or "").strip()
        if not name or len(name) > 200:
            raise InvalidReferenceFile(f"{where}: 缺少名称 name（或超过 200 字）", field="name")
        try:
            geom = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidReferenceFile(f"{where}（{name}）: 几何无效（{exc}）", field="geometry") from None
        if geom.is_empty or not geom.is_valid:
            raise InvalidReferenceFile(f"{where}（{name}）: 几何为空或无效", field="geometry")
        x0, y0, x1, y1 = geom.bounds
        if not (LON_RANGE[0] <= x0 <= x1 <= LON_RANGE[1] and LAT_RANGE[0] <= y0 <= y1 <= LAT_RANGE[1]):
            raise InvalidReferenceFile(f"{where}（{name}）: 坐标不在经纬度范围内，应为 EPSG:4490/CRS84 经纬度", field="geometry")
        rows.append({"kind": kind, "name": name, "wkt": geom.wkt, "source": source})
    return rows


def load_features(conn: Connection, principal: Principal, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Insert or replace the features (same kind and name); city-wide data, so ``constraint_layers.write``."""
    if grant(principal, "constraint_layers", "write") != "all":
        raise Forbidden(f"{principal.username} may not load reference features: city administrators only")
    r = ReferenceFeature.__table__
    stmt = insert(r).values([
        {"kind": row["kind"], "name": row["name"], "source": row["source"],
         "geom": func.ST_SetSRID(func.ST_GeomFromText(row["wkt"]), SRID)} for row in rows
    ])
    stmt = stmt.on_conflict_do_update(
        constraint="uq_reference_features_kind_name",
        set_={"geom": stmt.excluded.geom, "source": stmt.excluded.source, "version": r.c.version + 1},
    )
    conn.execute(stmt)
    return {"loaded": len(rows), "kinds": sorted({row["kind"] for row in rows})}


def nearest(conn: Connection, parcel_id: int) -> list[dict[str, Any]]:
    """Per kind, the nearest feature within NEAREST_WITHIN_KM of the parcel: name and km (0.1)."""
    p, r = Parcel.__table__, ReferenceFeature.__table__
    target = select(p.c.geom).where(p.c.id == parcel_id).scalar_subquery()
    dist = func.ST_Distance(func.geography(r.c.geom), func.geography(target))
    ranked = (
        select(r.c.kind, r.c.name, dist.label("m"),
               func.row_number().over(partition_by=r.c.kind, order_by=dist).label("n"))
        .where(func.ST_DWithin(func.geography(r.c.geom), func.geography(target), literal(NEAREST_WITHIN_KM * 1000.0)))
        .subquery()
    )
    rows = conn.execute(select(ranked.c.kind, ranked.c.name, ranked.c.m).where(ranked.c.n == 1)).all()
    order = list(REFERENCE_KINDS)
    out = [{"kind": row.kind, "kind_label": REFERENCE_KINDS[row.kind], "name": row.name,
            "km": round(float(row.m) / 1000.0, 1),
            "summary": f"距最近{REFERENCE_KINDS[row.kind]} {float(row.m) / 1000.0:.1f} km（{row.name}）"}
           for row in rows]
    return sorted(out, key=lambda d: order.index(d["kind"]))


def nearby_geojson(conn: Connection, parcel_id: int, margin_deg: float) -> list[dict[str, Any]]:
    """Reference features around the parcel, for the page's map (their geometry is public data)."""
    p, r = Parcel.__table__, ReferenceFeature.__table__
    target = select(p.c.geom).where(p.c.id == parcel_id).scalar_subquery()
    rows = conn.execute(
        select(r.c.kind, r.c.name, func.ST_AsGeoJSON(r.c.geom, 6).label("g"))
        .where(r.c.geom.op("&&")(func.ST_Expand(target, margin_deg))).order_by(r.c.kind, r.c.name).limit(200)
    ).all()
    return [{"type": "Feature", "geometry": json.loads(row.g),
             "properties": {"kind": row.kind, "name": row.name, "label": REFERENCE_KINDS[row.kind]}} for row in rows]
