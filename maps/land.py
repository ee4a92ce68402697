"""招商地图 (/maps/land, public): land on offer, filters, and the site finder's results."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.mapdata.common import counties, county_options, data_note, industry_options, scope_bounds
from hggis.mapdata.land import LandFilter, LandMapData, find_sites_for_map, land_on_offer, site_features
from hggis.tiles import TILE_LAYERS, tile_url
from maps.base import INDUSTRY_COLORS, Header, MapFrame, options_html, popup

__all__ = ["LandFilter", "build"]

LAND_POPUP = popup(
    [
        ("code", "宗地代码", "text"),
        ("area_mu", "面积", "mu"),
        ("status_label", "状态", "text"),
        ("county", "县市区", "text"),
        ("park", "园区", "text"),
        ("intended_industry", "适宜产业", "text"),
        ("land_use", "用途代码（GB/T 21010）", "text"),
        ("investment_intensity", "投资强度 ≥（万元/亩）", "num1"),
        ("far_min", "容积率 ≥", "num2"),
        ("far_max", "容积率 ≤", "num2"),
        ("tax_per_mu_required", "亩均税收 ≥（万元/亩）", "num1"),
        ("output_intensity", "产出强度 ≥（万元/亩）", "num1"),
        ("building_coverage_min", "建筑系数 ≥（%）", "num1"),
        ("green_ratio_max", "绿地率 ≤（%）", "num1"),
        ("construction_months", "建设期（月）", "int"),
        ("contact_office", "招商联系", "text"),
    ],
    title="park",
)
SITE_POPUP = popup(
    [("site_rank", "排名", "int"), ("area_mu", "连片面积", "mu"), ("county", "县市区", "text"), ("parks", "园区", "text"),
     ("parcel_count", "宗地数", "int"), ("parcels", "宗地代码", "text"), ("explanation", "说明", "text")],
)
UNASSIGNED = "#e53935"


def land_style(industries: list[dict[str, str]]) -> dict:
    """Land on offer coloured by its suitable industry (the public field carries the name)."""
    palette = {i["name"]: INDUSTRY_COLORS.get(i["code"], "#9e9e9e") for i in industries}
    return {"by": "intended_industry", "palette": palette, "fallback": UNASSIGNED, "color": "#7f0000",
            "weight": 1.5, "fillOpacity": 0.7}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _form(conn: Connection, f: LandFilter, sites: bool) -> str:
    county = options_html([(c["adcode"], c["name"]) for c in county_options(conn)], f.adcode)
    industry = options_html([(i["code"], i["name"]) for i in industry_options(conn)], f.industry)
    checked = " checked" if sites else ""
    return (
        '<form method="get" action="/maps/land" aria-label="筛选可供土地">'
        f'<label>县市区 <select name="adcode">{county}</select></label>'
        f'<label>产业 <select name="industry">{industry}</select></label>'
        f'<label>面积（亩） <input type="number" name="min_mu" min="0" step="any" value="{_num(f.min_mu)}" '
        f'aria-label="最小面积（亩）"> – <input type="number" name="max_mu" min="0" step="any" '
        f'value="{_num(f.max_mu)}" aria-label="最大面积（亩）"></label>'
        f'<label><input type="checkbox" name="sites" value="true"{checked}> 连片选址</label>'
        '<button type="submit">查询</button></form>'
    )


def _summary(data: LandMapData, sites_found: int | None) -> str:
    text = f"可供土地 {data.count} 宗，合计 {data.area_mu:,.2f} 亩"
    if data.inline is None:
        text += "（地块较多，放大地图后显示）"
    if sites_found is not None:
        text += f"；连片选址结果 {sites_found} 处"
    return text


def build(conn: Connection, principal: Principal, f: LandFilter, sites: bool = False) -> str:
    data = land_on_offer(conn, principal, f)
    answer = find_sites_for_map(conn, principal, f) if sites else None
    header = Header("招商地图 · 可供土地", data_note(conn), _form(conn, f, sites),
                    _summary(data, None if answer is None else len(answer["results"])),
                    links=[("产业集群分布图", "/maps/clusters")])
    frame = MapFrame(header, scope_bounds(conn, principal, "parcels", adcode=f.adcode))
    frame.counties(counties(conn))
    industries = industry_options(conn)
    style = land_style(industries)
    name = f"可供土地（{data.count} 宗）"
    if data.inline is not None:
        frame.geojson(name, data.inline, style, LAND_POPUP, register="land")
    else:
        layer = TILE_LAYERS["parcels"]
        frame.tiles(name, tile_url("parcels", **data.tile_query), "parcels", style, LAND_POPUP,
                    register="land", min_zoom=layer.min_zoom)
    frame.legend("可供土地（挂牌出让中），按适宜产业",
                 [("sw", INDUSTRY_COLORS.get(i["code"], "#9e9e9e"), i["name"]) for i in industries]
                 + [("sw", UNASSIGNED, "未指定产业")])
    if answer is not None:
        found = site_features(answer)
        frame.geojson(f"连片选址结果（{len(found['features'])} 处）", found,
                      {"color": "#0d47a1", "weight": 3, "fillColor": "#42a5f5", "fillOpacity": 0.35},
                      SITE_POPUP, register="sites", tooltip="site_rank")
        frame.legend("连片选址", [("sw", "#42a5f5", f"候选地块（{answer.get('visibility', '')}）")])
    return frame.render()


def land_url(f: LandFilter, sites: bool = False) -> str:
    query = {**f.query(), **({"sites": "true"} if sites else {})}
    return "/maps/land" + (f"?{urlencode(query)}" if query else "")
