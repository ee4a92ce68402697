"""Reading features: pages of a collection and single features, as GeoJSON built by PostGIS.

A page is selected on the base table alone (filters, scope, bbox and the id order all
live there, served by the GiST and id indexes), and only the rows of the page are joined
to counties, parks, industries or enterprises and turned into GeoJSON. The features come
back as one JSON text from the database; Python never loops over them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.ogc.collections import View, view_of
from hggis.ogc.counting import Matched, number_matched
from hggis.ogc.crs import CRS84, Crs, bbox_params, envelope_sql, geometry_json_sql
from hggis.ogc.errors import not_found
from hggis.ogc.paging import Cursor
from hggis.ogc.params import ItemsQuery, Params, item_crs, items_query

_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
STATEMENT_TIMEOUT = "30s"


@dataclass(frozen=True)
class ItemsPage:
    collection_id: str
    query: ItemsQuery
    crs: Crs
    features_json: str  # a JSON array of GeoJSON Features
    returned: int
    matched: Matched
    next_cursor: Cursor | None
    prev_cursor: Cursor | None
    prev_offset: int | None  # offset paging: where the previous page starts


def _resolve(conn: Connection, principal: Principal, collection_id: str) -> View:
    view = view_of(conn, principal, collection_id)
    if view is None:
        raise not_found(f"no collection {collection_id!r}")
    return view


def _feature_sql(view: View, crs: Crs, id_sql: str) -> str:
    pairs = []
    for name, expr in view.fields.items():
        if not _FIELD.match(name):
            raise ValueError(f"field name {name!r} of layer {view.layer.name} is not a plain identifier")
        pairs.append(f"'{name}', {expr}")
    return (
        f"json_build_object('type', 'Feature', 'id', {id_sql}, "
        f"'geometry', {geometry_json_sql(view.layer.geom, crs)}, "
        f"'properties', json_build_object({', '.join(pairs)}))"
    )


def _parenthesized(base: str) -> str:
    return f"({base})" if " JOIN " in base.upper() else base


def _session_settings(conn: Connection) -> None:
    """Settings for this request's transaction only.

    Every query is planned with its own bbox values (a generic plan could ignore the GiST
    index); no parallel workers (starting them costs more than a page of 1 000 rows); a
    statement timeout as a safety net.
    """
    conn.execute(
        text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
            "set_config('max_parallel_workers_per_gather', '0', true), "
            "set_config('statement_timeout', :t, true)"
        ),
        {"t": STATEMENT_TIMEOUT},
    )


def read_items(conn: Connection, principal: Principal, collection_id: str, params: Params) -> ItemsPage:
    """One page of a collection for this caller (404 if hidden; 400 for bad parameters)."""
    view = _resolve(conn, principal, collection_id)
    query = items_query(params, view.collection.key_type)
    crs = query.crs or CRS84
    key = view.collection.key
    filters = [view.where()]
    sql_params: dict[str, Any] = dict(view.scope_params)
    if query.bbox is not None:
        filters.append(f"ST_Intersects({view.layer.geom}, {envelope_sql(query.bbox_crs or CRS84)})")
        sql_params.update(bbox_params(query.bbox))
    where = " AND ".join(filters)
    page_where, direction = where, "ASC"
    if query.cursor is not None:
        page_where += f" AND {key} {'>' if query.cursor.direction == 'after' else '<'} :__cursor"
        direction = "ASC" if query.cursor.direction == "after" else "DESC"
    sql = f"""
        WITH hit AS (
            SELECT {key} AS __k FROM {view.base} WHERE {page_where}
            ORDER BY {key} {direction} LIMIT :__fetch OFFSET :__offset
        ), page AS (
            SELECT __k, row_number() OVER (ORDER BY __k {direction}) AS __rank FROM hit
        )
        SELECT (SELECT count(*) FROM page) AS fetched,
               coalesce(string_agg(f.feature, ',' ORDER BY f.__k), '') AS body,
               count(f.__k) AS returned, min(f.__k) AS first_key, max(f.__k) AS last_key
        FROM (
            SELECT page.__k, {_feature_sql(view, crs, 'page.__k')}::text AS feature
            FROM page JOIN {_parenthesized(view.base)} ON {key} = page.__k {view.joins}
            WHERE page.__rank <= :__limit
        ) AS f
    """
    _session_settings(conn)
    row = conn.execute(
        text(sql),
        {
            **sql_params,
            "__cursor": query.cursor.key if query.cursor else None,
            "__fetch": query.limit + 1,
            "__offset": query.offset if query.cursor is None else 0,
            "__limit": query.limit,
        },
    ).one()
    more = row.fetched > query.limit
    next_cursor = prev_cursor = None
    prev_offset = None
    if query.cursor is None:
        if more:
            next_cursor = Cursor("after", row.last_key)
        if query.offset > 0:
            prev_offset = max(0, query.offset - query.limit)
    elif query.cursor.direction == "after":
        next_cursor = Cursor("after", row.last_key) if more else None
        prev_cursor = Cursor("before", row.first_key) if row.returned else None
        prev_offset = 0 if not row.returned else None
    else:
        prev_cursor = Cursor("before", row.first_key) if more else None
        next_cursor = Cursor("after", row.last_key) if row.returned else None
    known = None
    if query.cursor is None and not more and (row.returned > 0 or query.offset == 0):
        known = query.offset + row.returned
    matched = number_matched(conn, f"{view.base} WHERE {where}", sql_params, known)
    return ItemsPage(
        collection_id=collection_id,
        query=query,
        crs=crs,
        features_json=f"[{row.body}]",
        returned=row.returned,
        matched=matched,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        prev_offset=prev_offset,
    )


def read_item(
    conn: Connection, principal: Principal, collection_id: str, feature_id: str, params: Params
) -> tuple[str, Crs]:
    """One feature as GeoJSON text, and the CRS it is in (404 if absent or out of scope)."""
    view = _resolve(conn, principal, collection_id)
    crs = item_crs(params)
    key_type = view.collection.key_type
    try:
        key: Any = key_type(feature_id)
    except ValueError:
        raise not_found(f"no feature {feature_id!r} in {collection_id}") from None
    sql = f"""
        SELECT {_feature_sql(view, crs, view.collection.key)}::text
        FROM {view.base} {view.joins}
        WHERE {view.collection.key} = :__id AND {view.where()}
    """
    _session_settings(conn)
    feature = conn.execute(text(sql), {**view.scope_params, "__id": key}).scalar_one_or_none()
    if feature is None:
        raise not_found(f"no feature {feature_id!r} in {collection_id}")
    return feature, crs


EXTENT_EXACT_ROWS = 100_000


def extent_crs84(conn: Connection, view: View) -> list[float] | None:
    """The collection's bounding box (lon/lat): exact on small tables, from statistics on large ones.

    On a large table the planner statistics' extent of the whole table is used (a cover
    of the caller's view, not a tight box), so listing collections never scans a million
    geometries.
    """
    rows = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": view.source.main_table}
    ).scalar_one_or_none()
    geom_column = view.layer.geom.split(".", 1)[1]
    box = None
    if rows is not None and rows > EXTENT_EXACT_ROWS:
        box = conn.execute(
            text(
                "SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] "
                "FROM (SELECT ST_EstimatedExtent(:t, :g)::geometry AS e) AS s WHERE e IS NOT NULL"
            ),
            {"t": view.source.geom_table, "g": geom_column},
        ).scalar_one_or_none()
    if box is None:
        box = conn.execute(
            text(
                f"SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM "
                f"(SELECT ST_Extent({view.layer.geom})::geometry AS e FROM {view.base} WHERE {view.where()}) AS s "
                "WHERE e IS NOT NULL"
            ),
            view.scope_params,
        ).scalar_one_or_none()
    return [round(float(v), 6) for v in box] if box else None
