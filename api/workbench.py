"""What every workbench page shares: sign-in, CSRF on form posts, Chinese error pages, paging.

Pages are for people at a browser, so refusals are pages too: an anonymous visitor (the
401 of ``api.deps.SignedIn``) is sent to the sign-in page and comes back afterwards; a request outside the caller's scope
gets a Chinese 403 page instead of the API's JSON. Every form post carries the session's
CSRF token as the hidden field ``csrf``; :func:`form_user` checks it on the server before
the route runs, so a route cannot forget it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, overload
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.engine import Connection

from api.deps import SignedIn
from api.pages_common import TEMPLATES, render
from api.security import CsrfRejected
from hggis import clock
from hggis.access.policy import Forbidden, Principal, grant
from hggis.summary import dataset_label
from hggis.workbench import words

TEMPLATES.env.filters["local_time"] = clock.display_time
TEMPLATES.env.filters["local_date"] = clock.display_date
TEMPLATES.env.filters["actor"] = words.actor_text
TEMPLATES.env.filters["reason"] = words.reason_text
TEMPLATES.env.filters["plain"] = words.plain_text


class PageNotFound(LookupError):
    """The object a page is about does not exist (or is not visible to the caller)."""


def _login_redirect(request: Request) -> RedirectResponse:
    """Back to this page after signing in (after a post: to the page the form was on)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.url.netloc
        target = (referer.path or "/") if same_site else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='/?=&')}", status_code=303)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "wb_error.html", {"title": title, "message": message}, status_code=status)


def show(request: Request, conn: Connection, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render a workbench page; the demo banner appears whenever the data set is synthetic."""
    return render(request, template, {"demo": dataset_label(conn), **context}, status_code=status_code)


class PageRoute(APIRoute):
    """A route whose refusals are Chinese pages (or a redirect to the sign-in page)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except CsrfRejected:
                return error_page(request, 403, "表单已失效",
                                  "表单校验码不正确或会话已结束（可能是页面打开太久或已退出登录）。请返回上一页，刷新后重新提交。")
            except Forbidden:
                return error_page(request, 403, "无权访问", "您的角色或管辖范围不包括此对象或此操作。")
            except PageNotFound as exc:
                return error_page(request, 404, "未找到", str(exc) or "所请求的对象不存在，或不在您的管辖范围内。")
            except HTTPException as exc:
                if exc.status_code == 401:
                    return _login_redirect(request)
                raise

        return page_handler


def page_user(principal: Principal = SignedIn) -> Principal:
    """The signed-in user of a page; anonymous visitors are sent to the sign-in page (via the 401)."""
    return principal


def form_user(request: Request, csrf: Annotated[str, Form(max_length=200)] = "",
              principal: Principal = SignedIn) -> Principal:
    """The signed-in user of a form post whose hidden ``csrf`` field matches their session."""
    expected = getattr(request.state, "csrf_token", None)
    if not expected or not csrf or not secrets.compare_digest(expected.encode(), csrf.encode()):
        raise CsrfRejected()
    return principal


def require_grant(principal: Principal, resource: str, action: str = "read") -> None:
    """A list page needs some grant of its resource; the service then filters to the scope."""
    if grant(principal, resource, action) is None:
        raise Forbidden(f"role {principal.role} may not {action} {resource}")


PageUser = Depends(page_user)
FormUser = Depends(form_user)


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: after a successful form post, show the result page."""
    return RedirectResponse(url, status_code=303)


def int_param(value: str | None, default: int, lo: int = 1, hi: int = 10**9) -> int:
    """A lenient integer from a query string (pages never answer 422 to a hand-edited URL)."""
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return min(max(n, lo), hi)


@overload
def choice(value: str | None, allowed: Any, default: str) -> str: ...
@overload
def choice(value: str | None, allowed: Any, default: None = None) -> str | None: ...


def choice(value: str | None, allowed: Any, default: str | None = None) -> str | None:
    """``value`` if it is one of ``allowed`` (an allow-list), else ``default``."""
    return value if value is not None and value in allowed else default


@dataclass(frozen=True)
class Pager:
    """Page numbers of a long list (1-based) and the links to its neighbours."""

    page: int
    size: int
    total: int
    base: str
    params: tuple[tuple[str, str], ...] = ()
    param: str = "page"

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (min(self.page, self.pages) - 1) * self.size

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_row(self) -> int:
        return min(self.offset + self.size, self.total)

    def url(self, page: int) -> str:
        return f"{self.base}?{urlencode([*self.params, (self.param, str(page))])}"

    @property
    def prev_url(self) -> str | None:
        return self.url(self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.page + 1) if self.page < self.pages else None


def query_pairs(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Non-empty query parameters, in a stable order, for links that keep the filters."""
    return tuple((k, str(v)) for k, v in values.items() if v not in (None, ""))
