"""Recording what is seen on a parcel (动态巡查), and reading it back within the caller's scope.

Whoever may flag a parcel (park managers in their park, officers in their county, city
administrators) may record a patrol; whoever may read the parcel may read its patrols. The
record names the open idle case of the parcel, if there is one, so it is part of that case's
file. Each photo's EXIF position is measured against the parcel in PostGIS (ellipsoidal
metres, 0 inside), so a photo taken elsewhere is visible as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, cast, func, insert, literal, select
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.config import get_settings
from hggis.db.models import SRID, Parcel, table_of
from hggis.errors import Invalid, NotFound
from hggis.idle.tables import TERMINAL_STATES, IdleCase
from hggis.patrol.photos import Photo, PhotoRefused, read_photo
from hggis.patrol.tables import PATROL_STAGES, Patrol, PatrolPhoto

PATROLS = table_of(Patrol)
PHOTOS = table_of(PatrolPhoto)
PARCELS = table_of(Parcel)
CASES = table_of(IdleCase)


class PatrolRefused(Invalid):
    """A patrol record that cannot be written; ``field`` names the input at fault."""


class PatrolNotFound(NotFound):
    """No such parcel or photo, or none the caller may see."""


@dataclass
class PatrolInput:
    parcel_code: str
    stage: str
    note: str | None = None
    device_lon: float | None = None
    device_lat: float | None = None


def _parcel(conn: Connection, code: str) -> Any:
    row = conn.execute(select(PARCELS.c.id, PARCELS.c.code, PARCELS.c.adcode, PARCELS.c.park_id, PARCELS.c.retired_at)
                       .where(PARCELS.c.code == code.strip().upper())).first()
    if row is None or row.retired_at is not None:
        raise PatrolNotFound(f"宗地 {code} 不存在")
    return row


def _photos(files: list[tuple[str, bytes]]) -> list[Photo]:
    settings = get_settings()
    if len(files) > settings.hggis_patrol_max_photos:
        raise PatrolRefused(f"一次巡查最多 {settings.hggis_patrol_max_photos} 张照片", field="photos")
    try:
        return [read_photo(name, content, settings.hggis_photo_max_bytes) for name, content in files]
    except PhotoRefused as exc:
        raise PatrolRefused(str(exc), field="photos") from None


def _distance(parcel_id: int, lon: float, lat: float) -> Any:
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID)
    geom = select(PARCELS.c.geom).where(PARCELS.c.id == parcel_id).scalar_subquery()
    return select(cast(func.ST_Distance(func.geography(geom), func.geography(point)), Float)).scalar_subquery()


def record_patrol(conn: Connection, principal: Principal, data: PatrolInput, files: list[tuple[str, bytes]]) -> int:
    """Write one patrol record with its photos; the id."""
    parcel = _parcel(conn, data.parcel_code)
    authorize(principal, "parcels", "flag", parcel.adcode, parcel.park_id)
    if data.stage not in PATROL_STAGES:
        raise PatrolRefused(f"现场情况 {data.stage!r} 不可识别（可选：{'、'.join(PATROL_STAGES.values())}）", field="stage")
    if (data.device_lon is None) != (data.device_lat is None):
        raise PatrolRefused("手机位置须同时给出经度和纬度", field="device_lon")
    photos = _photos(files)
    note = (data.note or "").strip() or None
    if note is None and not photos:
        raise PatrolRefused("请写明现场情况或附上照片", field="note")
    open_case = conn.execute(
        select(CASES.c.id).where(CASES.c.parcel_id == parcel.id, CASES.c.state.not_in(TERMINAL_STATES))
        .order_by(CASES.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    patrol_id = conn.execute(
        insert(PATROLS).values(parcel_id=parcel.id, case_id=open_case, stage=data.stage, note=note,
                               observer=principal.actor, device_lon=data.device_lon, device_lat=data.device_lat)
        .returning(PATROLS.c.id)
    ).scalar_one()
    for p in photos:
        distance = _distance(parcel.id, p.lon, p.lat) if p.lon is not None and p.lat is not None else literal(None, Float)
        conn.execute(insert(PHOTOS).values(
            patrol_id=patrol_id, file_name=p.file_name[:200], mime=p.mime, sha256=p.sha256, size_bytes=len(p.content),
            width=p.width, height=p.height, taken_at=p.taken_at, lon=p.lon, lat=p.lat, distance_m=distance,
            content=p.content))
    return int(patrol_id)


def patrols_of(conn: Connection, principal: Principal, code: str) -> list[dict[str, Any]]:
    """The parcel's patrol records, newest first, with their photos' metadata (not the bytes)."""
    parcel = _parcel(conn, code)
    authorize(principal, "parcels", "read", parcel.adcode, parcel.park_id)
    records = conn.execute(select(PATROLS).where(PATROLS.c.parcel_id == parcel.id).order_by(PATROLS.c.id.desc())).all()
    photos = conn.execute(
        select(*(c for c in PHOTOS.c if c.name != "content"))
        .where(PHOTOS.c.patrol_id.in_([r.id for r in records] or [0])).order_by(PHOTOS.c.id)
    ).all()
    by_patrol: dict[int, list[dict[str, Any]]] = {}
    for ph in photos:
        by_patrol.setdefault(ph.patrol_id, []).append({
            "id": ph.id, "file_name": ph.file_name, "width": ph.width, "height": ph.height, "taken_at": ph.taken_at,
            "lon": ph.lon, "lat": ph.lat, "distance_m": None if ph.distance_m is None else round(ph.distance_m, 1),
            "size_bytes": ph.size_bytes, "url": f"/api/patrol-photos/{ph.id}",
        })
    return [{"id": r.id, "parcel_code": parcel.code, "case_id": r.case_id, "stage": r.stage,
             "stage_label": PATROL_STAGES[r.stage], "note": r.note, "observer": r.observer,
             "observed_at": r.observed_at, "device_lon": r.device_lon, "device_lat": r.device_lat,
             "photos": by_patrol.get(r.id, [])} for r in records]


def photo_content(conn: Connection, principal: Principal, photo_id: int) -> tuple[bytes, str, str]:
    """(bytes, mime, sha256) of a photo the caller may read; PatrolNotFound otherwise (same answer)."""
    row = conn.execute(
        select(PHOTOS.c.content, PHOTOS.c.mime, PHOTOS.c.sha256, PARCELS.c.adcode, PARCELS.c.park_id)
        .join(PATROLS, PATROLS.c.id == PHOTOS.c.patrol_id).join(PARCELS, PARCELS.c.id == PATROLS.c.parcel_id)
        .where(PHOTOS.c.id == photo_id)
    ).first()
    from hggis.access.policy import can

    if row is None or not can(principal, "parcels", "read", row.adcode, row.park_id):
        raise PatrolNotFound(f"照片 {photo_id} 不存在")
    return bytes(row.content), row.mime, row.sha256


def sketch(conn: Connection, principal: Principal, code: str, points: list[tuple[float, float]]) -> dict[str, Any]:
    """The parcel's outline and the given lon/lat points in one SVG frame (east-west scaled by cos φ).

    For the phone page: where each photo was taken, against the parcel, without a base map.
    """
    parcel = _parcel(conn, code)
    authorize(principal, "parcels", "read", parcel.adcode, parcel.park_id)
    geom = select(PARCELS.c.geom).where(PARCELS.c.id == parcel.id).scalar_subquery()
    factor = func.cos(func.radians(func.ST_Y(func.ST_Centroid(geom))))
    scaled = func.ST_Scale(geom, factor, 1)
    row = conn.execute(select(func.ST_AsSVG(scaled, 0, 7).label("path"), func.ST_XMin(scaled).label("x0"),
                              func.ST_YMin(scaled).label("y0"), func.ST_XMax(scaled).label("x1"),
                              func.ST_YMax(scaled).label("y1"), factor.label("k"))).one()
    xs = [row.x0, row.x1] + [lon * row.k for lon, _ in points]
    ys = [row.y0, row.y1] + [lat for _, lat in points]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    pad = max(w, h) * 0.1 or 1e-4
    return {"path": row.path, "viewbox": f"{min(xs) - pad:.7f} {-max(ys) - pad:.7f} {w + 2 * pad:.7f} {h + 2 * pad:.7f}",
            "stroke": max(w, h) / 100, "points": [(lon * row.k, -lat) for lon, lat in points]}
