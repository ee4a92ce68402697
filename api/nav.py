"""The header's navigation: the workbench pages the caller's role may open.

A page is listed when the role has any grant of the resource behind it (the policy's
``grant``; the page itself then filters to the caller's scope), so the menu and the
refusals come from the same table in hggis.access.policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from hggis.access.policy import Principal, grant


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    resource: str | None = None
    action: str = "read"
    signed_in: bool = True
    optional: bool = False  # a page another module provides: listed once its route exists


NAV: tuple[NavItem, ...] = (
    NavItem("首页", "/", signed_in=False),
    NavItem("宗地查询", "/search", "parcels"),
    NavItem("闲置土地", "/cases", "idle_cases"),
    NavItem("现场巡查", "/patrol", "parcels", action="flag"),
    NavItem("标准地储备", "/reserves", "reserves"),
    NavItem("投资咨询", "/enquiries", "enquiries"),
    NavItem("亩均评价", "/evaluation", "evaluation"),
    NavItem("项目库", "/projects", "projects"),
    NavItem("招商清单", "/chains", "chain_links"),
    NavItem("园区集约评价", "/intensity", "evaluation"),
    NavItem("腾笼换鸟测算", "/whatif", "land_swap", action="simulate"),
    NavItem("块状经济", "/bases", "enterprise_figures"),
    NavItem("数据导入", "/imports", "imports"),
    NavItem("用户管理", "/users", "users"),
    NavItem("操作日志", "/oplog", "users"),
    NavItem("考核看板", "/dashboard", optional=True),
)
MAPS_PREFIX = "/maps"


def _paths(request: Request) -> frozenset[str]:
    state = request.app.state
    if not hasattr(state, "route_paths"):
        state.route_paths = frozenset(_all_paths(request.app.routes))
    return state.route_paths


def _all_paths(routes) -> list[str]:  # noqa: ANN001
    """Paths of every route, including those of included routers (wrapped by FastAPI)."""
    out: list[str] = []
    for r in routes:
        if hasattr(r, "original_router"):
            out += _all_paths(r.original_router.routes)
        elif getattr(r, "path", None):
            out.append(r.path)
    return out


def maps_href(request: Request) -> str | None:
    """The entry map of the nav: the shortest mounted /maps/ path (the maps register their own routes)."""
    state = request.app.state
    if not hasattr(state, "maps_href"):
        paths = sorted(_paths(request), key=len)
        found = [p for p in paths if p.startswith(MAPS_PREFIX) and "{" not in p]
        state.maps_href = found[0] if found else None
    return state.maps_href


def nav_items(request: Request, principal: Principal) -> list[dict[str, object]]:
    path = request.url.path
    items: list[dict[str, object]] = []
    for item in NAV:
        if item.signed_in and principal.is_public:
            continue
        if item.resource and grant(principal, item.resource, item.action) is None:
            continue
        if item.optional and item.href not in _paths(request):
            continue
        current = path == item.href if item.href == "/" else path.startswith(item.href)
        items.append({"label": item.label, "href": item.href, "current": current})
    if maps := maps_href(request):
        items.insert(1, {"label": "地图", "href": maps, "current": path.startswith(MAPS_PREFIX)})
    items.append({"label": "接口文档", "href": "/docs", "current": path == "/docs"})
    return items
