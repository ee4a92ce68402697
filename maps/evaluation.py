"""亩均地图 (/maps/evaluation, restricted): parcels by class A/B/C/D, parks by 亩均税收, by year."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.clock import display_date
from hggis.mapdata.common import counties, data_note, scope_bounds
from hggis.mapdata.evaluation import CLASS_NAMES, EvaluationMapData, evaluation_map
from hggis.tiles import TILE_LAYERS, tile_url
from hggis.workbench.words import plain_text
from maps.base import Header, MapFrame, popup

CLASS_COLORS = {"A": "#1a9850", "B": "#91cf60", "C": "#fdae61", "D": "#d73027", "T": "#9e9e9e", "-": "#d9d9d9"}
TAX_COLORS = ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"]

PARCEL_POPUP = popup(
    [
        ("code", "宗地代码", "text"), ("area_mu", "面积", "mu"), ("enterprise", "评价单位", "text"),
        ("size_group", "分组", "text"), ("class_label", "分类", "text"), ("reason", "未评价原因", "text"),
        ("total_score", "综合得分", "num2"),
        ("rank", "组内排名", "int"), ("group_size", "组内企业数", "int"), ("land_mu", "评价用地", "mu"),
        ("park", "园区", "text"), ("county", "县市区", "text"),
    ],
    title="enterprise",
)
PARK_POPUP = popup(
    [
        ("tax_per_mu", "亩均税收（工业用地）", "wan_mu"), ("evaluated_tax_per_mu", "参评企业亩均税收", "wan_mu"),
        ("rank", "园区排名", "int"), ("n_evaluated", "参评企业", "int"), ("evaluated_land_mu", "参评用地", "mu"),
        ("supply_rate", "土地供应率", "pct"), ("built_rate", "土地建成率", "pct"), ("idle_mu", "闲置土地", "mu"),
        ("classes", "分类企业数", "text"),
    ],
    title="name",
)


def _form(data: EvaluationMapData) -> str:
    if not data.years:
        return ""
    years = "".join(f'<option value="{y}"{" selected" if y == data.year else ""}>{y} 年</option>' for y in data.years)
    return ('<form method="get" action="/maps/evaluation" aria-label="选择年度">'
            f'<label>评价年度 <select name="year">{years}</select></label><button type="submit">查看</button></form>')


def tax_colors(breaks: list[float]) -> list[str]:
    """One colour per class (len(breaks) + 1), spread over the ramp so few classes still differ."""
    k = len(breaks) + 1
    if k == 1:
        return [TAX_COLORS[len(TAX_COLORS) // 2]]
    last = len(TAX_COLORS) - 1
    return [TAX_COLORS[round(i * last / (k - 1))] for i in range(k)]


def tax_legend(breaks: list[float], values: list[float]) -> list[tuple[str, str, str]]:
    """Legend rows matching ``tax_colors``; a single class names its value (or its range)."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return [("sw", "#eeeeee", "无数据")]
    colors = tax_colors(breaks)
    if not breaks:
        lo, hi = round(present[0], 2), round(present[-1], 2)
        label = f"{lo:g}" if lo == hi else f"{lo:g} – {hi:g}"
        return [("sw", colors[0], f"{label} 万元/亩")]
    edges = [None, *breaks, None]
    out = []
    for i, color in enumerate(colors):
        low, high = edges[i], edges[i + 1]
        label = f"< {high:g}" if low is None else (f"≥ {low:g}" if high is None else f"{low:g} – {high:g}")
        out.append(("sw", color, f"{label} 万元/亩"))
    return out


def build(conn: Connection, principal: Principal, year: int | None = None) -> str:
    data = evaluation_map(conn, principal, year)
    if data.run is None:
        detail, summary = "尚无亩均效益评价结果（由市级管理员运行评价后显示）", ""
    else:
        detail = f"{data.year} 年度评价（第 {data.run['id']} 次运行，{display_date(data.run['created_at'])}，{plain_text(data.run['model_name'])}）"
        counts = "、".join(f"{k if k != '-' else '未评价'} {v}" for k, v in sorted(data.class_counts.items()))
        summary = f"宗地 {data.parcel_count} 宗（{counts}）；园区 {len(data.parks['features'])} 个"
    as_of = data.run["created_at"] if data.run is not None else None
    header = Header("亩均效益地图", data_note(conn, detail, as_of), _form(data), summary,
                    links=[("评价结果", "/evaluation")])
    frame = MapFrame(header, scope_bounds(conn, principal, "evaluation"))
    frame.counties(counties(conn))
    frame.geojson(f"园区亩均税收（{len(data.parks['features'])}）", data.parks,
                  {"by": "tax_per_mu", "breaks": data.tax_breaks, "colors": tax_colors(data.tax_breaks),
                   "fallback": "#eeeeee", "color": "#333", "weight": 1.5, "fillOpacity": 0.55}, PARK_POPUP, register="parks", tooltip="name")
    style = {"by": "class_code", "palette": CLASS_COLORS, "fallback": "#d9d9d9", "color": "#444", "weight": 0.6,
             "fillOpacity": 0.85}
    name = f"宗地分类（{data.parcel_count} 宗）"
    if data.parcels is not None:
        frame.geojson(name, data.parcels, style, PARCEL_POPUP, register="parcels")
    elif data.run is not None:
        layer = TILE_LAYERS["evaluation"]
        frame.tiles(name, tile_url("evaluation", run=data.run["id"]), "evaluation", style, PARCEL_POPUP,
                    register="parcels", min_zoom=layer.min_zoom)
    frame.legend("企业分类（宗地颜色）", [("sw", CLASS_COLORS[k], f"{k} {CLASS_NAMES[k]}" if k != "-" else CLASS_NAMES[k])
                                  for k in ("A", "B", "C", "D", "T", "-")])
    taxes = [f["properties"]["tax_per_mu"] for f in data.parks["features"]]
    frame.legend("园区亩均税收", tax_legend(data.tax_breaks, taxes))
    if data.parcels is None and data.run is not None:
        frame.legend("说明", [("sw", "#ffffff", f"宗地较多，放大到 {TILE_LAYERS['evaluation'].min_zoom} 级以上显示")])
    return frame.render()
