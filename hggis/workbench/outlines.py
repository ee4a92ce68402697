"""County outlines as light background for the small maps (no base map on an offline intranet)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

SIMPLIFY_DEG = 0.003  # ≈ 300 m: enough for orientation at city scale, a few KB in the page


def county_outlines(conn: Connection, adcodes: list[str] | None = None) -> list[dict[str, Any]]:
    """Simplified county boundaries (public data) as GeoJSON features marked ``outline``."""
    rows = conn.execute(
        text(
            "SELECT adcode, name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(boundary, :tol), 4) AS g FROM counties "
            "WHERE boundary IS NOT NULL AND (CAST(:a AS text[]) IS NULL OR adcode = ANY(:a)) ORDER BY adcode"
        ),
        {"tol": SIMPLIFY_DEG, "a": adcodes},
    )
    return [{"type": "Feature", "geometry": json.loads(r.g), "properties": {"name": r.name, "outline": True}}
            for r in rows]
