"""Geodesy for 黄冈: 亩, ellipsoidal area, Gauss-Krüger zones, GCJ-02.

Everything that turns coordinates into official numbers goes through this module, so the
rules in ``domain.md`` §1–2 are applied in exactly one place:

- areas are ellipsoidal (椭球面积), the figure the third land survey (三调) reports;
- geometries are stored in CGCS2000 lon/lat (EPSG:4490), ``always_xy=True`` everywhere;
- survey files come in CGCS2000 3-degree Gauss-Krüger zones 38/39, with or without the
  zone prefix, often without a usable .prj and sometimes with X/Y swapped;
- AMap-derived data is in GCJ-02 and must be converted with the *iterative* inverse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

__all__ = [
    "M2_PER_MU",
    "CGCS2000_EPSG",
    "HUANGGANG_BBOX",
    "GKZone",
    "GK_ZONES",
    "GuessResult",
    "mu_to_m2",
    "m2_to_mu",
    "ellipsoidal_area_m2",
    "area_mu",
    "gk_zone_of_crs",
    "gk_zone_info_of_crs",
    "zone_from_easting",
    "zone_for_longitude",
    "guess_crs_from_coords",
    "transformer",
    "to_cgcs2000",
    "out_of_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_single_step",
    "wgs84_to_gcj02_arrays",
    "gcj02_to_wgs84_arrays",
    "wgs84_to_gcj02_geom",
    "gcj02_to_wgs84_geom",
]

# --------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------

#: 1 亩 = 10 000 / 15 m² exactly (15 亩 = 1 公顷).
M2_PER_MU: float = 2000 / 3


def mu_to_m2(mu: float) -> float:
    """亩 → m²."""
    return mu * M2_PER_MU


def m2_to_mu(m2: float) -> float:
    """m² → 亩."""
    return m2 / M2_PER_MU


#: Decimals of an area in 亩 wherever one is shown or served (API, OGC, tiles, pages, reports).
#: 0.01 亩 ≈ 6.7 m²: finer than a survey's boundary, coarse enough not to print noise; a coarser
#: 0.1 亩 turned 599.95 into 600.0 and could move a parcel across a 600 亩 threshold.
AREA_DECIMALS = 2


def round_mu(mu: float) -> float:
    """An area in 亩 as shown: AREA_DECIMALS places."""
    return round(float(mu), AREA_DECIMALS)


def round_mu_sql(expr: str) -> str:
    """The same rounding in SQL, as float8 so JSON carries a number."""
    return f"round(({expr})::numeric, {AREA_DECIMALS})::float8"


def total_mu(parts: Iterable[float]) -> float:
    """A total that equals the sum of its parts as shown: the rounded parts, added, rounded once more."""
    return round_mu(sum(round_mu(p) for p in parts))


# --------------------------------------------------------------------------------------
# Ellipsoidal area
# --------------------------------------------------------------------------------------

#: CGCS2000 geographic 2D (lon/lat in our axis convention).
CGCS2000_EPSG = 4490

# The CGCS2000 ellipsoid (a = 6378137, 1/f = 298.257222101) equals GRS80 to within
# 0.1 mm in the semi-minor axis, so GRS80 gives the official ellipsoidal area.
_GEOD = Geod(ellps="GRS80")


def ellipsoidal_area_m2(geom: BaseGeometry) -> float:
    """Ellipsoidal area in m² of a lon/lat (EPSG:4490) geometry.

    This is the 三调 / ``ST_Area(geom::geography)`` figure; never use a planar area of
    Web Mercator (×1.35 at 30.5°N) or even Gauss-Krüger (up to ~0.05 % off at zone edges).
    Orientation does not matter; holes are subtracted; non-areal parts count as 0.
    """
    if geom is None or geom.is_empty:
        return 0.0
    area, _perimeter = _GEOD.geometry_area_perimeter(geom)
    return abs(area)


def area_mu(geom: BaseGeometry) -> float:
    """Ellipsoidal area in 亩 of a lon/lat (EPSG:4490) geometry."""
    return m2_to_mu(ellipsoidal_area_m2(geom))


# --------------------------------------------------------------------------------------
# Area of interest
# --------------------------------------------------------------------------------------

#: Approximate lon/lat box of 黄冈市 (min_lon, min_lat, max_lon, max_lat), padded ~0.1°.
#: The AMap-derived outline spans about 114.40–116.13°E, 29.72–31.61°N.
HUANGGANG_BBOX: tuple[float, float, float, float] = (114.3, 29.6, 116.25, 31.7)

BBox = tuple[float, float, float, float]


def _inside(lon: np.ndarray, lat: np.ndarray, bbox: BBox) -> np.ndarray:
    return (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])


# --------------------------------------------------------------------------------------
# Gauss-Krüger zones
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GKZone:
    """A CGCS2000 3-degree Gauss-Krüger zone and its two EPSG codes."""

    zone: int
    central_meridian: float
    epsg_prefixed: int  # easting carries the zone number: 38 500 000 at the CM
    epsg_unprefixed: int  # easting 500 000 at the CM

    @property
    def west(self) -> float:
        return self.central_meridian - 1.5

    @property
    def east(self) -> float:
        return self.central_meridian + 1.5

    @property
    def false_easting_prefixed(self) -> float:
        return self.zone * 1_000_000 + 500_000

    def epsg(self, prefixed: bool) -> int:
        return self.epsg_prefixed if prefixed else self.epsg_unprefixed


#: The two zones 黄冈 touches (it straddles 115.5°E).
GK_ZONES: dict[int, GKZone] = {
    38: GKZone(zone=38, central_meridian=114.0, epsg_prefixed=4526, epsg_unprefixed=4547),
    39: GKZone(zone=39, central_meridian=117.0, epsg_prefixed=4527, epsg_unprefixed=4548),
}

_ZONE_BY_EPSG: dict[int, tuple[GKZone, bool]] = {}
for _z in GK_ZONES.values():
    _ZONE_BY_EPSG[_z.epsg_prefixed] = (_z, True)
    _ZONE_BY_EPSG[_z.epsg_unprefixed] = (_z, False)
del _z

# CGCS2000 / GRS80 ellipsoid: a = 6378137 m, 1/f = 298.257222101 (GRS80: ...100882711).
_CGCS2000_A = 6378137.0
_CGCS2000_INVF = 298.257222101


def zone_for_longitude(lon: float) -> GKZone:
    """The 3° zone whose central meridian is nearest to ``lon`` (zone n has CM 3n°E).

    Raises ``KeyError`` outside zones 38–39, the only ones this project handles.
    """
    n = int(math.floor(lon / 3.0 + 0.5))
    try:
        return GK_ZONES[n]
    except KeyError:
        raise KeyError(f"longitude {lon}° is in 3° zone {n}, not one of {sorted(GK_ZONES)}") from None


def _as_crs(crs: Any) -> CRS:
    if isinstance(crs, CRS):
        return crs
    if isinstance(crs, int):
        return CRS.from_epsg(crs)
    return CRS.from_user_input(crs)


def _is_cgcs2000_datum(crs: CRS) -> bool:
    """True if the geodetic base is CGCS2000 (by name or by the GRS80-equal ellipsoid)."""
    geodetic = crs.geodetic_crs
    if geodetic is not None and geodetic.to_epsg(min_confidence=90) == CGCS2000_EPSG:
        return True
    name = "".join(ch for ch in (crs.datum.name if crs.datum else "").lower() if ch.isalnum())
    if "china2000" in name or "cgcs2000" in name:
        return True
    ell = crs.ellipsoid
    # A proj string "+ellps=GRS80" is how PostGIS and many tools spell CGCS2000 GK.
    return (
        ell is not None
        and abs(ell.semi_major_metre - _CGCS2000_A) < 1e-3
        and abs(ell.inverse_flattening - _CGCS2000_INVF) < 1e-6
    )


def _param(op: Any, codes: Iterable[int], names: Iterable[str]) -> float | None:
    codes, names = set(codes), {n.lower() for n in names}
    for p in op.params:
        if (p.code and int(p.code) in codes) or p.name.lower() in names:
            return float(p.value)
    return None


def _match_by_parameters(crs: CRS) -> tuple[GKZone, bool] | None:
    """Recognise a CGCS2000 3° GK zone from its projection parameters alone.

    Needed because many .prj files carry no authority code (ESRI WKT1, hand-written WKT,
    proj strings), yet their parameters say exactly which zone they are.
    """
    if not crs.is_projected or not _is_cgcs2000_datum(crs):
        return None
    op = crs.coordinate_operation
    if op is None:
        return None
    method = op.method_name.lower().replace("_", " ").replace("-", " ")
    if "transverse mercator" not in method and "gauss kruger" not in method:
        return None
    lon0 = _param(op, [8802], ["longitude of natural origin", "central meridian"])
    lat0 = _param(op, [8801], ["latitude of natural origin", "latitude of origin"])
    k0 = _param(op, [8805], ["scale factor at natural origin", "scale factor"])
    fe = _param(op, [8806], ["false easting"])
    fn = _param(op, [8807], ["false northing"])
    if lon0 is None or fe is None:
        return None
    if (lat0 or 0.0) != 0.0 or (fn or 0.0) != 0.0 or abs((1.0 if k0 is None else k0) - 1.0) > 1e-9:
        return None
    for zone in GK_ZONES.values():
        if abs(lon0 - zone.central_meridian) > 1e-9:
            continue
        if abs(fe - 500_000.0) < 1e-6:
            return zone, False
        if abs(fe - zone.false_easting_prefixed) < 1e-6:
            return zone, True
    return None


def gk_zone_info_of_crs(crs: Any) -> tuple[GKZone, bool] | None:
    """(zone, prefixed) of a CGCS2000 3° GK CRS for zones 38/39, else ``None``.

    Accepts a pyproj CRS, "EPSG:4547", 4547, WKT (with or without authority) or a proj
    string. Matches by EPSG code first, then by projection parameters.
    """
    try:
        c = _as_crs(crs)
    except Exception:
        return None
    if c.is_bound and c.source_crs is not None:  # WKT1 with TOWGS84 → BoundCRS; the zone is in the source CRS
        c = c.source_crs
    if c.is_compound:
        c = c.sub_crs_list[0]
    code = c.to_epsg(min_confidence=100)
    if code in _ZONE_BY_EPSG:
        return _ZONE_BY_EPSG[code]
    return _match_by_parameters(c)


def gk_zone_of_crs(crs: Any) -> GKZone | None:
    """The CGCS2000 3° GK zone (38 or 39) a CRS is in, or ``None`` if it is not one."""
    info = gk_zone_info_of_crs(crs)
    return info[0] if info else None


# A 3° zone reaches ~±170 km from its CM at the equator (~±145 km at 30°N).
_HALF_ZONE_M = 250_000.0


def zone_from_easting(x: float) -> tuple[GKZone, bool] | None:
    """(zone, prefixed=True) for an 8-digit zone-prefixed easting 38xxxxxx/39xxxxxx.

    A 6-digit (unprefixed) easting says nothing about its zone, so it gives ``None``;
    use :func:`guess_crs_from_coords` with the whole file instead.
    """
    if not math.isfinite(x):
        return None
    n = int(x // 1_000_000)
    zone = GK_ZONES.get(n)
    if zone is None or abs((x - n * 1_000_000) - 500_000.0) > _HALF_ZONE_M:
        return None
    return zone, True


# --------------------------------------------------------------------------------------
# Guessing the CRS of a file without one
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuessResult:
    """A proposed CRS for un-referenced coordinates, with the reason a person can check.

    ``candidates`` lists every plausible EPSG code; ``epsg`` is set only when exactly one
    remains. ``swapped`` means the first column holds northing/latitude (the Chinese
    survey convention X = northing), so the columns must be exchanged before use.
    """

    epsg: int | None
    candidates: tuple[int, ...]
    swapped: bool
    reason: str
    hint: str | None = None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


_SWAP_HINT = (
    "第一列是纵坐标（测量上的 X，如界址点坐标表），第二列是横坐标（Y）：请交换 X、Y 两列后再导入。"
)
_SWAP_HINT_DEG = "第一列是纬度，第二列是经度：请交换两列后再导入。"
_GCJ_NOTE = "如数据取自高德或腾讯地图，则为 GCJ-02 坐标，须先转换（约偏移 0.55 千米）。"

# Northings of 黄冈 are ~3.29–3.50 million m; accept a margin for the coarse test.
_NORTHING_RANGE = (3_100_000.0, 3_700_000.0)
_UNPREFIXED_EASTING_RANGE = (100_000.0, 900_000.0)


def _in_range(a: np.ndarray, lo: float, hi: float) -> bool:
    return bool(np.all((a >= lo) & (a <= hi)))


def _looks_like_northing(a: np.ndarray) -> bool:
    return _in_range(a, *_NORTHING_RANGE)


def _looks_like_easting(a: np.ndarray) -> str | None:
    """'prefixed', 'unprefixed' or None for an easting column."""
    prefix = np.floor(a / 1_000_000)
    if bool(
        np.all(np.isin(prefix, list(GK_ZONES)))
        and np.all(np.abs(a - prefix * 1_000_000 - 500_000.0) <= _HALF_ZONE_M)
    ):
        return "prefixed"
    if _in_range(a, *_UNPREFIXED_EASTING_RANGE):
        return "unprefixed"
    return None


def _sample(a: np.ndarray, n: int = 2000) -> np.ndarray:
    if a.size <= n:
        return a
    return a[np.linspace(0, a.size - 1, n).astype(int)]


def _fraction_inside(epsg: int, e: np.ndarray, n: np.ndarray, bbox: BBox) -> float:
    lon, lat = transformer(epsg, CGCS2000_EPSG).transform(e, n)
    ok = np.isfinite(lon) & np.isfinite(lat)
    return float(np.mean(ok & _inside(np.asarray(lon), np.asarray(lat), bbox)))


def _guess_projected(e: np.ndarray, n: np.ndarray, swapped: bool, bbox: BBox) -> GuessResult | None:
    kind = _looks_like_easting(e)
    if kind is None or not _looks_like_northing(n):
        return None
    hint = _SWAP_HINT if swapped else None
    order = "（X、Y 填反：纵坐标在前）" if swapped else ""
    es, ns = _sample(e), _sample(n)
    if kind == "prefixed":
        zone_numbers = sorted({int(v // 1_000_000) for v in e})
        zones = [GK_ZONES[z] for z in zone_numbers]
        codes = tuple(z.epsg_prefixed for z in zones)
        if len(zones) > 1:
            return GuessResult(
                None, codes, swapped,
                f"8 位横坐标带有不同带号 {zone_numbers}{order}：一个文件混有多个投影带，"
                f"请按带号拆分（EPSG:{codes[0]} / EPSG:{codes[1]}）。",
                hint,
            )
        z = zones[0]
        frac = _fraction_inside(z.epsg_prefixed, es, ns, bbox)
        where = "全部位于黄冈市内" if frac == 1.0 else f"但只有 {frac:.0%} 的点位于黄冈市内"
        return GuessResult(
            z.epsg_prefixed, codes, swapped,
            f"8 位横坐标以 {z.zone} 开头{order}：CGCS2000 3° 高斯-克吕格 {z.zone} 带"
            f"（中央经线 {z.central_meridian:g}°E，带带号），EPSG:{z.epsg_prefixed}；{where}。",
            hint,
        )
    # Unprefixed: the zone is only knowable from where the points land.
    fits = [
        z for z in GK_ZONES.values() if _fraction_inside(z.epsg_unprefixed, es, ns, bbox) == 1.0
    ]
    codes = tuple(z.epsg_unprefixed for z in fits)
    if len(fits) == 1:
        z = fits[0]
        return GuessResult(
            z.epsg_unprefixed, codes, swapped,
            f"6 位横坐标、纵坐标约 {np.median(n) / 1e6:.2f} 百万米{order}：CGCS2000 3° 高斯-克吕格（无带号）；"
            f"只有 {z.zone} 带（中央经线 {z.central_meridian:g}°E，EPSG:{z.epsg_unprefixed}）使各点落在黄冈市内。",
            hint,
        )
    if len(fits) > 1:
        listed = "、".join(f"{z.zone} 带（EPSG:{z.epsg_unprefixed}）" for z in fits)
        return GuessResult(
            None, codes, swapped,
            f"6 位横坐标{order}：CGCS2000 3° 高斯-克吕格（无带号），无法确定投影带：{listed} "
            "都使各点落在黄冈市内；请按 .prj 文件或向数据提供方确认投影带。",
            hint,
        )
    return GuessResult(
        None, (), swapped,
        f"6 位横坐标{order}像是无带号的高斯-克吕格坐标，但 38 带和 39 带都不能使全部点落在黄冈市内；"
        "文件可能使用独立坐标系、其他地区或混有多个投影带，请向数据提供方确认。",
        hint,
    )


def guess_crs_from_coords(
    xs: Iterable[float], ys: Iterable[float], *, bbox: BBox = HUANGGANG_BBOX
) -> GuessResult:
    """Propose the CRS of un-referenced coordinates (file column 1 = ``xs``, 2 = ``ys``).

    Recognises lon/lat degrees (EPSG:4490), zone-prefixed GK eastings (4526/4527),
    unprefixed GK (4547/4548, zone decided by which one lands inside ``bbox``) and swapped
    columns. It only proposes: a person confirms, because a wrong zone moves data ~290 km
    and a wrong datum (Xi'an 1980) ~100 m, neither of which coordinates alone reveal.
    """
    x = np.asarray(list(xs) if not isinstance(xs, np.ndarray) else xs, dtype=float).ravel()
    y = np.asarray(list(ys) if not isinstance(ys, np.ndarray) else ys, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"xs and ys differ in length: {x.size} vs {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        return GuessResult(None, (), False, "没有可判断的有效坐标。")

    # Degrees.
    ax, ay = np.abs(x), np.abs(y)
    if (_in_range(ax, 0, 180) and _in_range(ay, 0, 90)) or (_in_range(ax, 0, 90) and _in_range(ay, 0, 180)):
        if bool(np.all(_inside(x, y, bbox))):
            return GuessResult(
                CGCS2000_EPSG, (CGCS2000_EPSG,), False,
                "黄冈市内的经纬度（度）：CGCS2000 地理坐标，EPSG:4490。" + _GCJ_NOTE,
            )
        if bool(np.all(_inside(y, x, bbox))):
            return GuessResult(
                CGCS2000_EPSG, (CGCS2000_EPSG,), True,
                "黄冈市内的纬度/经度（纬度在前）：CGCS2000 地理坐标 EPSG:4490，两列填反。" + _GCJ_NOTE,
                _SWAP_HINT_DEG,
            )
        return GuessResult(
            None, (CGCS2000_EPSG,), False,
            f"数值像经纬度（x {x.min():.4f}…{x.max():.4f}，y {y.min():.4f}…{y.max():.4f}），"
            "但不在黄冈市内；请核对数据来源。",
        )

    # Projected metres, in GIS order (easting, northing) or survey order (northing, easting).
    for e, n, swapped in ((x, y, False), (y, x, True)):
        result = _guess_projected(e, n, swapped, bbox)
        if result is not None:
            return result

    return GuessResult(
        None, (), False,
        f"无法识别的坐标（x {x.min():.3f}…{x.max():.3f}，y {y.min():.3f}…{y.max():.3f}）："
        "既不是经纬度，也不是黄冈市的 CGCS2000 高斯-克吕格米制坐标。",
    )


# --------------------------------------------------------------------------------------
# Reprojection
# --------------------------------------------------------------------------------------


def _crs_key(crs: Any) -> Any:
    """A hashable cache key; CRS objects hash by their WKT."""
    if isinstance(crs, (int, str, CRS)):
        return crs
    return _as_crs(crs)


@lru_cache(maxsize=64)
def _cached_transformer(src: Any, dst: Any) -> Transformer:
    return Transformer.from_crs(_as_crs(src), _as_crs(dst), always_xy=True)


def transformer(src: Any, dst: Any) -> Transformer:
    """A cached lon/lat-ordered (``always_xy``) Transformer; thread-safe in pyproj ≥ 3.1."""
    return _cached_transformer(_crs_key(src), _crs_key(dst))


def to_cgcs2000(geom: BaseGeometry, src_crs: Any) -> BaseGeometry:
    """Reproject a shapely geometry from ``src_crs`` to EPSG:4490 lon/lat.

    GCJ-02 is not a CRS PROJ knows; convert such data with :func:`gcj02_to_wgs84_geom`.
    """
    t = transformer(src_crs, CGCS2000_EPSG)

    def _f(xy: np.ndarray) -> np.ndarray:
        lon, lat = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, _f)


# --------------------------------------------------------------------------------------
# GCJ-02 ("火星坐标")
# --------------------------------------------------------------------------------------
# The public re-implementation of the GCJ-02 obfuscation (Krasovsky 1940 ellipsoid
# constants). It is a smooth forward function with no closed-form inverse.

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def out_of_china(lon: float, lat: float) -> bool:
    """True where GCJ-02 applies no shift (the rough rectangle the public formula uses)."""
    return bool(_out_of_china(np.asarray(lon), np.asarray(lat)))


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dlon, dlat) in degrees that GCJ-02 adds to WGS84 (zero outside China)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS84/CGCS2000 → GCJ-02 for arrays (what AMap tiles expect)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84_arrays(
    lon: Any, lat: Any, tol: float = 1e-9, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS84/CGCS2000 for arrays, by fixed-point iteration.

    Starts from the one-step inverse (target − shift(target)), then repeats
    wgs ← wgs − (gcj02(wgs) − target) until every point moves less than ``tol`` degrees
    (1e-9° ≈ 0.1 mm). The one-step inverse alone leaves metre-level errors because the
    shift at the true point differs from the shift at the GCJ point ~0.55 km away.
    """
    tlon = np.asarray(lon, dtype=float)
    tlat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_delta(tlon, tlat)
    wlon, wlat = tlon - dlon, tlat - dlat
    for _ in range(max_iter):
        glon, glat = wgs84_to_gcj02_arrays(wlon, wlat)
        elon, elat = glon - tlon, glat - tlat
        wlon, wlat = wlon - elon, wlat - elat
        err = np.maximum(np.abs(elon), np.abs(elat))
        if err.size == 0 or not np.any(err > tol):
            break
    return wlon, wlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84/CGCS2000 → GCJ-02 for one point; unchanged outside China."""
    a, b = wgs84_to_gcj02_arrays(lon, lat)
    return float(a), float(b)


def gcj02_to_wgs84(lon: float, lat: float, tol: float = 1e-9, max_iter: int = 30) -> tuple[float, float]:
    """GCJ-02 → WGS84/CGCS2000 for one point (iterative inverse, see the array version)."""
    a, b = gcj02_to_wgs84_arrays(lon, lat, tol=tol, max_iter=max_iter)
    return float(a), float(b)


def gcj02_to_wgs84_single_step(lon: float, lat: float) -> tuple[float, float]:
    """The crude one-step inverse (target − shift(target)); kept only to show its error."""
    dlon, dlat = _gcj_delta(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return float(lon - dlon), float(lat - dlat)


def _xy_func(f: Any) -> Any:
    def _g(xy: np.ndarray) -> np.ndarray:
        a, b = f(xy[:, 0], xy[:, 1])
        return np.column_stack([a, b])

    return _g


def wgs84_to_gcj02_geom(geom: BaseGeometry) -> BaseGeometry:
    """Shift every vertex of a lon/lat geometry WGS84 → GCJ-02 (to draw over AMap tiles)."""
    return shapely.transform(geom, _xy_func(wgs84_to_gcj02_arrays))


def gcj02_to_wgs84_geom(geom: BaseGeometry, tol: float = 1e-9, max_iter: int = 30) -> BaseGeometry:
    """Convert every vertex of a GCJ-02 lon/lat geometry to WGS84/CGCS2000 (iterative).

    Vertices move independently, so a shared border stays shared; the result may still
    need ``make_valid`` in rare self-touching cases.
    """
    return shapely.transform(
        geom, _xy_func(lambda a, b: gcj02_to_wgs84_arrays(a, b, tol=tol, max_iter=max_iter))
    )
