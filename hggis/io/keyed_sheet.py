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
from typing import Any

from hggis.io.sheets import Rows, SheetFileError, col_letter

#: header words before any unit in brackets: "份额（%）" → ("份额", "%")
_HEADER = re.compile(r"^\s*([^（(]+?)\s*(?:[（(]\s*([^）)]*)\s*[）)])?\s*$")


@dataclass
class BadCell:
    row: int
    column: str
    value: Any
    reason: str


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
