"""Importing development facts (开发建设情况表) from XLSX/CSV, keyed by 宗地代码.

The land office's 批后监管 ledger: 交地日期, 实际开工日期, 停工日期, 竣工日期, 停产日期,
建筑占地面积（m²）, 总建筑面积（m²）, 累计完成投资（万元; the header's unit converts) and
合同电子监管号 per parcel. An empty cell keeps what is stored (a ledger lists what it
knows). Each row is judged on the parcel as it would be after the row (dates in order and
not in the future, money and areas finite and not negative, a footprint not larger than
the land), by ``hggis.parcel_values``, the rule every parcel writer applies. All rows or
none; every bad cell is listed by row and column; parcels outside the importer's scope
are refused like missing ones. History is written by the triggers with the file's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Integer, func, select, update
from sqlalchemy.engine import Connection, Engine

from hggis import clock
from hggis.access.policy import Principal, can
from hggis.db.expressions import in_array, unnest_table
from hggis.db.maintenance import analyze
from hggis.db.models import Parcel, table_of
from hggis.geo import M2_PER_MU
from hggis.io import values as V
from hggis.io.facts import (
    FACT_FIELDS,
    FACT_HEADERS,
    FACT_KINDS,
    FACT_LABELS,
    FACT_PARSERS,
)
from hggis.io.fieldmap import MONEY_TO_WAN
from hggis.io.keyed_sheet import (
    BadCell,
    SheetColumn,
    SheetImportOptions,
    SheetImportReport,
    SheetSpec,
    accept_rows,
    run_sheet_import,
)
from hggis.parcel_values import footprint_problem, value_problems

PARCELS = table_of(Parcel)
SHEET_NAME = "开发建设情况"
HEADERS: dict[str, list[str]] = {"parcel_code": ["宗地代码", "宗地编码", "宗地号", "ZDDM", "parcel_code"], **FACT_HEADERS}
AREA_UNITS = (None, "m²", "m2", "平方米", "㎡")

def _parser(field: str):  # noqa: ANN202 - a keyed_sheet.Parser
    kind = FACT_KINDS.get(field)

    def parse(raw: Any, col: SheetColumn) -> Any:
        if field == "parcel_code":
            t = V.as_text(raw)
            return t.upper() if t else None
        if kind == "area_m2" and col.unit not in AREA_UNITS:
            raise ValueError(f"面积单位 {col.unit!r} 不可识别（请用平方米）")
        value, why = FACT_PARSERS[kind](raw)  # type: ignore[index]
        if why:
            raise ValueError(why)
        if kind == "money" and value is not None:
            factor = MONEY_TO_WAN.get(col.unit or "万元")
            if factor is None:
                raise ValueError(f"金额单位 {col.unit!r} 不可识别（元、万元或亿元）")
            value = round(float(value) * factor, 2)
        return value

    return parse

PARSERS = {f: _parser(f) for f in HEADERS}

def _judge(conn: Connection, principal: Principal, rows: list[tuple[int, dict[str, Any]]],
           cols: dict[str, SheetColumn], bad: list[BadCell]) -> list[dict[str, Any]]:
    """Each row as the parcel's new facts, judged against the stored parcel; bad cells listed."""
    codes = sorted({r["parcel_code"] for _n, r in rows if r.get("parcel_code")})
    stored = {p.code: p for p in conn.execute(
        select(PARCELS.c.id, PARCELS.c.code, PARCELS.c.adcode, PARCELS.c.park_id, PARCELS.c.area_mu,
               *(PARCELS.c[f] for f in FACT_FIELDS), PARCELS.c.contract_signed_on,
               PARCELS.c.agreed_start_date, PARCELS.c.agreed_completion_date)
        .where(in_array(PARCELS.c.code, codes), PARCELS.c.retired_at.is_(None)))}
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    today = clock.today()
    for number, r in rows:
        code = r.get("parcel_code")
        label = cols["parcel_code"].label
        p = stored.get(code) if code else None
        if p is None or not can(principal, "parcels", "write", p.adcode, p.park_id):
            bad.append(BadCell(number, label, code, "必填" if not code else f"宗地 {code} 不存在或不在您的管辖范围内"))
            continue
        if code is None:
            continue  # a row without a code was refused above
        if code in seen:
            bad.append(BadCell(number, label, code, f"与第 {seen[code]} 行重复"))
            continue
        seen[code] = number
        given = {f: v for f, v in r.items() if f in FACT_FIELDS and v is not None}
        if not given:
            continue
        after = {**dict(p._mapping), **given}
        problems = value_problems(after, changed=set(given), today=today)
        if (why := footprint_problem(after.get("built_footprint_m2"), p.area_mu * M2_PER_MU)) and "built_footprint_m2" in given:
            problems.append(("built_footprint_m2", why))
        for f, why in problems:
            where = cols[f].label if f in cols else FACT_LABELS.get(f, f)
            bad.append(BadCell(number, where, str(after.get(f)), why))
        if not problems:
            changed = {f: v for f, v in given.items() if getattr(p, f) != v}
            out.append({"row": number, "id": p.id, "adcode": p.adcode, "changed": changed})
    return out

def _write(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """One UPDATE of every changed parcel (empty cells keep the stored facts); version bumped."""
    changed = [r for r in rows if r["changed"]]
    if not changed:
        return 0
    given = unnest_table("given", {
        "id": ([r["id"] for r in changed], Integer()),
        **{f: ([r["changed"].get(f) for r in changed], PARCELS.c[f].type) for f in FACT_FIELDS},
    })
    conn.execute(
        update(PARCELS).where(PARCELS.c.id == given.c.id)
        .values(**{f: func.coalesce(given.c[f], PARCELS.c[f]) for f in FACT_FIELDS}, version=PARCELS.c.version + 1)
    )
    return len(changed)



SPEC = SheetSpec("facts", SHEET_NAME, HEADERS, ("parcel_code",), PARSERS)


def _apply(conn: Connection, principal: Principal, report: SheetImportReport, cols: dict[str, SheetColumn],
           parsed: list[tuple[int, dict[str, Any]]]) -> None:
    rows = _judge(conn, principal, parsed, cols, report.bad_rows)
    accept_rows(report, rows)
    report.updated = _write(conn, rows)
    report.unchanged = len(rows) - report.updated
    analyze(conn, "parcels")

def import_facts(engine: Engine, principal: Principal, path: str | Path,
                 options: SheetImportOptions | None = None) -> SheetImportReport:
    """Check every row of a development-facts sheet, then write all of them (or none)."""
    return run_sheet_import(engine, principal, path, SPEC, options or SheetImportOptions(), _apply)
