"""OGC API – Features at /ogc: a thin FastAPI adapter over hggis.ogc.

Every handler parses the request into (caller, parameters, format), calls one hggis.ogc
function and renders its document as JSON/GeoJSON or as a Chinese HTML page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.engine import Connection

from api.deps import Caller, Public, read_connection
from api.pages_common import render
from hggis.access.policy import Principal
from hggis.ogc import REGISTRY, documents
from hggis.ogc.crs import SUPPORTED
from hggis.ogc.errors import OGCError
from hggis.ogc.items import read_item, read_items
from hggis.ogc.labels import label
from hggis.ogc.openapi import openapi_document
from hggis.ogc.params import PLAIN_PARAMS, Params, check_known, output_format
from hggis.summary import dataset_label

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _params(request: Request) -> Params:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _html(request: Request, conn: Connection, template: str, title: str, crumbs: list[dict[str, str]],
          **context: Any) -> HTMLResponse:
    json_href = str(request.url.include_query_params(f="json"))
    return render(request, template, {"page_title": title, "base": _base(request), "crumbs": crumbs,
                                      "json_href": json_href, "demo": dataset_label(conn), "label": label, **context})


def _error(request: Request, conn: Connection, exc: OGCError, fmt: str) -> Response:
    if fmt == "html":
        response = _html(request, conn, "ogc_error.html", "请求有误" if exc.status == 400 else "未找到", [], error=exc)
        response.status_code = exc.status
        return response
    return JSONResponse(exc.document(), status_code=exc.status)


def _serve(request: Request, conn: Connection, handler: Callable[[str], Response], allowed: frozenset[str] | None) -> Response:
    """Decide the format, run the handler, and turn OGC errors into 400/404 documents."""
    params = _params(request)
    fmt = "json"
    try:
        fmt = output_format(params, request.headers.get("accept"))
        if allowed is not None:
            check_known(params, allowed)
        return handler(fmt)
    except OGCError as exc:
        return _error(request, conn, exc, fmt)


def _collections_crumb(request: Request) -> dict[str, str]:
    return {"href": f"{_base(request)}/collections?f=html", "title": "集合"}


@router.get("", dependencies=[Public])
@router.get("/", dependencies=[Public])
def landing(request: Request, conn: Connection = Depends(read_connection)) -> Response:
    def handle(fmt: str) -> Response:
        doc = documents.landing_page(_base(request), fmt)
        if fmt == "html":
            return _html(request, conn, "ogc_landing.html", documents.TITLE, [], doc=doc,
                         conformance=documents.CONFORMANCE)
        return JSONResponse(doc)

    return _serve(request, conn, handle, PLAIN_PARAMS)


@router.get("/conformance", dependencies=[Public])
def conformance(request: Request, conn: Connection = Depends(read_connection)) -> Response:
    def handle(fmt: str) -> Response:
        doc = documents.conformance(_base(request), fmt)
        if fmt == "html":
            return _html(request, conn, "ogc_landing.html", "符合的标准类", [],
                         doc={"description": "", "links": []}, conformance=doc["conformsTo"])
        return JSONResponse(doc)

    return _serve(request, conn, handle, PLAIN_PARAMS)


@router.get("/api", dependencies=[Public])
def api_definition(request: Request, conn: Connection = Depends(read_connection)) -> Response:
    def handle(fmt: str) -> Response:
        if fmt == "html":
            return get_swagger_ui_html(
                openapi_url=f"{_base(request)}/api?f=json",
                title="OGC API – Features 接口文档",
                swagger_js_url="/assets/swagger-ui/swagger-ui-bundle.js",
                swagger_css_url="/assets/swagger-ui/swagger-ui.css",
                swagger_favicon_url="/assets/swagger-ui/favicon-32x32.png",
            )
        body = json.dumps(openapi_document(_base(request)), ensure_ascii=False)
        return Response(body, media_type=documents.OPENAPI)

    return _serve(request, conn, handle, PLAIN_PARAMS)


@router.get("/collections")
def collections(request: Request, principal: Principal = Caller, conn: Connection = Depends(read_connection)) -> Response:
    def handle(fmt: str) -> Response:
        doc = documents.collections(conn, principal, _base(request), fmt)
        if fmt == "html":
            return _html(request, conn, "ogc_collections.html", "要素集合", [], doc=doc)
        return JSONResponse(doc)

    return _serve(request, conn, handle, PLAIN_PARAMS)


@router.get("/collections/{collection_id}")
def collection(
    collection_id: str, request: Request, principal: Principal = Caller, conn: Connection = Depends(read_connection)
) -> Response:
    def handle(fmt: str) -> Response:
        doc = documents.collection(conn, principal, _base(request), collection_id, fmt)
        if fmt == "html":
            return _html(request, conn, "ogc_collection.html", doc["title"], [_collections_crumb(request)],
                         doc=doc, crs_list=SUPPORTED)
        return JSONResponse(doc)

    return _serve(request, conn, handle, PLAIN_PARAMS)


@router.get("/collections/{collection_id}/items")
def items(
    collection_id: str, request: Request, principal: Principal = Caller, conn: Connection = Depends(read_connection)
) -> Response:
    def handle(fmt: str) -> Response:
        params = _params(request)
        page = read_items(conn, principal, collection_id, params)
        headers = {"Content-Crs": page.crs.header}
        if fmt == "html":
            title = REGISTRY[collection_id].title
            features = json.loads(page.features_json)
            response = _html(
                request, conn, "ogc_items.html", f"{title} · 要素",
                [_collections_crumb(request),
                 {"href": f"{_base(request)}/collections/{collection_id}?f=html", "title": title}],
                features=features, fields=_field_names(features), returned=page.returned,
                matched=page.matched.exact, estimate=page.matched.estimate, crs=page.crs,
                collection_id=collection_id, links=documents.items_links(_base(request), page, params, fmt),
            )
            response.headers.update(headers)
            return response
        body = documents.feature_collection_json(_base(request), page, params, fmt)
        return Response(body, media_type=documents.GEOJSON, headers=headers)

    return _serve(request, conn, handle, None)


@router.get("/collections/{collection_id}/items/{feature_id}")
def item(
    collection_id: str,
    feature_id: str,
    request: Request,
    principal: Principal = Caller,
    conn: Connection = Depends(read_connection),
) -> Response:
    def handle(fmt: str) -> Response:
        feature_text, crs = read_item(conn, principal, collection_id, feature_id, _params(request))
        body = documents.feature_json(_base(request), collection_id, feature_text, crs, fmt)
        headers = {"Content-Crs": crs.header}
        if fmt == "html":
            title = REGISTRY[collection_id].title
            response = _html(
                request, conn, "ogc_item.html", f"{title} · {feature_id}",
                [_collections_crumb(request),
                 {"href": f"{_base(request)}/collections/{collection_id}/items?f=html", "title": title}],
                feature=json.loads(body), crs=crs,
            )
            response.headers.update(headers)
            return response
        return Response(body, media_type=documents.GEOJSON, headers=headers)

    return _serve(request, conn, handle, None)


def _field_names(features: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for feature in features[:1]:
        names = list((feature.get("properties") or {}).keys())
    return names
