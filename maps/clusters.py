"""产业集群分布图 (/maps/clusters, public): parks by industry and output, the plan's clusters."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.mapdata.clusters import ClusterMapData, cluster_map
from hggis.mapdata.common import city_bounds, counties, data_note, industry_options
from maps.base import INDUSTRY_COLORS, TIER_LABELS, Header, MapFrame, options_html, popup

PARK_POPUP = popup(
    [
        ("county", "所在县市区", "text"),
        ("level", "级别", "text"),
        ("industry", "主导产业（五大优势产业）", "text"),
        ("leading_industries", "主导产业方向", "text"),
        ("output_yi", "园区企业产值", "yi"),
        ("area_mu", "规划面积", "mu"),
        ("contact_office", "招商联系", "text"),
        ("details", "园区详情", "link"),
    ],
    title="name",
)
CLUSTER_POPUP = popup([("county", "县市区", "text"), ("clusters", "集群", "text"), ("output_yi", "集群产值合计", "yi")],
                      title="county")


def _form(data: ClusterMapData, industries: list[dict[str, str]]) -> str:
    years = "".join(f'<option value="{y}"{" selected" if y == data.year else ""}>{y} 年</option>' for y in data.years)
    return (
        '<form method="get" action="/maps/clusters" aria-label="筛选">'
        f'<label>产业 <select name="industry">{options_html([(i["code"], i["name"]) for i in industries], data.industry)}'
        "</select></label>"
        f'<label>年度 <select name="year">{years}</select></label>'
        '<button type="submit">筛选</button></form>'
    )


def _summary(data: ClusterMapData) -> str:
    tiers = {"千亿": 0, "百亿": 0, "十亿": 0}
    for row in data.cluster_rows:
        tiers[row["tier"]] = tiers.get(row["tier"], 0) + 1
    return f"园区 {len(data.parks['features'])} 个；集群：千亿级 {tiers['千亿']}、百亿级 {tiers['百亿']}、十亿级 {tiers['十亿']}"


def build(conn: Connection, principal: Principal, year: int | None = None, industry: str | None = None,
          error: str | None = None) -> str:
    data = cluster_map(conn, principal, year, industry)
    industries = industry_options(conn)
    names = {i["code"]: i["name"] for i in industries}
    detail = f"产值为 {data.year} 年" if data.year else None
    header = Header("产业集群分布图", data_note(conn, detail), _form(data, industries), _summary(data), error=error)
    frame = MapFrame(header, city_bounds(conn))
    frame.counties(counties(conn))
    palette = {"by": "industry_code", "palette": INDUSTRY_COLORS, "fallback": "#9e9e9e"}
    frame.geojson(f"十亿级块状经济（县域，{len(data.clusters['十亿']['features'])}）", data.clusters["十亿"],
                  {**palette, "stroke": "fill", "weight": 2, "dashArray": "2 6", "fillOpacity": 0.12},
                  CLUSTER_POPUP, register="blocks", show=False)
    frame.geojson(f"百亿级特色产业集群（县域，{len(data.clusters['百亿']['features'])}）", data.clusters["百亿"],
                  {**palette, "stroke": "fill", "weight": 3, "dashArray": "8 4", "fillOpacity": 0.18},
                  CLUSTER_POPUP, register="clusters")
    frame.geojson(f"园区范围（{len(data.parks['features'])}）", data.parks,
                  {**palette, "color": "#222", "weight": 1, "fillOpacity": 0.5}, PARK_POPUP, register="parks")
    frame.geojson("园区（按产值大小）", data.markers,
                  {**palette, "color": "#fff", "weight": 1.5, "fillOpacity": 0.9},
                  PARK_POPUP, register="park_markers", points={"radiusBy": "output_yi", "radiusScale": 2.2,
                                                               "minRadius": 5, "maxRadius": 28}, tooltip="name")
    frame.legend("五大优势产业（颜色）", [("sw", c, names.get(k, k)) for k, c in INDUSTRY_COLORS.items()])
    thousand = [r["name"] for r in data.cluster_rows if r["tier"] == "千亿"]
    frame.legend("集群层级", [
        ("line", "#333", f"{TIER_LABELS['千亿']}：{'、'.join(thousand) or '无'}（全市）"),
        ("dash", "#333", f"{TIER_LABELS['百亿']}（粗虚线，县域）"),
        ("dash", "#999", f"{TIER_LABELS['十亿']}（细点线，县域）"),
        ("dot", "#666", "圆点大小：园区企业产值（亿元）"),
    ])
    return frame.render()
