"""How refusals become HTTP answers, in one place (registered on the app by ``install``).

* The core's ``hggis.errors`` kinds map to one status each (``KIND_STATUS``); a 422 always
  has the body FastAPI documents (``{"detail": [{"loc", "msg", "type"}]}``), whoever raised it.
* Request validation errors are serialised safely: NaN, infinities and bytes in the rejected
  input cannot make the 422 itself fail.
* The database's own refusals (a check, a foreign key, a value out of range, NUL in text)
  become 4xx naming the column or constraint (``hggis.db.refusals``) instead of a 500.
* A lost database or a saturated pool is a 503 with Retry-After.
* Anything else is a 500 with a short JSON body; the traceback goes to the log once and the
  connection stays usable (Starlette's last-resort handler re-raises, which makes the
  server drop the connection).
* Before any route runs, :class:`InputGuard` refuses NUL characters in the path, the query
  and JSON/form bodies, and the non-JSON literals NaN/Infinity, naming the field.
* OPTIONS on a route answers 204 with ``Allow`` listing every method of the path (RFC 9110
  §9.3.7); a 405 lists the same methods.
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.admission import BUSY_DETAIL
from api.security import CsrfRejected
from hggis.db.refusals import refusal
from hggis.errors import HggisError
from hggis.inputs import find_nul
from hggis.logs import REQUEST_ID

log = logging.getLogger("hggis.api")

KIND_STATUS: dict[str, int] = {
    "invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403, "unavailable": 503,
    "too_many": 429,
}
GUARDED_BODY_TYPES = ("application/json", "application/geo+json", "application/x-www-form-urlencoded")
MAX_GUARDED_BODY = 20 * 1024 * 1024  # JSON and form bodies; uploads are multipart and not buffered
PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
NUL_MSG = "must not contain NUL (\\x00) characters"
NON_FINITE_MSG = "NaN and Infinity are not JSON numbers"
DB_DOWN_DETAIL = "数据库暂时不可用，请稍后再试"
SERVER_ERROR_DETAIL = "服务器内部错误，已记录；请稍后再试或联系管理员"
CSRF_DETAIL = "a signed-in browser write needs its CSRF token (X-CSRF-Token) or a same-site Origin"


def status_of(exc: HggisError) -> int:
    return KIND_STATUS.get(exc.kind, 400)


def validation_item(msg: str, loc: Iterable[str | int] = (), kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 ``detail`` list, in the shape of the OpenAPI ValidationError schema."""
    return {"loc": [p if isinstance(p, int) else str(p) for p in loc], "msg": msg, "type": kind}


def unprocessable(items: list[dict[str, Any]], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": items}, status_code=422, headers=headers)


def json_safe(value: Any) -> Any:
    """JSON-safe copy of a rejected input: non-finite numbers, bytes and objects as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _normalise_detail(detail: Any) -> list[dict[str, Any]]:
    """Any 422 detail (text, dict, list of partial items) as the documented list of items."""
    entries = detail if isinstance(detail, list) else [detail]
    items = []
    for entry in entries:
        if isinstance(entry, dict):
            msg = entry.get("msg") or entry.get("message") or ""
            item = validation_item(str(msg), entry.get("loc") or (), str(entry.get("type") or "value_error"))
            extra = {k: v for k, v in entry.items() if k not in item and k != "message"}
            items.append({**json_safe(extra), **item})
        else:
            items.append(validation_item(str(entry)))
    return items


def hggis_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HggisError)
    status = status_of(exc)
    if status == 422:
        where = getattr(exc, "location", None) or ("query" if request.method in ("GET", "HEAD") else "body")
        return unprocessable([validation_item(msg, [where, field] if field else [], kind)
                              for field, msg, kind in exc.problems()])
    extra = exc.extra()
    detail: Any = {"message": str(exc), **json_safe(extra)} if extra else str(exc)
    return JSONResponse({"detail": detail}, status_code=status)


def request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    items = []
    for error in exc.errors():
        item = validation_item(str(error.get("msg", "")), error.get("loc") or (), str(error.get("type") or "value_error"))
        extra = {k: v for k, v in error.items() if k in ("input", "ctx")}
        items.append({**jsonable_encoder(json_safe(extra)), **item})
    return unprocessable(items)


def server_error(request: Request, exc: Exception) -> Response:
    """A fault of ours: log the traceback once, answer 500 without dropping the connection."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    rid = REQUEST_ID.get()
    return JSONResponse({"detail": f"{SERVER_ERROR_DETAIL}（请求编号 {rid}）", "request_id": rid}, status_code=500)


def database_refusal(request: Request, exc: Exception) -> Response:
    """A value the database refused becomes the caller's 4xx; any other database error is ours."""
    refused = refusal(exc)  # type: ignore[arg-type]
    if refused is None:
        return server_error(request, exc)
    return hggis_error(request, refused)


def allowed_methods(request: Request) -> set[str]:
    """Every method some route of this path accepts (Starlette's 405 names one route's only)."""
    methods: set[str] = set()
    for method in PROBED_METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return methods


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allow = ", ".join(sorted(allowed_methods(request) | {"OPTIONS"}))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        headers["Allow"] = allow
    if exc.status_code == 422:
        return unprocessable(_normalise_detail(exc.detail), headers)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": json_safe(exc.detail)}, status_code=exc.status_code, headers=headers)


# --- refusing NUL and NaN before any route runs -------------------------------------------------

_NON_FINITE = object()


def _json_problem(body: bytes) -> tuple[tuple[str | int, ...], str] | None:
    """Where a JSON body holds NaN/Infinity or NUL text (FastAPI reports malformed JSON itself)."""
    try:
        data = json.loads(body, parse_constant=lambda _c: _NON_FINITE)
    except (ValueError, RecursionError):
        return None
    where = _find_non_finite(data, ())
    if where is not None:
        return where, NON_FINITE_MSG
    nul = find_nul(data)
    if nul is not None:
        return nul, NUL_MSG
    return None


def _find_non_finite(value: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    if value is _NON_FINITE:
        return path
    items: Iterable[tuple[str | int, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _find_non_finite(item, (*path, key))
        if found is not None:
            return found
    return None


def _pairs_problem(pairs: list[tuple[str, str]], where: str) -> tuple[tuple[str | int, ...], str] | None:
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            return (where, name.replace("\x00", "\\x00")), NUL_MSG
    return None


def _decode_pairs(raw: bytes) -> list[tuple[str, str]]:
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")


class InputGuard:
    """ASGI middleware: refuse NUL text and NaN literals with a 422 naming the field.

    PostgreSQL text cannot hold NUL and JSON has no NaN; both are refused at the door, where
    the field is still known, rather than as a driver error deep in a query.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem: tuple[tuple[str | int, ...], str] | None = None
        if "\x00" in scope.get("path", ""):
            problem = ("path",), NUL_MSG
        problem = problem or _pairs_problem(_decode_pairs(scope.get("query_string", b"")), "query")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        replay: Receive = receive
        if problem is None and ctype in GUARDED_BODY_TYPES:
            body, replay = await _buffer(receive)
            if body is not None:
                if ctype == "application/x-www-form-urlencoded":
                    problem = _pairs_problem(_decode_pairs(body), "body")
                else:
                    found = _json_problem(body)
                    problem = (("body", *found[0]), found[1]) if found else None
        if problem is None:
            await self.app(scope, replay, send)
            return
        response = _refusal_response(problem[0], problem[1], headers.get("accept", ""))
        await response(scope, replay, send)


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the body (up to MAX_GUARDED_BODY) and give back a receive that replays it."""
    messages: list[Message] = []
    size = 0
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_GUARDED_BODY:
            body += chunk
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return (bytes(body) if size <= MAX_GUARDED_BODY else None), replay


def _refusal_response(loc: tuple[str | int, ...], msg: str, accept: str) -> Response:
    field = ".".join(str(p) for p in loc[1:]) or str(loc[0])
    if "text/html" in accept and "application/json" not in accept:
        page = ("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>请求无效</title>"
                f"<h1>请求无效</h1><p>字段 {html.escape(field)}：含有不允许的字符或数值（NUL、NaN、Infinity）。"
                "请返回上一页修改后重试。</p></html>")
        return Response(page, status_code=422, media_type="text/html; charset=utf-8")
    return unprocessable([validation_item(f"{field}: {msg}", loc)])


class UnexpectedErrors:
    """ASGI middleware just inside Starlette's last resort: a fault becomes a clean 500.

    Starlette's ServerErrorMiddleware answers 500 and then re-raises, so the server logs the
    traceback a second time and closes the connection; here the error is logged once and
    the connection stays open for the client's next request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:  # noqa: BLE001 - the last line before the server
            if started:
                raise  # half a response is out: only dropping the connection is honest
            response = server_error(Request(scope), exc)
            await response(scope, receive, send)


# --- the documented error answers ------------------------------------------------------------

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "description": "what was refused and why"}},
    "required": ["detail"],
}
ERROR_ANSWERS = {
    "400": "a body that cannot be parsed (not UTF-8 JSON, a multipart without boundary)",
    "401": "sign in first (Bearer token or session)",
    "403": "outside the caller's role or scope",
    "404": "no such object, or not visible to the caller",
    "405": "method not allowed (Allow lists the path's methods)",
    "409": "changed meanwhile, or already exists",
    "413": "upload too large",
    "428": "send the version you edited",
    "429": "too many failed sign-ins",
    "503": "the database cannot serve the request now",
}
VALIDATION_SCHEMA = {
    "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                   "msg": {"type": "string"}, "type": {"type": "string"}},
}
HTTP_VALIDATION_SCHEMA = {
    "title": "HTTPValidationError", "type": "object",
    "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}},
}
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _document_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Wrap ``app.openapi`` so every operation lists the error answers it can give."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Error", ERROR_SCHEMA)
        components.setdefault("ValidationError", VALIDATION_SCHEMA)
        components.setdefault("HTTPValidationError", HTTP_VALIDATION_SCHEMA)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        invalid = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if method not in HTTP_METHODS:
                    continue
                responses = operation.setdefault("responses", {})
                for code, description in ERROR_ANSWERS.items():
                    responses.setdefault(code, {"description": description, "content": error})
                responses.setdefault("422", {"description": "Validation Error", "content": invalid})
        app.openapi_schema = schema
        return schema

    return openapi


def install(app: FastAPI, retry_after_s: int) -> None:
    """Register the handlers, the guards and the documented error answers on ``app``.

    Call before the app's other middleware are added: the input guard then runs innermost
    (after admission), the unexpected-error guard is added by the caller last.
    """
    retry = {"Retry-After": str(retry_after_s)}

    def pool_saturated(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": BUSY_DETAIL}, status_code=503, headers=retry)

    def database_unreachable(request: Request, exc: Exception) -> Response:
        # A lost or refused connection (database restarting); the pool reconnects by itself.
        return JSONResponse({"detail": DB_DOWN_DETAIL}, status_code=503, headers=retry)

    def csrf_rejected(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": CSRF_DETAIL}, status_code=403)

    handlers: dict[type[Exception], Callable[[Request, Exception], Response | Awaitable[Response]]] = {
        HggisError: hggis_error,
        RequestValidationError: request_validation,
        StarletteHTTPException: http_error,
        DataError: database_refusal,
        IntegrityError: database_refusal,
        PoolTimeout: pool_saturated,
        OperationalError: database_unreachable,
        CsrfRejected: csrf_rejected,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    app.add_middleware(InputGuard)
    app.openapi = _document_errors(app)  # type: ignore[method-assign]
