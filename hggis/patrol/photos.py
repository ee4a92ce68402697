"""Site photos: only real JPEGs within the size limit; their EXIF time and position kept.

A photo is the evidence of a patrol record, so it must be what it claims: Pillow opens and
verifies it (a renamed PDF or a truncated file is refused with its name and the reason),
and the camera's EXIF DateTimeOriginal and GPS position are read so the page can show where
and when it was taken against the parcel. The bytes are stored unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from hggis import clock
from hggis.errors import Invalid

JPEG_MAGIC = b"\xff\xd8\xff"
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881


class PhotoRefused(Invalid):
    """A file that is not accepted as a site photo; the message names the file and the reason."""


@dataclass
class Photo:
    file_name: str
    content: bytes
    sha256: str
    width: int
    height: int
    taken_at: dt.datetime | None
    lon: float | None
    lat: float | None
    mime: str = "image/jpeg"


def _rational(value: Any) -> float:
    if isinstance(value, tuple):  # (numerator, denominator) in older EXIF encodings
        return float(Fraction(value[0], value[1] or 1))
    return float(value)


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (_rational(v) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if str(ref).upper() in ("S", "W") else value


def _taken_at(exif: Image.Exif) -> dt.datetime | None:
    sub = exif.get_ifd(EXIF_IFD)
    raw = sub.get(DATETIME_ORIGINAL) or exif.get(ExifTags.Base.DateTime)
    if not raw:
        return None
    try:
        local = dt.datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(OFFSET_TIME_ORIGINAL)
    if offset:
        try:
            return dt.datetime.strptime(f"{local:%Y-%m-%d %H:%M:%S}{offset}", "%Y-%m-%d %H:%M:%S%z")
        except ValueError:
            pass
    return local.replace(tzinfo=clock.local_tz())  # cameras write local time without a zone


def _position(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(GPS_IFD)
    if not gps or 2 not in gps or 4 not in gps:
        return None, None
    lat, lon = _degrees(gps[2], gps.get(1, "N")), _degrees(gps[4], gps.get(3, "E"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lon, 7), round(lat, 7)


def read_photo(file_name: str, content: bytes, max_bytes: int) -> Photo:
    if len(content) > max_bytes:
        raise PhotoRefused(f"照片 {file_name}：{len(content) / 1e6:.1f} MB，超过上限 {max_bytes / 1e6:.0f} MB")
    if not content.startswith(JPEG_MAGIC):
        raise PhotoRefused(f"照片 {file_name}：不是 JPEG 图片（仅接受手机或相机拍摄的 .jpg 照片）")
    try:
        with Image.open(io.BytesIO(content)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(content)) as image:
            if image.format != "JPEG":
                raise PhotoRefused(f"照片 {file_name}：不是 JPEG 图片")
            width, height = image.size
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PhotoRefused(f"照片 {file_name}：文件已损坏或不是图片（{exc}）") from None
    lon, lat = _position(exif)
    return Photo(file_name, content, hashlib.sha256(content).hexdigest(), width, height, _taken_at(exif), lon, lat)
