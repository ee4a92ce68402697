"""Forms, dashboard and maps follow the caller's scope (issue 17, defect 5).

Through the real pages: users sign in with passwords on /login over the demo data in a real
PostGIS. A county officer is offered only their county and its parks, a park manager only
their park and its county, a city administrator everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import operator
from hggis.demo.loader import load_demo
from tests.workbench_helpers import PASSWORD, add_web_user

PARK = 1
COUNTY = "421102"


@pytest.fixture(scope="module")
def site(engine) -> Iterator[dict]:  # noqa: ANN001
    from hggis.evaluation.runs import run_evaluation
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    run_evaluation(engine, operator(), 2024, proceed=True)
    users = {
        "manager": add_web_user(engine, "sf-manager", "park_manager", parks=[PARK]),
        "officer": add_web_user(engine, "sf-officer", "county_officer", counties=[COUNTY]),
        "admin": add_web_user(engine, "sf-admin", "city_admin"),
    }
    with engine.connect() as conn:
        facts = {
            "counties": set(conn.execute(text("SELECT adcode FROM counties")).scalars()),
            "parks": {str(i) for i in conn.execute(text("SELECT id FROM parks")).scalars()},
            "officer_parks": {str(i) for i in conn.execute(text("SELECT id FROM parks WHERE adcode = :a"),
                                                            {"a": COUNTY}).scalars()},
            "park_county": conn.execute(text("SELECT adcode FROM parks WHERE id = :p"), {"p": PARK}).scalar_one(),
            "park_name": conn.execute(text("SELECT name FROM parks WHERE id = :p"), {"p": PARK}).scalar_one(),
        }
    yield {"app": create_app(engine), "engine": engine, "users": users, **facts}
    wipe_data(engine)


def client_for(site: dict, who: str) -> TestClient:
    client = TestClient(site["app"])
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": site["users"][who].username, "password": PASSWORD,
                                    "csrf": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def options_of(page: str, name: str) -> set[str]:
    """The non-empty option values of every <select name=…> of the page (there may be several)."""
    found: set[str] = set()
    selects = re.findall(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert selects, f"no select {name} on the page"
    for body in selects:
        found |= {v for v in re.findall(r'<option value="([^"]*)"', body) if v}
    return found


FORMS = [  # (page, select name, what it lists)
    ("/search", "adcode", "counties"), ("/search", "park_id", "parks"),
    ("/reserves", "adcode", "counties"), ("/reserves", "park_id", "parks"), ("/reserves", "near_park", "parks"),
    ("/evaluation", "park_id", "parks"),
]


@pytest.mark.parametrize(("path", "name", "kind"), FORMS)
def test_officer_is_offered_only_their_county_and_its_parks(site, path, name, kind):
    page = client_for(site, "officer").get(path)
    assert page.status_code == 200, page.text[:300]
    expected = {COUNTY} if kind == "counties" else site["officer_parks"]
    assert expected and options_of(page.text, name) == expected


@pytest.mark.parametrize(("path", "name", "kind"), FORMS)
def test_manager_is_offered_only_their_park_and_its_county(site, path, name, kind):
    page = client_for(site, "manager").get(path)
    assert page.status_code == 200, page.text[:300]
    expected = {site["park_county"]} if kind == "counties" else {str(PARK)}
    assert options_of(page.text, name) == expected


@pytest.mark.parametrize(("path", "name", "kind"), FORMS)
def test_admin_is_offered_every_county_and_park(site, path, name, kind):
    page = client_for(site, "admin").get(path)
    assert page.status_code == 200, page.text[:300]
    assert options_of(page.text, name) == site[kind]


def test_a_choice_outside_the_scope_is_not_applied(site):
    """A hand-made URL naming another county's park is ignored, not answered with that park's data."""
    other = sorted(site["parks"] - site["officer_parks"])[0]
    page = client_for(site, "officer").get(f"/search?park_id={other}")
    assert page.status_code == 200
    assert f'<option value="{other}"' not in page.text
    assert f'value="{other}" selected' not in page.text

