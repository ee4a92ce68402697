"""Small builders of real rows for tests (through the same services the app uses)."""

from __future__ import annotations

from shapely.geometry import box
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.identifiers import make_credit_code
from hggis.parcels import ParcelInput, create_parcel

# A point well inside 黄州区 (the 黄冈 city centre).
HUANGZHOU = (114.88, 30.45)
DEG_LAT_M = 110_850.0  # metres per degree of latitude at 30.5°N (enough for test shapes)


def square(lon: float, lat: float, side_m: float):
    """An axis-aligned square of roughly ``side_m`` metres, south-west corner at lon/lat."""
    import math

    dlat = side_m / DEG_LAT_M
    dlon = side_m / (DEG_LAT_M * math.cos(math.radians(lat)))
    return box(lon, lat, lon + dlon, lat + dlat)


def parcel_code(serial: int, adcode: str = "421102") -> str:
    return f"{adcode}001001GB{serial:05d}"


def credit_code(serial: int) -> str:
    return make_credit_code(f"91421102MA{serial:07d}")


def add_park(conn: Connection, name: str = "测试园区", adcode: str = "421102") -> int:
    return conn.execute(
        text("INSERT INTO parks (name, adcode, level) VALUES (:n, :a, '省级') RETURNING id"),
        {"n": name, "a": adcode},
    ).scalar_one()


def county_anchor(conn: Connection, adcode: str) -> tuple[float, float]:
    """A point well inside the county: 黄州's city centre, else a point on the county's surface."""
    if adcode == "421102":
        return HUANGZHOU
    lon, lat = conn.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p FROM counties WHERE adcode = :a) s"),
        {"a": adcode},
    ).one()
    return lon, lat


def add_parcel(conn: Connection, serial: int, status: str = "reserve", side_m: float = 100.0, **kw) -> int:
    """A square parcel in the county of its park (黄州 without a park), laid out by serial."""
    adcode = "421102"
    if kw.get("park_id") is not None:
        adcode = conn.execute(text("SELECT adcode FROM parks WHERE id = :p"), {"p": kw["park_id"]}).scalar_one()
    lon0, lat0 = county_anchor(conn, adcode)
    # Rows of 20 parcels ~290 m apart, rows ~1.1 km apart: every serial stays inside the county.
    lon = lon0 + (serial % 20) * 0.003
    lat = lat0 + (serial // 20) * 0.01
    geom = square(lon, lat, side_m)
    return create_parcel(conn, ParcelInput(code=parcel_code(serial, adcode), geometry=geom, status=status, **kw))
