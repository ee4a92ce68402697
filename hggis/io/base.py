"""The one interface every file format implements (after GeoNode's upload handlers).

A handler says whether it can take a path (``can_handle``) and resolves it into a
:class:`Source`: the GDAL path to open, the layer, the attribute encoding and what it
noticed on the way. Reading, CRS detection and validation are common
(``hggis.io.spatial``), so adding a format touches one module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol

from hggis.errors import Invalid


class SpatialReadError(Invalid):
    """A file that cannot be read as it is; ``hint`` says what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} — {self.hint}"


@dataclass
class Source:
    """A resolved input: what GDAL opens and how."""

    gdal_path: str
    driver: str
    layer: str | None = None
    layers: tuple[str, ...] = ()
    encoding: str | None = None  # Python codec used to decode attributes; None: GDAL decides
    encoding_source: str = "driver default"
    open_options: dict[str, str] = field(default_factory=dict)
    # The CRS a format implies when the file carries none (GeoJSON: CRS84 by RFC 7946).
    implied_crs: str | None = None
    # True when the format can never carry a CRS (CSV), so --crs is always needed.
    never_has_crs: bool = False
    # Short DBF names → full names, from a fields.csv written by hggis.io.export.
    rename: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class FormatHandler(Protocol):
    """One file format: recognise a path, resolve it into a :class:`Source`."""

    name: str  # short name used in reports, e.g. "shapefile"

    def can_handle(self, path: Path) -> bool: ...

    def resolve(self, path: Path, *, layer: str | None, encoding: str | None) -> Source: ...


def normalise_encoding(value: str | None) -> str | None:
    """A Python codec name for an encoding as people and .cpg files spell it.

    GBK and GB2312 are decoded as GB18030, their superset, so a rare character outside
    GBK in a "GBK" file still decodes.
    """
    if value is None:
        return None
    v = value.strip().upper().replace("_", "-")
    if not v:
        return None
    if v.startswith("ANSI "):
        v = v[5:]
    table: dict[str, str] = {
        "UTF-8": "utf-8",
        "UTF8": "utf-8",
        "65001": "utf-8",
        "GBK": "gb18030",
        "CP936": "gb18030",
        "936": "gb18030",
        "GB2312": "gb18030",
        "GB18030": "gb18030",
        "54936": "gb18030",
        "BIG5": "big5",
        "950": "big5",
        "ISO-8859-1": "latin-1",
        "LATIN1": "latin-1",
        "1252": "cp1252",
        "CP1252": "cp1252",
    }
    if v in table:
        return table[v]
    import codecs

    try:
        return codecs.lookup(value.strip()).name
    except LookupError:
        raise SpatialReadError(
            f"无法识别的编码 {value!r}", "请使用 UTF-8、GBK 或 GB18030"
        ) from None


def sniff_text_encoding(data: bytes) -> tuple[str, str]:
    """(codec, why) for attribute bytes without a declared encoding.

    Valid UTF-8 is taken as UTF-8 (ASCII included); otherwise GB18030, which decodes any
    GBK text, is the encoding Chinese desktop tools write by default.
    """
    try:
        data.decode("utf-8")
        return "utf-8", "未声明编码，内容是有效的 UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("gb18030")
        return "gb18030", "未声明编码，内容不是 UTF-8，可按 GBK/GB18030 解码"
    except UnicodeDecodeError:
        return "latin-1", "未声明编码，内容既不是 UTF-8 也不是 GBK，按 Latin-1 读取"


def as_path(path: Any) -> Path:
    p = Path(path)
    if not p.exists():
        raise SpatialReadError(f"{p}：文件或文件夹不存在")
    return p


def hide_path(text: str | None, real: PurePath, shown: str) -> str | None:
    """``text`` with every spelling of the server-side ``real`` path replaced by ``shown``.

    An upload is read from a private directory of the server under a sanitised name; GDAL,
    openpyxl and our own messages name that file. Reports and the import log are read by
    the people who uploaded it: they must see the name they know the file by (and the member
    of a zip), never where the server keeps it.
    """
    if not text:
        return text
    spellings = {f"/vsizip/{real}", f"/vsizip//{str(real).lstrip('/')}", str(real)}
    if isinstance(real, Path):
        resolved = real.resolve()
        spellings |= {f"/vsizip/{resolved}", str(resolved)}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, shown)
    # The sanitised stored name itself, when it differs from the user's, as a whole word.
    if real.name != shown:
        text = re.sub(rf"(?<![\w\-\u4e00-\u9fff]){re.escape(real.name)}(?![\w\-\u4e00-\u9fff])", shown, text)
    return text


def hide_path_in(exc: Any, real: PurePath, shown: str) -> None:
    """Rewrite the message and hint of a read error in place (see :func:`hide_path`)."""
    exc.message = hide_path(exc.message, real, shown)
    exc.hint = hide_path(getattr(exc, "hint", None), real, shown)
    exc.args = (exc.message,)
