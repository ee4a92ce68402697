"""Parcel search: by code, enterprise name or credit code, park, county, status; sorted, paged.

One query builder serves the results page and the CSV/Excel downloads, so a download holds
exactly the rows the page lists (all pages of them). The caller's read scope of
``parcels`` is part of the WHERE clause (``scope_clause``); sort keys and directions are
allow-listed; every user string is a bound parameter.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.choices import scope_choices
from hggis.access.policy import Forbidden, Principal, grant, scope_clause
from hggis.db.expressions import in_array
from hggis.db.models import PARCEL_STATUSES, Parcel, table_of
from hggis.errors import Invalid
from hggis.features import STATUS_LABEL_SQL
from hggis.inputs import ASCII_DIGITS

PAGE_SIZE = 50
MAX_EXPORT_ROWS = 50_000
MAX_QUERY = 100

# sort key -> SQL (each ends with the code, so the order is total and paging is stable)
SORTS: dict[str, str] = {
    "code": "p.code",
    "area_mu": "p.area_mu",
    "status": "p.status",
    "county": "p.adcode",
    "park": "k.name",
    "holder": "e.name",
    "updated_at": "p.updated_at",
}
SORT_LABELS = {"code": "宗地代码", "area_mu": "面积", "status": "状态", "county": "县（市、区）", "park": "园区",
               "holder": "使用权人", "updated_at": "更新时间"}
DIRECTIONS = {"asc": "ASC", "desc": "DESC"}

# Output columns (key -> Chinese header), shared by the table and the downloads.
COLUMNS: dict[str, str] = {
    "code": "宗地代码",
    "area_mu": "面积（亩）",
    "status_label": "状态",
    "county": "县（市、区）",
    "park": "园区",
    "holder": "使用权人",
    "holder_credit_code": "统一社会信用代码",
    "land_use": "地类",
    "contract_no": "合同编号",
    "agreed_start_date": "约定动工日期",
    "updated_at": "更新时间",
}

_CODE_RX = re.compile(r"^[0-9A-Z]{2,19}$")
_CREDIT_RX = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{18}$")


class SearchError(Invalid):
    """A search input that cannot be used: field and Chinese reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""  # words: parts of parcel or credit codes, of firm, park or county names (all must match)
    adcode: str | None = None
    park_id: int | None = None
    status: str | None = None
    sort: str = "code"
    direction: str = "asc"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_TERMS_RX = re.compile(r"[\s,，、;；]+")
MAX_TERMS = 6
_USED_BY = ("EXISTS (SELECT 1 FROM occupancies o JOIN enterprises oe ON oe.id = o.enterprise_id "
            "WHERE o.parcel_id = p.id AND {cond})")


def _term_clause(term: str, i: int, params: dict[str, Any]) -> str:
    """One search word: a whole credit code, a part of a parcel or credit code, or a part of a name.

    Names are matched against the holder, every user of the parcel, the park and the county,
    so "黄州 化工" finds the chemical firms' parcels in 黄州区; several words must all match.
    """
    if i >= MAX_TERMS:
        raise SearchError("q", f"最多 {MAX_TERMS} 个检索词")
    upper = term.upper()
    if _CREDIT_RX.match(upper):
        params[f"credit{i}"] = upper
        return (f"(e.credit_code = :credit{i} OR " + _USED_BY.format(cond=f"oe.credit_code = :credit{i}") + ")")
    if _CODE_RX.match(upper) and any(ch in ASCII_DIGITS for ch in upper):
        params[f"part{i}"] = "%" + _escape_like(upper) + "%"
        like = f"LIKE :part{i} ESCAPE '\\'"
        return (f"(p.code {like} OR e.credit_code {like} OR " + _USED_BY.format(cond=f"oe.credit_code {like}") + ")")
    params[f"name{i}"] = "%" + _escape_like(term) + "%"
    like = f"ILIKE :name{i} ESCAPE '\\'"
    return (f"(e.name {like} OR k.name {like} OR co.name {like} OR " + _USED_BY.format(cond=f"oe.name {like}") + ")")


def _where(principal: Principal, query: SearchQuery) -> tuple[str, dict[str, Any]]:
    if grant(principal, "parcels", "read") in (None, "public"):
        raise Forbidden(f"role {principal.role} may not search parcels")
    scope, params = scope_clause(principal, "parcels", "read", "p.adcode", "p.park_id")
    clauses = ["p.retired_at IS NULL", scope]
    q = query.q.strip()
    if len(q) > MAX_QUERY:
        raise SearchError("q", f"检索词不能超过 {MAX_QUERY} 个字符")
    for i, term in enumerate(t for t in _TERMS_RX.split(q) if t):
        clauses.append(_term_clause(term, i, params))
    if query.adcode is not None:
        clauses.append("p.adcode = :adcode")
        params["adcode"] = query.adcode
    if query.park_id is not None:
        clauses.append("p.park_id = :park_id")
        params["park_id"] = query.park_id
    if query.status is not None:
        if query.status not in PARCEL_STATUSES:
            raise SearchError("status", "未知的宗地状态")
        clauses.append("p.status = :status")
        params["status"] = query.status
    return " AND ".join(clauses), params


FROM_SQL = (
    "parcels p JOIN counties co ON co.adcode = p.adcode LEFT JOIN parks k ON k.id = p.park_id "
    "LEFT JOIN enterprises e ON e.id = p.holder_id"
)
SELECT_SQL = f"""
SELECT p.code, round(p.area_mu::numeric, 2) AS area_mu, p.status, {STATUS_LABEL_SQL} AS status_label,
       p.adcode, co.name AS county, p.park_id, k.name AS park, e.name AS holder,
       e.credit_code AS holder_credit_code, p.land_use, p.contract_no, p.agreed_start_date, p.updated_at
"""


def _order(query: SearchQuery) -> str:
    if query.sort not in SORTS:
        raise SearchError("sort", "不支持按该列排序")
    if query.direction not in DIRECTIONS:
        raise SearchError("direction", "排序方向应为 asc 或 desc")
    direction = DIRECTIONS[query.direction]
    expr = SORTS[query.sort]
    tail = "" if query.sort == "code" else f", p.code {direction}"
    return f"{expr} {direction} NULLS LAST{tail}"


def search_parcels(
    conn: Connection, principal: Principal, query: SearchQuery, limit: int = PAGE_SIZE, offset: int = 0
) -> dict[str, Any]:
    """One page of matching parcels in the caller's scope, with the total count and area."""
    where, params = _where(principal, query)
    order = _order(query)
    totals = conn.execute(
        text(f"SELECT count(*) AS n, coalesce(sum(p.area_mu), 0) AS mu FROM {FROM_SQL} WHERE {where}"), params
    ).one()
    rows = conn.execute(
        text(f"{SELECT_SQL} FROM {FROM_SQL} WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"),
        {**params, "limit": limit, "offset": offset},
    ).mappings()
    return {"total": totals.n, "total_mu": round(float(totals.mu), 2), "items": [dict(r) for r in rows]}


def search_rows(conn: Connection, principal: Principal, query: SearchQuery) -> list[dict[str, Any]]:
    """Every matching parcel (up to MAX_EXPORT_ROWS) for a download, in the page's order."""
    where, params = _where(principal, query)
    rows = conn.execute(
        text(f"{SELECT_SQL} FROM {FROM_SQL} WHERE {where} ORDER BY {_order(query)} LIMIT :limit"),
        {**params, "limit": MAX_EXPORT_ROWS},
    ).mappings()
    return [dict(r) for r in rows]


def _cell(key: str, value: Any) -> Any:
    if key == "updated_at" and isinstance(value, dt.datetime):
        return clock.display_time(value)
    if key == "area_mu" and value is not None:
        return float(value)
    return value


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """CSV with Chinese headers, UTF-8 with BOM so that Excel opens it correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS.values())
    for row in rows:
        writer.writerow(["" if row.get(k) is None else _cell(k, row.get(k)) for k in COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(rows: list[dict[str, Any]], title: str) -> bytes:
    """One sheet: a title line, Chinese headers, dates as dates, frozen header, fitted widths.

    Written in openpyxl's write-only mode: a whole city's parcels in well under a second.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("宗地查询结果")
    for i, (key, header) in enumerate(COLUMNS.items(), start=1):
        sample = [header, *(str(row[key]) for row in rows[:500] if row.get(key) is not None)]
        width = max(sum(2 if ord(ch) > 127 else 1 for ch in v) for v in sample)
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 50)
    ws.freeze_panes = "A3"
    bold = Font(bold=True)

    def styled(value: Any, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        if font is not None:
            cell.font = font
        if number_format is not None:
            cell.number_format = number_format
        return cell

    ws.append([styled(title, bold)])
    ws.append([styled(h, bold) for h in COLUMNS.values()])
    formats = {"agreed_start_date": "yyyy-mm-dd", "area_mu": "0.00"}
    for row in rows:
        ws.append([styled(_cell(k, row.get(k)), number_format=formats.get(k)) if k in formats else _cell(k, row.get(k))
                   for k in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def describe(conn: Connection, query: SearchQuery) -> str:
    """The query in words, for the download's title line."""
    parts = []
    if query.q.strip():
        parts.append(f"检索词“{query.q.strip()}”")
    if query.adcode:
        name = conn.execute(text("SELECT name FROM counties WHERE adcode = :a"), {"a": query.adcode}).scalar()
        parts.append(name or query.adcode)
    if query.park_id:
        name = conn.execute(text("SELECT name FROM parks WHERE id = :p"), {"p": query.park_id}).scalar()
        parts.append(name or f"园区 {query.park_id}")
    if query.status:
        parts.append(PARCEL_STATUSES.get(query.status, query.status))
    return "宗地查询结果：" + ("，".join(parts) if parts else "全部") + f"（导出于 {clock.display_time(clock.now())}）"


def filter_options(conn: Connection, principal: Principal) -> dict[str, Any]:
    """Counties and parks to choose from, limited to the caller's scope."""
    choices = scope_choices(conn, principal, "parcels")
    return {
        "counties": choices.counties,
        "parks": choices.parks,
        "statuses": list(PARCEL_STATUSES.items()),
        "sorts": list(SORT_LABELS.items()),
    }


def to_gis(conn: Connection, rows: list[dict[str, Any]], out: Path, fmt: str) -> Any:
    """The search result with its parcels' outlines as a Shapefile (.zip) or GeoPackage (hggis.io.export)."""
    from hggis.io.export import write_frame

    codes = [r["code"] for r in rows]
    parcels = table_of(Parcel)
    shapes = dict(conn.execute(select(parcels.c.code, func.ST_AsBinary(parcels.c.geom))
                               .where(in_array(parcels.c.code, codes))).all()) if codes else {}
    frame = pd.DataFrame([{k: _cell(k, r.get(k)) for k in COLUMNS} for r in rows], columns=list(COLUMNS))
    geoms = [shapely.from_wkb(bytes(shapes[c])) if c in shapes else None for c in codes]
    return write_frame(gpd.GeoDataFrame(frame, geometry=geoms, crs=4490), out, fmt=fmt, crs=4490,
                       encoding="utf-8", layer="parcels")
