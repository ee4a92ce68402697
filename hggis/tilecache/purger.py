"""The cache purger: follows the history and deletes exactly the cached entries a change affects.

Every committed change of audited data is a history row (database triggers), whichever door
it came through (API, pages, imports, CLI, psql as the app role). The purger reads new rows
by id and, for each:

- a parcel: the tiles its old and its new outline touch (hggis.tilecache.keys), read from
  the row's ``before``/``after`` (an update records only the changed columns, so an edit that
  keeps the outline uses the parcel's current one);
- a control indicator: its parcel's tiles; a park: the tiles of the park's parcels (the
  tiles show the park's name and contact);
- anything: the public map pages and GeoJSON (few entries; they summarise everything).

**Committed, in order, exactly once enough.** History ids come from a sequence, so a
transaction can commit a lower id after a higher one was read. The purger keeps a
watermark: every id at or below it has been handled. Ids above it that are visible are
handled as they appear (and remembered); the watermark moves up to the highest id seen at a
poll only once every transaction running at that poll has ended (the snapshot's xmin has
passed that poll's xmax), so a late commit is never skipped. The watermark is saved to a
file, so a restart resumes where it stopped (re-purging a few entries is harmless).
Polling (not LISTEN) works through PgBouncer in transaction mode.

**A tile built from the old data while the purge ran** (its request read before the commit,
nginx stored it after the delete) is deleted again ``HGGIS_CACHE_REPURGE_S`` later.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Float, Text, bindparam, case, cast, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from hggis.db.models import History, Parcel, table_of
from hggis.tilecache.keys import Box, CacheIndex, TileXYZ, cache_file, tile_of_key, tiles_touching

log = logging.getLogger("hggis.cache")

h = table_of(History)
p = table_of(Parcel)
BATCH = 5000
SHIFTS = ("none", "gcj02")


def _json_geom(col: Any) -> ColumnElement:
    """A history row's recorded outline (jsonb GeoJSON, as ``to_jsonb`` writes PostGIS geometry)."""
    return func.ST_GeomFromGeoJSON(col["geom"])


def _box_cols(geom: ColumnElement, prefix: str) -> list[ColumnElement]:
    b = func.Box2D(geom)
    return [cast(fn(b), Float).label(f"{prefix}_{n}") for n, fn in
            (("xmin", func.ST_XMin), ("ymin", func.ST_YMin), ("xmax", func.ST_XMax), ("ymax", func.ST_YMax))]


def _box(row: Any, prefix: str) -> Box | None:
    xmin = getattr(row, f"{prefix}_xmin")
    if xmin is None:
        return None
    return Box(xmin, getattr(row, f"{prefix}_ymin"), getattr(row, f"{prefix}_xmax"), getattr(row, f"{prefix}_ymax"))


@dataclass
class Change:
    """What one batch of history rows asks to purge."""

    boxes: list[Box] = field(default_factory=list)
    parcel_ids: set[int] = field(default_factory=set)  # their current outline
    park_ids: set[int] = field(default_factory=set)  # their parcels' current outlines
    pages: bool = False


def read_changes(conn: Connection, ids_after: int, seen: set[int]) -> tuple[list[int], Change]:
    """History rows with id > ``ids_after`` not in ``seen``, as the boxes and objects to purge.

    Rows above the highest seen id are new; below it only a late commit can appear, so the
    seen ids are excluded there (the batch limit then never fills up with handled rows).
    """
    parcel_row = h.c.table_name == "parcels"
    old_geom = case((parcel_row, _json_geom(h.c.before)))  # other tables' "geom" are not parcels
    new_geom = case((parcel_row, _json_geom(h.c.after)))
    keeps_outline = ~(h.c.before.has_key("geom") & h.c.after.has_key("geom"))
    top = max(seen) if seen else ids_after
    wanted = h.c.id > top
    if seen:
        wanted = or_(wanted, (h.c.id > ids_after) & (h.c.id <= top) & h.c.id.not_in(sorted(seen)))
    stmt = (
        select(h.c.id, h.c.table_name, h.c.object_id, (parcel_row & keeps_outline).label("needs_current"),
               *_box_cols(old_geom, "old"), *_box_cols(new_geom, "new"))
        .where(wanted)
        .order_by(h.c.id)
        .limit(BATCH)
    )
    change = Change()
    ids: list[int] = []
    for row in conn.execute(stmt):
        if row.id in seen:
            continue
        ids.append(row.id)
        change.pages = True
        if row.table_name == "parcels":
            change.boxes += [b for b in (_box(row, "old"), _box(row, "new")) if b is not None]
            if row.needs_current and row.object_id.isdigit():
                change.parcel_ids.add(int(row.object_id))
        elif row.table_name == "control_indicators" and row.object_id.isdigit():
            change.parcel_ids.add(int(row.object_id))
        elif row.table_name == "parks" and row.object_id.isdigit():
            change.park_ids.add(int(row.object_id))
    if change.parcel_ids or change.park_ids:
        current = select(*_box_cols(p.c.geom, "cur")).where(
            or_(p.c.id.in_(bindparam("ids", expanding=True)), p.c.park_id.in_(bindparam("parks", expanding=True)))
        )
        for row in conn.execute(current, {"ids": sorted(change.parcel_ids) or [-1],
                                          "parks": sorted(change.park_ids) or [-1]}):
            if (b := _box(row, "cur")) is not None:
                change.boxes.append(b)
    return ids, change


def snapshot_bounds(conn: Connection) -> tuple[int, int, int]:
    """(xmin, xmax) of the current snapshot and the highest history id visible in it."""
    snap = func.pg_current_snapshot()
    row = conn.execute(select(
        cast(func.pg_snapshot_xmin(snap), Text).label("xmin"),
        cast(func.pg_snapshot_xmax(snap), Text).label("xmax"),
        func.coalesce(func.max(h.c.id), 0).label("top"),
    )).one()
    return int(row.xmin), int(row.xmax), int(row.top)


class Purger:
    """Deletes the nginx cache files that committed changes affect (see the module docstring)."""

    def __init__(self, engine: Engine, cache_dir: Path, index: CacheIndex, state_file: Path,
                 repurge_s: float = 5.0) -> None:
        self.engine = engine
        self.cache_dir = cache_dir
        self.index = index
        self.state_file = state_file
        self.repurge_s = repurge_s
        self.watermark = self._load_watermark()
        self.seen: set[int] = set()
        self.pending: deque[tuple[int, int]] = deque()  # (xmax at a poll, highest id then)
        self.later: deque[tuple[float, list[Box], bool]] = deque()
        self.deleted = 0

    def _load_watermark(self) -> int | None:
        try:
            return int(json.loads(self.state_file.read_text())["watermark"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _save_watermark(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"watermark": self.watermark}))
        tmp.replace(self.state_file)

    def start(self) -> None:
        """First run (no saved watermark): the cache may hold anything, so it is emptied."""
        if self.watermark is not None:
            log.info("cache purger resumes after history id %d", self.watermark)
            return
        with self.engine.connect() as conn:
            _xmin, _xmax, top = snapshot_bounds(conn)
        removed = sum(1 for f in self.cache_dir.glob("*/*/*") if f.is_file() and _unlink(f))
        self.watermark = top
        self._save_watermark()
        log.info("cache purger starts at history id %d (emptied %d cached entries)", top, removed)

    def poll(self) -> int:
        """Handle new committed history rows; returns how many cache entries were deleted."""
        assert self.watermark is not None, "call start() first"
        # one snapshot for the bounds and the rows (repeatable read), read-only
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            xmin, xmax, top = snapshot_bounds(conn)
            ids, change = read_changes(conn, self.watermark, self.seen)
            conn.rollback()
        deleted = 0
        if ids:
            deleted = self.purge(change.boxes, change.pages)
            self.seen.update(ids)
            if self.repurge_s > 0:
                self.later.append((time.monotonic() + self.repurge_s, change.boxes, change.pages))
        deleted += self._repurge_due()
        self._advance(xmin, xmax, top, complete=len(ids) < BATCH)
        return deleted

    def _advance(self, xmin: int, xmax: int, top: int, complete: bool) -> None:
        if complete:
            self.pending.append((xmax, top))
        moved = False
        while self.pending and self.pending[0][0] <= xmin:
            _, mark = self.pending.popleft()
            if mark > (self.watermark or 0):
                self.watermark, moved = mark, True
        if moved:
            self.seen = {i for i in self.seen if i > (self.watermark or 0)}
            self._save_watermark()

    def _repurge_due(self) -> int:
        deleted = 0
        now = time.monotonic()
        while self.later and self.later[0][0] <= now:
            _, boxes, pages = self.later.popleft()
            deleted += self.purge(boxes, pages)
        return deleted

    def purge(self, boxes: list[Box], pages: bool) -> int:
        """Delete the cached tiles these boxes touch (every cached zoom and shift) and, if asked, the pages."""
        self.index.refresh()
        keys: set[str] = set(self.index.pages) if pages else set()
        for shift in SHIFTS:
            touched: set[TileXYZ] = set()
            for box in boxes:
                touched |= tiles_touching(box, shift)
            keys.update(k for k in self.index.tile_keys(touched) if (t := tile_of_key(k)) and t[1] == shift)
        removed = [k for k in keys if _unlink(cache_file(self.cache_dir, k))]
        self.index.forget(keys)
        if removed:
            log.debug("purged %d cached entries", len(removed))
        self.deleted += len(removed)
        return len(removed)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False

