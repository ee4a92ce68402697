"""Which CRS a file's coordinates are really in, and why (domain.md §2).

The CRS a file declares is checked against the coordinates before it is trusted:

- a Gauss-Krüger .prj without zone prefix (4547/4548) over 8-digit eastings 38xxxxxx/
  39xxxxxx is read with the prefixed code of the same zone (4526/4527), and the other way
  round, with a note; a prefix naming another zone is refused;
- X/Y swapped columns (northing first, the Chinese survey convention) are refused with a
  hint, never silently swapped: a person must look at such a file;
- a file without a CRS is refused with the zone the coordinate magnitudes suggest and the
  ``--crs`` option, because a wrong zone moves data ~290 km;
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

    def __init__(self, message: str, hint: str | None = None, proposed_epsg: int | None = None) -> None:
        super().__init__(message, hint)
        self.proposed_epsg = proposed_epsg


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
        raise SpatialReadError(f"unknown CRS {value!r}: {exc}", "give an EPSG code such as 4547") from None


def crs_label(crs: CRS | None) -> str | None:
    if crs is None:
        return None
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code}" if code else crs.name


def _proposal(guess: GuessResult) -> tuple[str, int | None]:
    if guess.epsg is not None:
        return f"re-run with --crs {guess.epsg} if that is right", guess.epsg
    if guess.candidates:
        return "re-run with --crs " + " or --crs ".join(str(c) for c in guess.candidates), None
    return "ask the data supplier which CRS the coordinates are in, then re-run with --crs EPSG", None


def _refuse_swapped(guess: GuessResult, what: str) -> None:
    raise CrsRefused(
        f"{what}: X and Y are swapped: {guess.reason}",
        guess.hint or "exchange the X and Y columns before import",
        guess.epsg,
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
                f"eastings carry zone prefixes {sorted(zones)}: one file mixes zones",
                "split the file by zone prefix and import each part",
            )
        (pz,) = zones
        if pz != zone.zone:
            other = GK_ZONES[pz]
            raise CrsRefused(
                f"{said} {label} (zone {zone.zone}) but the eastings start with {pz} (zone {pz})",
                f"if the prefix is right, re-run with --crs {other.epsg_prefixed}",
                other.epsg_prefixed,
            )
        if not prefixed:
            return CrsDecision(
                CRS.from_epsg(zone.epsg_prefixed), "corrected", label, zone.zone, True,
                [
                    f"{said} {label} (zone {zone.zone}, easting without zone prefix) but the eastings are "
                    f"{zone.zone}xxxxxx: they carry the zone prefix, so the file is read as "
                    f"EPSG:{zone.epsg_prefixed} (same zone, false easting {zone.false_easting_prefixed:.0f})"
                ],
            )
        return CrsDecision(crs, "file", label, zone.zone, True)
    if kind == "plain" and prefixed:
        return CrsDecision(
            CRS.from_epsg(zone.epsg_unprefixed), "corrected", label, zone.zone, False,
            [
                f"{said} {label} (zone {zone.zone} with zone prefix) but the eastings are 6-digit, without "
                f"prefix: the file is read as EPSG:{zone.epsg_unprefixed} (same zone)"
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
    what: str = "file",
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
        raise CrsRefused(f"{what}: no coordinates to read (every geometry is empty)")
    guess = guess_crs_from_coords(x, y)
    if guess.swapped:
        _refuse_swapped(guess, what)

    if override is not None:
        crs, said, source = parse_crs(override), "--crs says", "--crs"
    elif declared is not None:
        crs, said, source = declared, "the file's CRS (.prj) says", "file"
    elif implied is not None and not never_has_crs:
        crs, said, source = parse_crs(implied), f"the format implies", "implied"
    else:
        hint, code = _proposal(guess)
        why = "a CSV carries no CRS" if never_has_crs else "the file has no CRS (no .prj)"
        raise CrsRefused(f"{what}: {why}; the coordinates suggest: {guess.reason}", hint, code)

    if crs.is_geographic and not _is_degrees(x, y):
        hint, code = _proposal(guess)
        raise CrsRefused(
            f"{what}: {said} {crs_label(crs)} (degrees) but the coordinates are metres "
            f"(x {x.min():.0f}…{x.max():.0f}); the coordinates suggest: {guess.reason}",
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
            f"{what}: read as {decision.label}, no coordinate falls inside 黄冈; the coordinates suggest: {guess.reason}",
            hint,
            code,
        )
    if frac < 1.0:
        decision.notes.append(f"{1 - frac:.1%} of the sampled coordinates fall outside the 黄冈 area")
    if decision.crs.is_geographic and decision.crs.to_epsg() not in (CGCS2000_EPSG, 4326, None):
        decision.notes.append(f"geographic CRS {decision.label} is converted to CGCS2000 by PROJ")
    if not decision.crs.is_geographic and gk_zone_info_of_crs(decision.crs) is None:
        decision.notes.append(
            f"{decision.label} is not a CGCS2000 Gauss-Krüger zone of 黄冈; check the datum "
            "(Xi'an 1980 / Beijing 1954 differ from CGCS2000 by up to ~100 m)"
        )
    return decision
