"""Mapbox vector tiles of the large layers, built by PostGIS.

A layer with more than a few thousand features cannot be inlined into a page as GeoJSON
(1 000 000 parcels would be hundreds of megabytes), so the maps draw it from tiles:
``ST_AsMVT`` over ``ST_AsMVTGeom`` in the tile's Web Mercator frame (``ST_TileEnvelope``).

- **The index is used in the storage SRID.** The tile envelope is transformed to EPSG:4490
  for the ``&&`` filter (one transform per tile), never the table's geometry to 3857
  (which would transform every row and defeat the GiST index).
- **Attributes are allow-lists.** The public layer carries the public fields of
  ``hggis.features.LAYERS['parcels']`` (land on offer) and nothing else; the officer and
  evaluation layers carry named subsets, filtered by ``scope_clause`` to the caller's scope.
- **Tiles are revalidated, never stale.** The ETag is a hash of what a tile depends on:
  the layer definition, the caller's scope, and a fingerprint of the rows the layer shows
  in the tile (its own FROM and WHERE: a parcel the layer does not show never changes it,
  so the public ETag cannot reveal edits of non-public parcels), hashing each parcel's
  (id, updated_at) (every parcel write bumps ``updated_at`` in the ``parcels_guard``
  trigger) and each joined park's, holder's, indicator's or case's (id, version). With
  ``If-None-Match`` that costs one index scan, no geometry, and is answered with 304;
  otherwise tile and ETag come from one statement.
- **Built once, without JIT.** ``ST_AsMVTGeom`` runs once per row (materialised rows,
  filtered on the result); JIT and parallel workers are off for the tile's transaction.
- **GCJ-02 for AMap.** With ``shift='gcj02'`` every geometry is translated by the
  WGS84 → GCJ-02 offset at the tile's centre (``hggis.geo.wgs84_to_gcj02``). The offset
  varies by well under a pixel across one tile at any zoom (tests/test_tiles.py checks it),
  so the tile is drawn where AMap's own tiles put the ground.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant, scope_clause
from hggis.errors import Invalid
from hggis.features import LAYERS
from hggis.geo import round_mu_sql, wgs84_to_gcj02
from hggis.idle.cases import STATE_LABELS
from hggis.mapdata.land import LAND_FIELDS, LAND_SOURCE

#: the investors' filters the public land layer accepts (hggis.mapdata.land.LandFilter)
LAND_PARAMS: tuple[str, ...] = ("adcode", "industry", "min_mu", "max_mu", "max_intensity", "max_tax")
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
#: Bump when a layer's SQL or attributes change, so cached tiles are revalidated.
DEFINITION_VERSION = 2

Shift = Literal["none", "gcj02"]
SHIFTS: tuple[str, ...] = ("none", "gcj02")


class TileError(Invalid):
    """A request for a tile that does not exist (unknown layer, bad z/x/y or parameter)."""


@dataclass(frozen=True)
class TileLayer:
    """One tiled layer: where its rows come from, who may read them, what each feature carries."""

    name: str
    title: str
    resource: str  # POLICY resource read
    source: str  # FROM … (aliases: p = parcels)
    where: str
    fields: dict[str, str]  # attribute name → SQL expression (the allow-list)
    min_zoom: int
    scope_sql: tuple[str, str] | None = None  # (adcode SQL, park SQL) for scope_clause; None: public
    depends: tuple[str, ...] = ("parks",)  # tables whose rows change the attributes
    params: tuple[str, ...] = ()  # query parameters the layer needs (validated by ``bind``)
    # validates the layer's query parameters → (extra SQL condition, bound values)
    bind: Callable[[Connection, Principal, dict[str, Any]], tuple[str, dict[str, Any]]] | None = field(
        default=None, compare=False
    )
    cache: str = "public"

    def attribute_names(self) -> list[str]:
        return list(self.fields)


def _subset(layer: str, names: tuple[str, ...]) -> dict[str, str]:
    allowed = LAYERS[layer].public_fields
    return {n: allowed[n] for n in names}


def _officer_fields() -> dict[str, str]:
    fields = _subset(
        "parcels_officer",
        ("code", "area_mu", "status", "status_label", "county", "park", "intended_industry", "holder"),
    )
    fields["area_mu"] = round_mu_sql("p.area_mu")
    return fields


def _bind_land(conn: Connection, principal: Principal, query: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The investors' filters (county, industry, area range), validated like the map's."""
    from hggis.mapdata.common import MapRequestError
    from hggis.mapdata.land import LandFilter, check_filter

    try:
        f = check_filter(conn, LandFilter(**{k: query.get(k) for k in LAND_PARAMS}))
    except MapRequestError as exc:
        raise TileError(str(exc)) from None
    return f.sql()


def _bind_run(conn: Connection, principal: Principal, query: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The evaluation layer needs an existing run id."""
    raw = query.get("run")
    try:
        run = int(raw)  # type: ignore[arg-type]  # None and junk are refused just below
    except (TypeError, ValueError):
        raise TileError("run: an evaluation run id (integer) is required") from None
    if conn.execute(text("SELECT 1 FROM evaluation_runs WHERE id = :r"), {"r": run}).first() is None:
        raise TileError(f"run: no evaluation run {run}")
    return "TRUE", {"run": run}


def _bind_scan(conn: Connection, principal: Principal, query: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The idle layer needs an existing scan id; an optional rule narrows it."""
    try:
        scan = int(query.get("scan"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TileError("scan: an idle-land scan id (integer) is required") from None
    if conn.execute(text("SELECT 1 FROM idle_scans WHERE id = :s"), {"s": scan}).first() is None:
        raise TileError(f"scan: no idle-land scan {scan}")
    rule = query.get("rule")
    if rule is None:
        return "TRUE", {"scan": scan}
    if conn.execute(text("SELECT 1 FROM idle_scan_results WHERE scan_id = :s AND rule_code = :r LIMIT 1"),
                    {"s": scan, "r": rule}).first() is None:
        return "FALSE", {"scan": scan}
    return "c.rules_fired @> ARRAY[CAST(:rule AS text)]", {"scan": scan, "rule": rule}


CLASS_LABEL_SQL = (
    "CASE r.class_code WHEN 'A' THEN 'A 优先发展类' WHEN 'B' THEN 'B 鼓励提升类' WHEN 'C' THEN 'C 帮扶转型类' "
    "WHEN 'D' THEN 'D 倒逼整治类' WHEN 'T' THEN 'T 公用事业（不分类）' ELSE '未评价' END"
)

TILE_LAYERS: dict[str, TileLayer] = {
    "parcels": TileLayer(
        name="parcels",
        title="可供土地（挂牌出让中）",
        resource="parcels",
        source=LAND_SOURCE,
        where=LAYERS["parcels"].where,
        fields=LAND_FIELDS,
        min_zoom=10,
        depends=("parks", "control_indicators"),
        params=LAND_PARAMS,
        bind=_bind_land,
        cache="public",
    ),
    "parcels_officer": TileLayer(
        name="parcels_officer",
        title="宗地（全部状态）",
        resource="parcels",
        source=LAYERS["parcels_officer"].source,
        where=LAYERS["parcels_officer"].where,
        fields=_officer_fields(),
        min_zoom=12,
        scope_sql=("p.adcode", "p.park_id"),
        depends=("parks", "enterprises"),
        cache="private",
    ),
    "evaluation": TileLayer(
        name="evaluation",
        title="宗地亩均评价分类",
        resource="evaluation",
        # the parcel's evaluated unit: the one holding most of its land in the run
        source=(
            "parcels p JOIN LATERAL (SELECT l.enterprise_id FROM evaluation_land l WHERE l.run_id = :run "
            "AND l.parcel_id = p.id ORDER BY l.land_mu DESC, l.enterprise_id LIMIT 1) u ON TRUE "
            "JOIN evaluation_results r ON r.run_id = :run AND r.enterprise_id = u.enterprise_id "
            "JOIN counties c ON c.adcode = p.adcode LEFT JOIN parks k ON k.id = p.park_id"
        ),
        where="p.retired_at IS NULL",
        fields={
            "code": "p.code",
            "area_mu": round_mu_sql("p.area_mu"),
            "county": "c.name",
            "park": "k.name",
            "enterprise": "r.name",
            "size_group": "CASE r.size_group WHEN 'above' THEN '规上' WHEN 'below' THEN '规下' END",
            "class_code": "coalesce(r.class_code, '-')",
            "class_label": CLASS_LABEL_SQL,
            "total_score": "r.total_score::float8",
            "rank": "r.rank",
            "group_size": "r.group_size",
            "land_mu": round_mu_sql("r.land_mu"),
            # why a unit with land has no class (no figures, merged into its holder, below the threshold …)
            "reason": "CASE WHEN r.evaluated THEN NULL ELSE r.reason END",
        },
        min_zoom=11,
        scope_sql=("r.adcode", "r.park_id"),
        depends=("parks",),
        params=("run",),
        bind=_bind_run,
        cache="private",
    ),
    "idle": TileLayer(
        name="idle",
        title="闲置土地扫描候选",
        resource="idle_cases",
        # one feature per candidate parcel of the scan: its rules, the longest idle time, the next deadline
        source=(
            "parcels p JOIN LATERAL (SELECT array_agg(x.rule_code ORDER BY ru.sort_order) AS rules_fired, "
            "string_agg(ru.name_zh, '；' ORDER BY ru.sort_order) AS rules, max(x.days) AS days, "
            "min(x.since_date) AS since, min(x.next_deadline) AS next_deadline "
            "FROM idle_scan_results x JOIN idle_scans s ON s.id = x.scan_id "
            "JOIN idle_rules ru ON ru.rule_set_id = s.rule_set_id AND ru.code = x.rule_code "
            "WHERE x.scan_id = :scan AND x.parcel_id = p.id GROUP BY x.parcel_id) c ON TRUE "
            "JOIN counties co ON co.adcode = p.adcode LEFT JOIN parks k ON k.id = p.park_id "
            "LEFT JOIN idle_cases ic ON ic.parcel_id = p.id AND ic.state NOT IN ('closed', 'reoffered') "
            "LEFT JOIN enterprises e ON e.id = p.holder_id"
        ),
        where="TRUE",
        fields={
            "code": "p.code",
            "area_mu": round_mu_sql("p.area_mu"),
            "county": "co.name",
            "park": "k.name",
            "holder": "e.name",
            "rule_code": "c.rules_fired[1]",
            "rules": "c.rules",
            "days_idle": "c.days",
            "since": "c.since::text",
            "next_deadline": "c.next_deadline::text",
            "case_state": "coalesce(" + "CASE ic.state " + " ".join(
                f"WHEN '{k}' THEN '{v}'" for k, v in STATE_LABELS.items()) + " END, '未立案')",
        },
        min_zoom=11,
        scope_sql=("p.adcode", "p.park_id"),
        depends=("parks", "idle_cases", "enterprises"),
        params=("scan", "rule"),
        bind=_bind_scan,
        cache="private",
    ),
}


@dataclass(frozen=True)
class TileRequest:
    layer: TileLayer
    z: int
    x: int
    y: int
    shift: Shift
    where: str
    bind: dict[str, Any]
    scope_key: str


@dataclass(frozen=True)
class Tile:
    data: bytes
    etag: str
    cache_control: str
    public: bool


def check_xyz(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"z must be between 0 and {MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileError(f"x and y must be between 0 and {n - 1} at zoom {z}")


def tile_center(z: int, x: int, y: int) -> tuple[float, float]:
    """Lon/lat of a Web Mercator (XYZ) tile's centre."""
    n = 1 << z
    lon = (x + 0.5) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    return lon, lat


def gcj_offset(z: int, x: int, y: int) -> tuple[float, float]:
    """The WGS84 → GCJ-02 offset (degrees) at the tile's centre; (0, 0) outside China."""
    lon, lat = tile_center(z, x, y)
    glon, glat = wgs84_to_gcj02(lon, lat)
    return glon - lon, glat - lat


def layer_of(name: str) -> TileLayer:
    try:
        return TILE_LAYERS[name]
    except KeyError:
        raise TileError(f"unknown tile layer {name!r} (one of {', '.join(TILE_LAYERS)})") from None


def _scope(principal: Principal, layer: TileLayer) -> tuple[str, dict[str, Any], str]:
    scope = grant(principal, layer.resource, "read")
    if scope is None:
        raise Forbidden(f"role {principal.role} may not read {layer.resource}")
    if layer.scope_sql is None:
        return "TRUE", {}, "public"
    if principal.is_public or scope == "public":
        raise Forbidden(f"the {layer.name} tiles are not public: sign in")
    cond, params = scope_clause(principal, layer.resource, "read", *layer.scope_sql)
    key = f"{principal.role}:{sorted(principal.counties)}:{sorted(principal.parks)}" if scope != "all" else "all"
    return cond, params, key


def prepare(
    conn: Connection, principal: Principal, layer_name: str, z: int, x: int, y: int,
    query: dict[str, Any] | None = None, shift: str = "none",
) -> TileRequest:
    """Validate a tile request and resolve the caller's scope (raises TileError / Forbidden)."""
    layer = layer_of(layer_name)
    check_xyz(z, x, y)
    if shift not in SHIFTS:
        raise TileError(f"shift must be one of {', '.join(SHIFTS)}")
    cond, params, key = _scope(principal, layer)
    bind = dict(params)
    extra = "TRUE"
    if layer.bind is not None:
        extra, values = layer.bind(conn, principal, query or {})
        bind.update(values)
    where = f"({layer.where}) AND ({cond}) AND ({extra})"
    return TileRequest(layer, z, x, y, shift, where, bind, key)  # type: ignore[arg-type]


#: Row versions of the joined tables whose attributes a tile shows: (alias.id, alias.version).
DEPENDENCY_KEYS: dict[str, tuple[str, str]] = {
    "parks": ("k.id", "k.version"),
    "control_indicators": ("ci.parcel_id", "ci.version"),
    "enterprises": ("e.id", "e.version"),
    "idle_cases": ("ic.id", "ic.version"),
}


def _params(req: TileRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"z": req.z, "x": req.x, "y": req.y, "margin": BUFFER / EXTENT, **req.bind}
    if req.shift == "gcj02":
        params["dx"], params["dy"] = gcj_offset(req.z, req.x, req.y)
    return params


def _box_sql(req: TileRequest) -> str:
    """The tile's box (with the buffer margin) in the storage SRID, computed once per query (InitPlan).

    Filtering ``p.geom && box`` in EPSG:4490 uses the GiST index; with a GCJ-02 shift the box
    is moved back by the offset, and only then (no zero translation).
    """
    box = "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4490)"
    if req.shift == "gcj02":
        box = f"ST_Translate({box}, -:dx, -:dy)"
    return f"(SELECT {box})"


def _geom_sql(req: TileRequest) -> str:
    geom = "ST_Translate(p.geom, :dx, :dy)" if req.shift == "gcj02" else "p.geom"
    return f"ST_AsMVTGeom(ST_Transform({geom}, 3857), (SELECT ST_TileEnvelope(:z, :x, :y)), {EXTENT}, {BUFFER}, true)"


def _fingerprint_sql(layer: TileLayer, rows: str) -> str:
    """What the ETag hashes, over the rows the layer shows in the tile (and nothing else).

    A row hash of (id, updated_at) per parcel (``parcels_guard`` bumps ``updated_at`` on every
    write) and of (id, version) per joined row whose names the tile shows. A sum of hashes
    changes when any shown row changes, enters or leaves, even when two writers' ``now()``
    are out of order (a plain ``max(updated_at)`` would miss that). Parcels outside the layer
    (e.g. not on offer, or out of the caller's scope) are not counted: editing them must not
    change the tile's ETag, or the ETag would leak that they exist.
    """
    sums = ["count(*)", f"coalesce(sum({rows}.fp_p), 0)"]
    sums += [f"coalesce(sum({rows}.fp_{i}), 0)" for i, _ in enumerate(layer.depends)]
    return "concat_ws('|', " + ", ".join(sums) + ")"


def _fingerprint_columns(layer: TileLayer) -> str:
    cols = ["hashint8(p.id::int8 # (extract(epoch FROM p.updated_at) * 1000000)::int8) AS fp_p"]
    for i, dep in enumerate(layer.depends):
        key, version = DEPENDENCY_KEYS[dep]
        cols.append(f"hashint8(({key})::int8 * 1000003 + {version}) AS fp_{i}")
    return ", ".join(cols)


def _rows_sql(req: TileRequest, with_geometry: bool) -> str:
    """The layer's rows in the tile: attributes (and the MVT geometry, computed once), fingerprints."""
    cols = [_fingerprint_columns(req.layer)]
    if with_geometry:
        cols.insert(0, ", ".join(f"{expr} AS {name}" for name, expr in req.layer.fields.items()))
        cols.append(f"{_geom_sql(req)} AS geom")
    return f"SELECT {', '.join(cols)} FROM {req.layer.source} WHERE p.geom && {_box_sql(req)} AND {req.where}"


def tile_settings(conn: Connection) -> None:
    """No JIT and no parallel workers for the tile's transaction (SET LOCAL).

    A dense tile's estimated cost passes ``jit_above_cost``: JIT compilation then costs
    47–84 ms per tile, more than building it, and a parallel worker's start-up is not paid
    back by a few thousand rows. Local to the request's transaction, so other queries on
    the pooled connection keep the server's settings.
    """
    conn.execute(text("SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"))


def _etag(req: TileRequest, state: str) -> str:
    parts = [
        req.layer.name, DEFINITION_VERSION, req.z, req.x, req.y, req.shift, req.scope_key,
        sorted((k, str(v)) for k, v in req.bind.items()), state,
    ]
    return '"' + hashlib.sha1(repr(parts).encode()).hexdigest()[:24] + '"'


def etag(conn: Connection, req: TileRequest) -> str:
    """A strong ETag of the tile from the rows it shows (cheap: no geometry is built).

    One GiST index scan of the tile's box with the layer's own FROM and WHERE, hashing row
    versions; the same fingerprint as :func:`render` computes while building the tile.
    """
    tile_settings(conn)
    state = conn.execute(
        text(f"SELECT {_fingerprint_sql(req.layer, 'r')} FROM ({_rows_sql(req, False)}) AS r"), _params(req)
    ).scalar_one()
    return _etag(req, state)


def render(conn: Connection, req: TileRequest) -> tuple[bytes, str]:
    """The MVT bytes of one tile and its ETag, from one statement (one snapshot).

    The rows are materialised once: ``ST_AsMVTGeom`` runs once per row and rows whose
    geometry vanishes at this zoom are dropped on its result; the fingerprint for the ETag
    is taken from the same rows. Below the layer's minimum zoom the tile is empty.
    """
    if req.z < req.layer.min_zoom:
        return b"", etag(conn, req)
    tile_settings(conn)
    names = ", ".join(req.layer.fields)
    sql = f"""
        WITH r AS MATERIALIZED ({_rows_sql(req, True)})
        SELECT (SELECT ST_AsMVT(t, :layer, {EXTENT}, 'geom')
                FROM (SELECT {names}, geom FROM r WHERE geom IS NOT NULL) AS t),
               (SELECT {_fingerprint_sql(req.layer, 'r')} FROM r)
    """
    data, state = conn.execute(text(sql), {**_params(req), "layer": req.layer.name}).one()
    return bytes(data or b""), _etag(req, state)


def build(conn: Connection, req: TileRequest) -> bytes:
    """The MVT bytes of one tile (empty below the layer's minimum zoom)."""
    return render(conn, req)[0]


def cache_control(layer: TileLayer) -> str:
    """Cache, but revalidate every use: the ETag check is cheap and a change shows at once."""
    return "public, no-cache" if layer.cache == "public" else "private, no-cache"


def tile_url(layer_name: str, shift: str = "none", **query: Any) -> str:
    """The URL template Leaflet uses for a layer (``{z}/{x}/{y}`` left for the client)."""
    layer_of(layer_name)
    params = {k: v for k, v in query.items() if v is not None}
    if shift != "none":
        params["shift"] = shift
    qs = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"/tiles/{layer_name}/{{z}}/{{x}}/{{y}}.pbf" + (f"?{qs}" if qs else "")


def can_read(principal: Principal, layer_name: str) -> bool:
    layer = layer_of(layer_name)
    scope = grant(principal, layer.resource, "read")
    if scope is None:
        return False
    return layer.scope_sql is None or scope != "public"
