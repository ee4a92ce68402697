"""Which nginx cache files hold which tiles, and which tiles a parcel's outline touches.

nginx (deploy/nginx/hggis-cache.conf.template) stores a response under
``md5(proxy_cache_key)`` in ``levels=1:2`` directories: the last hex digit, then the two
before it. The cache key is ``$uri$is_args$args``, so a tile's file is known from its URL
alone; the URLs that were stored (with whatever filter arguments a visitor used) are in
nginx's ``cache-keys.log``, which :class:`CacheIndex` reads.

A tile shows (and fingerprints into its ETag) every parcel whose bounding box meets the
tile's envelope grown by the MVT buffer (``p.geom && ST_TileEnvelope(z, x, y, margin)`` in
hggis.tiles). :func:`tiles_touching` computes exactly that set from a parcel's box, per zoom,
in tile coordinates, so a purge deletes the tiles whose content or ETag can change and no
other.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from hggis.tiles import BUFFER, EXTENT, gcj_offset

#: Zooms whose public tiles nginx caches (its location regex: 0–19, the maps' maxZoom).
CACHED_MAX_ZOOM = 19
CACHED_LAYER = "parcels"
KEYS_LOG = "cache-keys.log"
_TILE_KEY = re.compile(rf"^/tiles/{CACHED_LAYER}/(\d+)/(\d+)/(\d+)\.pbf(?:\?(.*))?$")
#: PostGIS compares float4 boxes (rounded outwards): grow the parcel's box by ~1 cm.
_BOX_EPSILON_DEG = 1e-7


@dataclass(frozen=True)
class Box:
    """A lon/lat bounding box (EPSG:4490)."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float


TileXYZ = tuple[int, int, int]


def cache_file(cache_dir: Path, key: str) -> Path:
    """Where nginx keeps the response for ``key`` (levels=1:2)."""
    digest = hashlib.md5(key.encode()).hexdigest()  # noqa: S324 - nginx's own file naming, not security
    return cache_dir / digest[-1] / digest[-3:-1] / digest


def tile_of_key(key: str) -> tuple[TileXYZ, str] | None:
    """``((z, x, y), shift)`` of a cached public tile's key; None for a page's key."""
    m = _TILE_KEY.match(key)
    if m is None:
        return None
    shift = parse_qs(m.group(4) or "").get("shift", ["none"])[-1]
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))), shift


def _fx(lon: float, n: int) -> float:
    return (lon + 180.0) / 360.0 * n


def _fy(lat: float, n: int) -> float:
    lat = max(min(lat, 85.0511287798), -85.0511287798)
    return (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n


def _ranges(box: Box, z: int, dx: float = 0.0, dy: float = 0.0) -> tuple[range, range]:
    """Tiles at ``z`` whose buffered envelope meets ``box`` moved by (dx, dy)."""
    n = 1 << z
    m = BUFFER / EXTENT
    e = _BOX_EPSILON_DEG
    x0, x1 = _fx(box.xmin + dx - e, n), _fx(box.xmax + dx + e, n)
    y0, y1 = _fy(box.ymax + dy + e, n), _fy(box.ymin + dy - e, n)  # y grows southwards
    xs = range(max(0, math.ceil(x0 - 1 - m)), min(n - 1, math.floor(x1 + m)) + 1)
    ys = range(max(0, math.ceil(y0 - 1 - m)), min(n - 1, math.floor(y1 + m)) + 1)
    return xs, ys


def tiles_touching(box: Box, shift: str = "none", max_zoom: int = CACHED_MAX_ZOOM) -> set[TileXYZ]:
    """Every cached zoom's tiles whose (buffered) envelope meets the parcel's box.

    With ``shift='gcj02'`` the tile holds the geometry moved by the GCJ-02 offset at the
    tile's centre: candidates come from the offset at the box's centre, one tile wider, and
    each is checked with its own offset.
    """
    out: set[TileXYZ] = set()
    for z in range(max_zoom + 1):
        if shift != "gcj02":
            xs, ys = _ranges(box, z)
            out.update((z, x, y) for x in xs for y in ys)
            continue
        n = 1 << z
        cx, cy = _fx((box.xmin + box.xmax) / 2, n), _fy((box.ymin + box.ymax) / 2, n)
        dx, dy = gcj_offset(z, min(int(cx), n - 1), min(int(cy), n - 1))
        xs, ys = _ranges(box, z, dx, dy)
        for x in range(max(0, xs.start - 1), min(n, xs.stop + 1)):
            for y in range(max(0, ys.start - 1), min(n, ys.stop + 1)):
                ox, oy = gcj_offset(z, x, y)
                exs, eys = _ranges(box, z, ox, oy)
                if x in exs and y in eys:
                    out.add((z, x, y))
    return out


@dataclass
class CacheIndex:
    """What nginx has stored, read from its key log: tiles by (z, x, y) and the page keys.

    nginx appends one line per stored response; :meth:`refresh` reads what was appended
    since the last call (the log is only ever appended to while nginx runs).
    """

    log: Path
    tiles: dict[TileXYZ, set[str]] = field(default_factory=dict)
    pages: set[str] = field(default_factory=set)
    _offset: int = 0

    def add(self, key: str) -> None:
        tile = tile_of_key(key)
        if tile is None:
            self.pages.add(key)
        else:
            self.tiles.setdefault(tile[0], set()).add(key)

    def refresh(self) -> None:
        try:
            with self.log.open("rb") as fh:
                if fh.seek(0, 2) < self._offset:
                    self._offset = 0  # the log was rewritten
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        complete = chunk.rfind(b"\n") + 1  # a line nginx is still writing waits for the next call
        for line in chunk[:complete].decode("utf-8", "replace").splitlines():
            if line:
                self.add(line)
        self._offset += complete

    def tile_keys(self, tiles: Iterable[TileXYZ]) -> Iterator[str]:
        for t in tiles:
            yield from self.tiles.get(t, ())

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            tile = tile_of_key(key)
            if tile is None:
                self.pages.discard(key)
            elif (held := self.tiles.get(tile[0])) is not None:
                held.discard(key)
                if not held:
                    del self.tiles[tile[0]]


def compact_log(log: Path, cache_dir: Path) -> int:
    """Rewrite the key log with one line per key whose cache file still exists (nginx not running).

    Returns how many keys were kept. Called before nginx starts so the log stays as large as
    the cache, not as the traffic.
    """
    if not log.exists():
        return 0
    keys = dict.fromkeys(ln for ln in log.read_text("utf-8", "replace").splitlines() if ln)
    kept = [k for k in keys if cache_file(cache_dir, k).exists()]
    tmp = log.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), "utf-8")
    tmp.replace(log)
    return len(kept)
