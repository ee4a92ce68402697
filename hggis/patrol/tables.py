"""Patrol records and their photos.

A patrol record is audited like every fact of a parcel (it enters the parcel's history);
it is never edited, a correction is a new record. Photos are kept in the database, outside
the history (their bytes would bloat every history row), and are append-only: the record
names them and a trigger refuses UPDATE and DELETE, so nothing seen on site is lost.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base, _in

#: what can be seen on the land, in the order a project goes through it
PATROL_STAGES: dict[str, str] = {
    "not_started": "未动工",
    "foundation": "基础施工",
    "structure": "主体施工",
    "production": "已投产",
    "halted": "停工",
}
PHOTO_TYPES = ("image/jpeg",)


class Patrol(Base):
    __tablename__ = "patrols"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("idle_cases.id"), index=True)  # the open case, if any
    stage: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    observer: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    device_lon: Mapped[float | None] = mapped_column(Float)  # the phone's position when recorded, if shared
    device_lat: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        CheckConstraint(_in("stage", list(PATROL_STAGES)), name="stage"),
        CheckConstraint("(device_lon IS NULL) = (device_lat IS NULL)", name="device_position_pair"),
    )


class PatrolPhoto(Base):
    __tablename__ = "patrol_photos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id"), index=True)
    file_name: Mapped[str] = mapped_column(Text)
    mime: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # EXIF DateTimeOriginal
    lon: Mapped[float | None] = mapped_column(Float)  # EXIF GPS, CGCS2000 ≈ WGS84 at this scale
    lat: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)  # from the parcel (0 inside), ellipsoidal
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("mime", list(PHOTO_TYPES)), name="mime"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_format"),
        CheckConstraint("(lon IS NULL) = (lat IS NULL)", name="position_pair"),
    )
