"""Reading the rows of a spreadsheet (XLSX with openpyxl, CSV with the stdlib reader).

Every tabular import (annual figures, occupancies, development facts) reads its file here,
so row numbers are the ones Excel shows (1-based, header included) and a CSV's encoding is
recognised the same way (BOM, then GB18030/UTF-8 sniffing) whichever sheet it is.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hggis.errors import Invalid
from hggis.io.base import hide_path_in, sniff_text_encoding

Rows = list[tuple[int, list[Any]]]


@dataclass
class BadCell:
    """A refused cell: its Excel row number, column (letter and header), value and the reason."""

    row: int
    column: str
    value: Any
    reason: str


class SheetFileError(Invalid):
    """The file as a whole cannot be read; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def col_letter(i: int) -> str:
    """0-based column index → Excel letters (0 → A, 26 → AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def read_xlsx(path: Path, sheet: str | None, default_sheet: str | None = None) -> tuple[str, Rows]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise SheetFileError(f"{path.name}：无法作为 Excel（.xlsx）工作簿读取：{exc}") from None
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise SheetFileError(f"{path.name}：没有工作表 {sheet!r}", "现有工作表：" + "、".join(wb.sheetnames))
            ws = wb[sheet]
        else:
            ws = wb[default_sheet] if default_sheet in wb.sheetnames else wb.worksheets[0]
        return ws.title, [(n, list(r)) for n, r in enumerate(ws.iter_rows(values_only=True), 1)]
    finally:
        wb.close()


def read_csv(path: Path, encoding: str | None) -> tuple[str, Rows]:
    data = path.read_bytes()
    if encoding:
        codec = encoding
    elif data.startswith(b"\xef\xbb\xbf"):
        codec = "utf-8-sig"
    else:
        codec = sniff_text_encoding(data)[0]
    text_ = data.decode(codec, errors="strict").lstrip("\ufeff")
    return path.stem, [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text_)), 1)]


def read_sheet(path: Path, sheet: str | None = None, encoding: str | None = None,
               default_sheet: str | None = None, shown_as: str | None = None) -> tuple[str, Rows]:
    """(sheet name, numbered rows) of an XLSX or CSV file.

    ``shown_as`` is the name people know the file by (an upload's original name): errors and
    a CSV's sheet name use it rather than the server's copy.
    """
    if shown_as is None:
        return _read_sheet(path, sheet, encoding, default_sheet)
    try:
        title, rows = _read_sheet(path, sheet, encoding, default_sheet)
    except SheetFileError as exc:
        hide_path_in(exc, path, shown_as)
        raise
    return (Path(shown_as).stem if title == path.stem and path.suffix.lower() in (".csv", ".txt") else title), rows


def _read_sheet(path: Path, sheet: str | None, encoding: str | None, default_sheet: str | None) -> tuple[str, Rows]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, sheet, default_sheet)
    if suffix in (".csv", ".txt"):
        return read_csv(path, encoding)
    raise SheetFileError(f"{path.name}：不是 Excel（.xlsx）或 CSV 文件", "请将表格另存为 .xlsx 或 .csv")
