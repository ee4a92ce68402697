"""Importing enterprises' annual figures from the tax and statistics bureaus' sheets.

The sheets (XLSX or CSV) have Chinese headers that state their units: "税收（万元）" and
"税收（元）" are both common, so the unit is read from each header and converted to what
hggis stores (万元, 吨标准煤, 万千瓦时, 吨). A money column without a unit is refused: a
factor of 10 000 is not something to guess.

Every bad cell is listed with its Excel row number, column, value and reason; nothing is
written unless every row passes, or ``skip_bad`` is given (then the good rows are written
and the bad ones listed as skipped). One transaction; the run is logged.

Unknown enterprises (credit code not registered): when the sheet has both 企业名称 and
所属县 columns and the row fills them, the enterprise is created with that name and county
(the credit code's check character and the county are validated like any other cell);
otherwise the row is refused, because figures cannot hang on nothing and a county is
needed to decide who may see them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, Text, func, literal, select, text
from sqlalchemy.engine import Connection, Engine

from hggis import clock
from hggis.access.policy import Principal, can
from hggis.db.maintenance import analyze
from hggis.db.session import transaction
from hggis.enterprises import ENTERPRISES, name_is_pending
from hggis.identifiers import validate_credit_code
from hggis.io import values as V
from hggis.io.fieldmap import UNIT_FACTORS, candidates, resolve_columns, split_header
from hggis.io.importlog import file_checksum, import_reason, record_import, require_import_right, running_import
from hggis.io.sheets import BadCell, SheetFileError, col_letter as _col_letter, read_sheet

SHEET_NAME = "企业年度数据"
FIRST_YEAR = 1990

#: hggis field → (unit family, stored unit, decimals); money must state its unit.
FIGURE_FIELDS: dict[str, tuple[str, str, int]] = {
    "tax_paid": ("money", "万元", 2),
    "revenue": ("money", "万元", 2),
    "value_added": ("money", "万元", 2),
    "output": ("money", "万元", 2),
    "rnd_spending": ("money", "万元", 2),
    "energy_tce": ("energy", "吨标准煤", 2),
    "electricity_10k_kwh": ("electricity", "万千瓦时", 2),
    "emissions_t": ("mass", "吨", 3),
    "employees": ("people", "人", 0),
}
FLAG_FIELDS = ("accident", "utility")
#: 规上企业 (是/否): the statistics bureau's list of the year; empty keeps what is stored
#: (NULL: the evaluation decides by revenue), see hggis.evaluation.compute
STATUS_FIELDS = ("above_size",)
YEAR_FIELDS = ("production_start_year",)
STORED = tuple(FIGURE_FIELDS) + FLAG_FIELDS + STATUS_FIELDS + YEAR_FIELDS
#: what an applied import writes: re-analysed in its transaction, before evaluations read it
WRITTEN_TABLES = ("enterprises", "enterprise_years")


FiguresFileError = SheetFileError


@dataclass
class FiguresImportOptions:
    skip_bad: bool = False
    dry_run: bool = False
    sheet: str | None = None
    file_name: str | None = None
    encoding: str | None = None  # CSV only


@dataclass
class FiguresImportReport:
    file_name: str
    checksum_sha256: str
    size_bytes: int
    dry_run: bool
    skip_bad: bool
    actor: str
    status: str = "refused"
    error: str | None = None
    hint: str | None = None
    sheet: str | None = None
    rows: int = 0
    columns: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bad_rows: list[BadCell] = field(default_factory=list)
    warnings: list[BadCell] = field(default_factory=list)
    good_rows: int = 0
    skipped_rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    enterprises_created: int = 0
    new_enterprises: list[dict[str, str]] = field(default_factory=list)
    import_id: int | None = None
    adcodes: list[str] = field(default_factory=list)

    @property
    def bad_row_numbers(self) -> list[int]:
        return sorted({b.row for b in self.bad_rows})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bad_row_numbers"] = self.bad_row_numbers
        return d


# --------------------------------------------------------------------------------------
# Reading the sheet
# --------------------------------------------------------------------------------------


def _find_header(rows: list[tuple[int, list[Any]]], cands: dict[str, list[str]]) -> int:
    """Index in ``rows`` of the header: the first of the top 10 rows naming ≥ 2 known fields."""
    for k, (_n, cells) in enumerate(rows[:10]):
        headers = [str(c).strip() for c in cells if c is not None and str(c).strip()]
        if len(resolve_columns(headers, cands).columns) >= 2:
            return k
    raise FiguresFileError(
        "前 10 行中没有包含可识别列名的表头行",
        "请使用导入模板（数据导入页可下载）：统一社会信用代码、年度、税收（万元）…",
    )


# --------------------------------------------------------------------------------------
# Checking rows
# --------------------------------------------------------------------------------------


@dataclass
class _Column:
    field: str
    index: int
    header: str
    unit: str | None
    factor: float = 1.0

    @property
    def label(self) -> str:
        return f"{_col_letter(self.index)} {self.header}"


def _columns(header_cells: list[Any], cands: dict[str, list[str]], notes: list[str]) -> dict[str, _Column]:
    headers = [str(c).strip() if c is not None else "" for c in header_cells]
    mapping = resolve_columns([h for h in headers if h], cands)
    cols: dict[str, _Column] = {}
    for fld, header in mapping.columns.items():
        cols[fld] = _Column(fld, headers.index(header), header, split_header(header)[1])
    for fld in ("credit_code", "year"):
        if fld not in cols:
            need = "统一社会信用代码" if fld == "credit_code" else "年度"
            raise FiguresFileError(f"没有“{need}”列（现有表头：{'、'.join(h for h in headers if h)}）",
                                   "请使用导入模板（数据导入页可下载）")
    for fld, (family, stored, _dec) in FIGURE_FIELDS.items():
        c = cols.get(fld)
        if c is None:
            continue
        if c.unit is None:
            if family == "money":
                raise FiguresFileError(
                    f"列 {c.label} 未注明单位",
                    f"请在表头注明单位，例如 {c.header}（万元）或 {c.header}（元）",
                )
            notes.append(f"列 {c.label} 未注明单位：按{stored}读取")
            continue
        factors = {k.lower(): v for k, v in UNIT_FACTORS[family].items()}
        f = factors.get(c.unit.lower())
        if f is None:
            raise FiguresFileError(
                f"列 {c.label}：单位 {c.unit!r} 不适用于该列",
                "可用单位：" + "、".join(UNIT_FACTORS[family]),
            )
        c.factor = f
        if f != 1:
            notes.append(f"列 {c.label}：{c.unit} 已换算为{stored}（×{f:g}）")
    if not any(f in cols for f in STORED):
        raise FiguresFileError("没有数据列（税收、主营业务收入、工业增加值 …）", "请使用导入模板")
    if mapping.unused:
        notes.append("未使用的列：" + "、".join(mapping.unused))
    return cols


def _county_lookup(conn: Connection) -> dict[str, str]:
    out: dict[str, str] = {}
    for adcode, name in conn.execute(text("SELECT adcode, name FROM counties")).all():
        out[adcode] = adcode
        out[name] = adcode
        for suffix in ("管理区", "区", "县", "市"):
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                out.setdefault(name[: -len(suffix)], adcode)
    return out


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    code: str | None = None
    year: int | None = None
    name: str | None = None
    adcode: str | None = None
    enterprise_id: int | None = None


def _check_rows(
    conn: Connection,
    principal: Principal,
    data: list[tuple[int, list[Any]]],
    cols: dict[str, _Column],
    report: FiguresImportReport,
) -> list[_Row]:
    bad = report.bad_rows

    def cell(cells: list[Any], c: _Column) -> Any:
        return cells[c.index] if c.index < len(cells) else None

    this_year = clock.today().year
    rows: list[_Row] = []
    for number, cells in data:
        if all(V.is_blank(v) for v in cells):
            continue
        r = _Row(number, {})
        raw = cell(cells, cols["credit_code"])
        if isinstance(raw, float):
            bad.append(BadCell(number, cols["credit_code"].label, raw,
                               "统一社会信用代码被存为数字而丢失了位数；请将该列设为文本格式"))
        else:
            try:
                r.code = validate_credit_code(V.as_text(raw) or "")
            except ValueError as exc:
                bad.append(BadCell(number, cols["credit_code"].label, raw, str(exc)))
        year, err = V.parse_int(cell(cells, cols["year"]))
        if err or year is None:
            bad.append(BadCell(number, cols["year"].label, cell(cells, cols["year"]), err or "年度为空"))
        elif not FIRST_YEAR <= year <= this_year:
            bad.append(BadCell(number, cols["year"].label, year, f"年度不在 {FIRST_YEAR}–{this_year} 之间"))
        else:
            r.year = year
        for fld, (_family, _stored, decimals) in FIGURE_FIELDS.items():
            c = cols.get(fld)
            if c is None:
                continue
            v = cell(cells, c)
            num, err = (V.parse_int(v) if fld == "employees" else V.parse_number(v))
            if err:
                bad.append(BadCell(number, c.label, v, err))
            elif num is not None and num < 0:
                bad.append(BadCell(number, c.label, v, "不能为负数"))
            elif num is not None:
                r.values[fld] = int(num) if fld == "employees" else round(num * c.factor, decimals)
        for fld in FLAG_FIELDS + STATUS_FIELDS:
            c = cols.get(fld)
            if c is not None:
                flag, err = V.parse_bool(cell(cells, c))
                if err:
                    bad.append(BadCell(number, c.label, cell(cells, c), err))
                elif flag is not None:
                    r.values[fld] = flag
        c = cols.get("production_start_year")
        if c is not None:
            y, err = V.parse_int(cell(cells, c))
            if err:
                bad.append(BadCell(number, c.label, cell(cells, c), err))
            elif y is not None and not 1949 <= y <= this_year:
                bad.append(BadCell(number, c.label, y, f"年份不在 1949–{this_year} 之间"))
            elif y is not None:
                r.values["production_start_year"] = y
        if "name" in cols:
            r.name = V.as_text(cell(cells, cols["name"]))
        if "county" in cols:
            r.adcode = V.as_text(cell(cells, cols["county"]))
        rows.append(r)

    # Duplicates: the same enterprise and year twice; neither row is trusted.
    seen: dict[tuple[str, int], list[_Row]] = {}
    for r in rows:
        if r.code and r.year:
            seen.setdefault((r.code, r.year), []).append(r)
    for (code, year), group in seen.items():
        if len(group) > 1:
            for r in group:
                others = ", ".join(str(o.number) for o in group if o is not r)
                bad.append(BadCell(r.number, cols["credit_code"].label, code,
                                   f"重复：{code} {year} 年度的数据也在第 {others} 行"))

    # Enterprises: known ones by credit code, unknown ones created only with name + county.
    counties = _county_lookup(conn)
    codes = sorted({r.code for r in rows if r.code})
    known = {
        row.credit_code: (row.id, row.adcode, row.name)
        for row in conn.execute(
            text("SELECT id, credit_code, adcode, name FROM enterprises WHERE credit_code = ANY(:c)"), {"c": codes}
        )
    }
    can_create = "name" in cols and "county" in cols
    for r in rows:
        if r.code is None:
            continue
        if r.code in known:
            r.enterprise_id, adcode, stored_name = known[r.code]
            if r.name and r.name != stored_name:
                report.warnings.append(BadCell(r.number, cols["name"].label, r.name,
                                               f"登记的企业名称为 {stored_name}；数据按统一社会信用代码导入"))
            r.adcode = adcode
        else:
            county_raw = r.adcode
            if not can_create:
                bad.append(BadCell(r.number, cols["credit_code"].label, r.code,
                                   "未登记的企业；如需新登记，请增加“企业名称”和“所属县”两列"))
                continue
            if not r.name:
                bad.append(BadCell(r.number, cols["name"].label, None, "未登记的企业且没有企业名称：无法新登记"))
            adcode = counties.get(county_raw or "")
            if adcode is None:
                bad.append(BadCell(r.number, cols["county"].label, county_raw,
                                   "所属县不是黄冈市的县（市、区）（例如 黄州区 或 421102）"))
            r.adcode = adcode
            if adcode and not can(principal, "enterprises", "write", adcode=adcode):
                bad.append(BadCell(r.number, cols["county"].label, county_raw,
                                   f"在县（市、区）{adcode} 新登记企业超出了 {principal.username} 的权限范围"))
                continue
        if r.adcode and not can(principal, "enterprise_figures", "write", adcode=r.adcode):
            bad.append(BadCell(r.number, cols["credit_code"].label, r.code,
                               f"县（市、区）{r.adcode} 不在 {principal.username} 的导入范围内"))
    bad.sort(key=lambda b: (b.row, b.column))
    return rows


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _create_enterprises(conn: Connection, rows: list[_Row]) -> dict[str, int]:
    new: dict[str, tuple[str, str]] = {}
    for r in rows:
        if r.enterprise_id is None and r.code and r.code not in new:
            new[r.code] = (r.name or "", r.adcode or "")
    if not new:
        return {}
    codes = list(new)
    out = conn.execute(
        text(
            """
            INSERT INTO enterprises (credit_code, name, adcode)
            SELECT c, n, a FROM unnest(CAST(:c AS text[]), CAST(:n AS text[]), CAST(:a AS text[])) AS t(c, n, a)
            RETURNING credit_code, id
            """
        ),
        {"c": codes, "n": [new[c][0] for c in codes], "a": [new[c][1] for c in codes]},
    ).all()
    return {code: int(i) for code, i in out}


def _name_pending_enterprises(conn: Connection, rows: list[_Row]) -> int:
    """Enterprises registered from a parcel's holder code get the name this sheet gives them."""
    named = {r.code: r.name for r in rows if r.enterprise_id is not None and r.code and r.name}
    if not named:
        return 0
    e = ENTERPRISES
    given = (
        select(func.unnest(literal(list(named), ARRAY(Text))).label("c"),
               func.unnest(literal(list(named.values()), ARRAY(Text))).label("n"))
        .subquery("given")
    )
    return conn.execute(
        e.update()
        .where(e.c.credit_code == given.c.c, name_is_pending(e.c.name))
        .values(name=given.c.n)
    ).rowcount


_SQL_TYPES = {"employees": "integer", "production_start_year": "integer", "accident": "boolean", "utility": "boolean",
              "above_size": "boolean"}


def _upsert_years(conn: Connection, rows: list[_Row], fields: list[str]) -> tuple[int, int]:
    params: dict[str, Any] = {
        "e": [r.enterprise_id for r in rows],
        "y": [r.year for r in rows],
    }
    arrays = ["CAST(:e AS integer[])", "CAST(:y AS integer[])"]
    for k, f in enumerate(fields):
        params[f"f{k}"] = [r.values.get(f) for r in rows]
        arrays.append(f"CAST(:f{k} AS {_SQL_TYPES.get(f, 'numeric')}[])")
    cols = ", ".join(fields)
    # An empty cell keeps the stored figure; accident/utility have NOT NULL defaults.
    select = ", ".join(
        f"coalesce(t.{f}, false)" if f in FLAG_FIELDS else f"t.{f}" for f in fields
    )
    sets = ", ".join(f"{f} = coalesce(t_new.{f}, y.{f})" for f in fields)
    differs = " OR ".join(f"coalesce(t_new.{f}, y.{f}) IS DISTINCT FROM y.{f}" for f in fields)
    alias = ", ".join(["enterprise_id", "year", *fields])
    # Two set-based statements: update the rows that exist and differ, insert the others.
    updated = conn.execute(
        text(
            f"""
            UPDATE enterprise_years y SET {sets}, version = y.version + 1
            FROM unnest({', '.join(arrays)}) AS t_new({alias})
            WHERE y.enterprise_id = t_new.enterprise_id AND y.year = t_new.year AND ({differs})
            """
        ),
        params,
    ).rowcount
    inserted = conn.execute(
        text(
            f"""
            INSERT INTO enterprise_years (enterprise_id, year, {cols})
            SELECT t.enterprise_id, t.year, {select}
            FROM unnest({', '.join(arrays)}) AS t({alias})
            WHERE NOT EXISTS (SELECT 1 FROM enterprise_years y WHERE y.enterprise_id = t.enterprise_id AND y.year = t.year)
            """
        ),
        params,
    ).rowcount
    return inserted, updated


class _Rollback(Exception):
    pass


def import_figures(
    engine: Engine, principal: Principal, path: str | Path, options: FiguresImportOptions | None = None
) -> FiguresImportReport:
    """Check every row of a figures sheet and write them (all, or the good ones with skip_bad)."""
    opts = options or FiguresImportOptions()
    require_import_right(principal)
    p = Path(path)
    name = opts.file_name or p.name
    checksum, size = file_checksum(p)
    report = FiguresImportReport(name, checksum, size, opts.dry_run, opts.skip_bad, principal.actor)
    with running_import(engine, principal, kind="figures", file_name=name, checksum=checksum, size_bytes=size,
                        dry_run=opts.dry_run) as run_id:
        report.import_id = run_id
        return _import_figures(engine, principal, p, opts, report)


def _import_figures(engine: Engine, principal: Principal, p: Path, opts: FiguresImportOptions,
                    report: FiguresImportReport) -> FiguresImportReport:
    """The run itself, its row already logged as running (``report.import_id``)."""
    name = report.file_name
    reason = import_reason(name)
    applied = False
    try:
        with transaction(engine, principal.actor, reason) as conn:
            try:
                cands, _unit, _src = candidates(conn, "figures")
                report.sheet, raw = read_sheet(p, opts.sheet, opts.encoding, default_sheet=SHEET_NAME, shown_as=name)
                k = _find_header(raw, cands)
                cols = _columns(raw[k][1], cands, report.notes)
            except (FiguresFileError, UnicodeDecodeError) as exc:
                report.error = getattr(exc, "message", str(exc))
                report.hint = getattr(exc, "hint", None)
                raise _Rollback from None
            report.columns = [
                {"header": c.header, "field": c.field, "column": _col_letter(c.index), "unit": c.unit, "factor": c.factor}
                for c in sorted(cols.values(), key=lambda c: c.index)
            ]
            rows = _check_rows(conn, principal, raw[k + 1 :], cols, report)
            report.rows = len(rows)
            bad_numbers = set(report.bad_row_numbers)
            good = [r for r in rows if r.number not in bad_numbers]
            report.good_rows = len(good)
            report.adcodes = sorted({r.adcode for r in rows if r.adcode})
            report.new_enterprises = sorted(
                ({"credit_code": r.code or "", "name": r.name or "", "adcode": r.adcode or ""}
                 for r in {r.code: r for r in good if r.enterprise_id is None}.values()),
                key=lambda d: d["credit_code"],
            )
            if bad_numbers and not opts.skip_bad:
                report.error = (f"{len(rows)} 行中有 {len(bad_numbers)} 行有错误，未写入任何数据"
                                "（可选择“跳过有错误的行”导入其余各行）")
                raise _Rollback
            report.skipped_rows = len(bad_numbers)
            if not good:
                report.error = "没有可写入的行"
                raise _Rollback
            if opts.dry_run:
                report.status = "dry_run"
                raise _Rollback
            _name_pending_enterprises(conn, good)
            created = _create_enterprises(conn, good)
            report.enterprises_created = len(created)
            for r in good:
                if r.enterprise_id is None:
                    r.enterprise_id = created[r.code or ""]
            fields = [f for f in STORED if f in cols]
            report.inserted, report.updated = _upsert_years(conn, good, fields)
            report.unchanged = len(good) - report.inserted - report.updated
            report.status = "applied"
            report.import_id = _log(conn, principal, report)
            analyze(conn, *WRITTEN_TABLES)  # statistics of the new figures before anyone reads them
            applied = True
    except _Rollback:
        pass
    if not applied:
        with transaction(engine, principal.actor, reason) as conn:
            report.import_id = _log(conn, principal, report)
    return report


def _log(conn: Connection, principal: Principal, report: FiguresImportReport) -> int:
    return record_import(
        conn,
        principal,
        kind="figures",
        file_name=report.file_name,
        checksum=report.checksum_sha256,
        size_bytes=report.size_bytes,
        dry_run=report.dry_run,
        status=report.status,
        counts={
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "refused": len(report.bad_row_numbers),
        },
        adcodes=report.adcodes,
        report=report.to_dict(),
        import_id=report.import_id,
    )
