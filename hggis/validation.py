"""Geometry checks shared by every path that writes a polygon (API, imports, demo).

Errors name the feature and the reason, and carry a location a person can find on a map.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.errors import Invalid


class InvalidGeometry(Invalid):
    """A polygon that cannot be stored; the message says which and why."""


def as_multipolygon(geom: BaseGeometry | None, label: str) -> MultiPolygon:
    """A valid, non-empty 2-D MultiPolygon, or InvalidGeometry naming ``label`` and the fault."""
    if geom is None or geom.is_empty:
        raise InvalidGeometry(f"{label}: empty geometry")
    geom = shapely.force_2d(geom)
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon):
        raise InvalidGeometry(f"{label}: expected a polygon, got {geom.geom_type}")
    if not geom.is_valid:
        raise InvalidGeometry(f"{label}: invalid polygon: {shapely.is_valid_reason(geom)}")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidGeometry(
            f"{label}: coordinates are not longitude/latitude degrees (bounds {geom.bounds}); "
            "reproject to EPSG:4490 first"
        )
    return geom


def outside_huanggang(conn: Connection, geoms: list[BaseGeometry]) -> list[int]:
    """Indexes of the geometries whose representative point lies in no county of 黄冈.

    The county polygons are a public approximation (see data/boundaries/PROVENANCE.md),
    so a parcel is judged by a point inside it rather than by exact containment: a parcel
    on a county line or a river bank is accepted, one in another city is not.
    """
    if not geoms:
        return []
    rows = conn.execute(
        text(
            """
            SELECT g.i FROM unnest(CAST(:wkbs AS bytea[])) WITH ORDINALITY AS g(wkb, i)
            WHERE NOT EXISTS (
                SELECT 1 FROM counties c
                WHERE c.boundary IS NOT NULL
                  AND ST_Intersects(c.boundary, ST_PointOnSurface(ST_GeomFromWKB(g.wkb, 4490))))
            ORDER BY g.i
            """
        ),
        {"wkbs": list(shapely.to_wkb(np.asarray(geoms, dtype=object)))},  # one vectorised call
    )
    return [int(r[0]) - 1 for r in rows]
