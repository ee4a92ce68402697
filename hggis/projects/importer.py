"""Importing a county's project list (项目清单) from XLSX/CSV, all rows or none.

One row per project, keyed by (county, 项目名称). Headers are Chinese and carry their units
(协议投资额（万元）; 元/千元/亿元 convert, a money column without a unit is read as 万元, the
template's unit). An empty cell keeps what is stored. A row with 到位资金 adds a point to the
project's funds series on its 到位资金截至日期. A change of 清单类别 is recorded as a move dated
清单调整日期 (default today), by the importer. A 统一社会信用代码 that no enterprise has yet
registers the enterprise (name from 投资方, county the project's), as the parcels import does
for holders. 宗地代码 (several separated by 、，; or spaces) replace the project's parcel links.
Every bad cell is named with its Excel row, column and reason (hggis.io.keyed_sheet).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine

from hggis import clock
from hggis.access.policy import Principal, can
from hggis.db.expressions import in_array, unnest_table
from hggis.db.maintenance import analyze
from hggis.db.models import Cluster, County, Industry, Parcel, table_of
from hggis.enterprises import ENTERPRISES, pending_name
from hggis.identifiers import validate_credit_code
from hggis.io import values as V
from hggis.io.fieldmap import MONEY_TO_WAN
from hggis.io.keyed_sheet import (
    BadCell,
    Parser,
    SheetColumn,
    SheetImportOptions,
    SheetImportReport,
    SheetSpec,
    accept_rows,
    run_sheet_import,
)
from hggis.projects.service import date_problems
from hggis.projects.tables import LIST_KINDS, project_funds, project_list_moves, project_parcels, projects

P = projects.c
SHEET_NAME = "项目清单"
HEADERS: dict[str, list[str]] = {
    "name": ["项目名称", "项目", "name"],
    "county": ["所属县（市、区）", "所属县市区", "县市区", "所属县", "县（市、区）", "adcode"],
    "list_kind": ["清单类别", "清单", "项目类别", "list_kind"],
    "investor_name": ["投资方", "投资主体", "投资企业", "investor_name"],
    "credit_code": ["统一社会信用代码", "信用代码", "credit_code"],
    "cluster": ["产业集群", "所属集群", "cluster"],
    "industry": ["所属产业", "产业", "行业", "industry_code"],
    "signed_investment_wan": ["协议投资额", "签约投资额", "协议投资", "signed_investment"],
    "funds_wan": ["到位资金", "累计到位资金", "funds_in_place"],
    "funds_on": ["到位资金截至日期", "截至日期", "到位日期", "funds_on"],
    "leader_name": ["包保领导", "leader_name"],
    "leader_office": ["包保领导职务", "领导职务", "包保单位", "leader_office"],
    "signed_on": ["签约日期", "signed_on"],
    "land_supplied_on": ["供地日期", "land_supplied_on"],
    "started_on": ["开工日期", "实际开工日期", "started_on"],
    "producing_on": ["投产日期", "实际投产日期", "producing_on"],
    "planned_start_on": ["计划开工日期", "合同约定开工日期", "planned_start_on"],
    "planned_production_on": ["计划投产日期", "合同约定投产日期", "planned_production_on"],
    "is_key": ["重点项目", "是否重点项目", "is_key"],
    "batch": ["集中开工批次", "开工批次", "batch"],
    "parcel_codes": ["宗地代码", "关联宗地", "parcel_codes"],
    "moved_on": ["清单调整日期", "调整日期", "moved_on"],
    "note": ["备注", "note"],
}
REQUIRED = ("name", "county", "list_kind")
STORED = ("investor_name", "investor_credit_code", "enterprise_id", "cluster_id", "industry_code",
          "signed_investment_wan", "list_kind", "leader_name", "leader_office", "signed_on", "land_supplied_on",
          "started_on", "producing_on", "planned_start_on", "planned_production_on", "is_key", "batch", "note")
DATES = ("signed_on", "land_supplied_on", "started_on", "producing_on", "planned_start_on",
         "planned_production_on", "funds_on", "moved_on")
KIND_BY_WORD = {**{v: k for k, v in LIST_KINDS.items()}, **{v[:2]: k for k, v in LIST_KINDS.items()},
                **{k: k for k in LIST_KINDS}}
_QUARTER = re.compile(r"^(\d{4})\s*(?:[Qq]|年\s*第?)\s*([1-4一二三四])\s*(?:季度?)?$")
_SPLIT = re.compile(r"[、，,；;\s]+")


def _text(raw: Any, _col: SheetColumn) -> str | None:
    return V.as_text(raw)


def _date(raw: Any, _col: SheetColumn) -> dt.date | None:
    value, why = V.parse_date(raw)
    if why:
        raise ValueError(f"日期不可识别（{why}）")
    return value


def _money(raw: Any, col: SheetColumn) -> float | None:
    factor = MONEY_TO_WAN.get(col.unit or "万元")
    if factor is None:
        raise ValueError(f"金额单位 {col.unit!r} 不可识别（元、千元、万元或亿元）")
    value, why = V.parse_number(raw)
    if why:
        raise ValueError(f"金额不是数字（{why}）")
    if value is not None and float(value) < 0:
        raise ValueError("金额不能为负")
    return None if value is None else round(float(value) * factor, 2)


def _kind(raw: Any, _col: SheetColumn) -> str | None:
    word = V.as_text(raw)
    if word is None:
        return None
    if word not in KIND_BY_WORD:
        raise ValueError(f"清单类别 {word!r} 不可识别（可填：谋划类、前期类、新建类、续建类）")
    return KIND_BY_WORD[word]


def _credit(raw: Any, _col: SheetColumn) -> str | None:
    t = V.as_text(raw)
    return validate_credit_code(t.upper()) if t else None


def _bool(raw: Any, _col: SheetColumn) -> bool | None:
    value, why = V.parse_bool(raw)
    if why:
        raise ValueError(why)
    return value


def parse_batch(raw: Any, _col: SheetColumn | None = None) -> str | None:
    """集中开工 batch as ``YYYYQn``: 2025Q2, 2025年第二季度, 2025年2季度."""
    t = V.as_text(raw)
    if t is None:
        return None
    m = _QUARTER.match(t)
    if not m:
        raise ValueError(f"批次 {t!r} 不可识别（请写作 2025Q2 或 2025年第二季度）")
    q = m.group(2)
    return f"{m.group(1)}Q{'一二三四'.index(q) + 1 if q in '一二三四' else q}"


def _codes(raw: Any, _col: SheetColumn) -> list[str] | None:
    t = V.as_text(raw)
    return [c.upper() for c in _SPLIT.split(t) if c] if t else None


PARSERS: dict[str, Parser] = {"name": _text, "county": _text, "list_kind": _kind, "investor_name": _text, "credit_code": _credit,
           "cluster": _text, "industry": _text, "signed_investment_wan": _money, "funds_wan": _money,
           "leader_name": _text, "leader_office": _text, "is_key": _bool, "batch": parse_batch,
           "parcel_codes": _codes, "note": _text, **{d: _date for d in DATES}}
SPEC = SheetSpec("projects", SHEET_NAME, HEADERS, REQUIRED, PARSERS)


def _lookups(conn: Connection) -> dict[str, dict[str, Any]]:
    counties = {**{n: a for a, n in conn.execute(select(County.adcode, County.name))},
                **{a: a for a in conn.execute(select(County.adcode)).scalars()}}
    industries = {**{n: c for c, n in conn.execute(select(Industry.code, Industry.name))},
                  **{c: c for c in conn.execute(select(Industry.code)).scalars()}}
    clusters = dict(conn.execute(select(Cluster.name, Cluster.id)).all())
    return {"county": counties, "industry": industries, "cluster": clusters}


def _resolve(conn: Connection, principal: Principal, rows: list[tuple[int, dict[str, Any]]],
             cols: dict[str, SheetColumn], bad: list[BadCell]) -> list[dict[str, Any]]:
    """Each row as stored values (county, industry, cluster, enterprise and parcel ids); bad cells listed."""
    look = _lookups(conn)
    label = {f: c.label for f, c in cols.items()}
    codes = sorted({c for _n, r in rows for c in (r.get("parcel_codes") or [])})
    parcels = {p.code: p for p in conn.execute(select(Parcel.id, Parcel.code, Parcel.adcode)
                                               .where(in_array(table_of(Parcel).c.code, codes), Parcel.retired_at.is_(None)))}
    credits = sorted({r["credit_code"] for _n, r in rows if r.get("credit_code")})
    firms = dict(conn.execute(select(ENTERPRISES.c.credit_code, ENTERPRISES.c.id)
                              .where(in_array(ENTERPRISES.c.credit_code, credits))).all())
    today = clock.today()
    seen: dict[tuple[str, str], int] = {}
    out: list[dict[str, Any]] = []
    for number, r in rows:
        problems: list[tuple[str, str]] = [(f, "必填") for f in REQUIRED if f in r and not r.get(f)]
        adcode = look["county"].get(r.get("county") or "")
        if r.get("county") and adcode is None:
            problems.append(("county", f"县（市、区） {r['county']!r} 不可识别（填县名或行政区划代码）"))
        elif adcode and not can(principal, "projects", "write", adcode):
            problems.append(("county", f"{r['county']} 不在您的管辖范围内"))
        values: dict[str, Any] = {k: r.get(k) for k in STORED if k in r}
        values["investor_credit_code"] = r.get("credit_code")
        for f, table in (("industry", "industry"), ("cluster", "cluster")):
            if r.get(f):
                found = look[table].get(r[f])
                if found is None:
                    problems.append((f, f"{'产业' if f == 'industry' else '产业集群'} {r[f]!r} 不可识别"))
                values[f"{f}_code" if f == "industry" else "cluster_id"] = found
        if (r.get("funds_wan") is None) != (r.get("funds_on") is None):
            problems.append(("funds_on" if r.get("funds_on") is None else "funds_wan",
                             "到位资金与到位资金截至日期须同时填写"))
        elif r.get("funds_on") and r["funds_on"] > today:
            problems.append(("funds_on", f"截至日期不能晚于今天（{today.isoformat()}）"))
        problems += date_problems(r, today)
        parcel_ids = []
        for code in r.get("parcel_codes") or []:
            p = parcels.get(code)
            if p is None or (adcode and p.adcode != adcode):
                problems.append(("parcel_codes", f"宗地 {code} 不存在或不在该县（市、区）"))
            else:
                parcel_ids.append(p.id)
        if adcode and r.get("name"):
            key = (adcode, r["name"])
            if key in seen:
                problems.append(("name", f"与第 {seen[key]} 行重复（同一县同一项目名称）"))
            seen[key] = number
        if problems:
            for f, why in problems:
                bad.append(BadCell(number, label.get(f, f), _shown(r.get(f)), why))
            continue
        values["enterprise_id"] = firms.get(r["credit_code"]) if r.get("credit_code") else None
        if not r.get("credit_code"):
            values.pop("enterprise_id")
            values.pop("investor_credit_code")
        out.append({"row": number, "name": r["name"], "adcode": adcode, "values": values,
                    "parcel_ids": parcel_ids if r.get("parcel_codes") else None,
                    "funds": (r["funds_on"], r["funds_wan"]) if r.get("funds_on") else None,
                    "moved_on": r.get("moved_on") or today})
    return out


def _shown(value: Any) -> Any:
    """A cell's value as the report (JSON) can carry it."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "、".join(value)
    return value


def _register_enterprises(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Enterprises for credit codes nobody has yet: named by 投资方 (or pending), in the project's county."""
    new: dict[str, dict[str, Any]] = {}
    for r in rows:
        v = r["values"]
        if v.get("investor_credit_code") and v.get("enterprise_id") is None:
            new.setdefault(v["investor_credit_code"], {"credit_code": v["investor_credit_code"],
                                                       "name": v.get("investor_name"), "adcode": r["adcode"]})
    if not new:
        return
    named = [n for n in new.values() if n["name"]]
    unnamed = [n for n in new.values() if not n["name"]]
    ids: dict[str, int] = {}
    if named:
        ids.update(conn.execute(insert(ENTERPRISES).returning(ENTERPRISES.c.credit_code, ENTERPRISES.c.id),
                                named).all())
    if unnamed:
        src = unnest_table("u", {"credit_code": ([n["credit_code"] for n in unnamed], ENTERPRISES.c.credit_code.type),
                                 "adcode": ([n["adcode"] for n in unnamed], ENTERPRISES.c.adcode.type)})
        ids.update(conn.execute(insert(ENTERPRISES).from_select(
            ("credit_code", "name", "adcode"), select(src.c.credit_code, pending_name(src.c.credit_code), src.c.adcode))
            .returning(ENTERPRISES.c.credit_code, ENTERPRISES.c.id)).all())
    for r in rows:
        v = r["values"]
        if v.get("investor_credit_code") and v.get("enterprise_id") is None:
            v["enterprise_id"] = ids[v["investor_credit_code"]]


def _write(conn: Connection, actor: str, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Upsert by (county, name), record list moves, funds points and parcel links; (inserted, updated, unchanged)."""
    keys = [(r["adcode"], r["name"]) for r in rows]
    stored = {(s.adcode, s.name): s for s in conn.execute(
        select(projects).where(in_array(P.name, sorted({n for _a, n in keys}))))}
    new, changed, moves = [], [], []
    for r in rows:
        old = stored.get((r["adcode"], r["name"]))
        if old is None:
            new.append(r)
            continue
        r["id"] = old.id
        diff = {k: v for k, v in r["values"].items() if v is not None and _differs(getattr(old, k), v)}
        if diff:
            changed.append((r, diff))
            if "list_kind" in diff:
                moves.append({"project_id": old.id, "from_kind": old.list_kind, "to_kind": diff["list_kind"],
                              "moved_on": r["moved_on"], "moved_by": actor, "reason": "导入项目清单"})
    if new:
        records = [{"name": r["name"], "adcode": r["adcode"],
                    **{k: r["values"].get(k) for k in STORED}} for r in new]
        for rec in records:
            if rec["is_key"] is None:
                rec["is_key"] = False
        ids = conn.execute(insert(projects).returning(P.id, sort_by_parameter_order=True), records).scalars().all()
        for r, pid in zip(new, ids, strict=True):
            r["id"] = pid
            moves.append({"project_id": pid, "from_kind": None, "to_kind": r["values"]["list_kind"],
                          "moved_on": r["moved_on"], "moved_by": actor, "reason": "导入项目清单"})
    for fields in {tuple(sorted(d)) for _r, d in changed}:
        group = [(r, d) for r, d in changed if tuple(sorted(d)) == fields]
        src = unnest_table("changed", {"p_id": ([r["id"] for r, _d in group], Integer()),
                                       **{f: ([d[f] for _r, d in group], P[f].type) for f in fields}})
        conn.execute(update(projects).where(P.id == src.c.p_id)
                     .values(**{f: src.c[f] for f in fields}, version=P.version + 1))
    if moves:
        conn.execute(insert(project_list_moves), moves)
    _write_funds(conn, rows)
    _write_parcels(conn, rows)
    return len(new), len(changed), len(rows) - len(new) - len(changed)


def _differs(old: Any, new: Any) -> bool:
    if old is None:
        return True
    return float(old) != float(new) if isinstance(new, float) else old != new


def _write_funds(conn: Connection, rows: list[dict[str, Any]]) -> None:
    points = {(r["id"], r["funds"][0]): r["funds"][1] for r in rows if r["funds"]}
    if not points:
        return
    f = project_funds.c
    stmt = pg_insert(project_funds).values([{"project_id": p, "on_date": d, "amount_wan": a}
                                            for (p, d), a in points.items()])
    conn.execute(stmt.on_conflict_do_update(index_elements=[f.project_id, f.on_date],
                                            set_={"amount_wan": stmt.excluded.amount_wan},
                                            where=f.amount_wan != stmt.excluded.amount_wan))


def _write_parcels(conn: Connection, rows: list[dict[str, Any]]) -> None:
    linked = [r for r in rows if r["parcel_ids"] is not None]
    if not linked:
        return
    pp = project_parcels.c
    ids = [r["id"] for r in linked]
    wanted = {(r["id"], p) for r in linked for p in r["parcel_ids"]}
    stored: set[tuple[int, int]] = {
        (a, b) for a, b in conn.execute(select(pp.project_id, pp.parcel_id).where(in_array(pp.project_id, ids)))}
    gone = stored - wanted
    for pid, parcel in gone:
        conn.execute(project_parcels.delete().where(pp.project_id == pid, pp.parcel_id == parcel))
    add = wanted - stored
    if add:
        conn.execute(insert(project_parcels), [{"project_id": p, "parcel_id": q} for p, q in sorted(add)])


def _apply(conn: Connection, principal: Principal, report: SheetImportReport, cols: dict[str, SheetColumn],
           parsed: list[tuple[int, dict[str, Any]]]) -> None:
    rows = _resolve(conn, principal, parsed, cols, report.bad_rows)
    accept_rows(report, rows)
    _register_enterprises(conn, rows)
    report.inserted, report.updated, report.unchanged = _write(conn, principal.actor, rows)
    analyze(conn, "projects", "project_funds", "project_list_moves")


def import_projects(engine: Engine, principal: Principal, path: str | Path,
                    options: SheetImportOptions | None = None) -> SheetImportReport:
    """Check every row of a project list, then write all of them (or none)."""
    return run_sheet_import(engine, principal, path, SPEC, options or SheetImportOptions(), _apply)
