"""Every page and map, walked by every role: allowed where the policy and the menu say so, refused otherwise.

The expected answer of each (role, page) is derived from hggis.access.policy (the grant the
page needs), never typed in, so changing the policy changes what is tested. Each role also
follows every link of its own menu and home page: a link a role is shown must open (no
403 behind a link). Signed in with a password through /login, on the demo data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import ROLES, Principal, grant, operator
from hggis.demo.loader import load_demo
from hggis.evaluation.runs import run_evaluation
from tests.workbench_helpers import PASSWORD, add_web_user

PARK = 1
COUNTY = "421102"


@dataclass(frozen=True)
class Page:
    path: str
    resource: str | None  # the grant a signed-in role needs; None: open to every signed-in role
    action: str = "read"
    public: bool = False  # anonymous visitors may open it too
    anonymous: int = 303  # what a refused anonymous visitor gets: sent to sign in, or 404 for an object


def _pages(codes: dict[str, str]) -> list[Page]:
    return [
        Page("/", None, public=True),
        Page("/maps/land", None, public=True),
        Page("/maps/clusters", None, public=True),
        Page("/maps/evaluation", "evaluation"),
        Page("/maps/idle", "idle_cases"),
        Page("/search", "parcels"),
        # a parcel not on offer does not exist for the public (no enumeration of codes)
        Page(f"/parcels/{codes['parcel']}", "parcels", anonymous=404),
        Page("/cases", "idle_cases"),
        Page("/patrol", "parcels", "flag"),
        Page(f"/patrol/{codes['parcel']}", "parcels", anonymous=303),
        Page("/reserves", "reserves"),
        Page("/evaluation", "evaluation"),
        Page(f"/evaluation/compare?run={codes['run']}", "evaluation"),
        Page("/evaluation/models", "evaluation_models"),
        Page("/imports", "imports", "write"),
        Page("/users", "users"),
        Page("/oplog", "users"),
        Page("/dashboard", None),
    ]


def _allowed(principal: Principal | None, page: Page) -> bool:
    if principal is None:
        return page.public
    if page.resource is None:
        return True
    return grant(principal, page.resource, page.action) is not None


@pytest.fixture(scope="module")
def walk(engine) -> Iterator[dict]:  # noqa: ANN001
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    run_evaluation(engine, operator(), 2023, proceed=True, reason="页面巡查测试")
    run = run_evaluation(engine, operator(), 2024, proceed=True, reason="页面巡查测试").run_id
    users = {
        "park_manager": add_web_user(engine, "walk-manager", "park_manager", parks=[PARK]),
        "county_officer": add_web_user(engine, "walk-officer", "county_officer", counties=[COUNTY]),
        "city_admin": add_web_user(engine, "walk-admin", "city_admin"),
    }
    assert set(users) == set(ROLES) - {"public"}, "every signed-in role walks the pages"
    with engine.connect() as conn:
        parcel = conn.execute(text("SELECT code FROM parcels WHERE park_id = :k AND retired_at IS NULL "
                                   "AND status = 'producing' ORDER BY id LIMIT 1"), {"k": PARK}).scalar_one()
    principals = {
        "park_manager": Principal(username="walk-manager", role="park_manager", parks=frozenset({PARK})),
        "county_officer": Principal(username="walk-officer", role="county_officer", counties=frozenset({COUNTY})),
        "city_admin": Principal(username="walk-admin", role="city_admin"),
    }
    yield {"app": create_app(engine), "users": users, "principals": principals, "pages": _pages({"parcel": parcel, "run": str(run)})}
    wipe_data(engine)


def _client(walk: dict, role: str | None) -> TestClient:
    client = TestClient(walk["app"])
    if role is not None:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"username": walk["users"][role].username, "password": PASSWORD,
                                        "csrf": token, "next": "/"}, follow_redirects=False)
        assert r.status_code == 303, r.text
    return client


@pytest.mark.parametrize("role", [None, "park_manager", "county_officer", "city_admin"])
def test_every_page_answers_as_the_policy_says(walk, role) -> None:  # noqa: ANN001
    client = _client(walk, role)
    principal = walk["principals"].get(role) if role else None
    wrong = []
    for page in walk["pages"]:
        r = client.get(page.path, follow_redirects=False)
        allowed = _allowed(principal, page)
        if allowed and r.status_code != 200:
            wrong.append(f"{page.path}: {r.status_code}, expected 200")
        elif not allowed:
            expected = {page.anonymous} if role is None else {403}
            if r.status_code not in expected:
                wrong.append(f"{page.path}: {r.status_code}, expected {expected}")
            elif role is not None and "无权" not in r.text:
                wrong.append(f"{page.path}: 403 without a Chinese reason")
    assert not wrong, f"{role or 'anonymous'}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", [None, "park_manager", "county_officer", "city_admin"])
def test_every_link_a_role_is_shown_opens(walk, role) -> None:  # noqa: ANN001
    """The menu and the home page's links, followed: nothing a role is offered refuses it."""
    client = _client(walk, role)
    home = client.get("/")
    assert home.status_code == 200
    links = set(re.findall(r'href="(/[^"#?]*)', home.text))
    links = {link for link in links if not link.startswith(("/static", "/assets", "/api", "/logout", "/login"))}
    assert links, "the home page links somewhere"
    broken = []
    for link in sorted(links):
        r = client.get(link, follow_redirects=True)
        if r.status_code != 200:
            broken.append(f"{link}: {r.status_code}")
    assert not broken, f"{role or 'anonymous'} is offered links that do not open: {broken}"
