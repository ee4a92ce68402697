"""Which CRS a file's coordinates are really in, and why (domain.md §2).

The CRS a file declares is checked against the coordinates before it is trusted:

- a Gauss-Krüger .prj without zone prefix (4547/4548) over 8-digit eastings 38xxxxxx/
  39xxxxxx is read with the prefixed code of the same zone (4526/4527), and the other way
  round, with a note; a prefix naming another zone is refused;
- X/Y swapped columns (northing first, the Chinese survey convention) are refused with a
  hint, never silently swapped: a person must look at such a file;
- a file without a CRS is refused with the zone the coordinate magnitudes suggest (the
  refusal carries ``proposed_epsg``: the CLI offers ``--crs``, the upload page a choice of
  coordinate system), because a wrong zone moves data ~290 km;
- metres under a geographic CRS (e.g. a GeoJSON without ``crs`` member holding GK
  coordinates) are treated as "no CRS".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyproj import CRS

from hggis.geo import (
    CGCS2000_EPSG,
    GK_ZONES,
    HUANGGANG_BBOX,
    GuessResult,
    gk_zone_info_of_crs,
    guess_crs_from_coords,
    transformer,
)
from hggis.io.base import SpatialReadError

#: CRSs accepted for export and as ``--crs`` shortcuts.
EXPORT_EPSG = (4490, 4526, 4527, 4547, 4548)


class CrsRefused(SpatialReadError):
    """The file's CRS is missing or contradicts its coordinates."""

    def __init__(self, message: str, hint: str | None = None, proposed_epsg: int | None = None,
                 swapped: bool = False) -> None:
        super().__init__(message, hint)
        self.proposed_epsg = proposed_epsg
        self.swapped = swapped


@dataclass
class CrsDecision:
    """The CRS to read the raw coordinates in, where it came from, and what was noticed."""

    crs: CRS
    source: str  # "file", "--crs", "corrected", "implied"
    declared: str | None
    zone: int | None = None
    prefixed: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def epsg(self) -> int | None:
        return self.crs.to_epsg(min_confidence=70)

    @property
    def label(self) -> str:
        code = self.epsg
        return f"EPSG:{code}" if code else self.crs.name


def parse_crs(value: Any) -> CRS:
    """A CRS from ``4547``, ``"4547"``, ``"EPSG:4547"``, WKT or a proj string."""
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    try:
        return CRS.from_epsg(int(text)) if text.isdigit() else CRS.from_user_input(text)
    except Exception as exc:
        raise SpatialReadError(f"无法识别的坐标系 {value!r}：{exc}", "请给出 EPSG 代码，例如 4547") from None


def crs_label(crs: CRS | None) -> str | None:
    if crs is None:
        return None
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code}" if code else crs.name


def _proposal(guess: GuessResult) -> tuple[str, int | None]:
    """The hint of a refusal, in words for any door (the CLI adds ``--crs``, the page offers a choice)."""
    if guess.epsg is not None:
        return f"如确认无误，请指定坐标系 EPSG:{guess.epsg} 后重新导入", guess.epsg
    if guess.candidates:
        return "请指定坐标系 " + " 或 ".join(f"EPSG:{c}" for c in guess.candidates) + " 后重新导入", None
    return "请向数据提供方确认坐标所用的坐标系，指定该坐标系后重新导入", None


def _refuse_swapped(guess: GuessResult, what: str) -> None:
    raise CrsRefused(
        f"{what}：X、Y 坐标填反：{guess.reason}",
        guess.hint or "请交换 X、Y 两列后再导入",
        guess.epsg,
        swapped=True,
    )


def _is_degrees(xs: np.ndarray, ys: np.ndarray) -> bool:
    return bool(np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90))


def _fraction_in_huanggang(crs: CRS, xs: np.ndarray, ys: np.ndarray) -> float:
    lon, lat = transformer(crs, CGCS2000_EPSG).transform(xs, ys)
    lon, lat = np.asarray(lon), np.asarray(lat)
    b = HUANGGANG_BBOX
    inside = np.isfinite(lon) & (lon >= b[0]) & (lon <= b[2]) & (lat >= b[1]) & (lat <= b[3])
    return float(np.mean(inside)) if inside.size else 0.0


def _easting_kind(xs: np.ndarray) -> tuple[str, set[int]]:
    """('prefixed', zones) for 8-digit zone-prefixed eastings, ('plain', ∅) for 6-digit, else ('other', ∅)."""
    prefix = np.floor(xs / 1_000_000).astype(int)
    zones = {int(z) for z in np.unique(prefix)}
    if zones and zones <= set(GK_ZONES) and bool(np.all(np.abs(xs - prefix * 1_000_000 - 500_000) <= 250_000)):
        return "prefixed", zones
    if bool(np.all((xs >= 100_000) & (xs <= 900_000))):
        return "plain", set()
    return "other", set()


def _reconcile_gk(crs: CRS, xs: np.ndarray, said: str) -> CrsDecision | None:
    """Check a Gauss-Krüger CRS against the eastings; correct a prefix mismatch of the same zone."""
    info = gk_zone_info_of_crs(crs)
    if info is None:
        return None
    zone, prefixed = info
    kind, zones = _easting_kind(xs)
    label = crs_label(crs)
    if kind == "prefixed":
        if len(zones) > 1:
            raise CrsRefused(
                f"横坐标带有不同带号 {sorted(zones)}：一个文件混有多个投影带",
                "请按带号拆分文件后分别导入",
            )
        (pz,) = zones
        if pz != zone.zone:
            other = GK_ZONES[pz]
            raise CrsRefused(
                f"{said} {label}（{zone.zone} 带），但横坐标以 {pz} 开头（{pz} 带）",
                f"如带号无误，请指定坐标系 EPSG:{other.epsg_prefixed} 后重新导入",
                other.epsg_prefixed,
            )
        if not prefixed:
            return CrsDecision(
                CRS.from_epsg(zone.epsg_prefixed), "corrected", label, zone.zone, True,
                [
                    f"{said} {label}（{zone.zone} 带，横坐标无带号），但横坐标为 {zone.zone}xxxxxx，带有带号："
                    f"按 EPSG:{zone.epsg_prefixed} 读取（同一投影带，东伪偏移 {zone.false_easting_prefixed:.0f}）"
                ],
            )
        return CrsDecision(crs, "file", label, zone.zone, True)
    if kind == "plain" and prefixed:
        return CrsDecision(
            CRS.from_epsg(zone.epsg_unprefixed), "corrected", label, zone.zone, False,
            [
                f"{said} {label}（{zone.zone} 带，带带号），但横坐标为 6 位、无带号："
                f"按 EPSG:{zone.epsg_unprefixed} 读取（同一投影带）"
            ],
        )
    return CrsDecision(crs, "file", label, zone.zone, prefixed)


def decide_crs(
    declared: CRS | None,
    xs: Any,
    ys: Any,
    *,
    override: Any = None,
    implied: str | None = None,
    never_has_crs: bool = False,
    what: str = "文件",
) -> CrsDecision:
    """The CRS to read ``xs``/``ys`` (a sample of the file's raw coordinates) in.

    ``override`` is the caller's ``--crs``; ``implied`` the CRS a format means when it
    declares none (GeoJSON: CRS84). Raises :class:`CrsRefused` with the reason and a hint.
    """
    x = np.asarray(xs, dtype=float).ravel()
    y = np.asarray(ys, dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size == 0:
        raise CrsRefused(f"{what}：没有可读取的坐标（所有图形都为空）")
    guess = guess_crs_from_coords(x, y)
    if guess.swapped:
        _refuse_swapped(guess, what)

    if override is not None:
        crs, said, source = parse_crs(override), "指定的坐标系为", "--crs"
    elif declared is not None:
        crs, said, source = declared, "文件声明的坐标系（.prj）为", "file"
    elif implied is not None and not never_has_crs:
        crs, said, source = parse_crs(implied), "文件格式默认的坐标系为", "implied"
    else:
        hint, code = _proposal(guess)
        why = "CSV 文件不带坐标系" if never_has_crs else "文件没有坐标系（缺少 .prj）"
        raise CrsRefused(f"{what}：{why}；按坐标数值判断：{guess.reason}", hint, code)

    if crs.is_geographic and not _is_degrees(x, y):
        hint, code = _proposal(guess)
        raise CrsRefused(
            f"{what}：{said} {crs_label(crs)}（单位为度），但坐标是米制数值"
            f"（x {x.min():.0f}…{x.max():.0f}）；按坐标数值判断：{guess.reason}",
            hint,
            code,
        )
    decision = _reconcile_gk(crs, x, said) or CrsDecision(crs, source, crs_label(crs))
    if source != "file":
        decision.source = source
    decision.declared = crs_label(declared) if declared is not None else None

    frac = _fraction_in_huanggang(decision.crs, x, y)
    if frac == 0.0:
        hint, code = _proposal(guess)
        raise CrsRefused(
            f"{what}：按 {decision.label} 读取时没有任何坐标落在黄冈市内；按坐标数值判断：{guess.reason}",
            hint,
            code,
        )
    if frac < 1.0:
        decision.notes.append(f"抽样坐标中有 {1 - frac:.1%} 位于黄冈市范围外")
    if decision.crs.is_geographic and decision.crs.to_epsg() not in (CGCS2000_EPSG, 4326, None):
        decision.notes.append(f"地理坐标系 {decision.label} 已转换为 CGCS2000")
    if not decision.crs.is_geographic and gk_zone_info_of_crs(decision.crs) is None:
        decision.notes.append(
            f"{decision.label} 不是黄冈所在的 CGCS2000 高斯-克吕格投影带；请核对基准"
            "（西安 1980、北京 1954 与 CGCS2000 相差可达约 100 米）"
        )
    return decision
