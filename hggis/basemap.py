"""The offline base map: one MBTiles or PMTiles package, served by the app at /basemap/{z}/{x}/{y}.{ext}.

An isolated intranet has no 天地图, so an operator loads a package once
(``hggis basemap load FILE``): it is validated (readable, a known container, a known tile
format, zooms and bounds from its metadata or its tiles) and registered in
``HGGIS_VAR_DIR/basemap.json`` (the file is referenced where it is, not copied: packages are
often gigabytes). ``HGGIS_BASEMAP_PACKAGE`` names a package directly and wins over the
registry.

- **MBTiles** is SQLite (read-only, ``sqlite3``); its rows are in TMS order, so y is flipped.
- **PMTiles** is read with the ``pmtiles`` package (memory-mapped, v3).
- A package that is gone or unreadable at run time is not an error of the map pages: they
  are drawn without a base map, and one log line (per package state) says why.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hggis.config import Settings, get_settings
from hggis.errors import Invalid

log = logging.getLogger("hggis.basemap")

#: tile format → (URL extension, media type, raster?)
FORMATS: dict[str, tuple[str, str, bool]] = {
    "png": ("png", "image/png", True),
    "jpg": ("jpg", "image/jpeg", True),
    "webp": ("webp", "image/webp", True),
    "pbf": ("pbf", "application/vnd.mapbox-vector-tile", False),
}
_ALIASES = {"jpeg": "jpg", "mvt": "pbf", "vector": "pbf"}
REGISTRY = "basemap.json"


class PackageError(Invalid):
    """A base map package that cannot be used (the file and the reason)."""


@dataclass(frozen=True)
class Package:
    path: str
    container: str  # mbtiles | pmtiles
    tile_format: str  # png | jpg | webp | pbf
    name: str
    attribution: str
    bounds: tuple[float, float, float, float]  # west, south, east, north
    min_zoom: int
    max_zoom: int
    fingerprint: str  # changes when the file does

    @property
    def raster(self) -> bool:
        return FORMATS[self.tile_format][2]

    @property
    def ext(self) -> str:
        return FORMATS[self.tile_format][0]

    @property
    def media_type(self) -> str:
        return FORMATS[self.tile_format][1]

    def url_template(self) -> str:
        return "/basemap/{z}/{x}/{y}." + self.ext

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "kind": "raster" if self.raster else "vector", "url": self.url_template()}


def _sniff(data: bytes) -> str | None:
    """A tile's format from its first bytes (packages without a format in their metadata)."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"\x1f\x8b") or data[:1] in (b"\x1a", b"\x12", b"\x0a"):
        return "pbf"
    return None


def _format(raw: str | None, first_tile: bytes | None, where: str) -> str:
    fmt = _ALIASES.get((raw or "").lower(), (raw or "").lower()) or (_sniff(first_tile) if first_tile else None)
    if fmt not in FORMATS:
        raise PackageError(f"{where}: tile format {raw!r} is not one of {', '.join(FORMATS)}")
    return fmt


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _bounds(raw: Any, where: str) -> tuple[float, float, float, float]:
    try:
        values = [float(v) for v in (raw.split(",") if isinstance(raw, str) else raw)]
        west, south, east, north = values
    except (TypeError, ValueError):
        raise PackageError(f"{where}: bounds {raw!r} are not west,south,east,north") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise PackageError(f"{where}: bounds {raw!r} are not west < east, south < north in degrees")
    return west, south, east, north


# --- MBTiles --------------------------------------------------------------------------------------

def _mbtiles(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=0", uri=True, check_same_thread=False)
        conn.execute("SELECT 1 FROM tiles LIMIT 1")
        return conn
    except sqlite3.Error as exc:
        raise PackageError(f"{path}: not a readable MBTiles file ({exc})") from None


def _inspect_mbtiles(path: Path) -> Package:
    conn = _mbtiles(path)
    try:
        try:
            meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
        except sqlite3.Error as exc:
            raise PackageError(f"{path}: MBTiles without a metadata table ({exc})") from None
        zooms = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        first = conn.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
    finally:
        conn.close()
    if first is None:
        raise PackageError(f"{path}: the MBTiles file holds no tile")
    fmt = _format(meta.get("format"), first[0], str(path))
    try:
        min_zoom = int(meta.get("minzoom", zooms[0]))
        max_zoom = int(meta.get("maxzoom", zooms[1]))
    except ValueError:
        raise PackageError(f"{path}: minzoom/maxzoom in the metadata are not integers") from None
    bounds = _bounds(meta.get("bounds", "-180,-85.0511,180,85.0511"), str(path))
    return Package(str(path.resolve()), "mbtiles", fmt, meta.get("name") or path.stem, meta.get("attribution") or "",
                   bounds, min_zoom, max_zoom, _fingerprint(path))


# --- PMTiles --------------------------------------------------------------------------------------

def _pmtiles_reader(path: Path) -> tuple[Any, Any]:
    from pmtiles.reader import MmapSource, Reader

    try:
        handle = path.open("rb")
        reader = Reader(MmapSource(handle))
        reader.header()
        return reader, handle
    except Exception as exc:  # noqa: BLE001 - any failure to parse is "not a PMTiles file"
        raise PackageError(f"{path}: not a readable PMTiles v3 file ({exc.__class__.__name__}: {exc})") from None


def _inspect_pmtiles(path: Path) -> Package:
    from pmtiles.tile import TileType

    reader, _keep = _pmtiles_reader(path)
    header = reader.header()
    try:
        meta = reader.metadata()
    except Exception:  # noqa: BLE001 - metadata is optional
        meta = {}
    names = {TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp", TileType.MVT: "pbf"}
    fmt = names.get(header["tile_type"])
    if fmt is None:
        raise PackageError(f"{path}: PMTiles tile type {header['tile_type']!r} is not one of {', '.join(FORMATS)}")
    bounds = _bounds([header["min_lon_e7"] / 1e7, header["min_lat_e7"] / 1e7, header["max_lon_e7"] / 1e7,
                      header["max_lat_e7"] / 1e7], str(path))
    return Package(str(path.resolve()), "pmtiles", fmt, str(meta.get("name") or path.stem),
                   str(meta.get("attribution") or ""), bounds, int(header["min_zoom"]), int(header["max_zoom"]),
                   _fingerprint(path))


def inspect(path: Path | str) -> Package:
    """Validate a package and describe it (PackageError naming the file and the reason)."""
    path = Path(path)
    if not path.is_file():
        raise PackageError(f"{path}: no such file")
    with path.open("rb") as f:
        magic = f.read(16)
    if magic.startswith(b"SQLite format 3"):
        return _inspect_mbtiles(path)
    if magic.startswith(b"PMTiles"):
        return _inspect_pmtiles(path)
    raise PackageError(f"{path}: neither MBTiles (SQLite) nor PMTiles (by its first bytes)")


# --- registry -------------------------------------------------------------------------------------

def registry_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).hggis_var_dir / REGISTRY


def registered_path(settings: Settings | None = None) -> Path | None:
    """The package in use: HGGIS_BASEMAP_PACKAGE, else the one ``hggis basemap load`` registered."""
    s = settings or get_settings()
    if s.hggis_basemap_package:
        return Path(s.hggis_basemap_package)
    reg = registry_path(s)
    if not reg.exists():
        return None
    try:
        return Path(json.loads(reg.read_text())["path"])
    except (ValueError, KeyError, TypeError):
        return Path(str(reg))  # the registry itself is broken: reported as an unreadable package


def load(path: Path | str, settings: Settings | None = None) -> Package:
    """Validate ``path`` and register it as the base map (replacing any other)."""
    pkg = inspect(path)
    reg = registry_path(settings)
    reg.parent.mkdir(parents=True, exist_ok=True)
    tmp = reg.with_suffix(".tmp")
    tmp.write_text(json.dumps(pkg.describe(), ensure_ascii=False, indent=1))
    tmp.replace(reg)
    _cache.clear()
    return pkg


def remove(settings: Settings | None = None) -> bool:
    """Unregister the base map (the package file itself is left alone)."""
    reg = registry_path(settings)
    _cache.clear()
    if reg.exists():
        reg.unlink()
        return True
    return False


# --- serving --------------------------------------------------------------------------------------

@dataclass
class _Open:
    package: Package
    reader: Any


_cache: dict[str, Any] = {}
_lock = threading.Lock()


def _state_key(path: Path) -> str:
    try:
        return _fingerprint(path)
    except OSError:
        return f"missing:{path}"


def current(settings: Settings | None = None) -> Package | None:
    """The usable base map package, or None (then one log line per package state says why)."""
    opened = _open(settings)
    return opened.package if opened else None


def _open(settings: Settings | None = None) -> _Open | None:
    path = registered_path(settings)
    if path is None:
        return None
    key = _state_key(path)
    with _lock:
        if _cache.get("key") == key:
            return _cache.get("open")
        opened = None
        try:
            pkg = inspect(path)
            if pkg.container == "mbtiles":
                reader: Any = _mbtiles(Path(pkg.path))
            else:
                reader = _pmtiles_reader(Path(pkg.path))
            opened = _Open(pkg, reader)
        except PackageError as exc:
            log.warning("base map package unusable, maps drawn without a base map: %s", exc)
        except OSError as exc:
            log.warning("base map package unusable, maps drawn without a base map: %s: %s", path, exc)
        _cache.clear()
        _cache.update(key=key, open=opened)
        return opened


def tile(z: int, x: int, y: int, settings: Settings | None = None) -> tuple[Package, bytes | None] | None:
    """(package, tile bytes or None when the package has no such tile), or None without a package."""
    opened = _open(settings)
    if opened is None:
        return None
    pkg = opened.package
    if not (0 <= z <= 30 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        return pkg, None
    with _lock:
        if pkg.container == "mbtiles":
            row = opened.reader.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),  # TMS rows count from the south
            ).fetchone()
            data = row[0] if row else None
        else:
            data = opened.reader[0].get(z, x, y)
    return pkg, data


def is_gzipped(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
