"""The industrial parks of the demo data set: real names, approximate real places.

Names, counties and the known levels and leading industries come from domain.md §4. The
levels of the other counties' parks are *(unverified)* there, so they are '未定级'. The
positions are approximate lon/lat (CGCS2000) of the county seat or the known town; the
generator moves a park towards its county's interior when its outline would cross the
county border or another park. Sizes are plausible, not surveyed.

Each park carries a product menu (weights of the product lines defined in
``hggis.demo.generator.PRODUCTS``) from which its synthetic enterprises and reserve land
draw their industry; the menus follow the plan's clusters for the county.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParkSpec:
    """One park of the demo data set."""

    key: str
    name: str
    adcode: str  # the unit the park belongs to (421171 for 龙感湖)
    host_adcode: str  # the county polygon that must contain it (黄梅 421127 for 龙感湖)
    level: str
    industry_code: str
    leading_industries: tuple[str, ...]
    contact_office: str
    lon: float  # approximate centre, CGCS2000
    lat: float
    area_km2: float  # target size of the park outline
    cadastral_district: int  # 地籍区 number used in the park's 宗地代码
    products: tuple[tuple[str, float], ...]  # (product key, weight)


PARKS: tuple[ParkSpec, ...] = (
    ParkSpec(
        "gx", "黄冈高新技术产业开发区", "421102", "421102", "国家级", "pharma_chem",
        ("生物医药", "先进装备", "新能源新材料", "食品饮料"),
        "黄冈高新区招商服务中心（示例）", 114.95, 30.43, 7.8, 11,
        (("pharma", 3), ("elec_materials", 2), ("optical", 1), ("food", 2), ("beverage", 1),
         ("machinery", 2), ("kiln", 1), ("electrical", 1)),
    ),
    ParkSpec(
        "wh", "武汉开发区黄冈产业园", "421102", "421102", "未定级", "equipment",
        ("汽车零部件", "电子电器"),
        "武汉开发区黄冈产业园管委会招商局（示例）", 114.87, 30.50, 3.7, 12,
        (("auto_parts", 4), ("electrical", 3), ("elec_materials", 1), ("machinery", 1)),
    ),
    ParkSpec(
        "mc", "麻城经济开发区", "421181", "421181", "未定级", "equipment",
        ("高端装备", "汽车零部件", "石材"),
        "麻城经济开发区招商服务中心（示例）", 115.02, 31.15, 6.9, 21,
        (("stone", 3), ("auto_parts", 3), ("machinery", 3), ("tcm", 1), ("food", 1),
         ("furniture", 1)),
    ),
    ParkSpec(
        "wx", "武穴经济开发区", "421182", "421182", "省级", "pharma_chem",
        ("医药化工", "新型建材", "装备制造"),
        "武穴经济开发区招商服务中心（示例）", 115.57, 29.87, 5.5, 31,
        (("pharma", 3), ("chem", 2), ("cement", 1), ("machinery", 2), ("food", 1)),
    ),
    ParkSpec(
        "tz", "武穴田镇循环经济产业园", "421182", "421182", "未定级", "pharma_chem",
        ("磷化工", "精细化工", "循环经济"),
        "武穴田镇循环经济产业园管委会（示例）", 115.42, 29.92, 3.7, 32,
        (("phosphate", 3), ("chem", 3), ("cement", 2)),
    ),
    ParkSpec(
        "mk", "武穴马口医药化工园", "421182", "421182", "未定级", "pharma_chem",
        ("医药中间体", "原料药"),
        "武穴马口医药化工园管委会（示例）", 115.64, 29.95, 3.0, 33,
        (("pharma", 3), ("chem", 2)),
    ),
    ParkSpec(
        "qc", "蕲春经济开发区", "421126", "421126", "未定级", "pharma_chem",
        ("医药健康", "蕲艾", "装备制造"),
        "蕲春经济开发区招商服务中心（示例）", 115.44, 30.24, 5.1, 41,
        (("machinery", 2), ("pharma", 2), ("moxa", 2), ("tcm", 1), ("food", 1)),
    ),
    ParkSpec(
        "lsz", "李时珍医药工业园", "421126", "421126", "未定级", "pharma_chem",
        ("中医药", "蕲艾", "医药制造"),
        "李时珍医药工业园管委会（示例）", 115.36, 30.09, 3.0, 42,
        (("tcm", 3), ("moxa", 3), ("pharma", 2)),
    ),
    ParkSpec(
        "tf", "团风经济开发区", "421121", "421121", "未定级", "building_materials",
        ("钢结构", "装配式建筑", "装备制造"),
        "团风经济开发区招商服务中心（示例）", 114.88, 30.65, 4.1, 51,
        (("steel_structure", 4), ("cement", 2), ("machinery", 2), ("food", 1)),
    ),
    ParkSpec(
        "ha", "红安经济开发区", "421122", "421122", "未定级", "agri_food",
        ("食品饮料", "新型建材", "装备制造"),
        "红安经济开发区招商服务中心（示例）", 114.62, 31.28, 4.6, 61,
        (("food", 3), ("beverage", 1), ("cement", 2), ("garment", 1), ("machinery", 2)),
    ),
    ParkSpec(
        "lt", "罗田经济开发区", "421123", "421123", "未定级", "agri_food",
        ("食品饮料", "中药材", "机械电子"),
        "罗田经济开发区招商服务中心（示例）", 115.40, 30.78, 3.2, 71,
        (("food", 2), ("beverage", 1), ("tcm", 2), ("electrical", 1), ("furniture", 1),
         ("machinery", 1)),
    ),
    ParkSpec(
        "ys", "英山经济开发区", "421124", "421124", "未定级", "agri_food",
        ("茶叶加工", "中药材", "纺织服装"),
        "英山经济开发区招商服务中心（示例）", 115.68, 30.74, 3.0, 81,
        (("tea", 2), ("tcm", 2), ("garment", 2), ("food", 1)),
    ),
    ParkSpec(
        "xs", "浠水经济开发区", "421125", "421125", "未定级", "equipment",
        ("汽车零配件", "窑炉", "光电子"),
        "浠水经济开发区招商服务中心（示例）", 115.27, 30.45, 5.1, 91,
        (("auto_parts", 3), ("kiln", 2), ("optical", 2), ("cement", 1), ("food", 1)),
    ),
    ParkSpec(
        "hm", "黄梅经济开发区", "421127", "421127", "未定级", "agri_food",
        ("纺织服装", "食品加工", "新型建材"),
        "黄梅经济开发区招商服务中心（示例）", 115.94, 30.07, 4.1, 101,
        (("textile", 2), ("garment", 2), ("food", 2), ("cement", 1), ("chem", 1)),
    ),
    ParkSpec(
        "lgh", "龙感湖工业园", "421171", "421127", "未定级", "agri_food",
        ("纺织服装", "农产品加工"),
        "龙感湖管理区工业园服务中心（示例）", 116.05, 29.93, 2.6, 1,
        (("textile", 2), ("garment", 2), ("food", 1), ("grain_oil", 1)),
    ),
)

COUNTY_SHORT_NAMES: dict[str, str] = {
    "421102": "黄州",
    "421121": "团风",
    "421122": "红安",
    "421123": "罗田",
    "421124": "英山",
    "421125": "浠水",
    "421126": "蕲春",
    "421127": "黄梅",
    "421171": "龙感湖",
    "421181": "麻城",
    "421182": "武穴",
}

# Reserve (标准地储备) the demo gives each unit, as a window in 亩 of ellipsoidal area. The
# plan asks 500–1000 亩 per county; the demo deliberately puts two counties below and two
# above so that the reserve report has something to show. 龙感湖 has none.
RESERVE_WINDOWS_MU: dict[str, tuple[float, float]] = {
    "421102": (1080.0, 1400.0),  # above
    "421181": (1050.0, 1300.0),  # above
    "421124": (280.0, 420.0),  # below
    "421123": (360.0, 470.0),  # below
    "421171": (0.0, 0.0),  # none
    "421121": (600.0, 750.0),
    "421122": (680.0, 820.0),
    "421125": (820.0, 950.0),
    "421126": (720.0, 880.0),
    "421127": (560.0, 700.0),
    "421182": (860.0, 980.0),
}
