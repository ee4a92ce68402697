"""The shape shared by the sheet imports keyed by 宗地代码 (occupancies, development facts).

A sheet is read (``hggis.io.sheets``), its header row found among the first ten rows by
the known column names, each row parsed cell by cell into a dict, and every bad cell
listed with its Excel row, column letter and header, value and reason. The import that
uses it decides what a row means and writes all rows or none (``dry_run`` writes none and
says what would happen). The report has the same shape for every such import, so the API,
the CLI and the page show them alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal
from hggis.db.session import transaction
from hggis.io.importlog import file_checksum, record_import, require_import_right, running_import
from hggis.io.sheets import BadCell, Rows, SheetFileError, col_letter, read_sheet

#: header words before any unit in brackets: "份额（%）" → ("份额", "%")
_HEADER = re.compile(r"^\s*([^（(]+?)\s*(?:[（(]\s*([^）)]*)\s*[）)])?\s*$")


@dataclass
class SheetColumn:
    field: str
    index: int
    header: str
    unit: str | None

    @property
    def label(self) -> str:
        return f"{col_letter(self.index)} {self.header}"


@dataclass
class SheetImportReport:
    kind: str
    file_name: str
    checksum_sha256: str
    size_bytes: int
    dry_run: bool
    actor: str
    status: str = "refused"
    error: str | None = None
    hint: str | None = None
    sheet: str | None = None
    rows: int = 0
    columns: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: list[BadCell] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    import_id: int | None = None
    adcodes: list[str] = field(default_factory=list)

    @property
    def bad_row_numbers(self) -> list[int]:
        return sorted({b.row for b in self.bad_rows})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bad_row_numbers"] = self.bad_row_numbers
        return d


def split_header(cell: Any) -> tuple[str, str | None]:
    text = str(cell).strip() if cell is not None else ""
    m = _HEADER.match(text)
    if not m:
        return text, None
    return m.group(1).replace(" ", ""), (m.group(2) or None)


def locate_columns(rows: Rows, candidates: dict[str, list[str]], required: tuple[str, ...]) -> tuple[int, dict[str, SheetColumn]]:
    """(position of the header row in ``rows``, field → column); a missing required column is a file error."""
    lookup = {name.lower(): f for f, names in candidates.items() for name in names}
    for pos, (_n, cells) in enumerate(rows[:10]):
        found: dict[str, SheetColumn] = {}
        for i, cell in enumerate(cells):
            name, unit = split_header(cell)
            f = lookup.get(name.lower())
            if f is not None and f not in found:
                found[f] = SheetColumn(f, i, str(cell).strip(), unit)
        if len(found) >= 2:
            missing = [f for f in required if f not in found]
            if missing:
                names = "、".join(candidates[f][0] for f in missing)
                raise SheetFileError(f"缺少必填列：{names}", "表头可用: " + "；".join(
                    f"{v[0]}" for v in candidates.values()))
            return pos, found
    raise SheetFileError("前 10 行中没有可识别的表头",
                         "表头应包含: " + "、".join(v[0] for v in candidates.values()))


Parser = Callable[[Any, SheetColumn], Any]


def parse_rows(rows: Rows, columns: dict[str, SheetColumn], parsers: dict[str, Parser],
               bad: list[BadCell]) -> list[tuple[int, dict[str, Any]]]:
    """(Excel row number, field → parsed value) of every non-empty data row.

    A parser raises ``ValueError`` with the reason; the cell is then listed in ``bad`` and
    the field left out of the row (the row is refused as a whole by the caller).
    """
    out: list[tuple[int, dict[str, Any]]] = []
    for number, cells in rows:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        values: dict[str, Any] = {}
        for f, col in columns.items():
            raw = cells[col.index] if col.index < len(cells) else None
            try:
                values[f] = parsers[f](raw, col) if f in parsers else raw
            except ValueError as exc:
                bad.append(BadCell(number, col.label, raw if raw is None or isinstance(raw, (int, float, str)) else str(raw),
                                   str(exc)))
        out.append((number, values))
    return out


@dataclass
class SheetImportOptions:
    dry_run: bool = False
    sheet: str | None = None
    file_name: str | None = None
    encoding: str | None = None


class Refused(Exception):
    """Raised by an import's ``apply`` to roll everything back; the report says why."""


@dataclass
class SheetSpec:
    """What an import reads: its log kind, default sheet, headers, required fields and cell parsers."""

    kind: str
    title: str  # the sheet's Chinese name, also in the history reason
    headers: dict[str, list[str]]
    required: tuple[str, ...]
    parsers: dict[str, Parser]


Apply = Callable[[Connection, Principal, SheetImportReport, dict[str, SheetColumn], list[tuple[int, dict[str, Any]]]], None]


def run_sheet_import(engine: Engine, principal: Principal, path: str | Path, spec: SheetSpec,
                     opts: SheetImportOptions, apply: Apply) -> SheetImportReport:
    """Read, parse and hand the good rows to ``apply`` in one transaction; log the run either way.

    ``apply(conn, principal, report, columns, rows)`` judges and writes; it raises :class:`Refused` (after
    adding bad cells or an error to the report) to write nothing. A dry run, or any bad cell,
    rolls back whatever ``apply`` wrote.
    """
    require_import_right(principal)
    p = Path(path)
    name = opts.file_name or p.name
    checksum, size = file_checksum(p)
    report = SheetImportReport(spec.kind, name, checksum, size, opts.dry_run, principal.actor)
    with running_import(engine, principal, kind=spec.kind, file_name=name, checksum=checksum, size_bytes=size,
                        dry_run=opts.dry_run) as run_id:
        report.import_id = run_id
        return _run_sheet(engine, principal, p, spec, opts, apply, report)


def _run_sheet(engine: Engine, principal: Principal, p: Path, spec: SheetSpec, opts: SheetImportOptions,
               apply: Apply, report: SheetImportReport) -> SheetImportReport:
    """The run itself, its row already logged as running (``report.import_id``)."""
    name = report.file_name
    reason = f"导入{spec.title}表 {name}"
    try:
        with transaction(engine, principal.actor, reason) as conn:
            try:
                report.sheet, raw = read_sheet(p, opts.sheet, opts.encoding, default_sheet=spec.title, shown_as=name)
                k, cols = locate_columns(raw, spec.headers, spec.required)
            except (SheetFileError, UnicodeDecodeError) as exc:
                message = getattr(exc, "message", str(exc))
                report.error = message if message.startswith(name) else f"{name}: {message}"
                report.hint = getattr(exc, "hint", None)
                raise Refused from None
            report.columns = [{"header": c.header, "field": f, "column": col_letter(c.index)} for f, c in cols.items()]
            parsed = parse_rows(raw[k + 1:], cols, spec.parsers, report.bad_rows)
            report.rows = len(parsed)
            broken = {b.row for b in report.bad_rows}
            apply(conn, principal, report, cols, [(n, r) for n, r in parsed if n not in broken])
            if report.bad_rows:
                report.error = f"{name}: {len(report.bad_row_numbers)} 行有误，未写入任何数据"
                raise Refused
            if opts.dry_run:
                report.status = "dry_run"
                raise Refused
            report.status = "applied"
            report.import_id = _log(conn, principal, report)
    except Refused:
        if report.status == "applied":
            report.status = "refused"
        with transaction(engine, principal.actor, reason) as conn:
            report.import_id = _log(conn, principal, report)
    return report


def accept_rows(report: SheetImportReport, rows: list[dict[str, Any]]) -> None:
    """Record the counties the rows touch; refuse the file if any cell was bad or no row is left."""
    report.adcodes = sorted({r["adcode"] for r in rows})
    if report.bad_rows:
        raise Refused
    if not rows:
        report.error = f"{report.file_name}：没有可写入的数据行"
        raise Refused


def _log(conn: Connection, principal: Principal, report: SheetImportReport) -> int:
    return record_import(
        conn, principal, kind=report.kind, file_name=report.file_name, checksum=report.checksum_sha256,
        size_bytes=report.size_bytes, dry_run=report.dry_run, status=report.status,
        counts={"inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged,
                "refused": len(report.bad_row_numbers)},
        adcodes=report.adcodes, report=report.to_dict(), import_id=report.import_id,
    )
