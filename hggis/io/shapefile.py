"""Shapefiles: a .shp, a folder holding one, or a .zip (read in place through /vsizip/).

The attribute encoding is the usual trap with survey data: Chinese tools write GBK DBFs,
sometimes with a .cpg saying so, sometimes with a DBF code page byte (LDID), sometimes
with neither. Precedence: the caller's ``encoding`` > the .cpg > the LDID (GDAL) > a
sniff of the DBF bytes (UTF-8 if valid, else GB18030). The report names which applied.
"""

from __future__ import annotations

import struct
import zipfile
from glob import escape as glob_escape
from pathlib import Path, PurePosixPath

from hggis.io.base import Source, SpatialReadError, normalise_encoding, sniff_text_encoding

SNIFF_BYTES = 2_000_000
FIELDS_FILE = "fields.csv"  # the short-name mapping hggis.io.export puts beside a Shapefile
# The parts without which GDAL cannot read a Shapefile as it was meant (.prj is judged with the CRS).
REQUIRED_PARTS = {".shx": "索引文件", ".dbf": "属性表"}
_PARTS = (".shp", ".shx", ".dbf")


def _require_parts(where: str, shp: str, present: set[str]) -> None:
    """Refuse a Shapefile missing its .shx or .dbf, naming the missing file.

    Without the .dbf GDAL reads the shapes with no attributes at all, and the import would
    then complain of a missing parcel code column; without the .shx it fails with a GDAL
    message. Both hide the real fault: a part left out of the zip or folder.
    """
    stem = shp[: -len(PurePosixPath(shp).suffix)]
    missing = [f"{stem}{ext}（{what}）" for ext, what in REQUIRED_PARTS.items() if ext not in present]
    if missing:
        raise SpatialReadError(
            f"{where}：Shapefile 缺少 {'、'.join(missing)}",
            "请将同名的 .shp、.shx、.dbf、.prj（及 .cpg）文件放在一起（打包为一个 .zip）后重新导入",
        )


def _field_names(data: bytes | None) -> dict[str, str]:
    """{short: full} from an exported fields.csv (字段, 完整名称, 含义); {} if absent or unreadable."""
    if not data:
        return {}
    import csv
    import io

    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        return {}
    if not rows or rows[0][:2] != ["字段", "完整名称"]:
        return {}
    return {r[0]: r[1] for r in rows[1:] if len(r) >= 2 and r[0] and r[1] and r[0] != r[1]}


def _dbf_ldid_and_sample(head: bytes) -> tuple[int, bytes]:
    """(LDID code page byte, field names + first records) from the start of a DBF."""
    if len(head) < 32:
        return 0, b""
    ldid = head[29]
    header_len, record_len = struct.unpack("<HH", head[8:12])
    names = b"".join(head[i : i + 11].split(b"\0", 1)[0] for i in range(32, max(32, header_len - 1), 32))
    body = head[header_len:]
    if record_len:
        body = body[: (len(body) // record_len) * record_len]
    return ldid, names + b" " + body


class ShapefileHandler:
    name = "shapefile"

    def can_handle(self, path: Path) -> bool:
        if path.is_dir():
            return any(path.glob("*.shp")) or any(path.glob("*.SHP"))
        suffix = path.suffix.lower()
        if suffix == ".shp":
            return True
        if suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:  # any part: a zip missing its .shp is refused by name
                return any(n.lower().endswith(_PARTS) for n in zf.namelist())
        return False

    # --- locating the .shp and its sidecars -------------------------------------------

    @staticmethod
    def _pick(shps: list[str], layer: str | None, where: str) -> str:
        if not shps:
            raise SpatialReadError(f"{where}：其中没有 .shp 文件（图形）",
                                   "请将同名的 .shp、.shx、.dbf、.prj（及 .cpg）文件一起打包后重新导入")
        if layer is not None:
            chosen = [s for s in shps if PurePosixPath(s).stem == layer]
            if not chosen:
                raise SpatialReadError(
                    f"{where}：没有图层 {layer!r}", "现有图层：" + "、".join(PurePosixPath(s).stem for s in shps)
                )
            return chosen[0]
        if len(shps) > 1:
            raise SpatialReadError(
                f"{where}：包含 {len(shps)} 个 Shapefile",
                "请只打包一个，或指定图层：" + "、".join(PurePosixPath(s).stem for s in shps),
            )
        return shps[0]

    def resolve(self, path: Path, *, layer: str | None, encoding: str | None) -> Source:
        if path.suffix.lower() == ".zip":
            return self._resolve_zip(path, layer, encoding)
        if path.is_dir():
            shps = sorted(str(p) for p in path.iterdir() if p.suffix.lower() == ".shp")
            shp = Path(self._pick(shps, layer, str(path)))
            layers = tuple(Path(s).stem for s in shps)
        else:
            shp, layers = path, (path.stem,)
        _require_parts(str(shp.parent) if path.is_dir() else shp.name, shp.name,
                       {p.suffix.lower() for p in shp.parent.glob(glob_escape(shp.stem) + ".*")})

        def sidecar(ext: str) -> bytes | None:
            for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
                if cand.exists():
                    return cand.read_bytes() if ext != ".dbf" else cand.open("rb").read(SNIFF_BYTES)
            return None

        src = Source(gdal_path=str(shp), driver="ESRI Shapefile", layer=shp.stem, layers=layers)
        self._encoding(src, sidecar(".cpg"), sidecar(".dbf"), encoding)
        fields_csv = shp.parent / FIELDS_FILE
        src.rename = _field_names(fields_csv.read_bytes() if fields_csv.exists() else None)
        if sidecar(".prj") is None:
            src.notes.append(f"{shp.name} 没有 .prj 文件")
        return src

    def _resolve_zip(self, path: Path, layer: str | None, encoding: str | None) -> Source:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            shps = sorted(n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX"))
            shp = self._pick(shps, layer, path.name)
            stem = shp[: -len(".shp")]
            lower = {n.lower(): n for n in names}
            _require_parts(path.name, shp, {ext for ext in _PARTS if (stem + ext).lower() in lower})

            def sidecar(ext: str) -> bytes | None:
                name = lower.get((stem + ext).lower())
                if name is None:
                    return None
                with zf.open(name) as fh:
                    return fh.read(SNIFF_BYTES)

            src = Source(
                gdal_path=f"/vsizip/{path.resolve()}/{shp}",
                driver="ESRI Shapefile",
                layer=PurePosixPath(shp).stem,
                layers=tuple(PurePosixPath(s).stem for s in shps),
            )
            self._encoding(src, sidecar(".cpg"), sidecar(".dbf"), encoding)
            if sidecar(".prj") is None:
                src.notes.append(f"{PurePosixPath(shp).name} 没有 .prj 文件")
            inner = str(PurePosixPath(shp).parent / FIELDS_FILE).removeprefix("./")
            name = lower.get(inner.lower())
            src.rename = _field_names(zf.read(name) if name else None)
        return src

    @staticmethod
    def _encoding(src: Source, cpg: bytes | None, dbf: bytes | None, requested: str | None) -> None:
        if requested:
            src.encoding = normalise_encoding(requested)
            src.encoding_source = f"指定编码 {requested}"
            return
        if cpg is not None and cpg.strip():
            declared = cpg.decode("ascii", errors="replace").strip()
            try:
                src.encoding = normalise_encoding(declared)
            except SpatialReadError:
                src.encoding = None  # let GDAL interpret what it knows
            src.encoding_source = f".cpg 文件声明 {declared}"
            return
        ldid, sample = _dbf_ldid_and_sample(dbf or b"")
        if ldid:
            src.encoding_source = f"DBF 代码页标记（LDID 0x{ldid:02X}）"
            return
        codec, why = sniff_text_encoding(sample)
        src.encoding = codec
        src.encoding_source = f"{why}（没有 .cpg 文件，可指定编码）"
