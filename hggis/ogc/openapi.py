"""The OpenAPI 3.0 definition of the OGC endpoints, written by hand.

FastAPI's own /openapi.json is OpenAPI 3.1, which GDAL and OGC clients do not read;
OGC API – Features (conformance class oas30) wants 3.0, so this document describes the
/ogc endpoints in 3.0 terms. The collection id is a path parameter without an enum: the
list of collections depends on who asks (see /ogc/collections).
"""

from __future__ import annotations

from typing import Any

from hggis import __version__
from hggis.ogc.crs import CRS84_URI, SUPPORTED_URIS
from hggis.ogc.documents import DESCRIPTION, GEOJSON, HTML, JSON, TITLE
from hggis.ogc.params import DEFAULT_LIMIT, MAX_LIMIT

REF = "#/components/"


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": where, "required": required, "description": description,
                         "schema": schema}
    if explode is not None:
        p["style"], p["explode"] = "form", explode
    return p


def _content(*types: tuple[str, str]) -> dict[str, Any]:
    return {t: {"schema": {"$ref": f"{REF}schemas/{s}"}} if s else {"schema": {"type": "string"}} for t, s in types}


def _ok(description: str, *types: tuple[str, str], crs_header: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _content(*types)}
    if crs_header:
        response["headers"] = {"Content-Crs": {"$ref": f"{REF}headers/Content-Crs"}}
    return response


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"{REF}responses/{'InvalidParameter' if code == '400' else 'NotFound'}"} for code in codes}


def _schemas() -> dict[str, Any]:
    link = {
        "type": "object",
        "required": ["href"],
        "properties": {k: {"type": "string"} for k in ("href", "rel", "type", "title", "hreflang")},
    }
    links = {"type": "array", "items": {"$ref": f"{REF}schemas/link"}}
    return {
        "link": link,
        "exception": {
            "type": "object",
            "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        },
        "landingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": links},
        },
        "confClasses": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
        },
        "extent": {
            "type": "object",
            "properties": {
                "spatial": {
                    "type": "object",
                    "properties": {
                        "bbox": {"type": "array", "minItems": 1,
                                 "items": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
                        "crs": {"type": "string", "enum": [CRS84_URI], "default": CRS84_URI},
                    },
                }
            },
        },
        "collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "keywords": {"type": "array", "items": {"type": "string"}},
                "links": links,
                "extent": {"$ref": f"{REF}schemas/extent"},
                "itemType": {"type": "string", "default": "feature"},
                "crs": {"type": "array", "items": {"type": "string"}},
                "storageCrs": {"type": "string", "format": "uri"},
            },
        },
        "collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {"links": links, "collections": {"type": "array", "items": {"$ref": f"{REF}schemas/collection"}}},
        },
        "featureGeoJSON": {
            "type": "object",
            "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "geometry": {"type": "object", "nullable": True},
                "properties": {"type": "object", "nullable": True},
                "links": links,
            },
        },
        "featureCollectionGeoJSON": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": {"$ref": f"{REF}schemas/featureGeoJSON"}},
                "links": links,
                "timeStamp": {"type": "string", "format": "date-time"},
                "numberMatched": {"type": "integer", "minimum": 0,
                                  "description": "exact; omitted when counting would be slow (see numberMatchedEstimate)"},
                "numberMatchedEstimate": {"type": "integer", "minimum": 0,
                                          "description": "the query planner's estimate, given when numberMatched is omitted"},
                "numberReturned": {"type": "integer", "minimum": 0},
            },
        },
    }


def _parameters() -> dict[str, Any]:
    crs_schema = {"type": "string", "format": "uri", "enum": SUPPORTED_URIS, "default": CRS84_URI}
    return {
        "f": _param("f", "query", {"type": "string", "enum": ["json", "html"]},
                    "representation: json (GeoJSON for features) or html; without it, Accept decides"),
        "collectionId": _param("collectionId", "path", {"type": "string"}, "collection id (see /collections)", True),
        "featureId": _param("featureId", "path", {"type": "string"},
                            "feature id: the county code, park id or 宗地代码", True),
        "limit": _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        "features per page", explode=False),
        "offset": _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0},
                         "features to skip (order: feature id); not with cursor"),
        "cursor": _param("cursor", "query", {"type": "string"},
                         "opaque position taken from a next/prev link; not with offset"),
        "bbox": _param("bbox", "query",
                       {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                       "lower and upper corner in bbox-crs, in that CRS's axis order "
                       "(CRS84: lon,lat; EPSG:4490: lat,lon; EPSG:4547/4548/4526/4527: northing,easting)",
                       explode=False),
        "bbox-crs": _param("bbox-crs", "query", crs_schema, "CRS of bbox (default CRS84)", explode=False),
        "crs": _param("crs", "query", crs_schema, "CRS of the returned coordinates (default CRS84)", explode=False),
        "datetime": _param("datetime", "query", {"type": "string"},
                           "RFC 3339 instant or interval; accepted, and ignored: no collection has a time axis",
                           explode=False),
    }


def openapi_document(base: str) -> dict[str, Any]:
    p = lambda name: {"$ref": f"{REF}parameters/{name}"}  # noqa: E731
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": {"operationId": "getLandingPage", "summary": "入口页", "tags": ["Capabilities"],
                          "parameters": [p("f")],
                          "responses": {"200": _ok("landing page", (JSON, "landingPage"), (HTML, ""))}}},
            "/conformance": {"get": {"operationId": "getConformance", "summary": "符合的标准类", "tags": ["Capabilities"],
                                     "parameters": [p("f")],
                                     "responses": {"200": _ok("conformance classes", (JSON, "confClasses"), (HTML, ""))}}},
            "/api": {"get": {"operationId": "getAPI", "summary": "本接口定义（OpenAPI 3.0）", "tags": ["Capabilities"],
                             "parameters": [p("f")],
                             "responses": {"200": {"description": "this document",
                                                   "content": {"application/vnd.oai.openapi+json;version=3.0": {"schema": {"type": "object"}},
                                                               HTML: {"schema": {"type": "string"}}}}}}},
            "/collections": {"get": {"operationId": "getCollections", "summary": "要素集合（按调用者权限）",
                                     "tags": ["Capabilities"], "parameters": [p("f")],
                                     "responses": {"200": _ok("collections", (JSON, "collections"), (HTML, ""))}}},
            "/collections/{collectionId}": {"get": {
                "operationId": "describeCollection", "summary": "集合说明", "tags": ["Capabilities"],
                "parameters": [p("collectionId"), p("f")],
                "responses": {"200": _ok("collection", (JSON, "collection"), (HTML, "")), **_errors("404")}}},
            "/collections/{collectionId}/items": {"get": {
                "operationId": "getFeatures", "summary": "要素（分页）", "tags": ["Data"],
                "parameters": [p(n) for n in ("collectionId", "limit", "offset", "cursor", "bbox", "bbox-crs", "crs",
                                              "datetime", "f")],
                "responses": {"200": _ok("features", (GEOJSON, "featureCollectionGeoJSON"), (HTML, ""), crs_header=True),
                              **_errors("400", "404")}}},
            "/collections/{collectionId}/items/{featureId}": {"get": {
                "operationId": "getFeature", "summary": "单个要素", "tags": ["Data"],
                "parameters": [p("collectionId"), p("featureId"), p("crs"), p("f")],
                "responses": {"200": _ok("feature", (GEOJSON, "featureGeoJSON"), (HTML, ""), crs_header=True),
                              **_errors("400", "404")}}},
        },
        "components": {
            "parameters": _parameters(),
            "schemas": _schemas(),
            "headers": {"Content-Crs": {"description": "CRS of the coordinates in the body, as <URI>",
                                        "schema": {"type": "string"}}},
            "responses": {
                "InvalidParameter": {"description": "a parameter is unknown or has an invalid value",
                                     "content": {JSON: {"schema": {"$ref": f"{REF}schemas/exception"}}}},
                "NotFound": {"description": "no such collection or feature, or not visible to this caller",
                             "content": {JSON: {"schema": {"$ref": f"{REF}schemas/exception"}}}},
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "hggis API token (hggis user token); optional"}},
        },
        "security": [{}, {"bearer": []}],
        "tags": [{"name": "Capabilities"}, {"name": "Data"}],
    }
