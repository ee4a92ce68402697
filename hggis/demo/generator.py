"""The synthetic demo data set of 黄冈, built in memory from a seed and the county polygons.

Everything here is a pure function of ``(seed, county polygons)``: one seeded
``numpy.random.Generator`` drives every choice, nothing is read from a database or a
clock, and iteration never depends on set or hash order, so the same seed gives the
same records, byte for byte. ``hggis.demo.loader`` writes the result.

How the data is shaped:

- **Parks** (``hggis.demo.parks``) sit near their real places. Each is laid out in a
  local Gauss-Krüger plane (EPSG:4547 west of 115.5°E, 4548 east of it) as a slightly
  rotated grid of street blocks with 20–30 m roads between them; corners of the grid are
  cut away so the outline is not a rectangle, and a few blocks stay unbuilt (green
  land). The park is moved towards its county's interior until it lies inside the
  county with a margin and clear of the other parks.
- **Parcels** (宗地) subdivide the blocks: one or two rows of lots per block (a few
  blocks have a shallow front row of small lots, a few are one large lot). Lots of a
  block share their edges exactly: every vertex of a neighbour that lies on an edge is a
  vertex of that edge too, and a shared vertex is transformed once, so the lon/lat
  coordinates are identical on both sides. Lots in different blocks are a road apart.
- **Statuses** follow the life cycle of industrial land; reserve land (标准地储备) is
  chosen as runs of adjacent lots so that contiguous sites exist, with per-county totals
  (ellipsoidal 亩) inside the windows of ``RESERVE_WINDOWS_MU``.
- **Enterprises** hold the producing and building land: a firm's plant is one to five
  neighbouring lots (with ~1300 firms on ~3300 lots, most firms hold more than one), some
  have their next phase (二期) next door under construction or idle, ~5 % of producing lots
  are shared with a lessee, and a few firms have no land or less than 3 亩. Yearly figures
  are log-normal around the land they use, scaled so that 60 % are 规上 (revenue ≥ 2000
  万元) in 2024.

The reference date of the data set is 2025-06-30 (``REFERENCE_DATE``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from hggis.db.models import PARCEL_STATUSES
from hggis.demo.parks import COUNTY_SHORT_NAMES, PARKS, RESERVE_WINDOWS_MU, ParkSpec
from hggis.geo import CGCS2000_EPSG, M2_PER_MU, area_mu, transformer
from hggis.identifiers import CREDIT_ALPHABET, make_credit_code, validate_credit_code, validate_parcel_code
from hggis.validation import as_multipolygon

GENERATOR_VERSION = 1
LABEL = "示例数据：合成数据，非真实统计"
REFERENCE_DATE = dt.date(2025, 6, 30)
YEARS = (2022, 2023, 2024)
TARGET_YEAR = 2025
ABOVE_SIZE_REVENUE = 2000.0  # 万元: 规模以上 threshold
ABOVE_SIZE_SHARE_2024 = 0.60
TIER_TARGET_YI = {"千亿": 1000.0, "百亿": 100.0, "十亿": 10.0}


class GeneratorError(RuntimeError):
    """The generator could not meet one of its own guarantees (a bug or impossible input)."""


# --------------------------------------------------------------------------------------
# Product lines: industry, GB/T 4754-2017 classes, name words, 容积率 floor, intensities
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    key: str
    label: str
    industry: str | None  # one of the five; None for public utilities
    gbt: tuple[str, ...]
    words: tuple[str, ...]
    far_min: float  # 《工业项目建设用地控制指标》 (2008) minimum 容积率 (domain.md §7)
    energy: float  # tce per 万元 of output
    electricity: float  # 万kWh per 万元 of output
    emissions: float  # t of main pollutants per 万元 of output
    revenue_factor: float  # relative revenue per 亩
    tax_factor: float  # relative tax rate


PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in (
        Product("grain_oil", "粮油加工", "agri_food", ("1311", "1331"), ("粮油", "米业", "油脂"), 1.0, 0.05, 0.025, 0.0008, 0.9, 0.8),
        Product("food", "食品制造", "agri_food", ("1353", "1371", "1411", "1431", "1462"), ("食品", "食品科技", "农产品", "调味品"), 1.0, 0.06, 0.03, 0.0008, 1.0, 1.0),
        Product("beverage", "饮料酒水", "agri_food", ("1512", "1522", "1524", "1529"), ("饮品", "酒业", "饮料"), 1.0, 0.05, 0.03, 0.0006, 1.1, 1.5),
        Product("tea", "精制茶", "agri_food", ("1530",), ("茶业", "茶叶"), 1.0, 0.04, 0.02, 0.0003, 0.8, 0.9),
        Product("textile", "纺织", "agri_food", ("1711", "1713", "1751"), ("纺织", "织造", "化纤"), 0.8, 0.12, 0.08, 0.0015, 0.9, 0.8),
        Product("garment", "服装服饰", "agri_food", ("1810", "1820", "1830"), ("服饰", "制衣", "服装"), 1.0, 0.03, 0.02, 0.0003, 0.9, 0.8),
        Product("stone", "石材", "building_materials", ("3032",), ("石材", "石业"), 0.7, 0.25, 0.10, 0.0030, 0.8, 0.9),
        Product("cement", "新型建材", "building_materials", ("3011", "3021", "3033", "3034"), ("建材", "新型建材", "水泥制品"), 0.7, 0.45, 0.12, 0.0040, 0.9, 1.0),
        Product("steel_structure", "钢结构", "building_materials", ("3311",), ("钢结构", "钢构", "建筑科技"), 0.7, 0.08, 0.05, 0.0010, 1.0, 0.9),
        Product("furniture", "家居", "building_materials", ("2110", "2190", "2021"), ("家居", "木业", "家具"), 0.8, 0.05, 0.03, 0.0008, 0.9, 0.9),
        Product("pharma", "医药制造", "pharma_chem", ("2710", "2720", "2761"), ("药业", "制药", "生物医药"), 0.7, 0.15, 0.07, 0.0015, 1.3, 1.3),
        Product("tcm", "中药", "pharma_chem", ("2730", "2740"), ("中药饮片", "中药", "本草"), 0.7, 0.08, 0.04, 0.0008, 1.0, 1.1),
        Product("moxa", "蕲艾", "pharma_chem", ("2770", "2740"), ("艾制品", "艾草健康", "艾业"), 0.7, 0.05, 0.03, 0.0005, 0.9, 1.0),
        Product("chem", "精细化工", "pharma_chem", ("2614", "2619", "2641", "2661", "2662"), ("化工", "新材料", "精细化工", "化学"), 0.6, 0.35, 0.10, 0.0030, 1.2, 1.1),
        Product("phosphate", "磷化工", "pharma_chem", ("2619", "2624"), ("磷化", "磷业", "化肥"), 0.6, 0.55, 0.15, 0.0050, 1.1, 1.0),
        Product("auto_parts", "汽车零部件", "equipment", ("3670",), ("汽车零部件", "汽配", "机械"), 0.7, 0.04, 0.04, 0.0004, 1.1, 1.0),
        Product("machinery", "通用设备", "equipment", ("3441", "3451", "3484", "3511"), ("机械", "装备", "重工", "精密机械"), 0.7, 0.04, 0.035, 0.0004, 1.0, 1.0),
        Product("kiln", "窑炉", "equipment", ("3461",), ("窑炉", "热工装备", "炉业"), 0.7, 0.05, 0.04, 0.0005, 1.0, 1.0),
        Product("electrical", "电气机械", "equipment", ("3811", "3821", "3841"), ("电气", "电器", "新能源"), 0.7, 0.03, 0.04, 0.0003, 1.2, 1.0),
        Product("elec_materials", "电子信息材料", "optoelectronics", ("3982", "3985", "3976"), ("电子材料", "电子", "光电"), 1.0, 0.05, 0.06, 0.0004, 1.3, 1.0),
        Product("optical", "光电子", "optoelectronics", ("3832", "3833", "3974", "3975"), ("光电", "光电科技", "光纤"), 1.0, 0.04, 0.05, 0.0003, 1.3, 1.0),
        Product("water", "水务", None, ("4610",), ("水务", "供水"), 0.7, 0.30, 0.40, 0.0050, 0.5, 0.8),
        Product("heat", "热电", None, ("4430", "4411"), ("热电", "能源"), 0.7, 1.50, 0.30, 0.0200, 0.8, 0.8),
    )
}

# Which product lines belong to each of the plan's ten 百亿 clusters (counties from the
# migration's reference data; the mapping to products is ours).
SPECIAL_CLUSTER_PRODUCTS: dict[str, tuple[str, ...]] = {
    "黄州电子信息材料": ("elec_materials", "optical"),
    "麻城石材": ("stone",),
    "红安罗田黄州食品饮料": ("food", "beverage", "grain_oil"),
    "麻城浠水汽车零配件": ("auto_parts",),
    "黄梅龙感湖纺织服装": ("textile", "garment"),
    "武穴医药化工": ("pharma", "chem", "phosphate"),
    "团风钢结构": ("steel_structure",),
    "蕲春蕲艾": ("moxa",),
    "黄州浠水窑炉": ("kiln",),
    "英山罗田麻城中药材": ("tcm",),
}

# The 30 十亿 块状经济 bases are not named in the plan: these are synthetic, one county each.
BLOCK_ECONOMIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("421102", "生物医药", ("pharma",)),
    ("421102", "汽车零部件", ("auto_parts",)),
    ("421102", "智能装备", ("machinery", "electrical")),
    ("421121", "新型建材", ("cement",)),
    ("421121", "机械装备", ("machinery",)),
    ("421121", "农产品加工", ("food",)),
    ("421122", "新型建材", ("cement",)),
    ("421122", "纺织服装", ("garment",)),
    ("421122", "机械装备", ("machinery",)),
    ("421123", "机电", ("electrical", "machinery")),
    ("421123", "家居木业", ("furniture",)),
    ("421124", "茶叶", ("tea",)),
    ("421124", "纺织服装", ("garment",)),
    ("421124", "农产品加工", ("food",)),
    ("421125", "光电子", ("optical",)),
    ("421125", "新型建材", ("cement",)),
    ("421125", "农产品加工", ("food",)),
    ("421126", "中药材", ("tcm",)),
    ("421126", "医药", ("pharma",)),
    ("421126", "机械装备", ("machinery",)),
    ("421127", "农产品加工", ("food",)),
    ("421127", "新型建材", ("cement",)),
    ("421127", "精细化工", ("chem",)),
    ("421181", "机械装备", ("machinery",)),
    ("421181", "农产品加工", ("food",)),
    ("421181", "家居", ("furniture",)),
    ("421182", "新型建材", ("cement",)),
    ("421182", "机械装备", ("machinery",)),
    ("421182", "农产品加工", ("food",)),
    ("421171", "农产品加工", ("food", "grain_oil")),
)

ENVIRONMENT_STANDARDS: dict[str, str] = {
    "agri_food": "废水执行GB 8978《污水综合排放标准》三级标准后接入园区污水处理厂；环评批复后方可开工（示例）",
    "building_materials": "颗粒物、二氧化硫、氮氧化物执行行业大气污染物排放标准特别排放限值；环评批复后方可开工（示例）",
    "pharma_chem": "执行《制药工业大气污染物排放标准》及GB 8978；危险废物依法处置；环评批复后方可开工（示例）",
    "equipment": "涂装废气执行湖北省挥发性有机物排放标准；噪声执行GB 12348三类区；环评批复后方可开工（示例）",
    "optoelectronics": "执行《电子工业水污染物排放标准》GB 39731；环评批复后方可开工（示例）",
}

ZIHAO_FIRST = "恒瑞鑫华宏盛泰丰嘉荣新德祥通润达源金永天安博众凯弘景汇信裕锦晟禾峰隆昌益聚正科创远"
ZIHAO_SECOND = "泰达华盛源丰瑞升茂昌宇辉诚实康和兴邦晖锐越宸航垣森澜骏珑铭展拓豪川谷"


@lru_cache(maxsize=1)
def plan_clusters() -> tuple[tuple[str, str, str | None, tuple[str, ...]], ...]:
    """The plan's 13 clusters (name, tier, industry, counties) from migration 0002."""
    mod = importlib.import_module("hggis.db.migrations.versions.0002_plan_reference_data")
    return tuple((n, t, i, tuple(c)) for n, t, i, c in mod.CLUSTERS)


def block_economy_name(adcode: str, label: str) -> str:
    return f"{COUNTY_SHORT_NAMES[adcode]}{label}块状经济（示例）"


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------


@dataclass
class DemoData:
    """All records of the demo data set; references between them are list indexes.

    ``parcels[i]['holder']`` and ``occupancies[j]['enterprise']`` index ``enterprises``;
    ``...['park']`` indexes ``parks``; ``...['parcel']`` indexes ``parcels``; clusters are
    referred to by name (the plan's clusters exist in the database already).
    """

    seed: int
    parks: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)  # synthetic 十亿 only
    enterprises: list[dict[str, Any]] = field(default_factory=list)
    parcels: list[dict[str, Any]] = field(default_factory=list)
    control_indicators: list[dict[str, Any]] = field(default_factory=list)
    occupancies: list[dict[str, Any]] = field(default_factory=list)
    enterprise_years: list[dict[str, Any]] = field(default_factory=list)
    cluster_years: list[dict[str, Any]] = field(default_factory=list)
    reserve_mu_by_county: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "parks": len(self.parks),
            "clusters": len(self.clusters),
            "cluster_counties": len(self.clusters),
            "enterprises": len(self.enterprises),
            "parcels": len(self.parcels),
            "control_indicators": len(self.control_indicators),
            "occupancies": len(self.occupancies),
            "enterprise_years": len(self.enterprise_years),
            "cluster_years": len(self.cluster_years),
        }

    def digest(self) -> str:
        """SHA-256 over every record (geometries as WKB): equal digests, equal data."""
        h = hashlib.sha256()

        def norm(v: Any) -> Any:
            if isinstance(v, BaseGeometry):
                return shapely.to_wkb(v, hex=True)
            if isinstance(v, (dt.date, dt.datetime)):
                return v.isoformat()
            if isinstance(v, float):
                return repr(v)
            if isinstance(v, (list, tuple)):
                return [norm(x) for x in v]
            return v

        for name in ("parks", "clusters", "enterprises", "parcels", "control_indicators",
                     "occupancies", "enterprise_years", "cluster_years"):
            for rec in getattr(self, name):
                h.update(json.dumps({k: norm(v) for k, v in rec.items()}, ensure_ascii=False,
                                    sort_keys=True).encode())
        h.update(json.dumps(self.reserve_mu_by_county, sort_keys=True).encode())
        return h.hexdigest()


def load_county_polygons(path: Path | None = None) -> dict[str, BaseGeometry]:
    """County polygons from the committed GeoJSON (for use without a database)."""
    import pyogrio

    from hggis.boundaries import COUNTIES_FILE

    gdf = pyogrio.read_dataframe(path or COUNTIES_FILE)
    return {
        str(r.adcode): shapely.force_2d(r.geometry)
        for r in gdf.itertuples()
        if r.geometry is not None and not r.geometry.is_empty
    }


# --------------------------------------------------------------------------------------
# Geometry: park grids, placement, subdivision
# --------------------------------------------------------------------------------------

ROAD_MIN, ROAD_MAX = 20.0, 30.0
BLOCK_W = (260.0, 560.0)
BLOCK_H = (190.0, 400.0)
PARCEL_MEDIAN_MU = 22.0
PARCEL_SIGMA = 0.7
COUNTY_MARGIN_DEG = 0.0015  # ≈ 150 m kept between a park and its county border
PARK_GAP_DEG = 0.003  # ≈ 300 m between parks


@dataclass
class _Lot:
    ring: list[tuple[float, float]]  # park-plane (u, v) coordinates, counter-clockwise
    block: int  # index of the block within the park (subdivided blocks only)
    row: int  # row index within the block
    pos: int  # position within the row
    tiny: bool  # in a shallow front row of small lots


@dataclass
class _ParkPlan:
    spec: ParkSpec
    epsg: int
    theta: float
    outline: Polygon  # park plane, centred near (0, 0)
    lots: list[_Lot]
    e0: float = 0.0
    n0: float = 0.0


def _r2(x: float) -> float:
    return round(x, 2)


def _lines(rng: np.random.Generator, extent: float, lo: float, hi: float) -> tuple[list[float], list[float]]:
    """Road centre lines and widths across ``extent`` metres, blocks of ``lo``–``hi`` between."""
    widths = [float(rng.uniform(ROAD_MIN, ROAD_MAX))]
    pos = [0.0]
    while pos[-1] < extent or len(pos) < 3:
        block = float(rng.uniform(lo, hi))
        g = float(rng.uniform(ROAD_MIN, ROAD_MAX))
        pos.append(pos[-1] + widths[-1] / 2 + block + g / 2)
        widths.append(g)
    shift = pos[-1] / 2
    return [_r2(p - shift) for p in pos], [_r2(w) for w in widths]


def _row_cuts(rng: np.random.Generator, u0: float, u1: float, depth: float, tiny: bool) -> list[float]:
    cuts = [u0]
    pos = u0
    while True:
        remaining = u1 - pos
        if tiny:
            w, min_w = float(rng.uniform(30.0, 55.0)), 28.0
        else:
            a = math.exp(rng.normal(math.log(PARCEL_MEDIAN_MU), PARCEL_SIGMA))
            a = min(max(a, 8.0), 260.0)
            min_w = max(40.0, 0.3 * depth)
            w = max(a * M2_PER_MU / depth, min_w)
        if remaining - w < min_w:
            cuts.append(u1)
            return cuts
        pos = _r2(pos + w)
        cuts.append(pos)


def _subdivide(rng: np.random.Generator, u0: float, u1: float, v0: float, v1: float, block: int) -> list[_Lot]:
    """Lots of one block; neighbours share every vertex of their common edges."""
    width, height = u1 - u0, v1 - v0
    whole_mu = width * height / M2_PER_MU
    if 120.0 <= whole_mu <= 420.0 and rng.random() < 0.07:
        return [_Lot([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], block, 0, 0, False)]
    rows: list[tuple[float, float, bool]] = []
    start = v0
    if height >= 220.0 and rng.random() < 0.008:
        t = _r2(v0 + float(rng.uniform(38.0, 50.0)))
        rows.append((v0, t, True))
        start = t
    rest = v1 - start
    if rest >= 240.0:
        mid = _r2(start + rest * float(rng.uniform(0.42, 0.58)))
        rows += [(start, mid, False), (mid, v1, False)]
    else:
        rows.append((start, v1, False))
    cuts = [_row_cuts(rng, u0, u1, b - a, tiny) for a, b, tiny in rows]
    lots = []
    for r, (a, b, tiny) in enumerate(rows):
        below = cuts[r - 1][1:-1] if r > 0 else []
        above = cuts[r + 1][1:-1] if r + 1 < len(rows) else []
        c = cuts[r]
        for i in range(len(c) - 1):
            x0, x1 = c[i], c[i + 1]
            ring = [(x0, a)]
            ring += [(x, a) for x in below if x0 < x < x1]
            ring += [(x1, a), (x1, b)]
            ring += [(x, b) for x in reversed(above) if x0 < x < x1]
            ring.append((x0, b))
            lots.append(_Lot(ring, block, r, i, tiny))
    return lots


def _plan_park(rng: np.random.Generator, spec: ParkSpec) -> _ParkPlan:
    target = spec.area_km2 * 1e6
    keep = 0.86
    aspect = float(rng.uniform(1.0, 1.7))
    w_total = math.sqrt(target / keep * aspect)
    h_total = target / keep / w_total
    xs, gx = _lines(rng, w_total, *BLOCK_W)
    ys, gy = _lines(rng, h_total, *BLOCK_H)
    nx, ny = len(xs) - 1, len(ys) - 1
    kept = np.ones((nx, ny), dtype=bool)
    for cx, cy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        if nx >= 3 and ny >= 3 and rng.random() < 0.6:
            kx = int(rng.integers(1, max(1, nx // 3) + 1))
            ky = int(rng.integers(1, max(1, ny // 3) + 1))
            sx = slice(0, kx) if cx == 0 else slice(nx - kx, nx)
            sy = slice(0, ky) if cy == 0 else slice(ny - ky, ny)
            kept[sx, sy] = False
    cells = []
    lots: list[_Lot] = []
    block_no = 0
    for i in range(nx):
        for j in range(ny):
            if not kept[i, j]:
                continue
            cells.append(box(xs[i], ys[j], xs[i + 1], ys[j + 1]))
            if rng.random() < 0.05:  # green land, water, a utility yard: not subdivided
                continue
            u0, u1 = _r2(xs[i] + gx[i] / 2), _r2(xs[i + 1] - gx[i + 1] / 2)
            v0, v1 = _r2(ys[j] + gy[j] / 2), _r2(ys[j + 1] - gy[j + 1] / 2)
            lots += _subdivide(rng, u0, u1, v0, v1, block_no)
            block_no += 1
    outline = shapely.unary_union(cells)
    if not isinstance(outline, Polygon):
        raise GeneratorError(f"{spec.name}: park outline is not one polygon")
    outline = shapely.segmentize(shapely.normalize(outline), 250.0)
    epsg = 4547 if spec.lon < 115.5 else 4548
    theta = math.radians(float(rng.uniform(-12.0, 12.0)))
    return _ParkPlan(spec, epsg, theta, outline, lots)


def _to_lonlat(plan: _ParkPlan, u: np.ndarray, v: np.ndarray, de: float = 0.0, dn: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(plan.theta), math.sin(plan.theta)
    e = plan.e0 + de + (c * u - s * v)
    n = plan.n0 + dn + (s * u + c * v)
    return transformer(plan.epsg, CGCS2000_EPSG).transform(e, n)


def _outline_lonlat(plan: _ParkPlan, de: float = 0.0, dn: float = 0.0) -> Polygon:
    xy = np.asarray(plan.outline.exterior.coords)
    lon, lat = _to_lonlat(plan, xy[:, 0], xy[:, 1], de, dn)
    return Polygon(np.column_stack([lon, lat]))


def _place(plan: _ParkPlan, county: BaseGeometry, placed: list[BaseGeometry]) -> Polygon:
    """Put the park at its real place, or the nearest place inside the county and clear of others."""
    e0, n0 = transformer(CGCS2000_EPSG, plan.epsg).transform(plan.spec.lon, plan.spec.lat)
    plan.e0, plan.n0 = float(e0), float(n0)
    inner = prep(county.buffer(-COUNTY_MARGIN_DEG))
    others = prep(shapely.unary_union([p.buffer(PARK_GAP_DEG) for p in placed])) if placed else None
    for radius in np.arange(0.0, 25_001.0, 400.0):
        steps = 1 if radius == 0 else 24
        for k in range(steps):
            a = 2 * math.pi * k / steps
            de, dn = float(radius * math.cos(a)), float(radius * math.sin(a))
            poly = _outline_lonlat(plan, de, dn)
            if inner.contains(poly) and (others is None or not others.intersects(poly)):
                plan.e0 += de
                plan.n0 += dn
                return poly
    raise GeneratorError(f"{plan.spec.name}: found no place inside its county clear of other parks")


def _lot_polygons(plan: _ParkPlan) -> list[MultiPolygon]:
    sizes = [len(lot.ring) for lot in plan.lots]
    uv = np.array([p for lot in plan.lots for p in lot.ring], dtype=float)
    lon, lat = _to_lonlat(plan, uv[:, 0], uv[:, 1])
    out = []
    k = 0
    for n in sizes:
        out.append(MultiPolygon([Polygon(np.column_stack([lon[k:k + n], lat[k:k + n]]))]))
        k += n
    return out


# --------------------------------------------------------------------------------------
# Helpers for values
# --------------------------------------------------------------------------------------


def _day(rng: np.random.Generator, d0: dt.date, d1: dt.date) -> dt.date:
    span = (d1 - d0).days
    return d0 + dt.timedelta(days=int(rng.integers(0, span + 1)) if span > 0 else 0)


def _plus(d: dt.date, days: float) -> dt.date:
    return d + dt.timedelta(days=int(round(days)))


def _money(x: float) -> float:
    return round(float(x), 2)


def _pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(0, len(items)))]


def _weighted(rng: np.random.Generator, menu: tuple[tuple[str, float], ...]) -> str:
    keys = [k for k, _ in menu]
    w = np.array([x for _, x in menu], dtype=float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code_check(body8: str) -> str:
    """Check character of a GB 11714 organisation code (the 9th character)."""
    total = sum(int(ch, 36) * w for ch, w in zip(body8, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else ("0" if c == 11 else str(c))


def _credit_code(rng: np.random.Generator, adcode: str, recent: bool, taken: set[str]) -> str:
    """'91' (enterprise, company) + registration area + a GB 11714-style organisation code."""
    letters = CREDIT_ALPHABET[10:]
    while True:
        if recent:  # codes issued since 2015 start with MA
            body = "MA4" + "".join(_pick(rng, CREDIT_ALPHABET) if k else _pick(rng, letters) for k in range(5))
        else:
            body = "".join(_pick(rng, "0123456789") for _ in range(8))
        code = make_credit_code(f"91{adcode}{body}{_org_code_check(body)}")
        if code not in taken:
            taken.add(code)
            return code


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------

GROUP_STATUS_P = (  # status of a group of adjacent lots (outside the reserve)
    ("producing", 0.70),
    ("under_construction", 0.095),
    ("supplied", 0.065),
    ("idle_candidate", 0.045),
    ("on_offer", 0.055),
    ("recovered", 0.04),
)
BUILDING_STATUSES = ("under_construction", "supplied", "idle_candidate")  # held, not producing
HOLDING_SIZE_P = ((1, 0.22), (2, 0.30), (3, 0.23), (4, 0.14), (5, 0.11))
PROJECT_COMPANY_P = 0.45  # share of building/idle land held by a firm with no production yet
LESSEE_P = 0.05
NO_LAND_FIRMS = 45
UTILITY_FIRMS = 13


def generate(seed: int, counties: Mapping[str, BaseGeometry]) -> DemoData:
    """Build the demo data set for ``seed`` inside the given county polygons (adcode → lon/lat)."""
    rng = np.random.default_rng(seed)
    data = DemoData(seed=seed)
    missing = sorted({p.host_adcode for p in PARKS} - set(counties))
    if missing:
        raise GeneratorError(f"no county polygon for {', '.join(missing)}")

    # ---- parks and lots -------------------------------------------------------------
    placed: list[BaseGeometry] = []
    lot_geoms: list[MultiPolygon] = []
    lot_info: list[tuple[int, _Lot]] = []
    for k, spec in enumerate(PARKS):
        plan = _plan_park(rng, spec)
        outline = _place(plan, counties[spec.host_adcode], placed)
        placed.append(outline)
        data.parks.append(
            {
                "name": spec.name,
                "adcode": spec.adcode,
                "level": spec.level,
                "industry_code": spec.industry_code,
                "leading_industries": list(spec.leading_industries),
                "contact_office": spec.contact_office,
                "contact_phone": None,
                "boundary": as_multipolygon(outline, spec.name),
            }
        )
        prepared = prep(outline)
        for lot, geom in zip(plan.lots, _lot_polygons(plan), strict=True):
            if not prepared.contains(geom):
                raise GeneratorError(f"{spec.name}: a lot falls outside the park outline")
            lot_geoms.append(geom)
            lot_info.append((k, lot))

    n = len(lot_geoms)
    areas = np.array([area_mu(g) for g in lot_geoms])
    park_of = np.array([k for k, _ in lot_info])
    adcode_of = [PARKS[k].adcode for k in park_of]
    tiny = np.array([lot.tiny for _, lot in lot_info])

    # rows: consecutive lots of one row of one block, in order
    rows: list[list[int]] = []
    key_prev = None
    for i, (k, lot) in enumerate(lot_info):
        key = (k, lot.block, lot.row)
        if key != key_prev:
            rows.append([])
            key_prev = key
        rows[-1].append(i)

    # ---- reserve: runs of adjacent lots, per-county totals inside the windows -------
    status: list[str | None] = [None] * n
    data.reserve_mu_by_county = {}
    for adcode, (lo, hi) in RESERVE_WINDOWS_MU.items():
        total = 0.0
        if hi > 0:
            county_rows = [r for r in rows if adcode_of[r[0]] == adcode and not tiny[r[0]]]
            order = rng.permutation(len(county_rows))
            for idx in order:
                if total >= lo:
                    break
                row = county_rows[idx]
                length = int(rng.integers(2, 6))
                start = int(rng.integers(0, max(1, len(row) - length + 1)))
                run = row[start:start + length]
                if len(run) < 2 or any(status[i] is not None or areas[i] > 200 for i in run):
                    continue
                a = float(areas[run].sum())
                if total + a <= hi:
                    for i in run:
                        status[i] = "reserve"
                    total += a
            if total < lo:  # top up with neighbours of the runs, largest that still fits
                for _ in range(50):
                    if total >= lo:
                        break
                    cands = sorted(
                        (
                            j
                            for r in rows
                            if adcode_of[r[0]] == adcode
                            for p, j in enumerate(r)
                            if status[j] is None and not tiny[j]
                            and any(status[r[q]] == "reserve" for q in (p - 1, p + 1) if 0 <= q < len(r))
                            and total + areas[j] <= hi
                        ),
                        key=lambda j: -areas[j],
                    )
                    if not cands:
                        break
                    status[cands[0]] = "reserve"
                    total += float(areas[cands[0]])
        if not lo <= total <= hi:
            raise GeneratorError(f"reserve of {adcode}: {total:.1f} 亩 outside [{lo}, {hi}]")
        data.reserve_mu_by_county[adcode] = round(total, 2)

    # ---- enterprises, holdings and the other statuses ---------------------------------
    # The lots of each block are walked in serpentine order (row 0 left to right, row 1
    # right to left), so that consecutive lots are neighbours, and cut into groups: a
    # group is one firm's plant (producing, perhaps with its next phase next door), one
    # project being built, or lots the government offers or took back.
    taken_codes: set[str] = set()
    taken_names: set[str] = set()
    firms: list[dict[str, Any]] = []  # working records, trimmed into data.enterprises later
    holder: list[int | None] = [None] * n
    holdings: dict[int, list[int]] = {}

    def new_firm(kind: str, park: int | None, adcode: str, product: str, start_year: int | None) -> int:
        firms.append({"kind": kind, "park": park, "adcode": adcode, "product": product, "start_year": start_year})
        holdings[len(firms) - 1] = []
        return len(firms) - 1

    def start_year_draw() -> int:
        u = rng.random()
        if u < 0.06:
            return 2022
        if u < 0.12:
            return 2023
        if u < 0.17:
            return 2024
        return int(rng.choice(np.arange(2003, 2022), p=_recent_weights()))

    def take(f: int, i: int, st: str) -> None:
        status[i] = st
        holder[i] = f
        holdings[f].append(i)

    serpentine: list[list[int]] = []
    for members in rows:
        lot = lot_info[members[0]][1]
        if lot.row == 0:
            serpentine.append([])
        serpentine[-1] += members if lot.row % 2 == 0 else members[::-1]
    sizes = [s for s, _ in HOLDING_SIZE_P]
    size_p = np.array([p for _, p in HOLDING_SIZE_P])
    kinds = [s for s, _ in GROUP_STATUS_P]
    kind_p = np.array([p for _, p in GROUP_STATUS_P])
    kind_p = kind_p / kind_p.sum()
    building_groups: list[list[int]] = []
    segments: list[list[int]] = []  # stretches of neighbouring lots between reserve lots
    for seq in serpentine:
        segments.append([])
        for i in seq:
            if status[i] is None:
                segments[-1].append(i)
            elif segments[-1]:
                segments.append([])
    for free in segments:
        p = 0
        while p < len(free):
            size = 1 if tiny[free[p]] else sizes[int(rng.choice(len(sizes), p=size_p))]
            group = [free[p]]
            while len(group) < size and p + len(group) < len(free) and not tiny[free[p + len(group)]]:
                group.append(free[p + len(group)])
            p += len(group)
            k = int(park_of[group[0]])
            st = "producing" if tiny[group[0]] else kinds[int(rng.choice(len(kinds), p=kind_p))]
            if st == "producing":
                f = new_firm("producer", k, PARKS[k].adcode, _weighted(rng, PARKS[k].products), start_year_draw())
                for q, i in enumerate(group):
                    phase2 = q == len(group) - 1 and q > 0 and rng.random() < 0.25
                    take(f, i, _pick(rng, BUILDING_STATUSES) if phase2 else "producing")
            elif st in BUILDING_STATUSES:
                for i in group:
                    status[i] = st
                building_groups.append(group)
            else:  # on_offer, recovered: no holder
                for i in group:
                    status[i] = st
    missing_status = [s for s in PARCEL_STATUSES if s not in status]
    if missing_status:
        raise GeneratorError(f"statuses not generated: {missing_status}")

    # utilities: one single-lot producer in each of the first parks
    for k in range(min(UTILITY_FIRMS, len(PARKS))):
        cands = [f for f, r in enumerate(firms) if r["park"] == k and r["kind"] == "producer"
                 and len(holdings[f]) == 1 and not tiny[holdings[f][0]]]
        if cands:
            f = cands[int(rng.integers(0, len(cands)))]
            firms[f]["kind"] = "utility"
            firms[f]["product"] = "water" if k % 2 else "heat"

    producers_by_park: dict[int, list[int]] = {}
    for f, r in enumerate(firms):
        if r["kind"] == "producer" and not tiny[holdings[f][0]] and len(holdings[f]) <= 3:
            producers_by_park.setdefault(r["park"], []).append(f)

    for group in building_groups:  # a new project company, or an existing firm's new plant
        k = int(park_of[group[0]])
        if rng.random() < PROJECT_COMPANY_P or not producers_by_park.get(k):
            f = new_firm("project", k, PARKS[k].adcode, _weighted(rng, PARKS[k].products), None)
        else:
            f = _pick(rng, producers_by_park[k])
        for i in group:
            take(f, i, status[i] or "reserve")

    # lessees on ~5 % of producing lots
    occupancy_rows: list[dict[str, Any]] = []
    lessee_of: dict[int, tuple[int, float]] = {}
    for i in range(n):
        owner = holder[i]
        if (status[i] == "producing" and not tiny[i] and owner is not None and firms[owner]["kind"] == "producer"
                and rng.random() < LESSEE_P):
            k = int(park_of[i])
            f = new_firm("lessee", k, PARKS[k].adcode, _weighted(rng, PARKS[k].products), None)
            lessee_of[i] = (f, round(float(rng.uniform(0.2, 0.5)) * 20) / 20)

    for _ in range(NO_LAND_FIRMS):
        k = int(rng.integers(0, len(PARKS)))
        in_park = rng.random() < 0.75
        new_firm("noland", k if in_park else None, PARKS[k].adcode, _weighted(rng, PARKS[k].products), None)

    # firm attributes: names, codes, clusters
    specials = {name: counties_ for name, _t, _i, counties_ in plan_clusters() if name in SPECIAL_CLUSTER_PRODUCTS}
    thousand = {ind: name for name, tier, ind, _c in plan_clusters() if tier == "千亿"}
    blocks = [(block_economy_name(a, label), a, prods) for a, label, prods in BLOCK_ECONOMIES]

    def cluster_for(product: str, adcode: str) -> str | None:
        for name, prods in SPECIAL_CLUSTER_PRODUCTS.items():
            if product in prods and adcode in specials[name]:
                return name
        for name, a, prods in blocks:
            if a == adcode and product in prods:
                return name
        return thousand.get(PRODUCTS[product].industry)

    for r in firms:
        prod = PRODUCTS[r["product"]]
        if r["start_year"] is None and r["kind"] in ("lessee", "noland"):
            r["start_year"] = start_year_draw()
        recent = (r["start_year"] or 2024) >= 2016 or r["kind"] == "project"
        while True:
            place = COUNTY_SHORT_NAMES[r["adcode"]] if rng.random() < 0.8 else _pick(rng, ("湖北", "黄冈"))
            word = _pick(rng, prod.words)
            tail = _pick(rng, ("有限公司",) * 8 + ("股份有限公司", "科技有限公司"))
            if word.endswith("科技") and tail == "科技有限公司":
                tail = "有限公司"
            name = f"{place}{_pick(rng, ZIHAO_FIRST)}{_pick(rng, ZIHAO_SECOND)}{word}{tail}（示例）"
            if name not in taken_names:
                taken_names.add(name)
                break
        r["name"] = name
        r["credit_code"] = _credit_code(rng, r["adcode"], recent, taken_codes)
        r["gbt"] = _pick(rng, prod.gbt)
        r["cluster"] = None if prod.industry is None else cluster_for(r["product"], r["adcode"])

    # ---- parcel records ---------------------------------------------------------------
    serial: dict[tuple[str, int], int] = {}
    contract_serial: dict[tuple[str, int, str], int] = {}

    def contract_no(adcode: str, signed: dt.date, kind: str) -> str:
        letter = "B" if kind == "出让" else "A"
        key = (adcode, signed.year, letter)
        contract_serial[key] = contract_serial.get(key, 0) + 1
        return f"{adcode}{signed.year}{letter}{contract_serial[key]:05d}"

    def contract(i: int, signed: dt.date, agreed_start: dt.date, kind: str) -> dict[str, Any]:
        a = float(areas[i])
        if kind == "出让":  # 15–40 万元/亩, older contracts towards the low end
            recent = min(1.0, max(0.0, (signed.year - 2005) / 18))
            unit = 15.0 + (40.0 - 15.0) * rng.uniform(0.0, 0.5 + 0.5 * recent)
        else:  # 划拨价款: compensation and fees only
            unit = rng.uniform(5.0, 12.0)
        return {
            "contract_kind": kind,
            "contract_no": contract_no(adcode_of[i], signed, kind),
            "contract_signed_on": signed,
            "land_price": _money(unit * a),
            "agreed_start_date": agreed_start,
            "agreed_completion_date": _plus(agreed_start, rng.uniform(730, 1095)),
            "planned_investment": _money(rng.uniform(150.0, 400.0) * a),
        }

    lot_serial_key: dict[int, str] = {}
    for i, (k, lot) in enumerate(lot_info):
        spec = PARKS[k]
        sub = lot.block + 1
        serial_key = (spec.key, sub)
        serial[serial_key] = serial.get(serial_key, 0) + 1
        lot_serial_key[i] = f"{spec.adcode}{spec.cadastral_district:03d}{sub:03d}GB{serial[serial_key]:05d}"

    first_completion: dict[int, dt.date] = {}
    for i in range(n):
        k = int(park_of[i])
        lot_st = status[i]
        hf = holder[i]
        firm = firms[hf] if hf is not None else None
        code = validate_parcel_code(lot_serial_key[i], adcode_of[i])
        rec: dict[str, Any] = {
            "code": code,
            "geom": lot_geoms[i],
            "area_mu": round(float(areas[i]), 4),
            "adcode": adcode_of[i],
            "park": k,
            "land_use": "0601",
            "status": lot_st,
            "holder": hf,
            "intended_industry": None,
            "contract_kind": None, "contract_no": None, "contract_signed_on": None, "land_price": None,
            "agreed_start_date": None, "agreed_completion_date": None, "planned_investment": None,
            "started_on": None, "built_footprint_m2": None, "investment_to_date": None,
            "halted_since": None, "completed_on": None, "production_stopped_since": None,
        }
        area_m2 = float(areas[i]) * M2_PER_MU
        kind = "出让"
        if firm is not None and firm["kind"] == "utility":
            rec["land_use"] = "0809"
            kind = "划拨"
        elif firm is not None and rng.random() < 0.03:
            kind = "划拨"
        elif firm is not None and rng.random() < 0.03:
            rec["land_use"] = "0604"  # 仓储用地 held by an industrial firm
        if lot_st in ("reserve", "on_offer"):
            prod = PRODUCTS[_weighted(rng, PARKS[k].products)]
            rec["intended_industry"] = prod.industry
            data.control_indicators.append(_control_indicators(rng, i, prod))
        elif lot_st == "producing":
            assert firm is not None and hf is not None  # producing lots always have a holder
            first = firm["start_year"]
            if hf in first_completion:
                year = min(2024, first + int(rng.integers(0, 5)))
                completed = _day(rng, dt.date(year, 1, 1), dt.date(year, 12, 31))
            else:
                completed = _day(rng, dt.date(first, 1, 10), dt.date(first, 12, 20))
                first_completion[hf] = completed
            started = _plus(completed, -rng.uniform(420, 1000))
            agreed_start = _plus(started, -rng.uniform(-30, 200))
            signed = _plus(agreed_start, -rng.uniform(60, 180))
            rec.update(contract(i, signed, agreed_start, kind))
            rec["started_on"] = started
            rec["completed_on"] = completed
            rec["built_footprint_m2"] = round(area_m2 * rng.uniform(0.30, 0.60), 1)
            rec["investment_to_date"] = _money(rec["planned_investment"] * rng.uniform(0.85, 1.10))
            if rng.random() < 0.02 and completed < dt.date(2023, 1, 1):
                rec["production_stopped_since"] = _day(rng, dt.date(2024, 2, 1), dt.date(2025, 3, 31))
        elif lot_st == "under_construction":
            signed = _day(rng, dt.date(2022, 9, 1), dt.date(2024, 12, 31))
            agreed_start = _plus(signed, rng.uniform(90, 180))
            rec.update(contract(i, signed, agreed_start, kind))
            started = min(_plus(agreed_start, rng.uniform(-20, 150)), dt.date(2025, 6, 15))
            rec["started_on"] = started
            rec["built_footprint_m2"] = round(area_m2 * rng.uniform(0.30, 0.60) * rng.uniform(0.15, 0.75), 1)
            rec["investment_to_date"] = _money(rec["planned_investment"] * rng.uniform(0.25, 0.80))
            if rng.random() < 0.08 and started < dt.date(2025, 3, 1):  # a few halted, less than a year ago
                rec["halted_since"] = _day(rng, max(_plus(started, 30), dt.date(2024, 9, 1)), dt.date(2025, 5, 31))
        elif lot_st == "supplied":
            signed = _day(rng, dt.date(2024, 6, 1), dt.date(2025, 5, 31))
            agreed_start = _plus(signed, rng.uniform(90, 270))
            rec.update(contract(i, signed, agreed_start, kind))
        elif lot_st == "idle_candidate":
            if rng.random() < 0.7:  # never started: 1–3 years past the agreed start
                agreed_start = _day(rng, dt.date(2022, 7, 15), dt.date(2024, 6, 15))
                signed = _plus(agreed_start, -rng.uniform(90, 180))
                rec.update(contract(i, signed, agreed_start, kind))
            else:  # started, little done, halted for more than a year
                agreed_start = _day(rng, dt.date(2020, 6, 1), dt.date(2023, 3, 31))
                signed = _plus(agreed_start, -rng.uniform(90, 180))
                rec.update(contract(i, signed, agreed_start, kind))
                started = _plus(agreed_start, rng.uniform(0, 120))
                rec["started_on"] = started
                rec["built_footprint_m2"] = round(area_m2 * rng.uniform(0.02, 0.08), 1)
                rec["investment_to_date"] = _money(rec["planned_investment"] * rng.uniform(0.05, 0.20))
                rec["halted_since"] = min(_plus(started, rng.uniform(60, 400)), dt.date(2024, 5, 31))
        data.parcels.append(rec)

    # occupancies: holder share 1, or shared with a lessee
    for i in range(n):
        hf = holder[i]
        if hf is None:
            continue
        if i in lessee_of:
            lf, share = lessee_of[i]
            occupancy_rows.append({"parcel": i, "enterprise": hf, "share": round(1 - share, 5), "role": "holder",
                                   "floor_area_m2": None})
            occupancy_rows.append({"parcel": i, "enterprise": lf, "share": share, "role": "lessee",
                                   "floor_area_m2": round(float(data.parcels[i]["built_footprint_m2"]) * share * 1.5, 1)})
        else:
            occupancy_rows.append({"parcel": i, "enterprise": hf, "share": 1.0, "role": "holder", "floor_area_m2": None})
    data.occupancies = occupancy_rows

    # land per firm: all land held (亩均 denominators) and producing land (drives output)
    land = np.zeros(len(firms))
    productive = np.zeros(len(firms))
    stopped_loss = np.zeros(len(firms))
    for o in occupancy_rows:
        i, f, share = o["parcel"], o["enterprise"], o["share"]
        land[f] += share * areas[i]
        if status[i] == "producing":
            productive[f] += share * areas[i]
            stop = data.parcels[i]["production_stopped_since"]
            if stop is not None and stop.year == 2024:
                stopped_loss[f] += share * areas[i] * (1 - stop.timetuple().tm_yday / 366)
            elif stop is not None and stop.year < 2024:
                stopped_loss[f] += share * areas[i]

    # ---- enterprise years --------------------------------------------------------------
    _enterprise_years(rng, data, firms, productive, stopped_loss)

    # ---- enterprises (final records) ---------------------------------------------------
    for r in firms:
        prod = PRODUCTS[r["product"]]
        data.enterprises.append(
            {
                "credit_code": validate_credit_code(r["credit_code"]),
                "name": r["name"],
                "gbt4754_code": r["gbt"],
                "industry_code": prod.industry,
                "cluster": r["cluster"],
                "park": r["park"],
                "adcode": r["adcode"],
            }
        )

    # ---- synthetic clusters and cluster years -------------------------------------------
    for name, adcode, prods in blocks:
        data.clusters.append(
            {
                "name": name,
                "tier": "十亿",
                "industry_code": PRODUCTS[prods[0]].industry,
                "description": "合成示例：十亿级块状经济基地（规划未列名单，非真实认定）",
                "is_synthetic": True,
                "adcode": adcode,
            }
        )
    _cluster_years(rng, data)

    # ---- self-checks of the promises the demo makes ---------------------------------
    _check(data, land)
    return data


def _recent_weights() -> np.ndarray:
    """Weights of production start years 2003–2021: more recent years are more common."""
    w = 1.0 + (np.arange(2003, 2022) - 2003) * 0.12
    return w / w.sum()


def _control_indicators(rng: np.random.Generator, parcel: int, prod: Product) -> dict[str, Any]:
    far_min = prod.far_min
    return {
        "parcel": parcel,
        "investment_intensity": float(round(rng.uniform(150, 300) / 10) * 10),
        "far_min": far_min,
        "far_max": round(far_min + 1.5, 2),
        "tax_per_mu": float(round(rng.uniform(8, 20) * 2) / 2),
        "output_intensity": float(round(rng.uniform(250, 400) / 10) * 10),
        "energy_per_output": round(prod.energy * rng.uniform(0.8, 1.2), 4),
        "environment_standard": ENVIRONMENT_STANDARDS[prod.industry or ""],
        "building_coverage_min": 30.0,
        "green_ratio_max": 20.0,
        "admin_ratio_max": 7.0,
        "construction_months": 24,
        "production_months": 36,
    }


def _enterprise_years(
    rng: np.random.Generator,
    data: DemoData,
    firms: list[dict[str, Any]],
    productive: np.ndarray,
    stopped_loss: np.ndarray,
) -> None:
    """Yearly figures: revenue log-normal around productive land, then derived figures."""
    nf = len(firms)
    active = [f for f, r in enumerate(firms) if r["kind"] != "project"]
    years = np.array(YEARS)
    revenue = np.full((nf, len(YEARS)), np.nan)
    for f in active:
        r = firms[f]
        prod = PRODUCTS[r["product"]]
        base_land = productive[f] if productive[f] > 0 else math.exp(rng.normal(math.log(12.0), 0.5))
        rpm = math.exp(rng.normal(math.log(100.0), 0.85)) * prod.revenue_factor
        steady = base_land * rpm
        growth = np.clip(np.exp(rng.normal(0.06, 0.08, size=2)), 0.85, 1.15)
        r2024 = steady
        r2023 = r2024 / growth[1]
        r2022 = r2023 / growth[0]
        row = np.array([r2022, r2023, r2024])
        if productive[f] > 0 and stopped_loss[f] > 0:
            row[2] *= max(0.05, 1 - stopped_loss[f] / productive[f])
        sy = r["start_year"]
        for y_i, y in enumerate(YEARS):
            if y < sy:
                row[y_i] = np.nan
            elif y == sy:
                row[y_i] *= rng.uniform(0.35, 0.8)
        revenue[f] = row
    # scale so that the 2024 规上 share is exactly as configured
    r24 = revenue[active, 2]
    r24 = r24[~np.isnan(r24)]
    k = ABOVE_SIZE_REVENUE / float(np.quantile(r24, 1 - ABOVE_SIZE_SHARE_2024))
    revenue *= k * 1.0001
    for f in active:
        r = firms[f]
        prod = PRODUCTS[r["product"]]
        utility = prod.industry is None
        out_ratio = rng.uniform(0.95, 1.15)
        va_rate = rng.uniform(0.20, 0.35)
        tax_rate = min(0.15, max(0.01, math.exp(rng.normal(math.log(0.07), 0.3)) * prod.tax_factor))
        e_int = prod.energy * math.exp(rng.normal(0, 0.4))
        el_int = prod.electricity * math.exp(rng.normal(0, 0.35))
        em_int = prod.emissions * math.exp(rng.normal(0, 0.5))
        no_emissions = rng.random() < 0.10
        rnd_rate = rng.uniform(0.005, 0.05)
        rpe = math.exp(rng.normal(math.log(70.0 if not utility else 45.0), 0.4))
        for y_i, y in enumerate(years):
            rev = revenue[f, y_i]
            if np.isnan(rev):
                continue
            output = rev * min(1.2, max(0.9, out_ratio * rng.uniform(0.98, 1.02)))
            va = output * min(0.35, max(0.20, va_rate * rng.uniform(0.97, 1.03)))
            above = rev >= ABOVE_SIZE_REVENUE
            rnd = rev * rnd_rate * (1.0 if above else rng.uniform(0.05, 0.2))  # 规下: small
            data.enterprise_years.append(
                {
                    "enterprise": f,
                    "year": int(y),
                    "tax_paid": _money(rev * tax_rate * rng.uniform(0.9, 1.1)),
                    "revenue": _money(rev),
                    "value_added": _money(va),
                    "output": _money(output),
                    "energy_tce": _money(output * e_int * rng.uniform(0.95, 1.05)),
                    "electricity_10k_kwh": _money(output * el_int * rng.uniform(0.95, 1.05)),
                    "emissions_t": None if no_emissions else round(float(output * em_int * rng.uniform(0.9, 1.1)), 3),
                    "rnd_spending": _money(rnd),
                    "employees": max(8, int(round(rev / rpe * rng.uniform(0.95, 1.05)))),
                    "accident": bool(rng.random() < 0.01),
                    "utility": utility,
                    "production_start_year": int(r["start_year"]),
                }
            )


def _cluster_years(rng: np.random.Generator, data: DemoData) -> None:
    """2025 targets by tier; 2022–2024 actual output = Σ members' output (亿元)."""
    output_by: dict[tuple[str, int], float] = {}
    industry_by: dict[tuple[str, int], float] = {}
    for ey in data.enterprise_years:
        e = data.enterprises[ey["enterprise"]]
        if e["cluster"]:
            key = (e["cluster"], ey["year"])
            output_by[key] = output_by.get(key, 0.0) + ey["output"]
        if e["industry_code"]:
            key = (e["industry_code"], ey["year"])
            industry_by[key] = industry_by.get(key, 0.0) + ey["output"]
    clusters = [(n, t, i) for n, t, i, _c in plan_clusters()] + [(c["name"], c["tier"], c["industry_code"]) for c in data.clusters]
    for name, tier, industry in clusters:
        target = TIER_TARGET_YI[tier]
        for y in YEARS:
            if tier == "千亿":
                total = industry_by.get((industry, y), 0.0)
            else:
                total = output_by.get((name, y), 0.0)
            actual = round(total / 10_000, 2)
            if actual <= 0:  # no member firm: a plausible synthetic figure
                actual = round(target * rng.uniform(0.3, 0.7) * (0.9 ** (2024 - y)), 2)
            data.cluster_years.append({"cluster": name, "year": y, "target_output_yi": None, "actual_output_yi": actual})
        data.cluster_years.append({"cluster": name, "year": TARGET_YEAR, "target_output_yi": target, "actual_output_yi": None})


def _check(data: DemoData, land: np.ndarray) -> None:
    """Assert the properties the demo promises; a failure is a generator bug."""
    if len(data.parcels) < 3000:
        raise GeneratorError(f"only {len(data.parcels)} parcels generated (need ≥ 3000)")
    values = list(data.reserve_mu_by_county.values())
    below = sum(v < 500 for v in values)
    above = sum(v > 1000 for v in values)
    if below < 2 or above < 2 or below + above + sum(500 <= v <= 1000 for v in values) != len(values):
        raise GeneratorError(f"reserve totals do not span below/within/above: {data.reserve_mu_by_county}")
    facts = ("contract_signed_on", "started_on", "completed_on", "halted_since", "production_stopped_since")
    late = [p["code"] for p in data.parcels if any(p[k] is not None and p[k] > REFERENCE_DATE for k in facts)]
    if late:
        raise GeneratorError(f"{len(late)} parcels have facts after {REFERENCE_DATE}, e.g. {late[0]}")
    codes = [p["code"] for p in data.parcels]
    if len(set(codes)) != len(codes):
        raise GeneratorError("duplicate parcel codes")
    credit = [e["credit_code"] for e in data.enterprises]
    if len(set(credit)) != len(credit):
        raise GeneratorError("duplicate credit codes")
    by_firm_2024 = {ey["enterprise"]: ey for ey in data.enterprise_years if ey["year"] == 2024}
    ratios = [ey["tax_paid"] / land[f] for f, ey in by_firm_2024.items() if land[f] >= 3]
    med = float(np.median(ratios))
    if not 2.0 <= med <= 40.0:
        raise GeneratorError(f"median 亩均税收 2024 is {med:.2f} 万元/亩, outside 2–40")
    rev = {(ey["enterprise"], ey["year"]): ey["revenue"] for ey in data.enterprise_years}
    crossed = sum(1 for (f, y), r in rev.items() if y > 2022 and r >= ABOVE_SIZE_REVENUE
                  and rev.get((f, y - 1), ABOVE_SIZE_REVENUE) < ABOVE_SIZE_REVENUE)
    if crossed < 5:
        raise GeneratorError(f"only {crossed} firms cross the 规上 threshold between years")
