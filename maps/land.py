"""招商地图 (/maps/land, public): land on offer, filters, and the site finder's results."""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, grant
from hggis.mapdata.common import counties, county_options, data_note, industry_options, scope_bounds, to_gcj02
from hggis.mapdata.land import LandFilter, find_sites_for_map, site_features
from hggis.mapdata.land_view import NO_INDUSTRY, POLYGON_ZOOM, offer_summary
from hggis.tiles import tile_url
from maps.base import INDUSTRY_COLORS, Basemap, Header, MapFrame, basemap_from, options_html, popup

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
        ("code", "详情", "parcel"),
    ],
    title="park",
)
SITE_POPUP = popup(
    [("site_rank", "排名", "int"), ("area_mu", "连片面积", "mu"), ("county", "县市区", "text"), ("parks", "园区", "text"),
     ("parcel_count", "宗地数", "int"), ("parcels", "宗地代码", "text"), ("explanation", "说明", "text")],
)
UNASSIGNED = "#e53935"
OTHER = "#9e9e9e"


def land_style(industries: list[dict[str, str]]) -> dict:
    """Land on offer coloured by its suitable industry (the public field carries the name)."""
    palette = {i["name"]: INDUSTRY_COLORS.get(i["code"], OTHER) for i in industries}
    return {"by": "intended_industry", "palette": palette, "fallback": UNASSIGNED, "color": "#7f0000",
            "weight": 1.5, "fillOpacity": 0.7}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _number(name: str, label: str, value: float | None) -> str:
    return (f'<input type="number" name="{name}" min="0" step="any" value="{_num(value)}" '
            f'aria-label="{html.escape(label)}">')


#: Buttons that open the filters, legend and list on a phone (hidden on a desktop).
TOGGLES = (
    '<span class="hg-toggles" role="group" aria-label="显示">'
    '<button type="button" class="hg-toggle" data-panel="filters" aria-expanded="false">筛选</button>'
    '<button type="button" class="hg-toggle" data-panel="legend" aria-expanded="false">图例</button>'
    '<button type="button" class="hg-toggle" data-panel="list" aria-expanded="false">列表</button></span>'
)


def _form(conn: Connection, f: LandFilter, sites: bool) -> str:
    county = options_html([(c["adcode"], c["name"]) for c in county_options(conn)], f.adcode)
    industry = options_html([(i["code"], i["name"]) for i in industry_options(conn)], f.industry)
    checked = " checked" if sites else ""
    return (
        TOGGLES
        + '<form method="get" action="/maps/land" aria-label="筛选可供土地" class="hg-filters">'
        f'<label>县市区 <select name="adcode">{county}</select></label>'
        f'<label>产业 <select name="industry">{industry}</select></label>'
        f'<label>面积（亩） {_number("min_mu", "最小面积（亩）", f.min_mu)} – '
        f'{_number("max_mu", "最大面积（亩）", f.max_mu)}</label>'
        f'<label>投资强度要求 ≤ {_number("max_intensity", "投资强度要求上限（万元/亩）", f.max_intensity)}</label>'
        f'<label>亩均税收要求 ≤ {_number("max_tax", "亩均税收要求上限（万元/亩）", f.max_tax)}</label>'
        f'<label><input type="checkbox" name="sites" value="true"{checked}> 连片选址</label>'
        '<button type="submit">查询</button> <a href="/maps/land">清除</a></form>'
    )


def _summary(count: int, area_mu: float, sites_found: int | None) -> str:
    text = f"可供土地 {count} 宗，合计 {area_mu:,.2f} 亩"
    if sites_found is not None:
        text += f"；连片选址结果 {sites_found} 处"
    return text


LIST_HTML = (
    '<aside class="hg-list" id="hg-list" aria-label="地块列表">'
    '<div class="hg-list-head"><strong>地块列表</strong> <span id="hg-list-count" aria-live="polite"></span></div>'
    '<table class="hg-list-table"><thead><tr>'
    '<th scope="col">宗地代码</th>'
    '<th scope="col" aria-sort="descending"><button type="button" data-sort="area">面积（亩）</button></th>'
    '<th scope="col"><button type="button" data-sort="county">县市区</button></th>'
    '<th scope="col"><button type="button" data-sort="industry">适宜产业</button></th>'
    '</tr></thead><tbody id="hg-list-rows"></tbody></table></aside>'
)


def legend_entries(present: list[str], industries: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """One swatch per suitable industry that the land shown has, in the plan's order (legend = drawing)."""
    entries = [("sw", INDUSTRY_COLORS.get(i["code"], OTHER), i["name"]) for i in industries if i["code"] in present]
    if NO_INDUSTRY in present:
        entries.append(("sw", UNASSIGNED, "未指定产业"))
    return entries


def palette_by_code(industries: list[dict[str, str]]) -> dict[str, str]:
    return {**{i["code"]: INDUSTRY_COLORS.get(i["code"], OTHER) for i in industries}, NO_INDUSTRY: UNASSIGNED}


def _opening_view(conn: Connection, principal: Principal, f: LandFilter,
                  land: list[list[float]] | None) -> list[list[float]] | None:
    """Where the map opens: a chosen county, or the county or park a staff member works in, opens on that
    area (they look at their own ground first); everyone else opens fitted to the land on offer."""
    if f.adcode is not None or grant(principal, "parcels", "read") in ("county", "park"):
        return scope_bounds(conn, principal, "parcels", adcode=f.adcode) or land
    return land or scope_bounds(conn, principal, "parcels", adcode=f.adcode)


def build(conn: Connection, principal: Principal, f: LandFilter, sites: bool = False) -> str:
    summary = offer_summary(conn, principal, f)
    answer = find_sites_for_map(conn, principal, f) if sites else None
    header = Header("招商地图 · 可供土地", data_note(conn), _form(conn, f, sites),
                    _summary(summary.count, summary.area_mu, None if answer is None else len(answer["results"])),
                    links=[("产业集群分布图", "/maps/clusters")])
    bounds = _opening_view(conn, principal, f, summary.bounds)
    frame = MapFrame(header, bounds, body_class="hg-land")
    frame.counties(counties(conn))
    industries = industry_options(conn)
    style = land_style(industries)
    name = f"可供土地（{summary.count} 宗）"
    frame.tiles(name + "：地块", tile_url("parcels", **f.query()), "parcels", style, LAND_POPUP,
                register="land", show=False)
    frame.legend("可供土地（挂牌出让中），按适宜产业", legend_entries(summary.industries, industries))
    if answer is not None:
        found = site_features(answer)
        frame.geojson(f"连片选址结果（{len(found['features'])} 处）", found,
                      {"color": "#0d47a1", "weight": 3, "fillColor": "#42a5f5", "fillOpacity": 0.35},
                      SITE_POPUP, register="sites", tooltip="site_rank")
        frame.legend("连片选址", [("sw", "#42a5f5", f"候选地块（{answer.get('visibility', '')}）")])
    frame.aside(LIST_HTML)
    frame.page_js.append("/static/hggis-land.js")
    config = {
        "query": {k: str(v) for k, v in f.query().items()},
        "polygonZoom": POLYGON_ZOOM,
        "palette": palette_by_code(industries),
        "names": {**{i["code"]: i["name"] for i in industries}, NO_INDUSTRY: "未指定产业"},
        "count": summary.count,
        "clustersUrl": "/maps/land/clusters.json",
        "listUrl": "/maps/land/list.json",
    }
    frame.script("HGGIS.land.init({map}, " + json.dumps(config, ensure_ascii=False).replace("</", "<\\/") + ");")
    return frame.render()


def land_url(f: LandFilter, sites: bool = False) -> str:
    query = {**f.query(), **({"sites": "true"} if sites else {})}
    return "/maps/land" + (f"?{urlencode(query)}" if query else "")


def _shift_corners(bounds: list[list[float]]) -> list[list[float]]:
    pts = to_gcj02({"type": "MultiPoint", "coordinates": [[b[1], b[0]] for b in bounds]})["coordinates"]
    return [[c[1], c[0]] for c in pts]


def for_basemap(payload: dict[str, Any], basemap: Basemap | None = None) -> dict[str, Any]:
    """Clusters or list rows moved WGS84 → GCJ-02 when the map is drawn over AMap (like every overlay)."""
    if (basemap or basemap_from()).shift != "gcj02":
        return payload
    for c in payload.get("clusters", []):
        (c["lat"], c["lon"]), = _shift_corners([[c["lat"], c["lon"]]])
        c["bounds"] = _shift_corners(c["bounds"])
    for r in payload.get("rows", []):
        r["bounds"] = _shift_corners(r["bounds"])
        r["outline"] = to_gcj02(r["outline"])
    return payload
