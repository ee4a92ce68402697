"""Importing DEMs and keeping parcels' terrain statistics current.

``import_dem`` computes the slope raster and the statistics of every parcel within the
DEM's footprint in one windowed pass, then records the DEM (audited, in ``dems``) and the
statistics (derived, in ``parcel_terrain``) in one transaction.

Which DEM a parcel's statistics come from: the one that covers it best (highest
coverage); among equals, the newest import. A later import therefore replaces statistics
it covers at least as well, and never degrades a parcel to a worse-covering DEM.

``refresh_terrain`` recomputes parcels whose geometry changed since their statistics were
computed (the stored ``geom_md5`` no longer matches ``md5(ST_AsEWKB(geom))``) and parcels
that lie on a DEM but have no statistics yet. Code that edits parcels calls it on its own
connection after the edit, so the statistics follow the geometry inside the same
transaction.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, can, scope_clause
from hggis.config import get_settings
from hggis.db.session import transaction
from hggis.terrain.dem import DEFAULT_BLOCK_SIZE, DemError, DemInfo, open_dem, sha256_of
from hggis.terrain.slope import write_slope
from hggis.terrain.zonal import ParcelShapes, ZonalAccumulator, ZonalResult, zonal_from_files

PhaseProgress = Callable[[str, int, int], None]
REPORT_LIST_LIMIT = 50  # parcels listed by name in a report; the counts are always complete


def terrain_dir() -> Path:
    """Where slope rasters are written: ``HGGIS_VAR_DIR/terrain``."""
    return Path(get_settings().hggis_var_dir) / "terrain"


@dataclass
class ParcelCoverage:
    code: str
    coverage: float


@dataclass
class ImportReport:
    """What an import did, for the CLI and for the caller's records."""

    dem_id: int
    name: str
    crs: str
    crs_from_file: bool
    width: int
    height: int
    pixel_size_m: float
    slope_path: str
    valid_fraction: float
    replaced: bool
    reused_slope: bool
    parcels: int = 0  # parcels within the DEM's footprint
    stored: int = 0  # of which this DEM now provides the statistics
    full: int = 0
    partial: list[ParcelCoverage] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)  # in the footprint, no valid cell
    small: int = 0  # smaller than a cell: value under the centroid
    without_terrain: int = 0  # active parcels (in scope) that no DEM covers
    slope_seconds: float = 0.0
    zonal_seconds: float = 0.0
    seconds: float = 0.0


@dataclass
class RefreshReport:
    refreshed: int = 0
    removed: int = 0  # stale statistics dropped: the parcel left every DEM
    partial: list[ParcelCoverage] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)  # DEMs whose files are gone
    seconds: float = 0.0


@dataclass
class _Parcels:
    ids: list[int]
    codes: list[str]
    geoms: list[Any]
    md5: list[str]


# --------------------------------------------------------------------------------------
# Reading parcels
# --------------------------------------------------------------------------------------


def _parcels_on_footprint(conn: Connection, footprint_wkb: bytes, scope_sql: str, params: dict) -> _Parcels:
    rows = conn.execute(
        text(
            f"""
            SELECT p.id, p.code, ST_AsBinary(p.geom) AS wkb, md5(ST_AsEWKB(p.geom)) AS geom_md5
              FROM parcels p
             WHERE p.retired_at IS NULL AND ST_Intersects(p.geom, ST_GeomFromWKB(:footprint, 4490))
               AND {scope_sql}
             ORDER BY p.id
            """
        ),
        {"footprint": footprint_wkb, **params},
    ).all()
    return _as_parcels(rows)


def _as_parcels(rows: Sequence[Any]) -> _Parcels:
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else []
    return _Parcels([r.id for r in rows], [r.code for r in rows], list(geoms), [r.geom_md5 for r in rows])


# --------------------------------------------------------------------------------------
# Writing statistics
# --------------------------------------------------------------------------------------

UPSERT = """
INSERT INTO parcel_terrain (parcel_id, terrain_dem_id, mean_slope_deg, max_slope_deg, mean_elevation_m,
                            terrain_coverage, cells, valid_cells, method, geom_md5, terrain_updated_at)
SELECT u.*, now()
  FROM unnest(CAST(:parcel_id AS integer[]), CAST(:dem_id AS integer[]), CAST(:mean_slope AS float8[]),
              CAST(:max_slope AS float8[]), CAST(:mean_elev AS float8[]), CAST(:coverage AS float8[]),
              CAST(:cells AS integer[]), CAST(:valid AS integer[]), CAST(:method AS text[]),
              CAST(:md5 AS text[])) AS u
ON CONFLICT (parcel_id) DO UPDATE SET
       terrain_dem_id = EXCLUDED.terrain_dem_id, mean_slope_deg = EXCLUDED.mean_slope_deg,
       max_slope_deg = EXCLUDED.max_slope_deg, mean_elevation_m = EXCLUDED.mean_elevation_m,
       terrain_coverage = EXCLUDED.terrain_coverage, cells = EXCLUDED.cells,
       valid_cells = EXCLUDED.valid_cells, method = EXCLUDED.method, geom_md5 = EXCLUDED.geom_md5,
       terrain_updated_at = EXCLUDED.terrain_updated_at
"""
# An import replaces a parcel's statistics only where it covers the parcel at least as well.
ONLY_IF_BETTER = """
 WHERE parcel_terrain.terrain_dem_id = EXCLUDED.terrain_dem_id
    OR parcel_terrain.geom_md5 IS DISTINCT FROM EXCLUDED.geom_md5
    OR EXCLUDED.terrain_coverage >= parcel_terrain.terrain_coverage
"""


def _store(conn: Connection, rows: list[dict], only_if_better: bool) -> int:
    if not rows:
        return 0
    params = {
        "parcel_id": [r["parcel_id"] for r in rows],
        "dem_id": [r["dem_id"] for r in rows],
        "mean_slope": [r["mean_slope_deg"] for r in rows],
        "max_slope": [r["max_slope_deg"] for r in rows],
        "mean_elev": [r["mean_elevation_m"] for r in rows],
        "coverage": [r["terrain_coverage"] for r in rows],
        "cells": [r["cells"] for r in rows],
        "valid": [r["valid_cells"] for r in rows],
        "method": [r["method"] for r in rows],
        "md5": [r["geom_md5"] for r in rows],
    }
    sql = UPSERT + (ONLY_IF_BETTER if only_if_better else "")
    return conn.execute(text(sql), params).rowcount


def _result_rows(result: ZonalResult, dem_id: int, md5_by_id: dict[int, str]) -> list[dict]:
    rows = result.rows()
    for r in rows:
        r["dem_id"] = dem_id
        r["geom_md5"] = md5_by_id[r["parcel_id"]]
    return rows


def _summarise(rows: list[dict], code_by_id: dict[int, str]) -> tuple[int, list[ParcelCoverage], list[str], int]:
    full = sum(1 for r in rows if r["terrain_coverage"] >= 1.0)
    partial = [
        ParcelCoverage(code_by_id[r["parcel_id"]], r["terrain_coverage"])
        for r in rows
        if 0.0 < r["terrain_coverage"] < 1.0
    ]
    not_covered = [code_by_id[r["parcel_id"]] for r in rows if r["terrain_coverage"] <= 0.0]
    small = sum(1 for r in rows if r["method"] == "centroid")
    return full, sorted(partial, key=lambda p: p.coverage), sorted(not_covered), small


# --------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------


def _slope_file(out_dir: Path, checksum: str, info: DemInfo) -> Path:
    """Content-addressed: the same DEM read with the same CRS and nodata gives the same slope."""
    key = hashlib.sha256(f"{checksum}|{info.crs.to_wkt()}|{info.nodata}".encode()).hexdigest()[:16]
    return out_dir / f"slope_{key}.tif"


def _phase(progress: PhaseProgress | None, phase: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(phase, done, total)


def import_dem(
    engine: Engine,
    path: str | Path,
    principal: Principal,
    *,
    name: str | None = None,
    crs: str | None = None,
    nodata: float | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    out_dir: Path | None = None,
    reason: str | None = None,
    progress: PhaseProgress | None = None,
) -> ImportReport:
    """Import (or re-import) a DEM: slope raster, footprint, and parcels' statistics."""
    started = time.perf_counter()
    # A DEM is no county's object; a county officer's import updates their own parcels only.
    scope_sql, scope_params = scope_clause(principal, "imports", "write", "p.adcode", "p.park_id")
    info = open_dem(path, crs=crs, nodata=nodata)
    name = (name or info.path.stem).strip()
    if not name:
        raise DemError(f"DEM {info.path.name}: the name is empty")
    footprint = info.footprint()
    checksum = sha256_of(info.path)
    slope_path = _slope_file(out_dir or terrain_dir(), checksum, info)

    with engine.connect() as conn:
        previous = conn.execute(
            text("SELECT id, slope_path, valid_fraction, elevation_min_m, elevation_max_m FROM dems WHERE name = :n"),
            {"n": name},
        ).first()
        parcels = _parcels_on_footprint(conn, shapely.to_wkb(footprint), scope_sql, scope_params)
    shapes = ParcelShapes.from_cgcs2000(parcels.ids, parcels.geoms, info.crs)

    reused = slope_path.exists() and previous is not None and previous.slope_path == str(slope_path)
    computed = _compute(info, shapes, slope_path, previous if reused else None, block_size, progress)
    dem_row = _dem_row(info, name, checksum, footprint, slope_path, computed, principal)
    why = reason or f"导入DEM {name}（{info.path.name}）"
    with transaction(engine, principal.actor, why) as conn:
        dem_id = _upsert_dem(conn, dem_row)
        rows = _result_rows(computed.result, dem_id, dict(zip(parcels.ids, parcels.md5, strict=True)))
        stored = _store(conn, rows, only_if_better=True)
        # a changed DEM: statistics it gave to parcels this import did not recompute (outside
        # the new footprint, or outside the caller's scope) are recomputed from the best DEM now
        orphans = _drop_not_recomputed(conn, dem_id, parcels.ids) if previous is not None and not reused else []
        if orphans:
            refresh_terrain(conn, orphans, block_size=block_size)
        without = conn.execute(
            text(
                f"""SELECT count(*) FROM parcels p LEFT JOIN parcel_terrain t ON t.parcel_id = p.id
                     WHERE p.retired_at IS NULL AND (t.parcel_id IS NULL OR t.terrain_coverage = 0) AND {scope_sql}"""
            ),
            scope_params,
        ).scalar_one()
    if previous is not None and previous.slope_path != str(slope_path):
        _remove_unused_slope(engine, Path(previous.slope_path))

    full, partial, not_covered, small = _summarise(rows, dict(zip(parcels.ids, parcels.codes, strict=True)))
    return ImportReport(
        dem_id=dem_id,
        name=name,
        crs=info.crs_label,
        crs_from_file=info.crs_from_file,
        width=info.width,
        height=info.height,
        pixel_size_m=dem_row["pixel_size_m"],
        slope_path=str(slope_path),
        valid_fraction=computed.valid_fraction,
        replaced=previous is not None,
        reused_slope=reused,
        parcels=len(parcels.ids),
        stored=stored,
        full=full,
        partial=partial,
        not_covered=not_covered,
        small=small,
        without_terrain=without,
        slope_seconds=computed.slope_seconds,
        zonal_seconds=computed.zonal_seconds,
        seconds=time.perf_counter() - started,
    )


@dataclass
class _Computed:
    result: ZonalResult
    valid_fraction: float
    elevation_min: float | None
    elevation_max: float | None
    slope_seconds: float
    zonal_seconds: float


def _compute(
    info: DemInfo,
    shapes: ParcelShapes,
    slope_path: Path,
    reuse_from: Any | None,
    block_size: int,
    progress: PhaseProgress | None,
) -> _Computed:
    """Slope raster and statistics in one pass; or, for an unchanged DEM, statistics from its slope raster."""
    if reuse_from is not None:
        t0 = time.perf_counter()
        result = zonal_from_files(info, str(slope_path), shapes, block_size, _phase(progress, "zonal"))
        return _Computed(result, reuse_from.valid_fraction, reuse_from.elevation_min_m, reuse_from.elevation_max_m,
                         0.0, time.perf_counter() - t0)
    acc = ZonalAccumulator(shapes, info)
    summary = write_slope(info, slope_path, block_size, sink=acc.add, progress=_phase(progress, "slope"))
    t0 = time.perf_counter()
    result = acc.result()
    return _Computed(result, summary.valid_fraction, summary.elevation_min, summary.elevation_max,
                     summary.seconds, time.perf_counter() - t0)


def _dem_row(
    info: DemInfo, name: str, checksum: str, footprint: Any, slope_path: Path, computed: _Computed, principal: Principal
) -> dict[str, Any]:
    return {
        "name": name,
        "source_name": info.path.name,
        "source_path": str(info.path),
        "source_bytes": info.path.stat().st_size,
        "checksum": checksum,
        "crs": info.crs_label,
        "crs_kind": "geographic" if info.is_geographic else "projected",
        "crs_from_file": info.crs_from_file,
        "width": info.width,
        "height": info.height,
        "res_x": info.res[0],
        "res_y": info.res[1],
        "pixel_size_m": info.centre_pixel_size_m(),
        "bounds": shapely.to_wkb(footprint),
        "nodata": info.nodata,
        "valid_fraction": computed.valid_fraction,
        "elevation_min": computed.elevation_min,
        "elevation_max": computed.elevation_max,
        "slope_path": str(slope_path),
        "imported_by": principal.actor,
    }


def _upsert_dem(conn: Connection, row: dict) -> int:
    return conn.execute(
        text(
            """
            INSERT INTO dems (name, source_name, source_path, source_bytes, checksum_sha256, crs, crs_kind,
                              crs_from_file, width, height, res_x, res_y, pixel_size_m, bounds, nodata,
                              valid_fraction, elevation_min_m, elevation_max_m, slope_path, imported_by)
            VALUES (:name, :source_name, :source_path, :source_bytes, :checksum, :crs, :crs_kind,
                    :crs_from_file, :width, :height, :res_x, :res_y, :pixel_size_m,
                    ST_GeomFromWKB(:bounds, 4490), :nodata, :valid_fraction, :elevation_min, :elevation_max,
                    :slope_path, :imported_by)
            ON CONFLICT (name) DO UPDATE SET
                source_name = EXCLUDED.source_name, source_path = EXCLUDED.source_path,
                source_bytes = EXCLUDED.source_bytes, checksum_sha256 = EXCLUDED.checksum_sha256,
                crs = EXCLUDED.crs, crs_kind = EXCLUDED.crs_kind, crs_from_file = EXCLUDED.crs_from_file,
                width = EXCLUDED.width, height = EXCLUDED.height, res_x = EXCLUDED.res_x,
                res_y = EXCLUDED.res_y, pixel_size_m = EXCLUDED.pixel_size_m, bounds = EXCLUDED.bounds,
                nodata = EXCLUDED.nodata, valid_fraction = EXCLUDED.valid_fraction,
                elevation_min_m = EXCLUDED.elevation_min_m, elevation_max_m = EXCLUDED.elevation_max_m,
                slope_path = EXCLUDED.slope_path, imported_at = now(), imported_by = EXCLUDED.imported_by,
                version = dems.version + 1
            RETURNING id
            """
        ),
        row,
    ).scalar_one()


def _drop_not_recomputed(conn: Connection, dem_id: int, computed_ids: list[int]) -> list[int]:
    return list(
        conn.execute(
            text(
                "DELETE FROM parcel_terrain WHERE terrain_dem_id = :d AND NOT (parcel_id = ANY(:ids)) RETURNING parcel_id"
            ),
            {"d": dem_id, "ids": computed_ids},
        ).scalars()
    )


def _remove_unused_slope(engine: Engine, path: Path) -> None:
    with engine.connect() as conn:
        used = conn.execute(text("SELECT 1 FROM dems WHERE slope_path = :p"), {"p": str(path)}).first()
    if used is None:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------
# Refresh
# --------------------------------------------------------------------------------------

STALE_SQL = """
SELECT p.id, p.code, ST_AsBinary(p.geom) AS wkb, md5(ST_AsEWKB(p.geom)) AS geom_md5,
       ARRAY(SELECT d.id FROM dems d WHERE ST_Intersects(d.bounds, p.geom)
              ORDER BY d.imported_at DESC, d.id DESC) AS dem_ids
  FROM parcels p LEFT JOIN parcel_terrain t ON t.parcel_id = p.id
 WHERE p.retired_at IS NULL
   AND {ids}
   AND (:force OR t.parcel_id IS NULL OR t.geom_md5 <> md5(ST_AsEWKB(p.geom)))
   AND (t.parcel_id IS NOT NULL OR EXISTS (SELECT 1 FROM dems d WHERE ST_Intersects(d.bounds, p.geom)))
 ORDER BY p.id
"""


def refresh_terrain(
    conn: Connection,
    parcel_ids: Sequence[int] | None = None,
    *,
    force: bool = False,
    block_size: int = DEFAULT_BLOCK_SIZE,
    progress: PhaseProgress | None = None,
) -> RefreshReport:
    """Recompute the statistics of changed parcels (all, or those in ``parcel_ids``).

    Call it after editing a parcel's geometry, on the same connection. ``force`` also
    recomputes parcels whose geometry did not change.
    """
    started = time.perf_counter()
    report = RefreshReport()
    ids_sql = "TRUE" if parcel_ids is None else "p.id = ANY(:ids)"
    params: dict[str, Any] = {"force": force}
    if parcel_ids is not None:
        params["ids"] = [int(i) for i in parcel_ids]
    rows = conn.execute(text(STALE_SQL.format(ids=ids_sql)), params).all()
    if not rows:
        report.seconds = time.perf_counter() - started
        return report
    gone = [r.id for r in rows if not r.dem_ids]
    if gone:
        report.removed = conn.execute(
            text("DELETE FROM parcel_terrain WHERE parcel_id = ANY(:ids)"), {"ids": gone}
        ).rowcount
    on_dem = [r for r in rows if r.dem_ids]
    best: dict[int, dict] = {}
    # newest DEM first, so that on equal coverage the newest one keeps the parcel
    for dem in _dems_newest_first(conn, sorted({d for r in on_dem for d in r.dem_ids})):
        members = [r for r in on_dem if dem.id in r.dem_ids]
        for row in _refresh_on_dem(dem, members, block_size, progress, report):
            held = best.get(row["parcel_id"])
            if held is None or row["terrain_coverage"] > held["terrain_coverage"]:
                best[row["parcel_id"]] = row
    chosen = list(best.values())
    report.refreshed = _store(conn, chosen, only_if_better=False)
    _, report.partial, report.not_covered, _ = _summarise(chosen, {r.id: r.code for r in on_dem})
    report.seconds = time.perf_counter() - started
    return report


def _dems_newest_first(conn: Connection, ids: list[int]) -> Sequence[Any]:
    return conn.execute(
        text(
            """SELECT id, name, source_path, source_bytes, crs, nodata, slope_path FROM dems
                WHERE id = ANY(:ids) ORDER BY imported_at DESC, id DESC"""
        ),
        {"ids": ids},
    ).all()


def _refresh_on_dem(dem: Any, members: list[Any], block_size: int, progress: PhaseProgress | None, report: RefreshReport) -> list[dict]:
    source, slope = Path(dem.source_path), Path(dem.slope_path)
    if not source.is_file() or source.stat().st_size != dem.source_bytes or not slope.is_file():
        report.missing_files.append(f"{dem.name}: {source if not source.is_file() else slope}")
        return []
    info = open_dem(source, crs=dem.crs, nodata=dem.nodata)
    parcels = _as_parcels(members)
    shapes = ParcelShapes.from_cgcs2000(parcels.ids, parcels.geoms, info.crs)
    result = zonal_from_files(info, str(slope), shapes, block_size, _phase(progress, f"refresh {dem.name}"))
    return _result_rows(result, dem.id, dict(zip(parcels.ids, parcels.md5, strict=True)))


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def list_dems(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    """Imported DEMs, newest first, with how many parcels take their statistics from each."""
    scope_clause(principal, "imports", "read", "NULL", "NULL")  # raises Forbidden without a grant
    rows = conn.execute(
        text(
            """
            SELECT d.id, d.name, d.source_name, d.crs, d.crs_kind, d.width, d.height, d.pixel_size_m,
                   d.valid_fraction, d.elevation_min_m, d.elevation_max_m, d.imported_at, d.imported_by,
                   d.slope_path, (SELECT count(*) FROM parcel_terrain t
                     WHERE t.terrain_dem_id = d.id AND t.terrain_coverage > 0) AS parcels
              FROM dems d ORDER BY d.imported_at DESC, d.id DESC
            """
        )
    ).mappings()
    return [dict(r) for r in rows]


@dataclass
class TerrainStatus:
    active: int
    full: int
    partial: int
    not_covered: int
    stale: int
    partial_parcels: list[ParcelCoverage]
    not_covered_parcels: list[str]


def terrain_status(conn: Connection, principal: Principal, limit: int = REPORT_LIST_LIMIT) -> TerrainStatus:
    """How many parcels in the caller's scope have full, partial, stale or no terrain statistics."""
    scope_sql, params = scope_clause(principal, "imports", "read", "v.adcode", "v.park_id")
    counts = conn.execute(
        text(
            f"""
            SELECT count(*) AS active,
                   count(*) FILTER (WHERE terrain_status = 'full') AS full,
                   count(*) FILTER (WHERE terrain_status = 'partial') AS partial,
                   count(*) FILTER (WHERE terrain_status = 'not_covered') AS not_covered,
                   count(*) FILTER (WHERE terrain_stale) AS stale
              FROM parcel_terrain_status v WHERE {scope_sql}
            """
        ),
        params,
    ).one()
    partial = conn.execute(
        text(
            f"""SELECT code, terrain_coverage FROM parcel_terrain_status v
                 WHERE terrain_status = 'partial' AND {scope_sql} ORDER BY terrain_coverage, code LIMIT :lim"""
        ),
        {**params, "lim": limit},
    ).all()
    missing = conn.execute(
        text(
            f"""SELECT code FROM parcel_terrain_status v
                 WHERE terrain_status = 'not_covered' AND {scope_sql} ORDER BY code LIMIT :lim"""
        ),
        {**params, "lim": limit},
    ).scalars()
    return TerrainStatus(
        active=counts.active,
        full=counts.full,
        partial=counts.partial,
        not_covered=counts.not_covered,
        stale=counts.stale,
        partial_parcels=[ParcelCoverage(r.code, r.terrain_coverage) for r in partial],
        not_covered_parcels=list(missing),
    )


PUBLIC_FIELDS = ("code", "mean_slope_deg", "max_slope_deg", "mean_elevation_m", "terrain_coverage", "terrain_status")


def parcel_terrain(conn: Connection, principal: Principal, code: str) -> dict[str, Any]:
    """Terrain figures of one live parcel the caller may see (the public: land on offer only).

    Raises LookupError when there is no such parcel or the caller may not see it (the
    same answer, so the public cannot probe for reserves).
    """
    row = conn.execute(
        text(
            """SELECT v.*, d.name AS dem_name FROM parcel_terrain_status v
                 LEFT JOIN dems d ON d.id = v.terrain_dem_id WHERE v.code = :c"""
        ),
        {"c": code},
    ).mappings().first()
    hidden = row is None or not can(principal, "parcels", "read", row["adcode"], row["park_id"])
    if not hidden and principal.is_public and row is not None and row["status"] != "on_offer":
        hidden = True
    if hidden or row is None:
        raise LookupError(f"宗地 {code}: not found")
    fields = PUBLIC_FIELDS if principal.is_public else (
        *PUBLIC_FIELDS, "terrain_method", "terrain_dem_id", "dem_name", "terrain_updated_at", "terrain_stale",
    )
    return {k: row[k] for k in fields}


def mean_slope_by_parcel(conn: Connection, parcel_ids: Sequence[int]) -> dict[int, tuple[float | None, float | None]]:
    """(mean, max) slope in degrees per parcel id, for callers such as the site finder."""
    rows = conn.execute(
        text("SELECT parcel_id, mean_slope_deg, max_slope_deg FROM parcel_terrain WHERE parcel_id = ANY(:ids)"),
        {"ids": [int(i) for i in parcel_ids]},
    ).all()
    return {r.parcel_id: (r.mean_slope_deg, r.max_slope_deg) for r in rows}


__all__ = [
    "ImportReport",
    "RefreshReport",
    "TerrainStatus",
    "import_dem",
    "refresh_terrain",
    "list_dems",
    "terrain_status",
    "parcel_terrain",
    "mean_slope_by_parcel",
    "terrain_dir",
]
