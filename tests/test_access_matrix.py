"""The whole role × resource × action matrix, through the real API, derived from POLICY.

For every entry of ``hggis.access.policy.POLICY`` and every role, a probe performs the
real operation on an object inside the caller's scope and, for scoped grants, on one
outside it; the expected outcome (allowed / refused) is computed from POLICY itself, so
changing the table changes what is tested. Resources that no route changes are listed
in NO_ROUTE, and a test checks that the app really offers no such write.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import POLICY, ROLES, Forbidden, operator
from hggis.access.users import create_user, verify_token
from hggis.db.session import transaction
from hggis.demo.loader import load_demo
from tests.access_helpers import make_user
from tests.test_anonymous import _api_routes

IN_COUNTY, OUT_COUNTY = "421102", "421181"  # 黄州 (the officer's), 麻城 (not)
ALLOWED = range(200, 400)
REFUSED = {401, 403, 404, 303}  # 303: a page sends an anonymous visitor to /login
# Import-like writes answer 422 with a report when the rows are outside the caller's scope.
SCOPE_REPORTED = {("imports", "write"), ("enterprise_figures", "write")}
# List endpoints filter out-of-scope objects instead of refusing (tested per package).
LIST_ONLY = {("imports", "read")}
# Resources whose writes no route offers (data arrives by migration, demo or import).
NO_ROUTE = {("counties", "write"), ("clusters", "write"), ("enterprises", "write")}


@dataclass
class World:
    client: TestClient
    engine: Any
    headers: dict[str, dict[str, str]]
    parcel: dict[str, str]  # in/out -> producing parcel code
    reserve: dict[str, str]  # in/out -> reserve parcel code
    enterprise: dict[str, int]
    credit: dict[str, str]
    offer: str  # a parcel on offer: what the public may read
    case: dict[str, int]
    run_id: int
    park: dict[str, int] = field(default_factory=dict)  # in/out -> park of the producing parcel
    enquiry: dict[str, int] = field(default_factory=dict)  # in/out -> an investor enquiry about that parcel


@pytest.fixture(scope="module")
def world(engine):
    from tests.conftest import superuser_engine, wipe_data

    wipe_data(engine)
    load_demo(engine, seed=11)
    with engine.connect() as conn:
        def pick(adcode: str, status: str, park: int | None = None) -> Any:
            return conn.execute(
                text(
                    "SELECT code, park_id, holder_id FROM parcels WHERE adcode = :a AND status = :s "
                    "AND park_id IS NOT NULL AND (CAST(:k AS int) IS NULL OR park_id = :k) ORDER BY id LIMIT 1"
                ),
                {"a": adcode, "s": status, "k": park},
            ).one()

        p_in = pick(IN_COUNTY, "producing")
        p_out = pick(OUT_COUNTY, "producing")
        r_in, r_out = pick(IN_COUNTY, "reserve"), pick(OUT_COUNTY, "reserve")
        offer = pick(IN_COUNTY, "on_offer").code
        credit = {
            side: conn.execute(text("SELECT credit_code FROM enterprises WHERE id = :i"), {"i": p.holder_id}).scalar_one()
            for side, p in (("in", p_in), ("out", p_out))
        }
    users = {
        "city_admin": make_user(engine, "mx-admin", "city_admin"),
        "county_officer": make_user(engine, "mx-officer", "county_officer", counties=[IN_COUNTY]),
        "park_manager": make_user(engine, "mx-manager", "park_manager", parks=[p_in.park_id]),
    }
    from hggis.evaluation.runs import run_evaluation
    from hggis.idle.cases import open_case

    run_id = run_evaluation(engine, operator(), 2024, proceed=True).run_id
    cases, enquiries = {}, {}
    with transaction(engine, "test setup", "matrix cases") as conn:
        for side, code in (("in", p_in.code), ("out", p_out.code)):
            cases[side] = open_case(conn, operator(), code, dt.date(2025, 6, 30), "矩阵测试")
            enquiries[side] = conn.execute(text(
                "INSERT INTO enquiries (parcel_id, adcode, park_id, name, contact, project, sender_hash, content_hash) "
                "SELECT id, adcode, park_id, '矩阵', '13800000000', '矩阵测试项目', repeat('a', 64), md5(code) || md5(code) "
                "FROM parcels WHERE code = :c RETURNING id"), {"c": code}).scalar_one()
    with TestClient(create_app(engine)) as client:
        yield World(
            client=client,
            engine=engine,
            headers={"public": {}, **{role: u.headers for role, u in users.items()}},
            parcel={"in": p_in.code, "out": p_out.code},
            reserve={"in": r_in.code, "out": r_out.code},
            enterprise={"in": p_in.holder_id, "out": p_out.holder_id},
            credit=credit,
            offer=offer,
            case=cases,
            run_id=run_id,
            park={"in": p_in.park_id, "out": p_out.park_id},
            enquiry=enquiries,
        )
    wipe_data(engine)
    with superuser_engine().begin() as conn:  # model versions are reference data, not wiped between tests
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM evaluation_models WHERE name LIKE '矩阵测试%'"))


def _version(w: World, code: str) -> int:
    with w.engine.connect() as conn:
        return conn.execute(text("SELECT version FROM parcels WHERE code = :c"), {"c": code}).scalar_one()


def _geojson_file(code: str, lon: float, lat: float) -> bytes:
    d = 0.0008
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"宗地代码": code}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    return json.dumps(fc, ensure_ascii=False).encode()


SPOT = {"in": (IN_COUNTY, 114.95, 30.52), "out": (OUT_COUNTY, 115.08, 31.20)}

# (resource, action) -> probe(world, headers, side) -> HTTP status
Probe = Callable[[World, dict[str, str], str], int]
PROBES: dict[tuple[str, str], Probe] = {
    ("counties", "read"): lambda w, h, s: w.client.get("/api/counties", headers=h).status_code,
    ("clusters", "read"): lambda w, h, s: w.client.get("/maps/clusters", headers=h).status_code,
    ("parks", "read"): lambda w, h, s: w.client.get("/api/parks", headers=h).status_code,
    ("parcels", "read"): lambda w, h, s: w.client.get(
        f"/api/parcels/{w.parcel[s] if h else w.offer}", headers=h
    ).status_code,
    ("parcels", "write"): lambda w, h, s: w.client.patch(
        f"/api/parcels/{w.parcel[s]}", headers=h, json={"version": _version(w, w.parcel[s]), "land_use": "0601"}
    ).status_code,
    ("parcels", "flag"): lambda w, h, s: w.client.post(
        "/api/idle/flags", headers=h, json={"parcel_code": w.parcel[s], "note": "矩阵测试：疑似闲置"}
    ).status_code,
    ("enterprises", "read"): lambda w, h, s: w.client.get(
        f"/api/evaluation/runs/{w.run_id}/results/{w.enterprise[s]}", headers=h
    ).status_code,
    ("enterprise_figures", "read"): lambda w, h, s: w.client.get(
        f"/api/evaluation/runs/{w.run_id}/results/{w.enterprise[s]}", headers=h
    ).status_code,
    ("enterprise_figures", "write"): lambda w, h, s: w.client.post(
        "/api/imports/figures", headers=h, data={"dry_run": "true"},
        files={"file": ("f.csv", f"统一社会信用代码,年度,税收（万元）\n{w.credit[s]},2024,12.5\n".encode(), "text/csv")},
    ).status_code,
    ("reserves", "read"): lambda w, h, s: (
        w.client.get("/api/sites", params={"min_mu": 1, "max_mu": 5000}, headers=h).status_code
        if not h else w.client.get(f"/api/reserves/parcels/{w.reserve[s]}/indicators", headers=h).status_code
    ),
    ("reserves", "write"): lambda w, h, s: w.client.put(
        f"/api/reserves/parcels/{w.reserve[s]}/indicators", headers=h,
        json={"reason": "矩阵测试", "fill_defaults": True},
    ).status_code,
    ("idle_cases", "read"): lambda w, h, s: w.client.get(f"/api/idle/cases/{w.case[s]}", headers=h).status_code,
    ("idle_cases", "write"): lambda w, h, s: w.client.post(
        f"/api/idle/parcels/{w.parcel[s]}/causes", headers=h,
        json={"reason_code": "land_not_delivered", "on": "2025-07-01", "reason": "矩阵测试"},
    ).status_code,
    ("idle_cases", "flag"): lambda w, h, s: w.client.post(
        "/api/idle/flags", headers=h, json={"parcel_code": w.parcel[s], "note": "矩阵测试：再次标记"}
    ).status_code,
    ("idle_public_listing", "read"): lambda w, h, s: w.client.get("/api/idle/public-listing", headers=h).status_code,
    ("evaluation", "read"): lambda w, h, s: w.client.get(
        f"/api/evaluation/runs/{w.run_id}/results/{w.enterprise[s]}", headers=h
    ).status_code,
    ("evaluation", "run"): lambda w, h, s: w.client.post(
        "/api/evaluation/runs", headers=h, json={"year": 2023, "proceed": True}
    ).status_code,
    ("evaluation_models", "read"): lambda w, h, s: w.client.get("/api/evaluation/models", headers=h).status_code,
    ("evaluation_models", "write"): lambda w, h, s: w.client.post(
        "/api/evaluation/models", headers=h,
        json={"name": f"矩阵测试 {len(h)}", "valid_from": 2030, "base_model_id": 1, "changes": {}},
    ).status_code,
    ("imports", "read"): lambda w, h, s: w.client.get("/api/imports", headers=h).status_code,
    ("imports", "write"): lambda w, h, s: w.client.post(
        "/api/imports/parcels", headers=h, data={"dry_run": "true"},
        files={"file": ("p.geojson", _geojson_file(f"{SPOT[s][0]}099099GB00001", *SPOT[s][1:]), "application/geo+json")},
    ).status_code,
    ("constraint_layers", "read"): lambda w, h, s: w.client.get("/api/constraint-layers", headers=h).status_code,
    ("constraint_layers", "write"): lambda w, h, s: w.client.post(
        "/api/constraint-layers", headers=h,
        data={"name": f"矩阵测试红线 {s} {len(h)}", "kind": "生态保护红线", "reason": "矩阵测试", "adcode": SPOT[s][0]},
        files={"file": ("c.geojson", _geojson_file(f"{SPOT[s][0]}099099GB00002", *SPOT[s][1:]), "application/geo+json")},
    ).status_code,
    ("history", "read"): lambda w, h, s: w.client.get(f"/api/history/parcels/{w.parcel[s]}", headers=h).status_code,
    ("parks", "write"): lambda w, h, s: w.client.put(
        f"/api/parks/{w.park[s]}/contacts", headers=h, json={"contact_phone": "0713-1234567", "reason": "矩阵测试"}
    ).status_code,
    ("enquiries", "read"): lambda w, h, s: w.client.get(f"/api/enquiries/{w.enquiry[s]}", headers=h).status_code,
    ("enquiries", "write"): lambda w, h, s: w.client.post(
        f"/api/enquiries/{w.enquiry[s]}/answer", headers=h, json={"answer": "矩阵测试答复"}
    ).status_code,
    ("users", "read"): lambda w, h, s: w.client.get("/users", headers=h, follow_redirects=False).status_code,
}


def _service_users_write(w: World, h: dict[str, str], s: str) -> int:
    """Users are written through the /users pages (CSRF forms); probe the service they call."""
    if not h:
        return 401
    with w.engine.connect() as conn:
        principal = verify_token(conn, h["Authorization"].split(" ", 1)[1])
    try:
        with transaction(w.engine, principal.actor, "matrix") as conn:
            create_user(conn, principal, f"mx-new-{principal.role.replace('_', '-')}", "park_manager", parks=[1])
            raise RuntimeError("roll back")
    except RuntimeError:
        return 200
    except Forbidden:
        return 403


PROBES[("users", "write")] = _service_users_write

_MADE: dict[str, int] = {}


def _project(w: World, side: str) -> int:
    """A project in the officer's county (in) or another (out), made once as set-up."""
    if side not in _MADE:
        adcode = IN_COUNTY if side == "in" else OUT_COUNTY
        with transaction(w.engine, "test setup", "matrix project") as conn:
            _MADE[side] = conn.execute(text("INSERT INTO projects (name, adcode) VALUES (:n, :a) RETURNING id"),
                                       {"n": f"矩阵测试项目 {side}", "a": adcode}).scalar_one()
    return _MADE[side]


def _link(w: World) -> int:
    if "link" not in _MADE:
        with transaction(w.engine, "test setup", "matrix link") as conn:
            _MADE["link"] = conn.execute(text(
                "INSERT INTO chain_links (cluster_id, name, position, standing) "
                "SELECT min(id), '矩阵测试环节', 'upstream', 'gap' FROM clusters RETURNING id")).scalar_one()
    return _MADE["link"]


def _project_version(w: World, pid: int) -> int:
    with w.engine.connect() as conn:
        return conn.execute(text("SELECT version FROM projects WHERE id = :i"), {"i": pid}).scalar_one()


def _targets_visible(w: World, h: dict[str, str]) -> int:
    """Target firms come with a link only for those who may read them: 200 with them, 403 without."""
    r = w.client.get(f"/api/chain-links/{_link(w)}", headers=h)
    return r.status_code if r.status_code != 200 else (200 if "target_firms" in r.json() else 403)


PROBES.update({
    ("projects", "read"): lambda w, h, s: w.client.get(f"/api/projects/{_project(w, s)}", headers=h).status_code,
    ("projects", "write"): lambda w, h, s: w.client.patch(
        f"/api/projects/{_project(w, s)}", headers=h,
        json={"version": _project_version(w, _project(w, s)), "note": "矩阵测试"}).status_code,
    ("chain_links", "read"): lambda w, h, s: w.client.get("/api/chain-links", headers=h).status_code,
    ("chain_links", "write"): lambda w, h, s: w.client.post(
        "/api/chain-links", headers=h,
        json={"cluster_id": _cluster_of(w), "name": f"矩阵测试 {len(_MADE)} {h.get('Authorization', '')[-8:]}", "position": "midstream",
              "standing": "strength"}).status_code,
    ("chain_targets", "read"): lambda w, h, s: _targets_visible(w, h),
    ("chain_targets", "write"): lambda w, h, s: w.client.post(
        f"/api/chain-links/{_link(w)}/targets", headers=h,
        json={"name": f"矩阵测试企业 {h.get('Authorization', '')[-8:]}"}).status_code,
})


def _cluster_of(w: World) -> int:
    with w.engine.connect() as conn:
        return conn.execute(text("SELECT cluster_id FROM chain_links WHERE id = :i"), {"i": _link(w)}).scalar_one()


def _land_swap(w: World, h: dict[str, str], s: str) -> int:
    """A what-if for a D-class occupant of the in/out parcel's park (it writes nothing)."""
    with w.engine.connect() as conn:
        park = conn.execute(text("SELECT park_id FROM parcels WHERE code = :c"), {"c": w.parcel[s]}).scalar_one()
        eid = conn.execute(text(
            "SELECT r.enterprise_id FROM evaluation_results r JOIN evaluation_land l ON l.run_id = r.run_id "
            "AND l.enterprise_id = r.enterprise_id JOIN parcels p ON p.id = l.parcel_id WHERE r.run_id = :r "
            "AND r.class_code = 'D' AND p.park_id = :k ORDER BY r.enterprise_id LIMIT 1"), {"r": w.run_id, "k": park}).scalar_one()
    body = {"enterprise_id": eid, "park_id": park, "run_id": w.run_id,
            "candidate": {"name": "矩阵测试项目", "investment": 1000, "yearly_tax": 10, "output": 100, "land_mu": 0.1}}
    return w.client.post("/api/intensity/whatif", headers=h, json=body).status_code


PROBES[("land_swap", "simulate")] = _land_swap


def _expected(role: str, resource: str, action: str, side: str) -> bool:
    scope = POLICY[resource][action].get(role)
    if scope is None:
        return False
    if scope in ("all", "public"):
        return True
    return side == "in"  # county / park scope: only the object inside it


CASES = [
    (resource, action, role, side)
    for resource, actions in POLICY.items()
    for action, grants in actions.items()
    if (resource, action) not in NO_ROUTE
    for role in ROLES
    for side in (("in", "out") if set(grants.values()) & {"county", "park"} and (resource, action) not in LIST_ONLY else ("in",))
]


@pytest.mark.parametrize(("resource", "action", "role", "side"), CASES)
def test_matrix(world, resource, action, role, side):
    status = PROBES[(resource, action)](world, world.headers[role], side)
    if _expected(role, resource, action, side):
        assert status in ALLOWED, f"{role} should {action} {resource} ({side}): got {status}"
    else:
        assert status in REFUSED or (status == 422 and (resource, action) in SCOPE_REPORTED), (
            f"{role} should NOT {action} {resource} ({side}): got {status}"
        )


def test_every_policy_entry_has_a_probe():
    entries = {(r, a) for r, actions in POLICY.items() for a in actions}
    assert entries - NO_ROUTE <= set(PROBES), f"no probe for {sorted(entries - NO_ROUTE - set(PROBES))}"


def test_resources_without_routes_really_have_no_write_route(world):
    writes = [r for r in _api_routes(world.client.app.routes) if r.methods & {"POST", "PUT", "PATCH", "DELETE"}]
    for resource, _ in NO_ROUTE:
        offending = [r.path for r in writes if f"/{resource}" in r.path]
        assert not offending, f"{resource} has write routes {offending}: give them a probe"
