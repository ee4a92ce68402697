"""Importing who uses which parcel (用地企业表) from XLSX/CSV, keyed by 宗地代码.

Columns: 宗地代码, 统一社会信用代码, 份额 (0–1, or per cent when the header says （%） or
the cell ends in %) or 建筑面积（m²） (then share = floor area / the parcel's 总建筑面积),
角色 (权利人 / 承租; empty means 承租), 起始日期, 终止日期; 企业名称 optionally, which
registers an enterprise whose credit code nobody has yet (in the parcel's county).

A row names an occupancy by (parcel, enterprise): an existing one is updated, a new one
inserted. All rows or none: every bad cell is listed by row and column, a parcel whose
shares would exceed 100 % at some moment is named on each of its rows, a parcel outside
the importer's scope is refused like a missing one. The run is logged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, insert, select, update
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, can
from hggis.db.expressions import in_array, unnest_table
from hggis.db.maintenance import analyze
from hggis.identifiers import validate_credit_code
from hggis.io import values as V
from hggis.io.keyed_sheet import (
    BadCell,
    Parser,
    Refused,
    SheetColumn,
    SheetImportOptions,
    SheetImportReport,
    SheetSpec,
    accept_rows,
    run_sheet_import,
)
from hggis.occupancies import (
    ENTERPRISES,
    OCCUPANCIES,
    PARCELS,
    ROLE_WORDS,
    share_overflows,
)

SHEET_NAME = "用地企业"
HEADERS: dict[str, list[str]] = {
    "parcel_code": ["宗地代码", "宗地编码", "宗地号", "ZDDM", "parcel_code"],
    "credit_code": ["统一社会信用代码", "信用代码", "TYSHXYDM", "credit_code"],
    "name": ["企业名称", "用地企业", "使用人", "name"],
    "share": ["份额", "用地份额", "占用比例", "share"],
    "floor_area_m2": ["建筑面积", "使用建筑面积", "floor_area_m2"],
    "role": ["角色", "用地方式", "role"],
    "valid_from": ["起始日期", "开始日期", "起租日期", "valid_from"],
    "valid_to": ["终止日期", "结束日期", "到期日期", "valid_to"],
}
REQUIRED = ("parcel_code", "credit_code")
AREA_UNITS = {None: 1.0, "m²": 1.0, "m2": 1.0, "平方米": 1.0, "㎡": 1.0}
STORED = ("share", "role", "floor_area_m2", "valid_from", "valid_to")

def _text(raw: Any, _col: SheetColumn) -> str | None:
    return V.as_text(raw)

def _code(raw: Any, _col: SheetColumn) -> str | None:
    t = V.as_text(raw)
    return t.upper() if t else None

def _credit(raw: Any, _col: SheetColumn) -> str | None:
    t = V.as_text(raw)
    return validate_credit_code(t) if t else None

def _share(raw: Any, col: SheetColumn) -> float | None:
    if V.is_blank(raw):
        return None
    text = str(raw).strip()
    percent = col.unit in ("%", "％") or text.endswith(("%", "％"))
    value, why = V.parse_number(text.rstrip("%％"))
    if why:
        raise ValueError(f"份额不是数字（{why}）")
    share = float(value) / (100.0 if percent else 1.0)
    if not 0 < share <= 1:
        hint = "；如为百分比请写成 40% 或在表头注明（%）" if not percent and 1 < share <= 100 else ""
        raise ValueError(f"份额须大于 0 且不超过 1（100%）{hint}")
    return round(share, 5)

def _floor_area(raw: Any, col: SheetColumn) -> float | None:
    if col.unit not in AREA_UNITS:
        raise ValueError(f"建筑面积的单位 {col.unit!r} 不可识别（请用平方米）")
    value, why = V.parse_number(raw)
    if why:
        raise ValueError(f"建筑面积不是数字（{why}）")
    if value is not None and not float(value) > 0:
        raise ValueError("建筑面积须大于 0")
    return None if value is None else float(value)

def _role(raw: Any, _col: SheetColumn) -> str:
    word = V.as_text(raw)
    if word is None:
        return "lessee"
    if word not in ROLE_WORDS:
        raise ValueError(f"角色 {word!r} 不可识别（可填：权利人、承租）")
    return ROLE_WORDS[word]

def _date(raw: Any, _col: SheetColumn) -> dt.date | None:
    value, why = V.parse_date(raw)
    if why:
        raise ValueError(f"日期不可识别（{why}）")
    return value

PARSERS: dict[str, Parser] = {"parcel_code": _code, "credit_code": _credit, "name": _text, "share": _share,
           "floor_area_m2": _floor_area, "role": _role, "valid_from": _date, "valid_to": _date}

def _resolve(conn: Connection, principal: Principal, rows: list[tuple[int, dict[str, Any]]],
             cols: dict[str, SheetColumn], bad: list[BadCell]) -> list[dict[str, Any]]:
    """Parcel and enterprise ids of each row, the share from floor area, the period; bad rows listed."""
    codes = sorted({r["parcel_code"] for _n, r in rows if r.get("parcel_code")})
    parcels = {p.code: p for p in conn.execute(
        select(PARCELS.c.id, PARCELS.c.code, PARCELS.c.adcode, PARCELS.c.park_id, PARCELS.c.floor_area_m2)
        .where(in_array(PARCELS.c.code, codes), PARCELS.c.retired_at.is_(None)))}
    credits = sorted({r["credit_code"] for _n, r in rows if r.get("credit_code")})
    firms = dict(conn.execute(select(ENTERPRISES.c.credit_code, ENTERPRISES.c.id)
                              .where(in_array(ENTERPRISES.c.credit_code, credits))).all())
    label = {f: c.label for f, c in cols.items()}
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, r in rows:
        def refuse(f: str, why: str, r: dict[str, Any] = r, number: int = number) -> None:
            bad.append(BadCell(number, label.get(f, f), r.get(f), why))

        if not r.get("parcel_code") or not r.get("credit_code"):
            for f in REQUIRED:
                if not r.get(f) and f in r:
                    refuse(f, "必填")
            continue
        p = parcels.get(r["parcel_code"])
        if p is None or not can(principal, "parcels", "write", p.adcode, p.park_id):
            refuse("parcel_code", f"宗地 {r['parcel_code']} 不存在或不在您的管辖范围内")
            continue
        key = (r["parcel_code"], r["credit_code"])
        if key in seen:
            refuse("credit_code", f"与第 {seen[key]} 行重复（同一宗地、同一企业）")
            continue
        seen[key] = number
        share = r.get("share")
        if share is None:
            if r.get("floor_area_m2") is None:
                refuse("share", "份额或建筑面积须填其一")
                continue
            if not p.floor_area_m2:
                refuse("floor_area_m2", f"宗地 {p.code} 未登记总建筑面积，无法由建筑面积折算份额")
                continue
            share = round(r["floor_area_m2"] / p.floor_area_m2, 5)
            if not 0 < share <= 1:
                refuse("floor_area_m2", f"建筑面积超过宗地 {p.code} 的总建筑面积 {p.floor_area_m2:g} m²")
                continue
        if r.get("valid_from") and r.get("valid_to") and r["valid_to"] < r["valid_from"]:
            refuse("valid_to", "终止日期早于起始日期")
            continue
        eid = firms.get(r["credit_code"])
        if eid is None and not r.get("name"):
            refuse("credit_code", f"统一社会信用代码 {r['credit_code']} 尚未登记企业（填写企业名称即可登记）")
            continue
        out.append({"row": number, "parcel_id": p.id, "parcel_code": p.code, "adcode": p.adcode, "park_id": p.park_id,
                    "credit_code": r["credit_code"], "name": r.get("name"), "enterprise_id": eid, "share": share,
                    "role": r.get("role", "lessee"), "floor_area_m2": r.get("floor_area_m2"),
                    "valid_from": r.get("valid_from"), "valid_to": r.get("valid_to")})
    return out

def _register_enterprises(conn: Connection, rows: list[dict[str, Any]]) -> None:
    new: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["enterprise_id"] is None:
            new.setdefault(r["credit_code"], {"credit_code": r["credit_code"], "name": r["name"],
                                              "adcode": r["adcode"], "park_id": r["park_id"]})
    if not new:
        return
    ids: dict[str, int] = dict(conn.execute(
        insert(ENTERPRISES).returning(ENTERPRISES.c.credit_code, ENTERPRISES.c.id), list(new.values())
    ).all())
    for r in rows:
        if r["enterprise_id"] is None:
            r["enterprise_id"] = ids[r["credit_code"]]

def _write(conn: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Upsert by (parcel, enterprise); (inserted, updated, unchanged)."""
    pairs = {(r["parcel_id"], r["enterprise_id"]) for r in rows}
    parcel_ids = sorted({p for p, _e in pairs})
    stored = {(o.parcel_id, o.enterprise_id): o for o in conn.execute(
        select(OCCUPANCIES).where(in_array(OCCUPANCIES.c.parcel_id, parcel_ids)))}
    new, changed = [], []
    for r in rows:
        values = {k: r[k] for k in STORED}
        old = stored.get((r["parcel_id"], r["enterprise_id"]))
        if old is None:
            new.append({"parcel_id": r["parcel_id"], "enterprise_id": r["enterprise_id"], **values})
        elif any((float(old.share) if k == "share" else getattr(old, k)) != values[k] for k in STORED):
            changed.append({"o_id": old.id, **values})
    if new:
        cols = ("parcel_id", "enterprise_id", *STORED)
        src = unnest_table("new", {c: ([r[c] for r in new], OCCUPANCIES.c[c].type) for c in cols})
        conn.execute(insert(OCCUPANCIES).from_select(cols, select(*(src.c[c] for c in cols))))
    if changed:
        src = unnest_table("changed", {"o_id": ([r["o_id"] for r in changed], Integer()),
                                       **{c: ([r[c] for r in changed], OCCUPANCIES.c[c].type) for c in STORED}})
        conn.execute(
            update(OCCUPANCIES).where(OCCUPANCIES.c.id == src.c.o_id)
            .values(**{c: src.c[c] for c in STORED}, version=OCCUPANCIES.c.version + 1)
        )
    return len(new), len(changed), len(rows) - len(new) - len(changed)


SPEC = SheetSpec("occupancies", SHEET_NAME, HEADERS, REQUIRED, PARSERS)


def _apply(conn: Connection, principal: Principal, report: SheetImportReport, cols: dict[str, SheetColumn],
           parsed: list[tuple[int, dict[str, Any]]]) -> None:
    rows = _resolve(conn, principal, parsed, cols, report.bad_rows)
    accept_rows(report, rows)
    _register_enterprises(conn, rows)
    report.inserted, report.updated, report.unchanged = _write(conn, rows)
    over = dict(share_overflows(conn, {r["parcel_id"] for r in rows}))
    if over:
        share_col = cols["share"].label if "share" in cols else "份额"
        for r in rows:
            if r["parcel_code"] in over:
                report.bad_rows.append(BadCell(r["row"], share_col, r["share"],
                                               f"宗地 {r['parcel_code']} 各用地企业的份额合计 "
                                               f"{over[r['parcel_code']]:.5g}，超过 1（100%）"))
        report.inserted = report.updated = report.unchanged = 0
        raise Refused
    analyze(conn, "occupancies", "enterprises")

def import_occupancies(engine: Engine, principal: Principal, path: str | Path,
                       options: SheetImportOptions | None = None) -> SheetImportReport:
    """Check every row of an occupancy sheet, then write all of them (or none)."""
    return run_sheet_import(engine, principal, path, SPEC, options or SheetImportOptions(), _apply)
