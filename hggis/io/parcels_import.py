"""Importing parcels (宗地) from survey files: a complete report, then all or nothing.

Why it is shaped this way:

- officers need *every* problem of a file at once (feature index, parcel code, reason,
  location), not the first one, so nothing stops at the first error;
- a survey delivery is one unit: if one feature is refused, nothing is written, and a real
  run is one transaction (the log row included);
- 100 000 features must import in well under a minute, so features are staged in a TEMP
  table with COPY and validated and written by set-based SQL; Python never makes a
  database round trip per feature. The audit triggers still write one history row per
  changed parcel (reason "导入 <file>", hggis.io.importlog.import_reason).

Rules applied (thresholds are :class:`ParcelImportOptions` fields with the issue's values):

- geometry: empty, non-polygon or invalid features are refused; with ``fix`` invalid ones
  are repaired by ``ST_MakeValid`` and refused only if the area changes by more than 1 %;
  features whose point-on-surface is in no county of 黄冈 are refused
  (``hggis.validation.outside_huanggang``);
- place: ``hggis.parcel_integrity`` (inside its county and park, no overlap with live
  parcels or other features beyond the tolerance, plausible size), each fault by rule
  code; slivers below the overlap tolerance are warnings;
- values: ``hggis.parcel_values`` (no negative money, dates in a sane window and order);
- codes: ``hggis.identifiers.validate_parcel_code`` (its message is the reason); a code
  twice in one file refuses both features; a retired parcel is not revived by an import;
- scope: the principal needs ``parcels.write`` in the county of every feature's code;
- a declared area column (亩, m² or 公顷, stated in the header, saved with the mapping,
  given as an option, or recognised from the values) is compared with the ellipsoidal
  area; differences above 0.5 % are listed (warnings, not refusals);
- existing codes are updated (history written by the triggers), new codes inserted; an
  empty cell never blanks a stored value;
- holders: a 统一社会信用代码 that no enterprise has yet registers the enterprise (name from
  the 权利人 column, or a placeholder the figures import replaces), in the parcel's county
  and park, so the holder is kept whatever order the files come in (domain.md §5: a
  firm's land is the parcels it holds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import column, func, insert, select, table, text, true
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, can, scope_clause
from hggis.db.maintenance import analyze
from hggis.db.models import PARCEL_CODE_PATTERN, PARCEL_STATUSES
from hggis.db.session import transaction
from hggis.enterprises import ENTERPRISES, pending_name
from hggis.geo import CGCS2000_EPSG, transformer
from hggis.identifiers import validate_credit_code, validate_parcel_code
from hggis.io import values as V
from hggis.io.base import SpatialReadError
from hggis.io.facts import FACT_FIELDS, FACT_KINDS, FACT_PARSERS, FACT_SQL_TYPES
from hggis.io.fieldmap import (
    AREA_UNIT_LABEL,
    M2_PER_UNIT,
    MONEY_TO_WAN,
    ColumnMapping,
    area_unit_from_header,
    area_unit_from_values,
    candidates,
    mapping_exists,
    resolve_columns,
    save_mapping,
)
from hggis.io.importlog import file_checksum, import_reason, record_import, require_import_right, running_import
from hggis.io.parcel_occupants import OCCUPANT_HEADERS, parse_occupants, write_occupants
from hggis.io.spatial import CrsRefused, read_layer_with_report
from hggis.parcel_integrity import check_candidates
from hggis.parcel_values import value_problems
from hggis.validation import outside_huanggang

Progress = Callable[[str, int, int], None]
CHUNK = 10_000
#: what an applied import writes: re-analysed in its transaction, before maps and evaluations read it
WRITTEN_TABLES = ("parcels",)
SAME_GEOMETRY_DEG = 1e-8  # ≈ 1 mm: closer than this to the stored geometry is "unchanged"


@dataclass
class ParcelImportOptions:
    layer: str | None = None
    crs: Any = None
    source_datum: str | None = None
    encoding: str | None = None
    fix: bool = False
    dry_run: bool = False
    mapping: str | None = None  # a data source's saved mapping; saved after a clean run if new
    columns: dict[str, str] = field(default_factory=dict)  # explicit field → column
    area_unit: str | None = None  # mu / m2 / ha
    default_status: str = "reserve"  # status of new parcels when the file has none
    file_name: str | None = None  # the name people know the file by (uploads)
    max_fix_change_pct: float = 1.0
    area_tolerance_pct: float = 0.5


@dataclass
class Issue:
    index: int  # feature index in the file (0-based; the Shapefile FID)
    code: str | None
    kind: str  # geometry, code, location, scope, duplicate, attribute, existing, area, link, repair,
    # or a hggis.parcel_integrity rule (outside_county, outside_park, park_county, overlap, sliver, area_too_*)
    reason: str
    lon: float | None = None
    lat: float | None = None
    severity: str = "error"  # error: refused; warning: listed, imported


@dataclass
class Repair:
    index: int
    code: str | None
    area_before_m2: float
    area_after_m2: float
    change_pct: float
    accepted: bool


@dataclass
class ParcelImportReport:
    file_name: str
    checksum_sha256: str
    size_bytes: int
    dry_run: bool
    actor: str
    status: str = "refused"  # applied | dry_run | refused
    error: str | None = None  # a file-level refusal (CRS, columns …)
    hint: str | None = None
    crs_refused: bool = False  # refused for its coordinate system: the page offers a choice of CRS
    proposed_crs: int | None = None  # the EPSG code a CRS refusal proposes (CLI: --crs, page: preselected)
    swapped_axes: bool = False  # refused because X and Y are exchanged: a CRS choice cannot help
    read: dict[str, Any] | None = None
    mapping: dict[str, Any] | None = None
    features: int = 0
    to_insert: int = 0
    to_update: int = 0
    unchanged: int = 0
    refused: int = 0
    ready: int = 0  # of a refused file: the features without a fault (written once the others are fixed)
    inserted: int = 0
    updated: int = 0
    issues: list[Issue] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    area_check: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    import_id: int | None = None
    adcodes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    holders_registered: list[str] = field(default_factory=list)  # credit codes registered as enterprises

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["errors"] = len(self.errors)
        d["warnings"] = len(self.warnings)
        return d


# --------------------------------------------------------------------------------------
# Attribute preparation (pure Python, vectorised where it matters)
# --------------------------------------------------------------------------------------

_CODE_RX = PARCEL_CODE_PATTERN


def _column(gdf: pd.DataFrame, mapping: ColumnMapping, fld: str) -> pd.Series | None:
    col = mapping.columns.get(fld)
    return gdf[col] if col is not None else None


def _parse_by_value(series: pd.Series, parser: Callable[[Any], tuple[Any, str | None]]) -> tuple[list[Any], dict[int, str]]:
    """Parse each distinct value once (land-use and status columns repeat a handful of values)."""
    parsed: dict[Any, tuple[Any, str | None]] = {}
    out: list[Any] = []
    errors: dict[int, str] = {}
    for i, v in enumerate(series.tolist()):
        key = v if not isinstance(v, float) or not np.isnan(v) else None
        try:
            res = parsed[key]
        except (KeyError, TypeError):
            res = parser(v)
            try:
                parsed[key] = res
            except TypeError:
                pass
        out.append(res[0])
        if res[1]:
            errors[i] = res[1]
    return out, errors


# A 28-character 不动产单元代码 (GB/T 37346) is the 19-character 宗地代码 followed by the
# 定着物 part: F (房屋), L (林木), Q (其他) or W (no building) and 8 digits.
_UNIT_CODE_RX = r"^([0-9]{12}[GJZ][A-Z][0-9]{5})[FLQW][0-9]{8}$"


def _codes(series: pd.Series, notes: list[str] | None = None) -> tuple[list[str | None], dict[int, str]]:
    raw = series.astype("string").str.strip().str.upper()
    unit_codes = raw.str.fullmatch(_UNIT_CODE_RX).fillna(False)
    if unit_codes.any():
        raw = raw.str.replace(_UNIT_CODE_RX, r"\1", regex=True)
        if notes is not None:
            notes.append(
                f"{int(unit_codes.sum())} 个 28 位不动产单元代码按其前 19 位宗地代码读取"
            )
    ok = raw.str.fullmatch(_CODE_RX).fillna(False).to_numpy()
    ok &= raw.str.startswith("4211").fillna(False).to_numpy()
    codes: list[str | None] = [None] * len(raw)
    errors: dict[int, str] = {}
    values = raw.tolist()
    for i, v in enumerate(values):
        if ok[i]:
            codes[i] = v
            continue
        if v is None or v is pd.NA or not str(v).strip():
            errors[i] = "宗地代码 is empty"
            continue
        try:
            codes[i] = validate_parcel_code(str(v))
        except ValueError as exc:
            errors[i] = str(exc)
    return codes, errors


def _money(series: pd.Series, unit: str | None, label: str, notes: list[str]) -> tuple[list[Any], dict[int, str]]:
    factor = MONEY_TO_WAN.get(unit or "万元")
    if factor is None:
        raise SpatialReadError(f"列 {label}：无法识别的金额单位 {unit!r}", "请在表头注明 元、万元 或 亿元")
    if unit is None:
        notes.append(f"列 {label} 未注明单位：按万元读取")
    out, errors = _parse_by_value(series, V.parse_number)
    return [None if v is None else round(v * factor, 2) for v in out], errors


# --------------------------------------------------------------------------------------
# Geometry preparation
# --------------------------------------------------------------------------------------


GEOMETRY_TYPES_ZH = {"Point": "点", "MultiPoint": "多点", "LineString": "线", "MultiLineString": "多线",
                     "GeometryCollection": "几何集合"}


def _multipolygons(geoms: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """2-D MultiPolygons; other types and empties are reported (and staged as NULL)."""
    out = np.array(geoms, dtype=object, copy=True)
    errors: dict[int, str] = {}
    type_id = shapely.get_type_id(out)
    present = type_id >= 0
    for i in np.flatnonzero(~present):
        errors[int(i)] = "没有图形（空记录或无法解析的 WKT）"
    empty = np.zeros(len(out), bool)
    empty[present] = shapely.is_empty(out[present])
    for i in np.flatnonzero(empty):
        errors[int(i)] = "图形为空"
    bad_type = present & ~empty & ~np.isin(type_id, (3, 6))
    for i in np.flatnonzero(bad_type):
        errors[int(i)] = f"应为多边形，实为 {GEOMETRY_TYPES_ZH.get(out[i].geom_type, out[i].geom_type)}"
    keep = present & ~empty & ~bad_type
    out[~keep] = None
    if keep.any():
        sub = shapely.force_2d(out[keep].astype(object))
        polys = shapely.get_type_id(sub) == 3
        if polys.any():
            sub[polys] = shapely.multipolygons(sub[polys], indices=np.arange(int(polys.sum())))
        out[keep] = sub
    return out, errors


def _locations(geoms: np.ndarray, idx: list[int]) -> dict[int, tuple[float, float]]:
    """A point a person can find for each listed feature: centre of its bounding box."""
    out: dict[int, tuple[float, float]] = {}
    for i in idx:
        g = geoms[i]
        if g is None or shapely.is_empty(g):
            continue
        b = g.bounds
        out[i] = (round((b[0] + b[2]) / 2, 6), round((b[1] + b[3]) / 2, 6))
    return out


# --------------------------------------------------------------------------------------
# Staging and set-based checks
# --------------------------------------------------------------------------------------

STAGE_COLUMNS = (
    "idx", "code", "geom", "land_use", "status", "declared", "park_name", "holder_name", "holder_code",
    "contract_no", "contract_kind", "land_price", "agreed_start_date", "agreed_completion_date",
    "planned_investment", *FACT_FIELDS,
)
# Parcel columns an import may set, in the order of the INSERT below.
TRACKED = (
    "geom", "land_use", "status", "park_id", "holder_id", "contract_no", "contract_kind", "land_price",
    "agreed_start_date", "agreed_completion_date", "planned_investment", *FACT_FIELDS,
)

_STAGE_DDL = """
CREATE TEMP TABLE io_stage (
    idx integer PRIMARY KEY,
    code text,
    geom geometry(MultiPolygon, 4490),
    land_use text, status text, declared double precision,
    park_name text, holder_name text, holder_code text,
    contract_no text, contract_kind text, land_price numeric(14, 2),
    agreed_start_date date, agreed_completion_date date, planned_investment numeric(14, 2),
    {facts},
    park_id integer, holder_id integer, existing_id integer, changed boolean
) ON COMMIT DROP
"""


def _stage(conn: Connection, rows: pd.DataFrame, progress: Progress | None) -> None:
    """COPY the prepared rows into the TEMP staging table, in CSV chunks (no per-row Python)."""
    conn.execute(text(_STAGE_DDL.format(facts=", ".join(f"{f} {t}" for f, t in FACT_SQL_TYPES.items()))))
    raw = conn.connection.driver_connection
    assert raw is not None  # a live psycopg connection
    total = len(rows)
    cols = list(STAGE_COLUMNS)
    frame = rows[cols]
    with raw.cursor() as cur:
        # CSV: an unquoted empty field is NULL; blank text was already turned into None.
        with cur.copy(f"COPY io_stage ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)") as cp:
            for lo in range(0, total, CHUNK):
                cp.write(frame.iloc[lo : lo + CHUNK].to_csv(header=False, index=False, lineterminator="\n"))
                if progress:
                    progress("stage", min(lo + CHUNK, total), total)
    conn.execute(text("CREATE INDEX ON io_stage USING gist (geom)"))  # the overlap checks join the stage to itself
    conn.execute(text("ANALYZE io_stage"))


def _geometry_problems(conn: Connection) -> list[tuple[int, str]]:
    rows = conn.execute(
        text(
            """
            SELECT idx, ST_IsValidReason(geom) FROM io_stage
            WHERE geom IS NOT NULL AND NOT ST_IsValid(geom) ORDER BY idx
            """
        )
    ).all()
    return [(int(r[0]), validity_reason_zh(str(r[1]))) for r in rows]


#: GEOS's words for an invalid polygon (ST_IsValidReason), as the import report says them.
GEOS_REASONS_ZH = {
    "Ring Self-intersection": "环自相交",
    "Self-intersection": "自相交",
    "Too few points in geometry component": "图形部件的点数过少",
    "Hole lies outside shell": "内环位于外环之外",
    "Nested holes": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环相互嵌套",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


def validity_reason_zh(reason: str) -> str:
    """``Self-intersection[114.9 30.4]`` → ``自相交 [114.9 30.4]`` (the place stays)."""
    for words, zh in GEOS_REASONS_ZH.items():
        if reason.startswith(words):
            rest = reason[len(words):].strip()
            return f"{zh} {rest}" if rest else zh
    return reason


def _repair(conn: Connection, ids: list[int]) -> list[tuple[int, float, float, bool, bytes | None]]:
    """ST_MakeValid the listed features in place; (idx, area before, after, usable, wkb)."""
    rows = conn.execute(
        text(
            """
            WITH f AS (
                SELECT idx, ST_Area(geom::geography) AS before,
                       ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3)) AS after
                FROM io_stage WHERE idx = ANY(:ids)
            )
            UPDATE io_stage s SET geom = CASE WHEN ST_IsEmpty(f.after) THEN NULL ELSE f.after END
            FROM f WHERE s.idx = f.idx
            RETURNING s.idx, f.before, coalesce(ST_Area(f.after::geography), 0),
                      NOT ST_IsEmpty(f.after) AND ST_IsValid(f.after), ST_AsBinary(f.after)
            """
        ),
        {"ids": ids},
    ).all()
    return [(int(r[0]), float(r[1] or 0.0), float(r[2]), bool(r[3]), r[4]) for r in rows]


def _computed_areas(conn: Connection) -> dict[int, float]:
    """Ellipsoidal areas (m²) of the staged features, kept in ``io_area`` for the size rule.

    The declared-area comparison and hggis.parcel_integrity's size rule need the same
    100 000 geodesic areas; computing them once saves a second pass over the stage.
    """
    conn.execute(text(
        "CREATE TEMP TABLE io_area ON COMMIT DROP AS "
        "SELECT idx, ST_Area(geom::geography) AS area_m2 FROM io_stage WHERE geom IS NOT NULL"
        # a geography refuses coordinates beyond ±180/±90: such features are refused elsewhere
        " AND ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90"
    ))
    conn.execute(text("ALTER TABLE io_area ADD PRIMARY KEY (idx)"))
    rows = conn.execute(text("SELECT idx, area_m2 FROM io_area")).all()
    return {int(i): float(a) for i, a in rows}


def _resolve_links(conn: Connection, principal: Principal, report: ParcelImportReport) -> list[tuple[int, str, str]]:
    """Park and holder ids from names / credit codes; (idx, kind, value) of the unresolved.

    Unknown credit codes are registered as enterprises (``report.holders_registered``).

    A credit code names any enterprise (whoever has the code may); a bare name only one
    the importer may read, so an import cannot read out another county's firm by name.
    """
    scope_sql, scope_params = scope_clause(principal, "enterprises", "read", "adcode", "park_id")
    conn.execute(text("UPDATE io_stage s SET park_id = k.id FROM parks k WHERE s.park_name IS NOT NULL AND k.name = s.park_name"))
    conn.execute(
        text(
            "UPDATE io_stage s SET holder_id = e.id FROM enterprises e "
            "WHERE s.holder_code IS NOT NULL AND e.credit_code = s.holder_code"
        )
    )
    report.holders_registered = _register_holders(conn)
    conn.execute(
        text(
            f"""
            UPDATE io_stage s SET holder_id = e.id
            FROM (SELECT name, min(id) AS id FROM enterprises WHERE {scope_sql} GROUP BY name HAVING count(*) = 1) e
            WHERE s.holder_id IS NULL AND s.holder_name IS NOT NULL AND e.name = s.holder_name
            """
        ),
        scope_params,
    )
    rows = conn.execute(
        text(
            """
            SELECT idx, 'park', park_name FROM io_stage WHERE park_name IS NOT NULL AND park_id IS NULL
            UNION ALL
            SELECT idx, 'holder', coalesce(holder_code, holder_name) FROM io_stage
             WHERE (holder_name IS NOT NULL OR holder_code IS NOT NULL) AND holder_id IS NULL
            ORDER BY 1
            """
        )
    ).all()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


_HOLDER_STAGE = table(
    "io_stage", column("idx"), column("code"), column("park_id"), column("holder_code"), column("holder_name"),
    column("holder_id"),
)


def _register_holders(conn: Connection) -> list[str]:
    """Register the enterprises of credit codes nobody has, from their first feature; link them.

    The enterprise's county is its first parcel's (the code's first six digits), its park
    that parcel's park; the name is the 权利人 cell or a placeholder naming the code.
    """
    s = _HOLDER_STAGE.c
    unknown = s.holder_code.isnot(None) & s.holder_id.is_(None) & s.code.isnot(None)
    first = select(func.min(s.idx)).where(unknown).group_by(s.holder_code)
    source = select(
        s.holder_code, func.coalesce(s.holder_name, pending_name(s.holder_code)), func.substr(s.code, 1, 6), s.park_id
    ).where(s.idx.in_(first))
    added = conn.execute(
        insert(ENTERPRISES)
        .from_select(["credit_code", "name", "adcode", "park_id"], source)
        .returning(ENTERPRISES.c.credit_code, ENTERPRISES.c.id)
    ).all()
    if added:
        e = ENTERPRISES.alias("e")
        conn.execute(
            _HOLDER_STAGE.update()
            .where(s.holder_id.is_(None), s.holder_code == e.c.credit_code)
            .values(holder_id=e.c.id)
        )
    return sorted(code for code, _id in added)


_CHANGED = "(p.{cols}) IS DISTINCT FROM (s.{cols})"


def _match_existing(conn: Connection) -> list[tuple[int, bool, bool]]:
    """Mark staged rows whose code exists; fill their empty cells from the stored parcel.

    Returns (idx, retired, changed) for every existing code.
    """
    # A geometry within ~1 mm of the stored one (reprojection round-off of a re-imported
    # export) keeps the stored coordinates, so it is not a change and writes no history.
    conn.execute(
        text(
            """
            UPDATE io_stage s SET geom = p.geom FROM parcels p
            WHERE p.code = s.code AND s.geom IS NOT NULL AND ST_NPoints(p.geom) = ST_NPoints(s.geom)
              AND abs(ST_XMin(p.geom) - ST_XMin(s.geom)) < :tol AND abs(ST_YMax(p.geom) - ST_YMax(s.geom)) < :tol
              AND NOT ST_OrderingEquals(p.geom, s.geom) AND ST_HausdorffDistance(p.geom, s.geom) < :tol
            """
        ),
        {"tol": SAME_GEOMETRY_DEG},
    )
    keep = ", ".join(f"{c} = coalesce(s.{c}, p.{c})" for c in TRACKED if c != "geom")
    changed = " OR ".join(f"p.{c} IS DISTINCT FROM s.{c}" for c in TRACKED)
    rows = conn.execute(
        text(
            f"""
            UPDATE io_stage s SET existing_id = p.id, {keep}
            FROM parcels p WHERE p.code = s.code
            RETURNING s.idx, p.retired_at IS NOT NULL, ({changed})
            """
        )
    ).all()
    flags = [(int(r[0]), bool(r[1]), bool(r[2])) for r in rows]
    changed_ids = [i for i, _r, c in flags if c]
    if changed_ids:
        conn.execute(text("UPDATE io_stage SET changed = true WHERE idx = ANY(:ids)"), {"ids": changed_ids})
    return flags


def _write(conn: Connection, default_status: str, total_idx: int, progress: Progress | None) -> tuple[int, int]:
    cols = ", ".join(TRACKED)
    select = ", ".join(
        "coalesce(s.land_use, '0601')" if c == "land_use"
        else "coalesce(s.status, :default_status)" if c == "status"
        else f"s.{c}"
        for c in TRACKED
    )
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in TRACKED)
    differs = " OR ".join(f"parcels.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in TRACKED)
    stmt = text(
        f"""
        INSERT INTO parcels (code, adcode, {cols})
        SELECT s.code, substr(s.code, 1, 6), {select}
        FROM io_stage s WHERE s.idx >= :lo AND s.idx < :hi
        ORDER BY s.idx
        ON CONFLICT (code) DO UPDATE SET {sets}, version = parcels.version + 1
        WHERE {differs}
        RETURNING (xmax = 0)
        """
    )
    inserted = updated = 0
    for lo in range(0, total_idx, CHUNK):
        flags = conn.execute(stmt, {"lo": lo, "hi": lo + CHUNK, "default_status": default_status}).scalars().all()
        ins = sum(1 for f in flags if f)
        inserted += ins
        updated += len(flags) - ins
        if progress:
            progress("write", min(lo + CHUNK, total_idx), total_idx)
    return inserted, updated


# --------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------


class _Rollback(Exception):
    """Leave the transaction without writing (dry run or refused file)."""


def _prepare_rows(
    gdf: pd.DataFrame, mapping: ColumnMapping, report: ParcelImportReport
) -> tuple[pd.DataFrame, dict[int, list[tuple[str, str]]]]:
    """The staging rows and per-feature attribute errors {idx: [(kind, reason)]}."""
    n = len(gdf)
    problems: dict[int, list[tuple[str, str]]] = {}

    def add(errors: dict[int, str], kind: str, label: str | None = None) -> None:
        for i, reason in errors.items():
            problems.setdefault(i, []).append((kind, f"{label}: {reason}" if label else reason))

    codes, code_errors = _codes(gdf[mapping.columns["code"]], report.notes)
    add(code_errors, "code")
    rows = pd.DataFrame({"idx": np.arange(n, dtype=np.int64), "code": pd.Series(codes, dtype=object)})
    for fld, parser in (
        ("land_use", V.parse_land_use),
        ("status", V.parse_status),
        ("contract_kind", V.parse_contract_kind),
        ("agreed_start_date", V.parse_date),
        ("agreed_completion_date", V.parse_date),
    ):
        s = _column(gdf, mapping, fld)
        if s is None:
            rows[fld] = None
            continue
        out, errs = _parse_by_value(s, parser)
        rows[fld] = out
        add(errs, "attribute", mapping.columns[fld])
    for fld in ("park_name", "holder_name", "contract_no"):
        s = _column(gdf, mapping, fld.replace("_name", "") if fld != "contract_no" else fld)
        rows[fld] = [V.as_text(v) for v in s.tolist()] if s is not None else None
    s = _column(gdf, mapping, "holder_code")
    if s is None:
        rows["holder_code"] = None
    else:
        hc: list[str | None] = []
        for i, v in enumerate(s.tolist()):
            t = V.as_text(v)
            if t is None:
                hc.append(None)
                continue
            try:
                hc.append(validate_credit_code(t))
            except ValueError as exc:
                hc.append(None)
                report.issues.append(Issue(i, codes[i], "link", f"{exc}（未关联权利人）", severity="warning"))
        rows["holder_code"] = hc
    _parse_facts(gdf, mapping, rows, add, report.notes)
    for fld in ("land_price", "planned_investment"):
        s = _column(gdf, mapping, fld)
        if s is None:
            rows[fld] = None
            continue
        out, errs = _money(s, mapping.units.get(fld), mapping.columns[fld], report.notes)
        rows[fld] = out
        add(errs, "attribute", mapping.columns[fld])
    s = _column(gdf, mapping, "area")
    if s is None:
        rows["declared"] = np.nan
    else:
        out, errs = _parse_by_value(s, V.parse_number)
        rows["declared"] = [np.nan if v is None else v for v in out]
        add(errs, "attribute", mapping.columns["area"])
    _check_values(rows, mapping, problems)
    # The same code twice in one file: which geometry would win is a guess, so both are refused.
    code_series = pd.Series(codes, dtype="object")
    dup = code_series.notna() & code_series.duplicated(keep=False)
    if dup.any():
        groups = code_series[dup].groupby(code_series[dup]).groups
        for code, members in groups.items():
            listed = ", ".join(f"#{int(m)}" for m in members)
            for m in members:
                problems.setdefault(int(m), []).append(("duplicate", f"宗地代码 {code} 在文件中出现多次（要素 {listed}）"))
    return rows, problems


_VALUE_FIELDS = ("land_price", "planned_investment", "agreed_start_date", "agreed_completion_date", *FACT_FIELDS)


def _parse_facts(gdf: pd.DataFrame, mapping: ColumnMapping, rows: pd.DataFrame, add: Callable[..., None],
                 notes: list[str]) -> None:
    """Development facts of the parcel (开竣工, 停建, 建筑, 投资, 交地, 监管号) from mapped columns."""
    for fld, kind in FACT_KINDS.items():
        s = _column(gdf, mapping, fld)
        if s is None:
            rows[fld] = None
            continue
        if kind == "money":
            out, errs = _money(s, mapping.units.get(fld), mapping.columns[fld], notes)
        else:
            out, errs = _parse_by_value(s, FACT_PARSERS[kind])
        rows[fld] = out
        add(errs, "attribute", mapping.columns[fld])


def _check_values(rows: pd.DataFrame, mapping: ColumnMapping, problems: Problems) -> None:
    """hggis.parcel_values on the columns the file has (rows with no such value cost nothing)."""
    present = [f for f in _VALUE_FIELDS if f in mapping.columns]
    if not present:
        return
    frame = rows[present]
    for i in np.flatnonzero(frame.notna().any(axis=1).to_numpy()):
        values = {f: v for f, v in frame.iloc[int(i)].items() if v is not None and not pd.isna(v)}
        for fld, why in value_problems(values):
            _add(problems, int(i), "attribute", f"{mapping.columns.get(fld, fld)}: {why}")


def _area_check(
    rows: pd.DataFrame,
    areas: dict[int, float],
    mapping: ColumnMapping,
    options: ParcelImportOptions,
    saved_unit: str | None,
    report: ParcelImportReport,
    codes: list[str | None],
) -> None:
    col = mapping.columns.get("area")
    if col is None:
        report.area_check = {"column": None, "note": "文件中没有面积列，不作核对"}
        return
    declared = rows["declared"].to_numpy(dtype=float)
    unit = area_unit_from_header(mapping.units.get("area"), col)
    source = f"header {col}" if unit else None
    if unit is None and options.area_unit:
        unit, source = options.area_unit, "--area-unit"
    if unit is None and saved_unit:
        unit, source = saved_unit, f"已保存的字段对应 {mapping.source}"
    if unit is None:
        ratios = [declared[i] / a for i, a in areas.items() if a > 0 and np.isfinite(declared[i])]
        unit = area_unit_from_values(ratios)
        source = "按数值识别" if unit else None
    if unit is None:
        report.area_check = {
            "column": col,
            "unit": None,
            "note": f"列 {col} 未注明面积单位，也无法按数值识别；请在表头注明"
            "（面积（亩）/面积（平方米）/面积（公顷））",
        }
        report.notes.append(report.area_check["note"])
        return
    mapping.area_unit, mapping.area_unit_source = unit, source
    factor = M2_PER_UNIT[unit]
    compared = 0
    worst = 0.0
    for i, computed in areas.items():
        d = declared[i]
        if not np.isfinite(d) or computed <= 0:
            continue
        compared += 1
        diff = (d * factor - computed) / computed * 100.0
        worst = max(worst, abs(diff))
        if abs(diff) > options.area_tolerance_pct:
            report.issues.append(
                Issue(
                    i, codes[i], "area",
                    f"申报面积 {d:g} {AREA_UNIT_LABEL[unit]} 与椭球面积 "
                    f"{computed / factor:.4f} {AREA_UNIT_LABEL[unit]} 相差 {diff:+.2f} %（允许 ±{options.area_tolerance_pct} %）",
                    severity="warning",
                )
            )
    report.area_check = {
        "column": col,
        "unit": unit,
        "unit_label": AREA_UNIT_LABEL[unit],
        "unit_source": source,
        "compared": compared,
        "max_abs_diff_pct": round(float(worst), 4),
        "tolerance_pct": options.area_tolerance_pct,
    }


Problems = dict[int, list[tuple[str, str]]]


def _add(problems: Problems, i: int, kind: str, reason: str) -> None:
    problems.setdefault(i, []).append((kind, reason))


def _has_geometry_problem(problems: Problems, i: int) -> bool:
    return any(k == "geometry" for k, _ in problems.get(i, []))


def _stage_geometries(rows: pd.DataFrame, gdf: pd.DataFrame, problems: Problems) -> np.ndarray:
    """Put hex EWKB into ``rows["geom"]``; returns the 2-D MultiPolygons (None where unusable)."""
    geoms, geom_errors = _multipolygons(np.asarray(gdf.geometry.values, dtype=object))
    for i, reason in geom_errors.items():
        _add(problems, i, "geometry", reason)
    hexes = np.full(len(geoms), None, dtype=object)
    present = np.array([g is not None for g in geoms])
    if present.any():
        # Binary EWKB then bytes.hex(): shapely's own hex writer is ~10× slower.
        wkb = shapely.to_wkb(shapely.set_srid(geoms[present].astype(object), 4490), include_srid=True)
        hexes[present] = [w.hex() for w in wkb]
    rows["geom"] = hexes
    return geoms


def _check_scope(principal: Principal, codes: list[str | None], problems: Problems) -> list[str]:
    """Refuse features whose county the principal may not write; returns the counties seen."""
    allowed: dict[str, bool] = {}
    for i, c in enumerate(codes):
        if c is None:
            continue
        adcode = c[:6]
        if adcode not in allowed:
            allowed[adcode] = can(principal, "parcels", "write", adcode=adcode)
        if not allowed[adcode]:
            _add(problems, i, "scope", f"县（市、区）{adcode} 不在 {principal.username} 的导入范围内"
                                       f"（其范围：{'、'.join(sorted(principal.counties)) or '无'}）")
    return sorted(allowed)


def _check_counties_exist(conn: Connection, codes: list[str | None], adcodes: list[str], problems: Problems) -> None:
    known = set(conn.execute(text("SELECT adcode FROM counties")).scalars())
    missing = set(adcodes) - known
    for i, c in enumerate(codes):
        if c and c[:6] in missing:
            _add(problems, i, "code", f"宗地代码 {c} 的县级代码 {c[:6]} 不是黄冈市的县（市、区）")


def _check_validity(
    conn: Connection, opts: ParcelImportOptions, codes: list[str | None], problems: Problems, report: ParcelImportReport
) -> dict[int, bytes]:
    """Invalid polygons: refused, or with ``fix`` repaired (≤ max change); returns repaired WKB."""
    invalid = _geometry_problems(conn)
    if not opts.fix:
        for i, why in invalid:
            _add(problems, i, "geometry", f"无效多边形：{why}（可选择“自动修复无效图形”）")
        return {}
    for i, why in invalid:
        report.issues.append(Issue(i, codes[i], "repair", f"无效多边形：{why}", severity="warning"))
    fixed: dict[int, bytes] = {}
    if not invalid:
        return fixed
    for i, before, after, usable, wkb in _repair(conn, [i for i, _ in invalid]):
        change = abs(after - before) / before * 100.0 if before > 0 else float("inf")
        ok = usable and change <= opts.max_fix_change_pct
        report.repairs.append(
            Repair(i, codes[i], round(before, 3), round(after, 3), round(change, 4) if np.isfinite(change) else -1.0, ok)
        )
        if ok:
            fixed[i] = bytes(wkb or b"")
        else:
            what = "后不再是多边形" if not usable else f"后面积变化 {change:.2f} %"
            _add(problems, i, "geometry",
                 f"自动修复{what}（上限 {opts.max_fix_change_pct} %）：请在源数据中修复")
    return fixed


def _check_location(
    conn: Connection, geoms: np.ndarray, fixed: dict[int, bytes], codes: list[str | None],
    problems: Problems, report: ParcelImportReport,
) -> None:
    """Outside 黄冈 → refused (the finer rules, county by county, are in _check_integrity)."""
    cand = [i for i in range(len(geoms)) if geoms[i] is not None and not _has_geometry_problem(problems, i)]
    final = np.array([shapely.from_wkb(fixed[i]) if i in fixed else geoms[i] for i in cand], dtype=object)
    # outside_huanggang judges a parcel by its point-on-surface (GEOS, as ST_PointOnSurface);
    # sending those points instead of the polygons keeps the payload small.
    points = list(shapely.point_on_surface(final)) if len(final) else []
    outside = outside_huanggang(conn, points)
    source_crs = (report.read or {}).get("crs")
    swapped_inside = _inside_when_swapped(conn, [points[j] for j in outside], source_crs)
    for k, j in enumerate(outside):
        why = "位于黄冈市范围外（其内点不在任何县（市、区）内）"
        if swapped_inside[k]:
            why += f"；按 {source_crs} 交换 X、Y 后位于黄冈市内：该要素的 X、Y 坐标很可能填反了，请交换后再导入"
        _add(problems, cand[j], "location", why)


def _inside_when_swapped(conn: Connection, points: list[Any], source_crs: str | None) -> list[bool]:
    """For each point outside 黄冈: would it fall inside with its source X and Y exchanged?

    The file-level check catches a file whose columns are all swapped; a few swapped rows in
    an otherwise good file (typed by hand from a 界址点坐标表) reach this check instead, and
    "outside 黄冈" alone would not tell the officer what to fix.
    """
    if not points or not source_crs:
        return [False] * len(points)
    try:
        to_src, back = transformer(CGCS2000_EPSG, source_crs), transformer(source_crs, CGCS2000_EPSG)
        xs, ys = to_src.transform([p.x for p in points], [p.y for p in points])
        lon, lat = back.transform(ys, xs)
    except Exception:  # an unusual CRS PROJ cannot invert: no hint rather than a failed import
        return [False] * len(points)
    swapped = [shapely.Point(a, b) if np.isfinite(a) and np.isfinite(b) else None for a, b in zip(lon, lat, strict=True)]
    usable = [k for k, p in enumerate(swapped) if p is not None]
    still_outside = {usable[j] for j in outside_huanggang(conn, [swapped[k] for k in usable])}
    inside = set(usable) - still_outside
    return [k in inside for k in range(len(points))]


def _compare_with_stored(
    conn: Connection, principal: Principal, codes: list[str | None], problems: Problems, report: ParcelImportReport
) -> None:
    for i, kind, value in _resolve_links(conn, principal, report):
        what = "园区" if kind == "park" else "权利人"
        report.issues.append(Issue(i, codes[i], "link", f"未找到{what} {value!r}：保留原值", severity="warning"))
    for i, retired, _changed in _match_existing(conn):
        if retired:
            _add(problems, i, "existing", f"宗地 {codes[i]} 已注销，导入不能恢复")
    counts = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE existing_id IS NULL), count(*) FILTER (WHERE changed), "
            "count(*) FILTER (WHERE existing_id IS NOT NULL AND changed IS NOT TRUE) FROM io_stage"
        )
    ).one()
    report.to_insert, report.to_update, report.unchanged = (int(c) for c in counts)


_STAGE = table("io_stage", column("idx"), column("code"), column("geom"), column("park_id"), column("existing_id"))
_AREA = table("io_area", column("idx"), column("area_m2"))


def _check_integrity(conn: Connection, codes: list[str | None], problems: Problems, report: ParcelImportReport) -> None:
    """hggis.parcel_integrity on every feature still standing: errors refuse it, slivers are listed.

    Features already refused (no code, bad geometry …) are left out, so each is reported
    for its first real fault; the stored parcels an import updates are replaced, not compared.
    """
    s = _STAGE.c
    refused = sorted(problems)
    cand = (
        select(s.idx, s.code, func.substr(s.code, 1, 6).label("adcode"), s.park_id, s.geom,
               s.existing_id.label("replaces_id"), _AREA.c.area_m2)
        .select_from(_STAGE.outerjoin(_AREA, _AREA.c.idx == s.idx))
        .where(s.geom.isnot(None), s.code.isnot(None), s.idx.not_in(refused) if refused else true())
        .subquery("parcel_candidates")
    )
    for v in check_candidates(conn, cand):
        if v.severity == "error":
            _add(problems, v.idx, v.rule, v.message)
        else:
            report.issues.append(Issue(v.idx, codes[v.idx], v.rule, v.message, severity="warning"))


def _list_issues(report: ParcelImportReport, problems: Problems, gdf: pd.DataFrame, codes: list[str | None]) -> None:
    """Refusals become error issues; every issue gets a place on the map."""
    for i in sorted(problems):
        for kind, why in problems[i]:
            report.issues.append(Issue(i, codes[i], kind, why))
    places = _locations(np.asarray(gdf.geometry.values, dtype=object), sorted({iss.index for iss in report.issues}))
    for iss in report.issues:
        if iss.lon is None and iss.index in places:
            iss.lon, iss.lat = places[iss.index]
    report.issues.sort(key=lambda x: (x.severity != "error", x.index))
    report.refused = len(problems)


def import_parcels(
    engine: Engine,
    principal: Principal,
    path: str | Path,
    options: ParcelImportOptions | None = None,
    progress: Progress | None = None,
) -> ParcelImportReport:
    """Read, check and (unless refused or a dry run) write a parcel file; always log the run."""
    opts = options or ParcelImportOptions()
    require_import_right(principal)
    if opts.default_status not in PARCEL_STATUSES:
        raise ValueError(f"无法识别的状态 {opts.default_status!r}：可选 {'、'.join(PARCEL_STATUSES.values())}")
    p = Path(path)
    name = opts.file_name or p.name
    checksum, size = file_checksum(p)
    report = ParcelImportReport(name, checksum, size, opts.dry_run, principal.actor)
    with running_import(engine, principal, kind="parcels", file_name=name, checksum=checksum, size_bytes=size,
                        dry_run=opts.dry_run) as run_id:
        report.import_id = run_id
        return _import_parcels(engine, principal, p, opts, report, progress)


def _import_parcels(engine: Engine, principal: Principal, p: Path, opts: ParcelImportOptions,
                    report: ParcelImportReport, progress: Progress | None) -> ParcelImportReport:
    """The run itself, its row already logged as running (``report.import_id``)."""
    name = report.file_name
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[stage] = round(now - clock, 3)
        clock = now

    try:
        gdf, read_report = read_layer_with_report(
            p, layer=opts.layer, crs=opts.crs, source_datum=opts.source_datum, encoding=opts.encoding, shown_as=name
        )
    except SpatialReadError as exc:
        if isinstance(exc, CrsRefused):
            report.crs_refused = True
            report.proposed_crs, report.swapped_axes = exc.proposed_epsg, exc.swapped
        return _refuse_file(engine, principal, report, exc.message, exc.hint)
    report.read = read_report.to_dict()
    report.features = len(gdf)
    lap("read")
    if progress:
        progress("read", len(gdf), len(gdf))

    with engine.connect() as conn:
        cands, saved_unit, source = candidates(conn, "parcels", opts.mapping)
    try:
        mapping = resolve_columns(list(read_report.columns), cands, overrides=opts.columns, source=source)
    except KeyError as exc:
        return _refuse_file(engine, principal, report, str(exc.args[0]), "请核对字段对应")
    report.mapping = mapping.to_dict()
    if "code" not in mapping.columns:
        return _refuse_file(
            engine, principal, report,
            f"没有宗地代码列，现有列：{'、'.join(read_report.columns)}",
            "请将该列命名为“宗地代码”，或指定字段对应",
        )
    if len(gdf) == 0:
        return _refuse_file(engine, principal, report, "图层中没有要素")
    try:
        rows, problems = _prepare_rows(gdf, mapping, report)
    except SpatialReadError as exc:
        return _refuse_file(engine, principal, report, exc.message, exc.hint)
    occupants, occupant_errors = parse_occupants({f: _column(gdf, mapping, f) for f in OCCUPANT_HEADERS})
    for i, why in occupant_errors.items():
        _add(problems, i, "attribute", why)
    geoms = _stage_geometries(rows, gdf, problems)
    codes: list[str | None] = [c if isinstance(c, str) else None for c in rows["code"].tolist()]
    report.adcodes = _check_scope(principal, codes, problems)
    lap("prepare")

    reason = import_reason(name)
    applied = False
    try:
        with transaction(engine, principal.actor, reason) as conn:
            # The PostGIS functions' costs over 100 000 staged rows make the planner JIT-compile
            # nearly every statement (~1 s in all) for queries that run once: not worth it here.
            conn.execute(text("SET LOCAL jit = off"))
            _check_counties_exist(conn, codes, report.adcodes, problems)
            _stage(conn, rows, progress)
            lap("stage")
            fixed = _check_validity(conn, opts, codes, problems, report)
            _check_location(conn, geoms, fixed, codes, problems, report)
            lap("validate")
            # Areas of refused geometries mean nothing; leave them out of the comparison.
            areas = {i: a for i, a in _computed_areas(conn).items() if not _has_geometry_problem(problems, i)}
            _area_check(rows, areas, mapping, opts, saved_unit, report, codes)
            _compare_with_stored(conn, principal, codes, problems, report)
            lap("compare")
            _check_integrity(conn, codes, problems, report)
            lap("integrity")
            _list_issues(report, problems, gdf, codes)
            if problems:
                report.status = "refused"
                report.error = f"{len(gdf)} 个要素中有 {len(problems)} 个被拒绝，整个文件未写入任何数据"
                # A refused file writes nothing: "将新增 N" beside "拒绝 M" read as a partial import.
                report.ready = len(gdf) - len(problems)
                report.to_insert = report.to_update = report.unchanged = 0
                raise _Rollback
            if opts.dry_run:
                report.status = "dry_run"
                raise _Rollback
            report.inserted, report.updated = _write(conn, opts.default_status, len(gdf), progress)
            report.unchanged = len(gdf) - report.inserted - report.updated
            overflow = write_occupants(conn, occupants, codes)
            if overflow:
                for i, why in overflow.items():
                    _add(problems, i, "attribute", why)
                report.issues = [x for x in report.issues if x.severity != "error"]
                _list_issues(report, problems, gdf, codes)
                report.status = "refused"
                report.error = f"{len(overflow)} of {len(gdf)} features refused; nothing written"
                report.inserted = report.updated = report.unchanged = 0
                raise _Rollback
            lap("write")
            report.status = "applied"
            if opts.mapping and not mapping_exists(conn, "parcels", opts.mapping):
                save_mapping(conn, principal, "parcels", opts.mapping, mapping.columns, mapping.area_unit,
                             note=f"保存自 {name}")
                report.notes.append(f"字段对应已保存为 {opts.mapping!r}，供该来源的下一个文件使用")
            report.import_id = _log(conn, principal, report)
            analyze(conn, *WRITTEN_TABLES)  # statistics of the new parcels before anyone reads them
            applied = True
    except _Rollback:
        pass
    if not applied:
        with transaction(engine, principal.actor, reason) as conn:
            report.import_id = _log(conn, principal, report)
    return report


def _log(conn: Connection, principal: Principal, report: ParcelImportReport) -> int:
    body = report.to_dict()
    return record_import(
        conn,
        principal,
        kind="parcels",
        file_name=report.file_name,
        checksum=report.checksum_sha256,
        size_bytes=report.size_bytes,
        dry_run=report.dry_run,
        status=report.status,
        counts={
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged if report.status == "applied" else 0,
            "refused": report.refused,
        },
        adcodes=report.adcodes,
        report=body,
        import_id=report.import_id,
    )


def _refuse_file(
    engine: Engine, principal: Principal, report: ParcelImportReport, message: str, hint: str | None = None
) -> ParcelImportReport:
    report.status = "refused"
    report.error = message
    report.hint = hint
    with transaction(engine, principal.actor, import_reason(report.file_name)) as conn:
        report.import_id = _log(conn, principal, report)
    return report
