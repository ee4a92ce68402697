"""Constraint and reference layers: 永久基本农田, 生态保护红线, flood zones, roads, ports, rivers.

A layer has a role. Polygons of a *constraint* layer are cut out of candidate sites by the
site finder; a *reference* layer (a road, a port, a river) is something to measure the
distance to. Kinds map to a default role (``CONSTRAINT_KINDS``); ``其他`` may be either.

Layers are versioned, never edited: importing a layer under the name of an active one
makes a new version and keeps the old one, inactive, with its features, so what the
finder excluded on a past date can still be shown. Layer rows are audited; features are
written once per version and never change, so they are not.

Reading files goes through :func:`read_constraint_file`, which uses the common spatial
reader ``hggis.io.spatial.read_layer`` (any format and CRS it supports, GCJ-02 on request)
and falls back to pyogrio + ``hggis.geo`` when that module is not installed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize, scope_clause
from hggis.errors import Invalid
from hggis.geo import CGCS2000_EPSG, HUANGGANG_BBOX
from hggis.reserves.common import InvalidRequest, NotFound
from hggis.reserves.tables import CONSTRAINT_KINDS, LAYER_ROLES

BATCH = 5000
GEOJSON_DECIMALS = 7


class LayerReadError(Invalid):
    """A layer file that cannot be imported as it is (with what to do about it)."""


@dataclass
class ImportResult:
    layer_id: int
    name: str
    kind: str
    role: str
    version: int
    features: int
    skipped: dict[str, int] = field(default_factory=dict)
    replaced_layer_id: int | None = None
    source_crs: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------
# Reading files (switchable: the common reader, or a small fallback)
# ---------------------------------------------------------------------------------------


def read_constraint_file(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: Any = None,
    source_datum: str | None = None,
    encoding: str | None = None,
    shown_as: str | None = None,
) -> tuple[gpd.GeoDataFrame, str | None, list[str]]:
    """(features in EPSG:4490, the CRS they came in, notes) from any supported file.

    ``shown_as``: the name people know the file by (an upload's), used in messages instead of the server's path.
    """
    try:
        from hggis.io.spatial import read_layer
    except ImportError:  # pragma: no cover - the common reader is part of hggis today
        return _fallback_read(path, layer=layer, crs=crs, source_datum=source_datum, encoding=encoding)
    try:
        gdf = read_layer(path, layer=layer, crs=crs, source_datum=source_datum, encoding=encoding, shown_as=shown_as)
    except ValueError as exc:  # SpatialReadError / CrsRefused carry their own hint
        raise LayerReadError(str(exc)) from None
    report = gdf.attrs.get("read_report")
    return gdf, getattr(report, "crs", None), list(getattr(report, "notes", []) or [])


def _fallback_read(
    path: str | Path, *, layer: str | None, crs: Any, source_datum: str | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame, str | None, list[str]]:
    import pyogrio

    from hggis.geo import gcj02_to_wgs84_geom, guess_crs_from_coords, to_cgcs2000

    try:
        gdf = pyogrio.read_dataframe(str(path), layer=layer, encoding=encoding)
    except Exception as exc:
        raise LayerReadError(f"cannot read {path}: {exc}") from None
    src = crs or gdf.crs
    notes: list[str] = []
    if src is None:
        coords = shapely.get_coordinates(np.asarray(gdf.geometry.values))
        guess = guess_crs_from_coords(coords[:, 0], coords[:, 1])
        if guess.epsg is None:
            raise LayerReadError(f"{path}: no CRS and none can be guessed ({guess.reason}); give --crs")
        src, notes = f"EPSG:{guess.epsg}", [guess.reason]
    geoms = [None if g is None else to_cgcs2000(g, src) for g in gdf.geometry.values]
    if (source_datum or "").lower().replace("-", "") == "gcj02":
        geoms = [None if g is None else gcj02_to_wgs84_geom(g) for g in geoms]
        notes.append("GCJ-02 converted with the iterative inverse")
    out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs=CGCS2000_EPSG)
    return out, str(src), notes


# ---------------------------------------------------------------------------------------
# Preparing features
# ---------------------------------------------------------------------------------------


def _prepare(gdf: gpd.GeoDataFrame, role: str) -> tuple[list[bytes], list[str], dict[str, int], list[str]]:
    """(WKB, properties JSON, skipped counts, geometry types) of the usable features."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    props_frame = gdf.drop(columns=gdf.geometry.name)
    props = json.loads(props_frame.to_json(orient="records", force_ascii=False, date_format="iso")) if len(props_frame.columns) else [{}] * len(gdf)
    skipped: dict[str, int] = {}
    wkbs: list[bytes] = []
    out_props: list[str] = []
    types: set[str] = set()
    minx, miny, maxx, maxy = HUANGGANG_BBOX
    for geom, prop in zip(geoms, props, strict=True):
        if geom is None or geom.is_empty:
            skipped["empty geometry"] = skipped.get("empty geometry", 0) + 1
            continue
        geom = shapely.force_2d(geom)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        if role == "constraint":
            geom = _polygonal(geom)
            if geom is None:
                skipped["not a polygon (a constraint layer cuts areas)"] = skipped.get("not a polygon (a constraint layer cuts areas)", 0) + 1
                continue
        gx0, gy0, gx1, gy1 = geom.bounds
        if gx1 < minx or gx0 > maxx or gy1 < miny or gy0 > maxy:
            skipped["outside 黄冈"] = skipped.get("outside 黄冈", 0) + 1
            continue
        types.add(geom.geom_type)
        wkbs.append(shapely.to_wkb(geom))
        out_props.append(json.dumps({k: v for k, v in prop.items() if v is not None}, ensure_ascii=False))
    return wkbs, out_props, skipped, sorted(types)


def _polygonal(geom: Any) -> Any:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
        return shapely.union_all(parts) if parts else None
    return None


# ---------------------------------------------------------------------------------------
# Import, replace, retire, list
# ---------------------------------------------------------------------------------------


def _check_kind_role(kind: str, role: str | None) -> str:
    if kind not in CONSTRAINT_KINDS:
        raise InvalidRequest("kind", f"unknown kind {kind!r} (one of {', '.join(CONSTRAINT_KINDS)})")
    role = role or CONSTRAINT_KINDS[kind]
    if role not in LAYER_ROLES:
        raise InvalidRequest("role", f"unknown role {role!r} (constraint or reference)")
    return role


def import_layer_frame(
    conn: Connection,
    principal: Principal,
    gdf: gpd.GeoDataFrame,
    *,
    name: str,
    kind: str,
    role: str | None = None,
    adcode: str | None = None,
    source_name: str | None = None,
    source_crs: str | None = None,
    note: str | None = None,
    notes: list[str] | None = None,
) -> ImportResult:
    """Store a GeoDataFrame (EPSG:4490) as a new layer, or a new version of the active one of that name."""
    name = (name or "").strip()
    if not name:
        raise InvalidRequest("name", "a layer needs a name")
    role = _check_kind_role(kind, role)
    if adcode is not None and conn.execute(text("SELECT 1 FROM counties WHERE adcode = :a"), {"a": adcode}).first() is None:
        raise InvalidRequest("adcode", f"unknown county {adcode!r}")
    authorize(principal, "constraint_layers", "write", adcode=adcode)
    if gdf.crs is not None and gdf.crs.to_epsg() != CGCS2000_EPSG:
        gdf = gdf.to_crs(CGCS2000_EPSG)
    wkbs, props, skipped, types = _prepare(gdf, role)
    if not wkbs:
        detail = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "the file has no features"
        raise InvalidRequest("file", f"no usable feature ({detail})")
    old = conn.execute(
        text("SELECT id, adcode, version FROM constraint_layers WHERE name = :n AND active FOR UPDATE"), {"n": name}
    ).first()
    if old is not None:
        authorize(principal, "constraint_layers", "write", adcode=old.adcode)
        conn.execute(text("UPDATE constraint_layers SET active = false, retired_at = now() WHERE id = :i"), {"i": old.id})
    version = conn.execute(
        text("SELECT coalesce(max(version), 0) + 1 FROM constraint_layers WHERE name = :n"), {"n": name}
    ).scalar_one()
    layer_id = conn.execute(
        text(
            """
            INSERT INTO constraint_layers (name, kind, role, version, active, adcode, geometry_types, feature_count,
                                           source_name, source_crs, imported_by, replaces_id, note)
            VALUES (:name, :kind, :role, :version, true, :adcode, :types, :count, :source, :crs, :by, :replaces, :note)
            RETURNING id
            """
        ),
        {
            "name": name, "kind": kind, "role": role, "version": version, "adcode": adcode,
            "types": ", ".join(types), "count": len(wkbs), "source": source_name, "crs": source_crs,
            "by": principal.actor, "replaces": old.id if old else None, "note": note,
        },
    ).scalar_one()
    for start in range(0, len(wkbs), BATCH):
        conn.execute(
            text(
                """
                INSERT INTO constraint_features (layer_id, geom, properties)
                SELECT :layer, ST_GeomFromWKB(g.wkb, 4490), CAST(g.props AS jsonb)
                FROM unnest(CAST(:wkbs AS bytea[]), CAST(:props AS text[])) AS g(wkb, props)
                """
            ),
            {"layer": layer_id, "wkbs": wkbs[start:start + BATCH], "props": props[start:start + BATCH]},
        )
    return ImportResult(
        layer_id=layer_id, name=name, kind=kind, role=role, version=version, features=len(wkbs),
        skipped=skipped, replaced_layer_id=old.id if old else None, source_crs=source_crs, notes=list(notes or []),
    )


def import_layer(
    conn: Connection,
    principal: Principal,
    path: str | Path,
    *,
    name: str,
    kind: str,
    role: str | None = None,
    adcode: str | None = None,
    layer: str | None = None,
    crs: Any = None,
    source_datum: str | None = None,
    encoding: str | None = None,
    note: str | None = None,
    file_name: str | None = None,
) -> ImportResult:
    """Read a file (any supported format/CRS) and store it as a layer version.

    ``file_name`` is the name people know the file by (an upload's original name).
    """
    role = _check_kind_role(kind, role)
    authorize(principal, "constraint_layers", "write", adcode=adcode)
    gdf, src_crs, notes = read_constraint_file(path, layer=layer, crs=crs, source_datum=source_datum, encoding=encoding,
                                               shown_as=file_name)
    return import_layer_frame(
        conn, principal, gdf, name=name, kind=kind, role=role, adcode=adcode,
        source_name=file_name or Path(path).name, source_crs=src_crs, note=note, notes=notes,
    )


def _layer(conn: Connection, layer_id: int) -> Any:
    row = conn.execute(text("SELECT * FROM constraint_layers WHERE id = :i"), {"i": layer_id}).mappings().first()
    if row is None:
        raise NotFound(f"no constraint layer {layer_id}")
    return row


def retire_layer(conn: Connection, principal: Principal, layer_id: int) -> None:
    """Stop using a layer (kept, inactive, with its features)."""
    layer = _layer(conn, layer_id)
    authorize(principal, "constraint_layers", "write", adcode=layer["adcode"])
    if not layer["active"]:
        raise InvalidRequest("layer_id", f"layer {layer_id} is already inactive")
    conn.execute(text("UPDATE constraint_layers SET active = false, retired_at = now() WHERE id = :i"), {"i": layer_id})


LIST_SQL = """
SELECT l.id, l.name, l.kind, l.role, l.version, l.active, l.adcode, c.name AS county, l.geometry_types,
       l.feature_count, l.source_name, l.source_crs, l.imported_at, l.imported_by, l.replaces_id,
       l.retired_at, l.note
FROM constraint_layers l LEFT JOIN counties c ON c.adcode = l.adcode
WHERE (l.active OR :all) AND {where}
ORDER BY l.name, l.version DESC
"""


def list_layers(conn: Connection, principal: Principal, include_inactive: bool = False) -> list[dict[str, Any]]:
    where, params = scope_clause(principal, "constraint_layers", "read", "l.adcode", "NULL")
    rows = conn.execute(text(LIST_SQL.format(where=where)), {**params, "all": include_inactive}).mappings()
    return [dict(r) for r in rows]


def layer_features(
    conn: Connection, principal: Principal, layer_id: int, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """A page of a layer's features as GeoJSON."""
    layer = _layer(conn, layer_id)
    authorize(principal, "constraint_layers", "read", adcode=layer["adcode"])
    if not 1 <= limit <= 5000 or offset < 0:
        raise InvalidRequest("limit", "limit between 1 and 5000, offset ≥ 0")
    features = conn.execute(
        text(
            f"""
            SELECT coalesce(json_agg(json_build_object('type', 'Feature', 'id', f.id,
                       'geometry', ST_AsGeoJSON(f.geom, {GEOJSON_DECIMALS})::json, 'properties', f.properties)
                       ORDER BY f.id), '[]'::json)
            FROM (SELECT * FROM constraint_features WHERE layer_id = :l ORDER BY id LIMIT :lim OFFSET :off) f
            """
        ),
        {"l": layer_id, "lim": limit, "off": offset},
    ).scalar_one()
    if isinstance(features, str):
        features = json.loads(features)
    return {
        "type": "FeatureCollection",
        "layer": {k: layer[k] for k in ("id", "name", "kind", "role", "version", "active")},
        "numberMatched": layer["feature_count"],
        "numberReturned": len(features),
        "features": features,
    }


def reference_layer(conn: Connection, principal: Principal, layer_id: int) -> Any:
    """An active layer to measure distances to (any role); reading it needs the layers grant."""
    layer = _layer(conn, layer_id)
    authorize(principal, "constraint_layers", "read", adcode=layer["adcode"])
    if not layer["active"]:
        raise InvalidRequest("near_layer", f"layer {layer_id} ({layer['name']} v{layer['version']}) is inactive")
    return layer
