"""The JSON documents of the OGC API: landing page, conformance, collections, feature pages.

Framework-neutral: callers pass the API's base URL (e.g. ``http://host/ogc``) and the
request's query parameters; these functions return plain dicts (or, for feature pages,
JSON text assembled around the features PostGIS built).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.ogc.collections import View, view_of, visible_views
from hggis.ogc.crs import CRS84_URI, STORAGE_CRS, SUPPORTED_URIS, Crs
from hggis.ogc.errors import not_found
from hggis.ogc.items import ItemsPage, extent_crs84
from hggis.ogc.params import Params

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
TITLE = "黄冈市工业用地与园区信息系统 · OGC API – Features"
DESCRIPTION = (
    "县级行政区、工业园区与可供土地的要素服务（QGIS、ArcGIS、GDAL 可直接连接）；"
    "登录后（Authorization: Bearer 令牌）可读取权限范围内的全部宗地。存储坐标系 CGCS2000 (EPSG:4490)。"
)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]


def url(path: str, params: list[tuple[str, str]] | None = None) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _flat(params: Params, drop: frozenset[str] | set[str] = frozenset()) -> list[tuple[str, str]]:
    return [(k, v) for k, values in params.items() if k not in drop for v in values]


def link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def _self_links(href: str, fmt: str, json_type: str = JSON) -> list[dict[str, str]]:
    """``self`` in the format served, ``alternate`` for the other one."""
    as_json = link(url(href, [("f", "json")]), "self" if fmt == "json" else "alternate", json_type, "JSON")
    as_html = link(url(href, [("f", "html")]), "self" if fmt == "html" else "alternate", HTML, "HTML 网页")
    return [as_json, as_html] if fmt == "json" else [as_html, as_json]


def landing_page(base: str, fmt: str = "json") -> dict[str, Any]:
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "links": [
            *_self_links(base, fmt),
            link(url(f"{base}/api", [("f", "json")]), "service-desc", OPENAPI, "OpenAPI 3.0 接口定义"),
            link(url(f"{base}/api", [("f", "html")]), "service-doc", HTML, "接口文档（网页）"),
            link(f"{base}/conformance", "conformance", JSON, "符合的标准类"),
            link(f"{base}/collections", "data", JSON, "要素集合"),
        ],
    }


def conformance(base: str, fmt: str = "json") -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE, "links": _self_links(f"{base}/conformance", fmt)}


def _collection(conn: Connection, view: View, base: str, fmt: str, self_first: bool) -> dict[str, Any]:
    c = view.collection
    href = f"{base}/collections/{quote(c.id)}"
    links = _self_links(href, fmt) if self_first else [link(href, "self", JSON, c.title)]
    links += [
        link(url(f"{href}/items", [("f", "json")]), "items", GEOJSON, f"{c.title}（GeoJSON）"),
        link(url(f"{href}/items", [("f", "html")]), "items", HTML, f"{c.title}（网页）"),
    ]
    bbox = extent_crs84(conn, view)
    doc: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "keywords": list(c.keywords),
        "itemType": "feature",
        "crs": SUPPORTED_URIS,
        "storageCrs": STORAGE_CRS.uri,
        "links": links,
    }
    if bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84_URI}}
    return doc


def collections(conn: Connection, principal: Principal, base: str, fmt: str = "json") -> dict[str, Any]:
    """The collections this caller may see (restricted ones are absent for the public)."""
    views = visible_views(conn, principal)
    return {
        "links": _self_links(f"{base}/collections", fmt),
        "collections": [_collection(conn, v, base, fmt, self_first=False) for v in views],
    }


def collection(conn: Connection, principal: Principal, base: str, collection_id: str, fmt: str = "json") -> dict[str, Any]:
    view = view_of(conn, principal, collection_id)
    if view is None:
        raise not_found(f"no collection {collection_id!r}")
    return _collection(conn, view, base, fmt, self_first=True)


def timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def items_links(base: str, page: ItemsPage, params: Params, fmt: str) -> list[dict[str, str]]:
    """self/alternate, next/prev (cursor or offset) and the collection, keeping the other parameters."""
    href = f"{base}/collections/{quote(page.collection_id)}/items"
    this_type = GEOJSON if fmt == "json" else HTML
    kept = _flat(params, {"f", "offset", "cursor"})
    given_f = [("f", v) for v in params.get("f", [])]
    as_json = url(href, [*_flat(params, {"f"}), ("f", "json")])
    as_html = url(href, [*_flat(params, {"f"}), ("f", "html")])
    links = [
        link(url(href, _flat(params)), "self", this_type, "本页"),
        link(as_html if fmt == "json" else as_json, "alternate", HTML if fmt == "json" else GEOJSON, "其他格式"),
    ]
    if page.next_cursor is not None:
        links.append(link(url(href, [*kept, ("cursor", page.next_cursor.encode()), *given_f]), "next", this_type, "下一页"))
    if page.prev_cursor is not None:
        links.append(link(url(href, [*kept, ("cursor", page.prev_cursor.encode()), *given_f]), "prev", this_type, "上一页"))
    elif page.prev_offset is not None:
        offset = [("offset", str(page.prev_offset))] if page.prev_offset else []
        links.append(link(url(href, [*kept, *offset, *given_f]), "prev", this_type, "上一页"))
    links.append(link(f"{base}/collections/{quote(page.collection_id)}", "collection", JSON, "所属集合"))
    return links


def feature_collection_json(base: str, page: ItemsPage, params: Params, fmt: str = "json") -> str:
    """The GeoJSON FeatureCollection text; the features are spliced in as PostGIS built them."""
    head: dict[str, Any] = {"type": "FeatureCollection", "timeStamp": timestamp()}
    if page.matched.exact is not None:
        head["numberMatched"] = page.matched.exact
    elif page.matched.estimate is not None:
        head["numberMatchedEstimate"] = page.matched.estimate
    head["numberReturned"] = page.returned
    head["links"] = items_links(base, page, params, fmt)
    prefix = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return f'{prefix},"features":{page.features_json}}}'


def feature_json(base: str, collection_id: str, feature_text: str, crs: Crs, fmt: str = "json") -> str:
    """One Feature with its self, alternate and collection links."""
    feature = json.loads(feature_text)
    href = f"{base}/collections/{quote(collection_id)}/items/{quote(str(feature['id']), safe='')}"
    extra = [] if crs.uri == CRS84_URI else [("crs", crs.uri)]
    feature["links"] = [
        link(url(href, extra), "self", GEOJSON if fmt == "json" else HTML, "本要素"),
        link(url(href, [*extra, ("f", "html" if fmt == "json" else "json")]), "alternate",
             HTML if fmt == "json" else GEOJSON, "其他格式"),
        link(f"{base}/collections/{quote(collection_id)}", "collection", JSON, "所属集合"),
    ]
    return json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
