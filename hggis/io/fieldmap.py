"""Which column of a file feeds which hggis field, and in which unit.

Survey and statistics files name their columns in Chinese (宗地代码, 地类, 面积（亩）,
税收（万元）…) or in pinyin abbreviations (ZDDM, DLBM, MJ). The candidates per field are
data: the ``default`` row of ``import_field_mappings`` (written by migration 0008 from
:data:`DEFAULT_PARCEL_COLUMNS` / :data:`DEFAULT_FIGURE_COLUMNS`), and any mapping a
person saved for one data source. Units are read from the header ("面积（亩）",
"税收（元）") because the same word carries different units from different offices.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.io.facts import FACT_HEADERS, OCCUPANT_HEADERS

# --------------------------------------------------------------------------------------
# Default candidates (copied into migration 0008 as the "default" rows)
# --------------------------------------------------------------------------------------

DEFAULT_PARCEL_COLUMNS: dict[str, list[str]] = {
    "code": ["宗地代码", "宗地编码", "宗地号", "不动产单元号", "不动产单元代码", "ZDDM", "ZDBM", "BDCDYH", "code", "parcel_code"],
    "land_use": ["地类编码", "地类代码", "地类", "土地用途", "用途", "规划用途", "DLBM", "TDYT", "land_use"],
    "area": ["面积", "宗地面积", "用地面积", "土地面积", "出让面积", "图斑面积", "MJ", "ZDMJ", "TDMJ", "area", "area_mu", "area_m2"],
    "status": ["状态", "供地状态", "土地状态", "ZT", "status"],
    "park": ["所属园区", "园区", "园区名称", "YQMC", "park"],
    "holder": ["权利人", "土地使用权人", "使用权人", "用地单位", "QLR", "holder"],
    "holder_code": ["统一社会信用代码", "信用代码", "权利人证件号", "TYSHXYDM", "holder_code", "credit_code"],
    "contract_no": ["出让合同编号", "合同编号", "合同号", "HTBH", "contract_no"],
    "contract_kind": ["供地方式", "供应方式", "GDFS", "contract_kind"],
    "land_price": ["出让价款", "成交价款", "土地价款", "成交价", "land_price"],
    "agreed_start_date": ["约定开工日期", "约定开工时间", "agreed_start_date"],
    "agreed_completion_date": ["约定竣工日期", "约定竣工时间", "agreed_completion_date"],
    "planned_investment": ["计划投资", "投资总额", "计划总投资", "planned_investment"],
    **FACT_HEADERS,
    **OCCUPANT_HEADERS,
}

DEFAULT_FIGURE_COLUMNS: dict[str, list[str]] = {
    "credit_code": ["统一社会信用代码", "信用代码", "社会信用代码", "credit_code"],
    "name": ["企业名称", "单位名称", "企业", "name"],
    "county": ["所属县", "所属县（市、区）", "所属县市区", "县（市、区）", "县市区", "county", "adcode"],
    "year": ["年度", "年份", "统计年度", "year"],
    "tax_paid": ["税收", "评价税收", "实缴税金", "实缴税收", "税收实际贡献", "tax_paid"],
    "revenue": ["主营业务收入", "营业收入", "销售收入", "revenue"],
    "value_added": ["工业增加值", "增加值", "value_added"],
    "output": ["工业总产值", "总产值", "output"],
    "energy_tce": ["综合能耗", "能耗", "energy_tce"],
    "electricity_10k_kwh": ["用电量", "总用电量", "electricity"],
    "emissions_t": ["主要污染物排放量", "污染物排放量", "排放量", "emissions_t"],
    "rnd_spending": ["研发经费", "R&D经费", "研发投入", "rnd_spending"],
    "employees": ["年平均从业人员", "从业人员", "年平均职工人数", "职工人数", "employees"],
    "accident": ["安全环保事故", "安全生产或环保事故", "事故", "accident"],
    "utility": ["公用事业", "公用事业单位", "utility"],
    "production_start_year": ["投产年份", "投产年度", "production_start_year"],
    "above_size": ["规上企业", "是否规上", "规模以上", "规上", "above_size"],
}

DEFAULTS: dict[str, dict[str, list[str]]] = {"parcels": DEFAULT_PARCEL_COLUMNS, "figures": DEFAULT_FIGURE_COLUMNS}
DEFAULT_NAME = "default"

# --------------------------------------------------------------------------------------
# Units stated in headers
# --------------------------------------------------------------------------------------

AREA_UNITS: dict[str, str] = {
    "亩": "mu", "mu": "mu",
    "平方米": "m2", "平米": "m2", "m2": "m2", "m²": "m2", "㎡": "m2", "sqm": "m2",
    "公顷": "ha", "ha": "ha", "hm2": "ha", "hm²": "ha",
}
AREA_UNIT_LABEL = {"mu": "亩", "m2": "平方米", "ha": "公顷"}
M2_PER_UNIT = {"mu": 2000.0 / 3.0, "m2": 1.0, "ha": 10_000.0}

# Factor that turns a value in the stated unit into the unit hggis stores.
MONEY_TO_WAN: dict[str, float] = {"元": 1e-4, "千元": 1e-1, "万元": 1.0, "亿元": 1e4}
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "money": MONEY_TO_WAN,
    "energy": {"吨标准煤": 1.0, "吨标煤": 1.0, "tce": 1.0, "万吨标准煤": 1e4, "千克标准煤": 1e-3},
    "electricity": {"万千瓦时": 1.0, "万kwh": 1.0, "万度": 1.0, "千瓦时": 1e-4, "kwh": 1e-4, "度": 1e-4},
    "mass": {"吨": 1.0, "t": 1.0, "千克": 1e-3, "kg": 1e-3},
    "people": {"人": 1.0},
}

_UNIT_RE = re.compile(r"^(?P<base>.*?)\s*[（(\[【]\s*(?P<unit>[^）)\]】]+?)\s*[）)\]】]\s*$")
_SUFFIX_RE = re.compile(r"^(?P<base>.+?)_(?P<unit>亩|平方米|公顷|mu|m2|ha|元|万元)$", re.IGNORECASE)


def split_header(header: str) -> tuple[str, str | None]:
    """("税收", "万元") from "税收（万元）"; ("面积", "亩") from "面积_亩"; (h, None) otherwise."""
    h = str(header).strip()
    for rx in (_UNIT_RE, _SUFFIX_RE):
        m = rx.match(h)
        if m and m.group("base").strip():
            return m.group("base").strip(), m.group("unit").strip()
    return h, None


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-（）()、,，]", "", str(name)).lower()


# --------------------------------------------------------------------------------------
# Resolving a file's columns
# --------------------------------------------------------------------------------------


@dataclass
class ColumnMapping:
    """The mapping applied to one file: field → column, and the unit each header states."""

    columns: dict[str, str]
    units: dict[str, str | None]
    unused: list[str]
    source: str  # "default" or the saved mapping's name
    area_unit: str | None = None  # mu / m2 / ha once known
    area_unit_source: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_columns(
    file_columns: list[str],
    candidates: dict[str, list[str]],
    *,
    overrides: dict[str, str] | None = None,
    source: str = DEFAULT_NAME,
) -> ColumnMapping:
    """Match file columns to fields: explicit overrides first, then candidates in order.

    A candidate matches a column when both agree after dropping the unit in brackets,
    spaces and case, so "面积（亩）", "面积 (亩)" and "面积" all match 面积.
    """
    by_norm: dict[str, str] = {}
    for col in file_columns:
        by_norm.setdefault(_norm(split_header(col)[0]), col)
        by_norm.setdefault(_norm(col), col)
    used: set[str] = set()
    columns: dict[str, str] = {}
    notes: list[str] = []
    for fld, col in (overrides or {}).items():
        if col not in file_columns:
            raise KeyError(f"column {col!r} given for {fld} is not in the file (columns: {', '.join(file_columns)})")
        columns[fld] = col
        used.add(col)
    for fld, names in candidates.items():
        if fld in columns:
            continue
        for name in names:
            found = by_norm.get(_norm(split_header(name)[0])) or by_norm.get(_norm(name))
            if found is not None and found not in used:
                columns[fld] = found
                used.add(found)
                break
    # A DBF cuts names at 10 bytes: "宗地代\ufffd" (UTF-8 cut mid-character) or "宗地代码面" stand
    # for a longer candidate; match a cut column when it is a prefix of exactly one candidate name.
    for col in file_columns:
        if col in used:
            continue
        stem = col.replace("\ufffd", "").strip()
        if len(stem) < 2 or (len(col.encode("utf-8")) < 9 and "\ufffd" not in col):
            continue
        hits = [
            fld for fld, names in candidates.items()
            if fld not in columns and any(_norm(n).startswith(_norm(stem)) and _norm(n) != _norm(stem) for n in names)
        ]
        if len(hits) == 1:
            columns[hits[0]] = col
            used.add(col)
            notes.append(f"column {col!r} taken as {hits[0]}: a name cut at the DBF limit of 10 bytes")
    units = {fld: split_header(col)[1] for fld, col in columns.items()}
    return ColumnMapping(
        columns=columns,
        units=units,
        unused=[c for c in file_columns if c not in used],
        source=source,
        notes=notes,
    )


def area_unit_from_header(header_unit: str | None, column: str | None) -> str | None:
    """mu / m2 / ha from a header like "面积（亩）" or a column named area_mu; None if unstated."""
    if header_unit:
        return AREA_UNITS.get(header_unit.strip().lower()) or AREA_UNITS.get(header_unit.strip())
    if column:
        low = column.lower()
        for suffix, unit in (("_mu", "mu"), ("_m2", "m2"), ("_ha", "ha")):
            if low.endswith(suffix):
                return unit
    return None


def area_unit_from_values(ratios_declared_per_m2: list[float]) -> str | None:
    """Guess the unit from median(declared / computed m²): 1 → m², 0.0015 → 亩, 0.0001 → 公顷."""
    vals = sorted(r for r in ratios_declared_per_m2 if r and r > 0)
    if not vals:
        return None
    med = vals[len(vals) // 2]
    for unit, m2 in M2_PER_UNIT.items():
        if 0.9 <= med * m2 <= 1.1:
            return unit
    return None


# --------------------------------------------------------------------------------------
# Saved mappings (data in import_field_mappings)
# --------------------------------------------------------------------------------------


def candidates(conn: Connection, kind: str, name: str | None = None) -> tuple[dict[str, list[str]], str | None, str]:
    """(field → candidate columns, saved area unit, source) for a mapping name, else the default.

    A saved source mapping is layered over the default, so a field it does not name is
    still found by the usual headers.
    """
    rows = conn.execute(
        text("SELECT name, columns, area_unit FROM import_field_mappings WHERE kind = :k AND name IN (:d, :n)"),
        {"k": kind, "d": DEFAULT_NAME, "n": name or DEFAULT_NAME},
    ).all()
    found = {r.name: r for r in rows}
    # fields added since the stored default was written are still found by their usual headers
    base = {**DEFAULTS[kind], **(found[DEFAULT_NAME].columns if DEFAULT_NAME in found else {})}
    if name and name in found and name != DEFAULT_NAME:
        saved = {k: ([v] if isinstance(v, str) else list(v)) for k, v in found[name].columns.items()}
        merged = {**base, **{k: v + [c for c in base.get(k, []) if c not in v] for k, v in saved.items()}}
        return merged, found[name].area_unit, name
    return base, None, DEFAULT_NAME


def mapping_exists(conn: Connection, kind: str, name: str) -> bool:
    return conn.execute(
        text("SELECT 1 FROM import_field_mappings WHERE kind = :k AND name = :n"), {"k": kind, "n": name}
    ).first() is not None


def save_mapping(
    conn: Connection,
    principal: Principal,
    kind: str,
    name: str,
    columns: dict[str, str],
    area_unit: str | None = None,
    note: str | None = None,
) -> None:
    """Save (or replace) the mapping of one data source; the default row is a migration's."""
    authorize(principal, "imports", "write", adcode=next(iter(principal.counties), None))
    if name == DEFAULT_NAME:
        raise ValueError("the default mapping is reference data; save a mapping under the source's name")
    if kind not in DEFAULTS:
        raise ValueError(f"unknown mapping kind {kind!r}")
    unknown = sorted(set(columns) - set(DEFAULTS[kind]))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} for {kind}; fields: {', '.join(DEFAULTS[kind])}")
    if area_unit is not None and area_unit not in M2_PER_UNIT:
        raise ValueError(f"unknown area unit {area_unit!r}: one of mu, m2, ha")
    conn.execute(
        text(
            """
            INSERT INTO import_field_mappings (name, kind, columns, area_unit, note, created_by)
            VALUES (:n, :k, CAST(:c AS jsonb), :u, :note, :by)
            ON CONFLICT (name, kind) DO UPDATE
               SET columns = EXCLUDED.columns, area_unit = EXCLUDED.area_unit,
                   note = coalesce(EXCLUDED.note, import_field_mappings.note),
                   updated_at = now(), version = import_field_mappings.version + 1
            """
        ),
        {
            "n": name,
            "k": kind,
            "c": _json({k: [v] for k, v in columns.items()}),
            "u": area_unit,
            "note": note,
            "by": principal.actor,
        },
    )


def list_mappings(conn: Connection, kind: str | None = None) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT name, kind, columns, area_unit, note, created_by, updated_at FROM import_field_mappings "
            "WHERE (CAST(:k AS text) IS NULL OR kind = :k) ORDER BY kind, name"
        ),
        {"k": kind},
    ).mappings()
    return [dict(r) for r in rows]


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
