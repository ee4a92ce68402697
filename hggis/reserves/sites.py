"""The site finder: where could a project of N 亩 go today?

How a search works (all set-based in PostGIS; Python only ranks and splits big blocks):

1. **Available land.** Live parcels the caller may see as available: anonymous callers
   see land on offer (``on_offer``, which includes recovered land offered again); signed-in
   officers additionally see ``reserve`` land in their scope (county officers their
   counties, park managers their parks, city administrators all). Optional filters: county,
   park, intended industry (parcels planned for another industry are left out; parcels
   without one are kept), maximum slope.
2. **Slope.** Per-parcel terrain statistics (``parcel_terrain``, from ``hggis.terrain``)
   are used when they are current (computed for the parcel's present geometry). A parcel
   whose *mean* slope exceeds ``max_slope`` is left out (the maximum of DEM cells is
   dominated by ditches and embankments, so it is reported, not filtered on). A parcel
   with no statistics, or stale ones, has *unknown* slope: it is kept, the site is flagged
   (``slope_unknown_mu``) and its slope score counts that area at ``unknown_slope_score``
   (default 0.5, i.e. as if ~12° on the default scale).
3. **Constraints.** Polygons of active constraint layers (永久基本农田, 生态保护红线, 洪涝区,
   officers' own layers) are cut out of each parcel (``ST_Difference`` with the union of
   the polygons it meets). What remains of a cut parcel is split into its separate parts;
   parts under ``min_piece_mu`` (default 1 亩) are dropped as unusable slivers. An uncut
   parcel stays one piece, even a multi-part one: it is one legal unit. A parcel cut in
   two may contribute its parts to two different sites.
4. **Blocks.** Remaining pieces are merged into blocks when they are at most the
   adjacency tolerance apart (0.5 m; see ``hggis.reserves.contiguity``). Because cutting
   happens first, a red line through a block splits it into separate candidate blocks,
   each judged on its own; a block that falls below the minimum area is dropped.
5. **Size.** Blocks within [min, max] are candidates as they are. A block above the
   maximum is split into *sub-sites* greedily: from a seed piece (nearest the reference
   point if there is one, else in parcel-code order) grow by the adjacent piece nearest to
   the growing site's centre that keeps it ≤ max, until it reaches the middle of the
   range (or stop earlier, once ≥ min, when the next piece would move it further from the
   middle); keep it if it is ≥ min, remove its pieces, repeat (at most ``max_sub_sites`` per
   block). A block from which no sub-site can be cut is reported under ``too_large``.
6. **Score.** Each component lies in [0, 1], and the score is their weighted mean
   (weights from the setting ``site_finder``; distance only counts when a reference is
   given):

   - area fit = 1 − 0.5·|area − mid| / half-range (1 at the middle of the range, 0.5 at its ends);
   - slope = area-weighted mean of max(0, 1 − mean slope / S) with S = ``max_slope`` or
     ``slope_zero_deg`` (25°), unknown-slope area counting ``unknown_slope_score``;
   - distance = 1 / (1 + d / D), D = ``distance_half_m`` (5 km): 1 on the spot, 0.5 at 5 km.

   d is the geodesic distance (m) from the site to the reference: a point, a park's
   centre (its boundary's centroid, or its parcels' if it has no boundary), or the nearest
   feature of a reference layer (among the 5 features nearest the site's centre, the
   closest pair of points is found in the GK plane and its distance measured on the
   ellipsoid). Ties go to the larger site, then the lower parcel code.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, scope_clause
from hggis.geo import HUANGGANG_BBOX
from hggis.reserves.common import (
    PUBLIC_STATUSES,
    InvalidRequest,
    NotFound,
    get_setting,
    known_county,
    list_scope,
)
from hggis.reserves.constraints import reference_layer
from hggis.reserves.contiguity import tolerance_m, with_zone_sql

M2_PER_MU_SQL = "(2000.0 / 3.0)"
MAX_LIMIT = 100
MAX_AREA_MU = 1_000_000.0
GEOJSON_DECIMALS = 7
SMALL_LAYER = 2000  # features: below this, nearest features are found by sorting, not the index
EPS_MU = 0.001  # a cut that removes less than this (≈ 0.7 m²) is a touch, not a cut


@dataclass
class SiteQuery:
    min_mu: float
    max_mu: float
    adcode: str | None = None
    park_id: int | None = None
    industry: str | None = None
    max_slope_deg: float | None = None
    near: tuple[float, float] | None = None  # lon, lat (EPSG:4490)
    near_park: int | None = None
    near_layer: int | None = None
    limit: int = 20
    chain_link: int | None = None  # start from a 招商 chain link: its industry filters the land


@dataclass
class Reference:
    kind: str  # point / park / layer
    label: str
    wkt: str | None = None  # point (EPSG:4490) for point and park references
    layer_id: int | None = None
    layer_features: int = 0


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _finite(field: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidRequest(field, f"{value!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidRequest(field, "must be a finite number")
    return value


def validate(conn: Connection, principal: Principal, q: SiteQuery) -> Reference | None:
    """Check the query (422 reasons) and resolve its reference; raises InvalidRequest/Forbidden."""
    q.min_mu, q.max_mu = _finite("min_mu", q.min_mu), _finite("max_mu", q.max_mu)
    if q.min_mu <= 0:
        raise InvalidRequest("min_mu", "the minimum area must be positive (亩)")
    if q.min_mu > q.max_mu:
        raise InvalidRequest("min_mu", f"the minimum area {q.min_mu:g} 亩 is larger than the maximum {q.max_mu:g} 亩")
    if q.max_mu > MAX_AREA_MU:
        raise InvalidRequest("max_mu", f"at most {MAX_AREA_MU:g} 亩")
    if q.adcode is not None:
        known_county(conn, q.adcode)
    if q.park_id is not None:
        park = conn.execute(text("SELECT adcode FROM parks WHERE id = :i"), {"i": q.park_id}).first()
        if park is None:
            raise InvalidRequest("park_id", f"unknown park {q.park_id}")
        if q.adcode is not None and park.adcode != q.adcode:
            raise InvalidRequest("park_id", f"park {q.park_id} is not in county {q.adcode}")
    if q.chain_link is not None:
        _industry_of_link(conn, q)
    if q.industry is not None and conn.execute(text("SELECT 1 FROM industries WHERE code = :c"), {"c": q.industry}).first() is None:
        codes = ", ".join(conn.execute(text("SELECT code FROM industries ORDER BY sort_order")).scalars())
        raise InvalidRequest("industry", f"unknown industry {q.industry!r} (one of {codes})")
    if q.max_slope_deg is not None:
        q.max_slope_deg = _finite("max_slope", q.max_slope_deg)
        if not 0 < q.max_slope_deg <= 90:
            raise InvalidRequest("max_slope", "the maximum slope is in degrees, between 0 and 90")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InvalidRequest("limit", f"between 1 and {MAX_LIMIT}")
    given = [k for k in ("near", "near_park", "near_layer") if getattr(q, k) is not None]
    if len(given) > 1:
        raise InvalidRequest(given[1], "give one reference: a point, a park or a layer")
    return _reference(conn, principal, q)


def _industry_of_link(conn: Connection, q: SiteQuery) -> None:
    """A chain link stands for its industry (hggis.projects.chains); a different explicit one is refused."""
    from hggis.errors import NotFound as Missing
    from hggis.projects.chains import link_industry

    try:
        industry, _classes, name = link_industry(conn, q.chain_link)  # type: ignore[arg-type]
    except Missing:
        raise InvalidRequest("chain_link", f"unknown chain link {q.chain_link}") from None
    if q.industry is not None and industry is not None and q.industry != industry:
        raise InvalidRequest("industry", f"chain link {name!r} is of industry {industry!r}, not {q.industry!r}")
    q.industry = q.industry or industry


def _reference(conn: Connection, principal: Principal, q: SiteQuery) -> Reference | None:
    if q.near is not None:
        lon, lat = (_finite("near", v) for v in q.near)
        minx, miny, maxx, maxy = HUANGGANG_BBOX
        if not (minx <= lon <= maxx and miny <= lat <= maxy):
            raise InvalidRequest("near", f"{lon:g},{lat:g} is not a lon,lat point in or near 黄冈 (EPSG:4490)")
        return Reference("point", f"参考点（{lon:.5f}, {lat:.5f}）", wkt=f"POINT({lon!r} {lat!r})")
    if q.near_park is not None:
        row = conn.execute(
            text(
                """
                SELECT k.name, ST_AsText(coalesce(ST_Centroid(k.boundary),
                       (SELECT ST_Centroid(ST_Collect(p.geom)) FROM parcels p WHERE p.park_id = k.id AND p.retired_at IS NULL))) AS wkt
                FROM parks k WHERE k.id = :i
                """
            ),
            {"i": q.near_park},
        ).first()
        if row is None:
            raise InvalidRequest("near_park", f"unknown park {q.near_park}")
        if row.wkt is None:
            raise InvalidRequest("near_park", f"park {q.near_park} has neither a boundary nor parcels to take a centre from")
        return Reference("park", f"{row.name}（中心）", wkt=row.wkt)
    if q.near_layer is not None:
        if principal.is_public:
            raise Forbidden("reference layers are not public: measure from a point (near) or a park (near_park)")
        try:
            layer = reference_layer(conn, principal, q.near_layer)
        except NotFound:
            raise InvalidRequest("near_layer", f"unknown layer {q.near_layer}") from None
        return Reference("layer", f"{layer['name']}（v{layer['version']}，最近要素）", layer_id=layer["id"],
                         layer_features=int(layer["feature_count"]))
    return None


# ---------------------------------------------------------------------------------------
# Step 1–4: pieces of available land and their blocks (one temporary table)
# ---------------------------------------------------------------------------------------


def _terrain_sql(conn: Connection) -> tuple[str, str, str, str, str]:
    """(join, mean slope, max slope, partial flag, stale flag) from hggis.terrain if installed."""
    if conn.execute(text("SELECT to_regclass('public.parcel_terrain') IS NOT NULL")).scalar_one():
        current = "(t.geom_md5 = md5(ST_AsEWKB(p.geom)) AND t.terrain_coverage > 0)"
        return (
            "LEFT JOIN parcel_terrain t ON t.parcel_id = p.id",
            f"CASE WHEN {current} THEN t.mean_slope_deg END",
            f"CASE WHEN {current} THEN t.max_slope_deg END",
            f"coalesce({current} AND t.terrain_coverage < 1, false)",
            "coalesce(t.geom_md5 <> md5(ST_AsEWKB(p.geom)), false)",
        )
    return "", "NULL::float8", "NULL::float8", "false", "false"


def _visibility(principal: Principal) -> tuple[str, dict[str, Any], str]:
    scope = list_scope(principal, "reserves", "read")
    if scope == "public":
        return "p.status = ANY(:public_statuses)", {"public_statuses": list(PUBLIC_STATUSES)}, "公众：仅挂牌出让中地块"
    where, params = scope_clause(principal, "reserves", "read", "p.adcode", "p.park_id")
    label = {"all": "全市储备及挂牌地块", "county": "本县储备地块及全市挂牌地块", "park": "本园区储备地块及全市挂牌地块"}[scope]
    return (
        f"(p.status = ANY(:public_statuses) OR (p.status = 'reserve' AND {where}))",
        {**params, "public_statuses": list(PUBLIC_STATUSES)},
        label,
    )


def _pieces_sql(conn: Connection, principal: Principal, q: SiteQuery, ref: Reference | None) -> tuple[str, dict[str, Any], str]:
    join, mean, mx, partial, stale = _terrain_sql(conn)
    visible, params, label = _visibility(principal)
    filters = ["p.retired_at IS NULL", visible]
    if q.adcode:
        filters.append("p.adcode = :adcode")
        params["adcode"] = q.adcode
    if q.park_id is not None:
        filters.append("p.park_id = :park_id")
        params["park_id"] = q.park_id
    if q.industry:
        filters.append("(p.intended_industry IS NULL OR p.intended_industry = :industry)")
        params["industry"] = q.industry
    slope_filter = "TRUE"
    if q.max_slope_deg is not None:
        slope_filter = "(a.mean_slope IS NULL OR a.mean_slope <= :max_slope)"
        params["max_slope"] = q.max_slope_deg
    pieces = f"""
        WITH avail AS (
            SELECT p.id, p.code, p.adcode, p.park_id, p.status, p.geom, p.area_mu,
                   {mean} AS mean_slope, {mx} AS max_slope, {partial} AS slope_partial, {stale} AS slope_stale
            FROM parcels p {join}
            WHERE {' AND '.join(filters)}
        ),
        kept AS (SELECT a.* FROM avail a WHERE {slope_filter}),
        cut AS (
            SELECT a.id, c.cg, c.layers
            FROM kept a
            CROSS JOIN LATERAL (
                SELECT ST_Union(f.geom) AS cg, array_agg(DISTINCT l.name ORDER BY l.name) AS layers
                FROM constraint_features f
                JOIN constraint_layers l ON l.id = f.layer_id AND l.active AND l.role = 'constraint'
                WHERE f.geom && a.geom AND ST_Intersects(f.geom, a.geom) AND ST_Dimension(f.geom) = 2
            ) c
            WHERE c.cg IS NOT NULL
        ),
        net AS (
            SELECT a.*, c.layers, ST_CollectionExtract(ST_Difference(a.geom, c.cg), 3) AS ng
            FROM kept a JOIN cut c ON c.id = a.id
        ),
        net_mu AS (
            SELECT n.*, coalesce(ST_Area(n.ng::geography) / {M2_PER_MU_SQL}, 0) AS net_mu FROM net n
        ),
        pieces AS (
            SELECT a.id AS parcel_id, a.code, a.adcode, a.park_id, a.status, a.mean_slope, a.max_slope,
                   a.slope_partial, a.slope_stale, a.area_mu AS parcel_mu, a.area_mu AS net_mu,
                   NULL::text[] AS cut_layers, 1 AS part, a.geom, a.area_mu AS mu
            FROM kept a
            WHERE NOT EXISTS (SELECT 1 FROM net_mu n WHERE n.id = a.id AND n.area_mu - n.net_mu > {EPS_MU})
            UNION ALL
            SELECT n.id, n.code, n.adcode, n.park_id, n.status, n.mean_slope, n.max_slope,
                   n.slope_partial, n.slope_stale, n.area_mu, n.net_mu, n.layers, d.path[1], d.geom,
                   ST_Area(d.geom::geography) / {M2_PER_MU_SQL}
            FROM net_mu n CROSS JOIN LATERAL ST_Dump(n.ng) d
            WHERE n.area_mu - n.net_mu > {EPS_MU} AND NOT ST_IsEmpty(n.ng)
        ),
        usable AS (SELECT * FROM pieces WHERE cut_layers IS NULL OR mu >= :min_piece_mu)
        SELECT z.*, ST_Transform(z.geom, z.gk_srid) AS tg FROM ({with_zone_sql('SELECT * FROM usable')}) z
    """
    return pieces, params, label


def _build_pieces(conn: Connection, sql: str, params: dict[str, Any], ref: Reference | None, tol: float) -> None:
    """Materialise the pieces with their block number (``cid``) for the steps that follow."""
    ref_d = "NULL::float8"
    if ref is not None and ref.wkt is not None:
        ref_d = "ST_Distance(w.tg, ST_Transform(ST_GeomFromText(:ref_wkt, 4490), w.gk_srid))"
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.site_pieces"))
    conn.execute(
        text(
            f"""
            CREATE TEMP TABLE site_pieces ON COMMIT DROP AS
            SELECT w.*, (row_number() OVER ())::int AS piece_id,
                   ST_ClusterDBSCAN(w.tg, eps := :tol, minpoints := 1) OVER (PARTITION BY w.adcode) AS cid,
                   {ref_d} AS ref_d
            FROM ({sql}) w
            """
        ),
        {**params, "tol": tol, "ref_wkt": ref.wkt if ref else None},
    )


# ---------------------------------------------------------------------------------------
# Step 5: sizes and sub-sites
# ---------------------------------------------------------------------------------------


def _blocks(conn: Connection) -> Sequence[Any]:
    return conn.execute(
        text("SELECT adcode, cid, sum(mu) AS mu, count(*) AS pieces FROM site_pieces GROUP BY adcode, cid ORDER BY adcode, cid")
    ).all()


def grow_sub_sites(
    nodes: dict[int, dict[str, Any]],
    edges: list[tuple[int, int]],
    min_mu: float,
    max_mu: float,
    max_sites: int,
) -> list[list[int]]:
    """Disjoint connected groups of nodes with min ≤ area ≤ max, grown greedily (see module doc).

    ``nodes``: id → {"mu", "x", "y" (metric centroid), "seed" (sort key)}.
    """
    target = (min_mu + max_mu) / 2
    nbrs: dict[int, set[int]] = {n: set() for n in nodes}
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    remaining = set(nodes)
    sites: list[list[int]] = []
    for seed in sorted(nodes, key=lambda n: nodes[n]["seed"]):
        if len(sites) >= max_sites:
            break
        if seed not in remaining or nodes[seed]["mu"] > max_mu:
            continue
        chosen, total = [seed], nodes[seed]["mu"]
        sx, sy = nodes[seed]["x"] * nodes[seed]["mu"], nodes[seed]["y"] * nodes[seed]["mu"]
        frontier = {n for n in nbrs[seed] if n in remaining}
        while total < target:
            cx, cy = sx / total, sy / total
            fits = [n for n in frontier if total + nodes[n]["mu"] <= max_mu]
            if not fits:
                break
            best = min(fits, key=lambda n: ((nodes[n]["x"] - cx) ** 2 + (nodes[n]["y"] - cy) ** 2, nodes[n]["seed"]))
            if total >= min_mu and abs(total + nodes[best]["mu"] - target) > abs(total - target):
                break  # already in range, and the next piece would take it further from the middle
            chosen.append(best)
            total += nodes[best]["mu"]
            sx += nodes[best]["x"] * nodes[best]["mu"]
            sy += nodes[best]["y"] * nodes[best]["mu"]
            frontier.discard(best)
            frontier |= {n for n in nbrs[best] if n in remaining and n not in chosen}
        if total >= min_mu:
            sites.append(chosen)
            remaining -= set(chosen)
    return sites


def _sub_sites(conn: Connection, oversized: list[tuple[str, int]], q: SiteQuery, tol: float, max_sites: int) -> tuple[list[tuple[tuple[str, int], list[int]]], list[tuple[str, int]]]:
    """(sub-sites per block, blocks from which none could be cut)."""
    if not oversized:
        return [], []
    conn.execute(text("CREATE INDEX ON site_pieces USING gist (tg)"))
    keys = {"ads": [a for a, _ in oversized], "cids": [c for _, c in oversized]}
    over = "(adcode, cid) IN (SELECT * FROM unnest(CAST(:ads AS text[]), CAST(:cids AS int[])))"
    node_rows = conn.execute(
        text(
            f"""
            SELECT piece_id, adcode, cid, mu, code, part, ST_X(ST_Centroid(tg)) AS x, ST_Y(ST_Centroid(tg)) AS y, ref_d
            FROM site_pieces WHERE {over}
            """
        ),
        keys,
    ).all()
    edge_rows = conn.execute(
        text(
            f"""
            SELECT a.piece_id, b.piece_id FROM site_pieces a
            JOIN site_pieces b ON b.adcode = a.adcode AND b.cid = a.cid AND a.piece_id < b.piece_id
                 AND ST_DWithin(a.tg, b.tg, :tol)
            WHERE {over.replace('(adcode, cid)', '(a.adcode, a.cid)')}
            """
        ),
        {**keys, "tol": tol},
    ).all()
    by_block: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    for r in node_rows:
        seed = (r.ref_d if r.ref_d is not None else 0.0, r.code, r.part)
        by_block.setdefault((r.adcode, r.cid), {})[r.piece_id] = {"mu": r.mu, "x": r.x, "y": r.y, "seed": seed}
    block_of = {pid: key for key, nodes in by_block.items() for pid in nodes}
    edges_by_block: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for a, b in edge_rows:
        edges_by_block.setdefault(block_of[a], []).append((a, b))
    result: list[Any] = []
    none: list[Any] = []
    for key in oversized:
        groups = grow_sub_sites(by_block.get(key, {}), edges_by_block.get(key, []), q.min_mu, q.max_mu, max_sites)
        if groups:
            result.extend((key, g) for g in groups)
        else:
            none.append(key)
    return result, none


# ---------------------------------------------------------------------------------------
# Step 6: site figures and score
# ---------------------------------------------------------------------------------------


def _site_members(conn: Connection, fitting: list[tuple[str, int]], subs: list[tuple[tuple[str, int], list[int]]]) -> dict[int, dict[str, Any]]:
    """Write site_members (site_no, piece_id) and return site_no → {kind, block}."""
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.site_members"))
    conn.execute(text("CREATE TEMP TABLE site_members (site_no int, piece_id int) ON COMMIT DROP"))
    meta: dict[int, dict[str, Any]] = {}
    site_nos, piece_ids = [], []
    no = 0
    for key in fitting:
        no += 1
        meta[no] = {"kind": "block", "block": key}
    for key, group in subs:
        no += 1
        meta[no] = {"kind": "sub_site", "block": key}
        site_nos.extend([no] * len(group))
        piece_ids.extend(group)
    if fitting:
        conn.execute(
            text(
                """
                INSERT INTO site_members (site_no, piece_id)
                SELECT b.no, s.piece_id FROM site_pieces s
                JOIN unnest(CAST(:ads AS text[]), CAST(:cids AS int[])) WITH ORDINALITY AS b(adcode, cid, no)
                  ON b.adcode = s.adcode AND b.cid = s.cid
                """
            ),
            {"ads": [a for a, _ in fitting], "cids": [c for _, c in fitting]},
        )
    if site_nos:
        conn.execute(
            text("INSERT INTO site_members SELECT * FROM unnest(CAST(:s AS int[]), CAST(:p AS int[]))"),
            {"s": site_nos, "p": piece_ids},
        )
    return meta


def _site_figures(conn: Connection, ref: Reference | None, cfg: dict[str, Any], slope_zero: float) -> list[dict[str, Any]]:
    if ref is None:
        distance = "NULL::float8"
    elif ref.wkt is not None:
        distance = "ST_Distance(x.g::geography, ST_GeomFromText(:ref_wkt, 4490)::geography)"
    else:
        # Nearest feature: the 5 features nearest the site's centre (index order), then the
        # closest point pair between site and feature in the GK plane, measured geodesically.
        distance = """(SELECT min(ST_Distance(ST_Transform(ST_StartPoint(sl), 4490)::geography,
                                             ST_Transform(ST_EndPoint(sl), 4490)::geography))
                       FROM (SELECT ST_ShortestLine(x.tg, ST_Transform(f.geom, x.srid)) AS sl
                             FROM (SELECT f.geom FROM constraint_features f WHERE f.layer_id = :ref_layer
                                   ORDER BY (f.geom <-> ST_Centroid(x.g)){knn} LIMIT 5) f) c)"""
        # A small layer is cheaper to sort than to walk the shared spatial index (which holds
        # every layer's features); a large one needs the index.
        distance = distance.format(knn=" + 0" if ref.layer_features <= SMALL_LAYER else "")
    sql = f"""
        WITH m AS (SELECT m.site_no, s.* FROM site_members m JOIN site_pieces s ON s.piece_id = m.piece_id),
        per_parcel AS (
            SELECT site_no, parcel_id, min(code) AS code, min(status) AS status, min(park_id) AS park_id,
                   max(parcel_mu) AS parcel_mu, max(net_mu) AS net_mu, max(cut_layers) AS cut_layers
            FROM m GROUP BY site_no, parcel_id
        ),
        x AS (
            SELECT site_no, min(adcode) AS adcode, sum(mu) AS area_mu, ST_Collect(geom) AS g,
                   ST_Collect(tg) AS tg, min(gk_srid) AS srid,
                   sum(mu * mean_slope) FILTER (WHERE mean_slope IS NOT NULL)
                       / nullif(sum(mu) FILTER (WHERE mean_slope IS NOT NULL), 0) AS mean_slope,
                   max(max_slope) AS max_slope,
                   coalesce(sum(mu) FILTER (WHERE mean_slope IS NULL), 0) AS unknown_slope_mu,
                   bool_or(slope_partial) AS slope_partial, bool_or(slope_stale) AS slope_stale,
                   sum(mu * CASE WHEN mean_slope IS NULL THEN :unknown_score
                                 ELSE greatest(0, least(1, 1 - mean_slope / :slope_zero)) END) / sum(mu) AS slope_score
            FROM m GROUP BY site_no
        ),
        p AS (
            SELECT site_no, array_agg(code ORDER BY code) AS codes, count(*) AS parcels,
                   count(*) FILTER (WHERE status = 'reserve') AS reserve_parcels,
                   count(*) FILTER (WHERE status = 'on_offer') AS on_offer_parcels,
                   array_agg(DISTINCT park_id) FILTER (WHERE park_id IS NOT NULL) AS park_ids,
                   sum(parcel_mu) AS gross_mu, sum(parcel_mu - net_mu) AS excluded_mu
            FROM per_parcel
            GROUP BY site_no
        ),
        cuts AS (
            SELECT site_no, array_agg(DISTINCT l ORDER BY l) AS excluded_by
            FROM per_parcel CROSS JOIN LATERAL unnest(cut_layers) AS l
            GROUP BY site_no
        )
        SELECT x.site_no, x.adcode, c.name AS county, x.area_mu, x.mean_slope, x.max_slope, x.unknown_slope_mu,
               x.slope_partial, x.slope_stale, x.slope_score, {distance} AS distance_m,
               p.codes, p.parcels, p.reserve_parcels, p.on_offer_parcels, p.park_ids, p.gross_mu, p.excluded_mu,
               cuts.excluded_by,
               (SELECT array_agg(k.name ORDER BY k.id) FROM parks k WHERE k.id = ANY(p.park_ids)) AS parks
        FROM x JOIN p USING (site_no) LEFT JOIN cuts USING (site_no) JOIN counties c ON c.adcode = x.adcode
    """
    params = {
        "unknown_score": float(cfg["unknown_slope_score"]),
        "slope_zero": slope_zero,
        "ref_wkt": ref.wkt if ref else None,
        "ref_layer": ref.layer_id if ref else None,
    }
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


COMPONENT_LABELS = {"area_fit": "面积契合", "slope": "坡度", "distance": "距离"}


def score_site(site: dict[str, Any], q: SiteQuery, cfg: dict[str, Any], has_ref: bool) -> dict[str, Any]:
    """Score components (value, weight, contribution) and the weighted total of one site."""
    weights = cfg["weights"]
    mid, half = (q.min_mu + q.max_mu) / 2, (q.max_mu - q.min_mu) / 2
    area_fit = 1.0 if half == 0 else max(0.0, 1 - 0.5 * abs(site["area_mu"] - mid) / half)
    comps: dict[str, dict[str, float]] = {
        "area_fit": {"value": area_fit},
        "slope": {"value": float(site["slope_score"])},
    }
    if has_ref and site["distance_m"] is not None:
        comps["distance"] = {"value": 1 / (1 + float(site["distance_m"]) / float(cfg["distance_half_m"]))}
    total_w = sum(float(weights[k]) for k in comps)
    score = 0.0
    for key, comp in comps.items():
        comp["weight"] = float(weights[key])
        comp["contribution"] = comp["value"] * comp["weight"] / total_w if total_w else 0.0
        score += comp["contribution"]
    return {"score": score, "components": comps}


def _explain(site: dict[str, Any], q: SiteQuery, rank: int, neighbour: dict[str, Any] | None, ref: Reference | None) -> str:
    mid = (q.min_mu + q.max_mu) / 2
    c = site["components"]
    parts = [f"第 {rank} 名，总分 {site['score']:.3f}。"]
    parts.append(f"面积 {site['area_mu']:.2f} 亩（区间 {q.min_mu:g}–{q.max_mu:g}，目标中值 {mid:g}），面积契合 {c['area_fit']['value']:.2f}")
    if site["mean_slope_deg"] is not None:
        slope = f"；平均坡度 {site['mean_slope_deg']:.1f}°"
        if site["slope_unknown_mu"] > 0:
            slope += f"（其中 {site['slope_unknown_mu']:.2f} 亩无坡度数据，按默认分计）"
    else:
        slope = "；无坡度数据（按默认分计）"
    parts.append(slope + f"，坡度得分 {c['slope']['value']:.2f}")
    if "distance" in c:
        parts.append(f"；距{ref.label if ref else '参考'} {site['distance_m'] / 1000:.2f} km，距离得分 {c['distance']['value']:.2f}")
    parts.append("。")
    if site["excluded_mu"] > 0.01:
        parts.append(f"已扣除约束层（{'、'.join(site['excluded_by'])}）{site['excluded_mu']:.2f} 亩。")
    if site["kind"] == "sub_site":
        parts.append(f"由 {site['block_area_mu']:.2f} 亩的连片地块中划出。")
    if neighbour is not None:
        diffs = {k: site["components"][k]["contribution"] - neighbour["components"][k]["contribution"]
                 for k in site["components"] if k in neighbour["components"]}
        if rank == 1:
            key = max(diffs, key=lambda k: diffs[k])
            parts.append(f"领先第 2 名 {site['score'] - neighbour['score']:.3f}，主要因{COMPONENT_LABELS[key]}更优。")
        else:
            key = min(diffs, key=lambda k: diffs[k])
            parts.append(f"比第 {rank - 1} 名低 {neighbour['score'] - site['score']:.3f}，主要差在{COMPONENT_LABELS[key]}。")
    return "".join(parts)


def _geometries(conn: Connection, site_nos: list[int]) -> dict[int, Any]:
    if not site_nos:
        return {}
    rows = conn.execute(
        text(
            f"""
            SELECT m.site_no, ST_AsGeoJSON(ST_Union(s.geom), {GEOJSON_DECIMALS}) AS g
            FROM site_members m JOIN site_pieces s ON s.piece_id = m.piece_id
            WHERE m.site_no = ANY(:nos) GROUP BY m.site_no
            """
        ),
        {"nos": site_nos},
    )
    return {r.site_no: json.loads(r.g) for r in rows}


# ---------------------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------------------


def find_sites(conn: Connection, principal: Principal, q: SiteQuery) -> dict[str, Any]:
    """Ranked candidate sites for ``q`` that the caller may see (see the module doc)."""
    started = time.perf_counter()
    # PostGIS functions carry high planner costs, so the JIT would compile for seconds to
    # save milliseconds; this transaction does without it.
    conn.execute(text("SELECT set_config('jit', 'off', true)"))
    ref = validate(conn, principal, q)
    cfg = dict(get_setting(conn, "site_finder"))
    tol = tolerance_m(conn)
    slope_zero = q.max_slope_deg or float(cfg["slope_zero_deg"])
    sql, params, visibility = _pieces_sql(conn, principal, q, ref)
    _build_pieces(conn, sql, {**params, "min_piece_mu": float(cfg["min_piece_mu"])}, ref, tol)
    blocks = _blocks(conn)
    block_mu = {(b.adcode, b.cid): float(b.mu) for b in blocks}
    fitting = [(b.adcode, b.cid) for b in blocks if q.min_mu <= b.mu <= q.max_mu]
    oversized = [(b.adcode, b.cid) for b in blocks if b.mu > q.max_mu]
    subs, too_large_keys = _sub_sites(conn, oversized, q, tol, int(cfg["max_sub_sites"]))
    meta = _site_members(conn, fitting, subs)
    sites = _site_figures(conn, ref, cfg, slope_zero) if meta else []
    for s in sites:
        s.update(meta[s["site_no"]])
        s["block_area_mu"] = block_mu[s["block"]]
        s.update(score_site(s, q, cfg, ref is not None))
    sites.sort(key=lambda s: (-round(s["score"], 9), -s["area_mu"], s["codes"][0]))
    top = sites[: q.limit]
    geoms = _geometries(conn, [s["site_no"] for s in top])
    results = []
    for i, s in enumerate(top, start=1):
        neighbour = (sites[1] if len(sites) > 1 else None) if i == 1 else sites[i - 2]
        results.append(_result(s, i, geoms.get(s["site_no"]), q, neighbour, ref))
    too_large = _too_large(conn, too_large_keys, block_mu)
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.site_members, pg_temp.site_pieces"))
    return {
        "query": asdict(q),
        "chain_link": _link_brief(conn, q.chain_link),
        "visibility": visibility,
        "reference": None if ref is None else {"kind": ref.kind, "label": ref.label},
        "adjacency_tolerance_m": tol,
        "scoring": {
            "weights": cfg["weights"],
            "area_fit": "1 − 0.5·|面积 − 区间中值| / 区间半宽",
            "slope": f"面积加权 max(0, 1 − 平均坡度/{slope_zero:g}°)；无坡度数据按 {cfg['unknown_slope_score']}",
            "distance": f"1 / (1 + 距离/{cfg['distance_half_m']} m)",
        },
        "results": results,
        "too_large": too_large,
        "stats": {
            "blocks": len(blocks),
            "blocks_below_min": sum(1 for b in blocks if b.mu < q.min_mu),
            "blocks_in_range": len(fitting),
            "blocks_above_max": len(oversized),
            "sub_sites": len(subs),
            "candidates": len(sites),
            "returned": len(results),
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    }


def _link_brief(conn: Connection, link_id: int | None) -> dict[str, Any] | None:
    if link_id is None:
        return None
    from hggis.projects.chains import link_brief

    return link_brief(conn, link_id)


def _result(s: dict[str, Any], rank: int, geometry: Any, q: SiteQuery, neighbour: dict[str, Any] | None, ref: Reference | None) -> dict[str, Any]:
    # site_rank / site_score: a site's place in this search, never an enterprise's evaluation
    out = {
        "site_rank": rank,
        "kind": s["kind"],
        "adcode": s["adcode"],
        "county": s["county"],
        "park_ids": sorted(s["park_ids"] or []),
        "parks": s["parks"] or [],
        "area_mu": round(float(s["area_mu"]), 2),
        "gross_mu": round(float(s["gross_mu"]), 2),
        "excluded_mu": round(max(0.0, float(s["excluded_mu"])), 2),
        "excluded_by": s["excluded_by"] or [],
        "block_area_mu": round(s["block_area_mu"], 2),
        "parcel_count": s["parcels"],
        "parcels": s["codes"],
        "reserve_parcels": s["reserve_parcels"],
        "on_offer_parcels": s["on_offer_parcels"],
        "mean_slope_deg": None if s["mean_slope"] is None else round(float(s["mean_slope"]), 2),
        "max_slope_deg": None if s["max_slope"] is None else round(float(s["max_slope"]), 2),
        "slope_unknown_mu": round(float(s["unknown_slope_mu"]), 2),
        "slope_flags": [f for f, on in (("slope_unknown", s["unknown_slope_mu"] > 0), ("slope_partial", s["slope_partial"]),
                                         ("slope_stale", s["slope_stale"])) if on],
        "distance_m": None if s["distance_m"] is None else round(float(s["distance_m"]), 1),
        "site_score": round(s["score"], 4),
        "components": {k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in s["components"].items()},
        "geometry": geometry,
    }
    out["explanation"] = _explain({**s, **out, "score": s["score"], "components": s["components"]}, q, rank, neighbour, ref)
    return out


def _too_large(conn: Connection, keys: list[tuple[str, int]], block_mu: dict[tuple[str, int], float]) -> list[dict[str, Any]]:
    if not keys:
        return []
    rows = conn.execute(
        text(
            """
            SELECT adcode, cid, array_agg(DISTINCT code ORDER BY code) AS codes, max(mu) AS largest_piece_mu
            FROM site_pieces
            WHERE (adcode, cid) IN (SELECT * FROM unnest(CAST(:ads AS text[]), CAST(:cids AS int[])))
            GROUP BY adcode, cid
            """
        ),
        {"ads": [a for a, _ in keys], "cids": [c for _, c in keys]},
    )
    return [
        {
            "adcode": r.adcode,
            "area_mu": round(block_mu[(r.adcode, r.cid)], 2),
            "parcels": r.codes,
            "largest_piece_mu": round(float(r.largest_piece_mu), 2),
            "reason": "连片面积超过上限，且无法划出面积在区间内的相邻地块组合（单宗地块可能已超过上限）",
        }
        for r in rows
    ]
