"""Shared pieces of the map data: the data's date, the county outline, feature collections."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, grant
from hggis.db.models import County, Parcel, Park
from hggis.errors import Invalid
from hggis.geo import wgs84_to_gcj02_arrays
from hggis.summary import dataset_label

#: Simplification of county outlines for display (degrees, ≈ 20 m): invisible at city zoom,
#: and it keeps the page small. Areas are never computed from these.
DISPLAY_TOLERANCE_DEG = 0.0002
DISPLAY_DECIMALS = 6


class MapRequestError(Invalid):
    """A map parameter that cannot be served (field, reason)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class DataNote:
    """What a map says about its data: as of when, and whether it is the synthetic demo."""

    data_date: str | None
    demo: bool
    demo_label: str | None
    detail: str | None = None

    def text(self) -> str:
        parts = [f"数据日期：{self.data_date}" if self.data_date else "数据日期：无数据"]
        if self.detail:
            parts.append(self.detail)
        if self.demo:
            parts.append(self.demo_label or "示例数据")
        return "；".join(parts)


def data_note(conn: Connection, detail: str | None = None, as_of: dt.datetime | str | None = None) -> DataNote:
    """The day the map's data last changed, in 黄冈's calendar; "示例数据" for the demo.

    ``as_of`` is the instant of what the map shows (an evaluation run); otherwise the last
    change of any parcel. Never a fixed date: the demo's generator reference date said
    "2025-06-30" on maps a year later, whatever the data.
    """
    if as_of is None:
        as_of = conn.execute(select(func.max(Parcel.updated_at))).scalar()
    date = clock.display_date(as_of) if as_of is not None else None
    demo = dataset_label(conn)
    if demo:
        label = demo.get("label") or "示例数据"
        if "示例数据" not in label:
            label = "示例数据：" + label
        return DataNote(data_date=date, demo=True, demo_label=label, detail=detail)
    return DataNote(data_date=date, demo=False, demo_label=None, detail=detail)


def feature_collection(conn: Connection, sql: str | Select[Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A FeatureCollection from ``sql`` (text or a Core select) returning rows (geometry json, properties jsonb)."""
    if isinstance(sql, Select):
        q = sql.subquery("q")
        feature = func.json_build_object("type", "Feature", "geometry", q.c.geometry, "properties", q.c.properties)
        query: Any = select(func.coalesce(func.json_agg(feature), literal_column("'[]'::json")))
    else:
        query = text(
            f"SELECT coalesce(json_agg(json_build_object('type', 'Feature', 'geometry', q.geometry, "
            f"'properties', q.properties)), '[]'::json) FROM ({sql}) AS q"
        )
    rows = conn.execute(query, params or {}).scalar_one()
    features = json.loads(rows) if isinstance(rows, str) else rows
    return {"type": "FeatureCollection", "features": features}


def counties(conn: Connection) -> dict[str, Any]:
    """County outlines (public: code and name), simplified for display."""
    return feature_collection(
        conn,
        f"""
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.boundary, {DISPLAY_TOLERANCE_DEG}), {DISPLAY_DECIMALS})::json
                   AS geometry,
               jsonb_build_object('adcode', c.adcode, 'name', c.name) AS properties
        FROM counties c WHERE c.boundary IS NOT NULL ORDER BY c.adcode
        """,
    )


def county_options(conn: Connection) -> list[dict[str, str]]:
    """Every county-level unit (for filters), in code order."""
    return [dict(r._mapping) for r in conn.execute(text("SELECT adcode, name FROM counties ORDER BY adcode"))]


def industry_options(conn: Connection) -> list[dict[str, str]]:
    """The plan's five industries (for filters and legends), in the plan's order."""
    return [
        dict(r._mapping)
        for r in conn.execute(text("SELECT code, name FROM industries ORDER BY sort_order, code"))
    ]


def city_bounds(conn: Connection) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the county outlines, for the initial view."""
    return _extent(conn, County.boundary, None)


def _extent(conn: Connection, column: Any, where: Any) -> list[list[float]] | None:
    """[[south, west], [north, east]] of ``column`` over the rows matching ``where`` (None: no geometry)."""
    box = func.ST_Extent(column)
    query = select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    if where is not None:
        query = query.where(where)
    row = conn.execute(query).one()
    if row[0] is None:
        return None
    return [[row[1], row[0]], [row[3], row[2]]]


def scope_bounds(conn: Connection, principal: Principal, resource: str, action: str = "read",
                 adcode: str | None = None) -> list[list[float]] | None:
    """The initial view of a map: the caller's parks, their counties, or the city.

    A park manager opening a map wants their park, not the whole city with their park a
    speck in it; a county officer their county. ``adcode`` (a county the page is filtered
    to) wins. Parks without a boundary fall back to their counties, then to the city.
    """
    scope = grant(principal, resource, action)
    if adcode is not None:
        return _extent(conn, County.boundary, County.adcode == adcode) or city_bounds(conn)
    if scope == "park" and principal.parks:
        parks = sorted(principal.parks)
        found = _extent(conn, Park.boundary, Park.id.in_(parks))
        if found is None:
            found = _extent(conn, County.boundary,
                            County.adcode.in_(select(Park.adcode).where(Park.id.in_(parks)).scalar_subquery()))
        return found or city_bounds(conn)
    if scope == "county" and principal.counties:
        return _extent(conn, County.boundary, County.adcode.in_(sorted(principal.counties))) or city_bounds(conn)
    return city_bounds(conn)


def _shift_coords(coords: Any) -> Any:
    """Nested GeoJSON coordinate lists, every position moved WGS84 → GCJ-02."""
    if not coords:
        return coords
    if isinstance(coords[0], (int, float)):
        lon, lat = wgs84_to_gcj02_arrays([coords[0]], [coords[1]])
        return [round(float(lon[0]), 7), round(float(lat[0]), 7), *coords[2:]]
    if isinstance(coords[0][0], (int, float)):  # a ring or line: one vectorised call
        arr = np.asarray(coords, dtype=float)
        lon, lat = wgs84_to_gcj02_arrays(arr[:, 0], arr[:, 1])
        return np.round(np.column_stack([lon, lat]), 7).tolist()
    return [_shift_coords(c) for c in coords]


def to_gcj02(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of a GeoJSON geometry, Feature or FeatureCollection in GCJ-02 (to draw over AMap).

    Storage stays CGCS2000; only what is sent to a page drawn on AMap tiles is shifted
    (≈ 550 m near 黄冈, domain.md §2).
    """
    kind = obj.get("type")
    if kind == "FeatureCollection":
        return {**obj, "features": [to_gcj02(f) for f in obj["features"]]}
    if kind == "Feature":
        return {**obj, "geometry": to_gcj02(obj["geometry"]) if obj.get("geometry") else None}
    if kind == "GeometryCollection":
        return {**obj, "geometries": [to_gcj02(g) for g in obj["geometries"]]}
    return {**obj, "coordinates": _shift_coords(obj["coordinates"])}
