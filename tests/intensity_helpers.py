"""A small park built through the doors (parcels and figures imports), shared by the intensity tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hggis.db.session import transaction
from tests.factories import HUANGZHOU, add_park, credit_code, parcel_code, square

YEAR = 2024
E1, E2, E3 = credit_code(1), credit_code(2), credit_code(3)
# code serial -> properties as a county's parcel file carries them (Chinese headers, units in headers)
PARCELS: dict[int, dict[str, Any]] = {
    1: {"状态": "已投产", "权利人": "甲公司", "统一社会信用代码": E1, "供地方式": "出让", "出让合同编号": "黄出让〔2022〕1号",
        "约定竣工日期": "2022-12-31", "竣工日期": "2022-06-01", "交地日期": "2022-03-01", "建筑占地面积（平方米）": 5000,
        "总建筑面积（平方米）": 12000, "累计完成投资（万元）": 3000},
    2: {"状态": "已投产", "权利人": "乙公司", "统一社会信用代码": E2, "供地方式": "出让", "出让合同编号": "黄出让〔2023〕2号",
        "约定竣工日期": "2023-06-30", "竣工日期": "2023-05-01", "交地日期": "2023-01-10", "建筑占地面积（平方米）": 3000,
        "总建筑面积（平方米）": 6000, "累计完成投资（万元）": 1500},
    3: {"状态": "已供地", "权利人": "丙公司", "统一社会信用代码": E3, "供地方式": "出让", "出让合同编号": "黄出让〔2024〕3号",
        "约定竣工日期": "2024-06-30", "交地日期": "2024-02-01"},
    4: {"状态": "储备"},
    5: {"状态": "挂牌"},
    6: {"状态": "闲置", "权利人": "丙公司", "统一社会信用代码": E3, "供地方式": "划拨", "约定竣工日期": "2021-12-31",
        "交地日期": "2020-05-01"},
}
FIGURES = ("统一社会信用代码,企业名称,年度,税收（万元）,主营业务收入（万元）,工业总产值（万元）\n"
           f"{E1},甲公司,{YEAR},300,21000,20000\n{E2},乙公司,{YEAR},20,3100,3000\n{E3},丙公司,{YEAR},5,100,100\n")


@dataclass
class Park:
    park_id: int
    name: str


def parcels_geojson(park_name: str) -> bytes:
    lon, lat = HUANGZHOU
    features = [
        {"type": "Feature", "geometry": mapping(square(lon + 0.003 * serial, lat + 0.02, 100)),
         "properties": {"宗地代码": parcel_code(serial), "地类": "0601", "所属园区": park_name, **props}}
        for serial, props in PARCELS.items()
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def build_park(engine: Engine, client: TestClient, headers: dict[str, str], name: str = "集约测试园区") -> Park:
    """The park row (reference data: no import exists for parks), then parcels and figures through the imports."""
    with transaction(engine, "test setup", "园区名录") as conn:
        park_id = add_park(conn, name)
    r = client.post("/api/imports/parcels", headers=headers,
                    files={"file": ("园区宗地.geojson", parcels_geojson(name), "application/geo+json")})
    assert r.status_code == 200, r.text
    r = client.post("/api/imports/figures", headers=headers,
                    files={"file": ("企业指标.csv", FIGURES.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    return Park(park_id, name)


def areas(engine: Engine) -> dict[int, float]:
    """Each test parcel's ellipsoidal area in 亩, read independently of the code under test."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, ST_Area(geom::geography) / (2000.0 / 3) FROM parcels")).all()
    by_code = dict(rows)
    return {serial: by_code[parcel_code(serial)] for serial in PARCELS}
