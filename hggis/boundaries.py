"""County polygons from ``data/boundaries`` into the database.

The polygons are committed files (see data/boundaries/PROVENANCE.md), loaded on every
``hggis db migrate``; a load that changes nothing writes nothing, so history records only
real boundary changes.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hggis.config import PROJECT_ROOT
from hggis.db.session import transaction

BOUNDARIES_DIR = PROJECT_ROOT / "data" / "boundaries"
COUNTIES_FILE = BOUNDARIES_DIR / "counties.geojson"


def load_boundaries(engine: Engine, path: Path = COUNTIES_FILE, actor: str = "hggis db migrate") -> int:
    """Set each county's polygon from ``path``; returns how many counties changed."""
    gdf = pyogrio.read_dataframe(path)
    changed = 0
    with transaction(engine, actor, f"county boundaries from {path.name}") as conn:
        for row in gdf.itertuples():
            if row.geometry is None or row.geometry.is_empty:
                continue
            geom = shapely.force_2d(row.geometry)
            if geom.geom_type == "Polygon":
                geom = shapely.MultiPolygon([geom])
            result = conn.execute(
                text(
                    "UPDATE counties SET boundary = ST_GeomFromWKB(:wkb, 4490), has_boundary = true "
                    "WHERE adcode = :adcode "
                    "AND (boundary IS NULL OR ST_AsBinary(boundary) <> ST_AsBinary(ST_GeomFromWKB(:wkb, 4490)))"
                ),
                {"wkb": shapely.to_wkb(geom), "adcode": str(row.adcode)},
            )
            changed += result.rowcount
    return changed
