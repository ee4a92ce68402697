"""开发区土地集约利用评价地图 (/maps/intensity, restricted): parks coloured by their intensity score, by year."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.clock import display_date
from hggis.mapdata.common import counties, data_note, scope_bounds
from hggis.mapdata.intensity import SCORE_BREAKS, SCORE_LABELS, IntensityMapData, intensity_map
from hggis.workbench.words import plain_text
from maps.base import Header, MapFrame, popup

SCORE_COLORS = ["#d73027", "#fdae61", "#a6d96a", "#1a9850"]
PARK_POPUP = popup(
    [
        ("score", "集约度分值", "num2"), ("rank", "排名", "int"), ("supply_rate", "土地供应率（%）", "num2"),
        ("built_rate", "土地建成率（%）", "num2"), ("industrial_far", "工业用地综合容积率", "num2"),
        ("industrial_tax_per_mu", "工业用地地均税收", "wan_mu"), ("expansion_mu", "尚可供应土地", "mu"),
        ("supply_years", "尚可供地年数", "num2"),
    ],
    title="name",
)


def _form(data: IntensityMapData) -> str:
    if not data.years:
        return ""
    years = "".join(f'<option value="{y}"{" selected" if y == data.year else ""}>{y} 年</option>' for y in data.years)
    return ('<form method="get" action="/maps/intensity" aria-label="选择年度">'
            f'<label>评价年度 <select name="year">{years}</select></label><button type="submit">查看</button></form>')


def build(conn: Connection, principal: Principal, year: int | None = None) -> str:
    data = intensity_map(conn, principal, year)
    if data.run is None:
        detail, summary = "尚无开发区土地集约利用评价结果（由市级管理员运行评价后显示）", ""
    else:
        detail = (f"{data.year} 年度评价（第 {data.run['id']} 次运行，{display_date(data.run['created_at'])}，"
                  f"{plain_text(data.run['model_name'])}）")
        summary = f"园区 {data.n_results} 个，已绘制 {len(data.parks['features'])} 个"
        if data.n_without_outline:
            summary += f"（{data.n_without_outline} 个无园区范围，未绘制）"
    as_of = data.run["created_at"] if data.run is not None else None
    header = Header("开发区土地集约利用评价地图", data_note(conn, detail, as_of), _form(data), summary,
                    links=[("评价结果", "/intensity")])
    frame = MapFrame(header, scope_bounds(conn, principal, "evaluation"))
    frame.counties(counties(conn))
    frame.geojson(f"园区集约度（{len(data.parks['features'])}）", data.parks,
                  {"by": "score", "breaks": SCORE_BREAKS, "colors": SCORE_COLORS, "fallback": "#eeeeee",
                   "color": "#333", "weight": 1.5, "fillOpacity": 0.6}, PARK_POPUP, register="parks", tooltip="name")
    frame.legend("集约度分值（0–100）", [("sw", c, label) for c, label in zip(SCORE_COLORS, SCORE_LABELS, strict=True)]
                 + [("sw", "#eeeeee", "无宗地，未评分")])
    return frame.render()
