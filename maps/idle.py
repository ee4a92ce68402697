"""闲置土地地图 (/maps/idle, restricted): candidates by rule, cases by state, days idle, deadlines."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.mapdata.common import counties, data_note, scope_bounds
from hggis.mapdata.idle import IdleMapData, idle_map
from hggis.tiles import TILE_LAYERS, tile_url
from maps.base import Header, MapFrame, options_html, popup

RULE_COLORS = ["#b2182b", "#d6604d", "#f4a582", "#762a83", "#9970ab", "#c2a5cf", "#1b7837", "#5aae61", "#a6dba0",
               "#e08214", "#8c510a", "#01665e"]
STATE_COLORS = {
    "suspected": "#fdd835", "notice_issued": "#fb8c00", "finding_issued": "#e53935", "publicly_listed": "#ad1457",
    "disposal_decided": "#6a1b9a", "recovered": "#283593", "in_reserve": "#00897b", "reoffered": "#43a047",
    "closed": "#9e9e9e",
}
CANDIDATE_POPUP = popup(
    [("code", "宗地代码", "text"), ("area_mu", "面积", "mu"), ("rules", "触发规则", "text"), ("since", "起算日期", "text"),
     ("days_idle", "已闲置/持续", "days"), ("deadline", "下一时限", "text"), ("next_deadline", "时限日期", "text"),
     ("due", "待办", "text"), ("case_state", "案件状态", "text"), ("holder", "土地使用权人", "text"),
     ("park", "园区", "text"), ("county", "县市区", "text")],
    title="code",
)
CASE_POPUP = popup(
    [("case_id", "案件编号", "int"), ("code", "宗地代码", "text"), ("area_mu", "面积", "mu"),
     ("state_label", "办理状态", "text"), ("opened_on", "立案日期", "text"), ("idle_since", "闲置起算", "text"),
     ("days_idle", "闲置天数", "days"), ("due_on", "办理时限", "text"), ("due", "待办", "text"),
     ("days_left", "剩余天数", "int"), ("holder", "土地使用权人", "text"), ("park", "园区", "text"),
     ("link", "案件", "link")],
    title="code",
)


def _form(data: IdleMapData) -> str:
    rules = options_html([(r["code"], r["name"]) for r in data.rules], data.rule, "全部规则")
    states = options_html(list(data.states.items()), data.state, "全部状态")
    return ('<form method="get" action="/maps/idle" aria-label="筛选">'
            f'<label>规则 <select name="rule">{rules}</select></label>'
            f'<label>案件状态 <select name="state">{states}</select></label>'
            f'<label>时限截至 <input type="date" name="as_of" value="{data.as_of.isoformat()}"></label>'
            '<button type="submit">筛选</button></form>')


def build(conn: Connection, principal: Principal, rule: str | None = None, state: str | None = None,
          as_of: dt.date | None = None) -> str:
    data = idle_map(conn, principal, rule, state, as_of)
    detail = (f"扫描截至 {data.scan['as_of']}（第 {data.scan['id']} 次扫描）" if data.scan else "尚未运行闲置土地扫描")
    summary = (f"候选宗地 {data.candidate_count}；案件 {len(data.cases['features'])}；"
               f"截至 {data.as_of} 已到期或逾期事项 {data.due}")
    header = Header("闲置土地地图", data_note(conn, detail), _form(data), summary, links=[("案件办理", "/cases")])
    frame = MapFrame(header, scope_bounds(conn, principal, "idle_cases"))
    frame.counties(counties(conn))
    palette = {r["code"]: RULE_COLORS[i % len(RULE_COLORS)] for i, r in enumerate(data.rules)}
    style = {"by": "rule_code", "palette": palette, "fallback": "#888", "color": "#333", "weight": 0.8,
             "fillOpacity": 0.75}
    name = f"扫描候选（按规则，{data.candidate_count}）"
    if data.candidates is not None:
        frame.geojson(name, data.candidates, style, CANDIDATE_POPUP, register="candidates")
    elif data.scan is not None:
        frame.tiles(name, tile_url("idle", scan=data.scan["id"], rule=data.rule), "idle", style, CANDIDATE_POPUP,
                    register="candidates")
        frame.legend("说明", [("sw", "#ffffff", f"候选较多，放大到 {TILE_LAYERS['idle'].min_zoom} 级以上显示")])
    frame.geojson(f"处置案件（按状态，{len(data.cases['features'])}）", data.cases,
                  {"by": "state", "palette": STATE_COLORS, "fallback": "#888", "stroke": "fill", "weight": 3,
                   "fillOpacity": 0.15}, CASE_POPUP, register="cases")
    fired = ({f["properties"]["rule_code"] for f in data.candidates["features"]} if data.candidates is not None
             else {r["code"] for r in data.rules})
    frame.legend("扫描候选（首条触发规则）", [("sw", palette[r["code"]], r["name"]) for r in data.rules if r["code"] in fired]
                 or [("sw", "#888", "无候选")])
    shown = {f["properties"]["state"] for f in data.cases["features"]}
    frame.legend("案件状态（边框颜色）", [("line", STATE_COLORS[k], v) for k, v in data.states.items() if k in shown]
                 or [("line", "#888", "无案件")])
    return frame.render()
