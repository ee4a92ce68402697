"""Every route says who may call it: public on purpose, any caller (scoped), or signed-in."""

from __future__ import annotations

from fastapi.routing import APIRoute

from api import deps
from api.app import create_app
from tests.test_anonymous import _api_routes

MARKERS = {deps.public: "public", deps.principal: "caller", deps.user: "signed-in"}


def _declared(route: APIRoute) -> set[str]:
    found: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call in MARKERS:
            found.add(MARKERS[dep.call])
        stack.extend(dep.dependencies)
    return found


def test_every_route_declares_its_requirement(engine):
    app = create_app(engine)
    routes = _api_routes(app.routes)
    assert len(routes) > 10
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if not _declared(r)]
    assert not undeclared, f"routes without an access declaration: {undeclared}"


def test_writes_require_a_signed_in_user(engine):
    app = create_app(engine)
    open_writes = [
        f"{sorted(r.methods)} {r.path}"
        for r in _api_routes(app.routes)
        if r.methods & {"POST", "PUT", "PATCH", "DELETE"} and "signed-in" not in _declared(r)
        and r.path not in ("/login", "/logout")  # sign-in itself, and sign-out of a session
        and r.path != "/parcels/{code}/enquiries"  # the investor's enquiry form: public by design (hggis.investor.enquiries)
    ]
    assert not open_writes, f"write routes open to anonymous callers: {open_writes}"
