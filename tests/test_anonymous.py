"""Anonymous callers: every GET route and page, no confidential field or value, no injection.

The sweep walks the application's own route table, so a route added later is covered
without touching this file. Path parameters are filled with real keys from the demo data.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import CONFIDENTIAL_FIELDS
from hggis.db.session import transaction
from hggis.demo.loader import load_demo

# Planted values: if any appears in an anonymous response, a confidential figure leaked.
SENTINELS = {"tax_paid": "987654.32", "revenue": "876543.21", "value_added": "765432.19", "land_price": "654321.98",
             "enquiry": "enquirer-5551234-sentinel"}
INJECTIONS = ["' OR '1'='1", "1; DROP TABLE parcels; --", "\" OR 1=1 --", "%27%20OR%201=1", "421102' UNION SELECT credit_code FROM enterprises --"]


@pytest.fixture(scope="module")
def demo_app(engine):
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=7)
    with transaction(engine, "test", "plant sentinels") as conn:
        eid = conn.execute(text("SELECT holder_id FROM parcels WHERE holder_id IS NOT NULL ORDER BY id LIMIT 1")).scalar()
        conn.execute(
            text("UPDATE enterprise_years SET tax_paid = :t, revenue = :r, value_added = :v WHERE enterprise_id = :e"),
            {"t": SENTINELS["tax_paid"], "r": SENTINELS["revenue"], "v": SENTINELS["value_added"], "e": eid},
        )
        conn.execute(text("UPDATE parcels SET land_price = :p WHERE id = (SELECT min(id) FROM parcels WHERE status = 'on_offer')"),
                     {"p": SENTINELS["land_price"]})
        # an investor's enquiry about land on offer: for the park's office, never for the public
        conn.execute(text(
            "INSERT INTO enquiries (parcel_id, adcode, park_id, name, contact, project, answer, status, sender_hash, content_hash) "
            "SELECT id, adcode, park_id, :v, :v, :v, :v, 'answered', repeat('a', 64), repeat('b', 64) "
            "FROM parcels WHERE status = 'on_offer' ORDER BY id LIMIT 1"), {"v": SENTINELS["enquiry"]})
    with TestClient(create_app(engine)) as client:
        yield client, engine
    wipe_data(engine)


def _sample_keys(engine) -> dict[str, str]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT (SELECT code FROM parcels WHERE status = 'on_offer' ORDER BY id LIMIT 1) AS code,
                       (SELECT code FROM parcels WHERE status = 'producing' ORDER BY id LIMIT 1) AS private_code,
                       (SELECT min(id) FROM parks) AS park_id,
                       (SELECT min(id) FROM enterprises) AS enterprise_id,
                       (SELECT credit_code FROM enterprises ORDER BY id LIMIT 1) AS credit_code
                """
            )
        ).mappings().one()
    return {k: str(v) for k, v in row.items()}


def _fill(path: str, keys: dict[str, str]) -> list[str]:
    """Concrete URLs for a route path: public and private objects where the key is a parcel."""
    guesses = {
        "code": [keys["code"], keys["private_code"]],
        "table": ["parcels"],
        "key": [keys["private_code"]],
        "park_id": [keys["park_id"]],
        "id": [keys["park_id"], "1"],
        "enterprise_id": [keys["enterprise_id"]],
        "credit_code": [keys["credit_code"]],
        "year": ["2024"],
        "adcode": ["421102"],
    }
    urls = [path]
    for name in re.findall(r"{(\w+)(?::\w+)?}", path):
        urls = [re.sub(r"{" + name + r"(?::\w+)?}", v, u, count=1) for u in urls for v in guesses.get(name, ["1"])]
    return urls


# Values for required query parameters, so routes answer with data rather than 422.
SAMPLE_QUERY = {"min_mu": "1", "max_mu": "5000", "year": "2024", "as_of": "2025-06-30", "against": "1",
                "from_year": "2023", "to_year": "2024"}


def _required_query(route: APIRoute) -> dict[str, str]:
    return {p.alias: SAMPLE_QUERY.get(p.alias, "1") for p in route.dependant.query_params if p.field_info.is_required()}


def _keys_in(obj: Any) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys_in(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys_in(v)}
    return set()


def _api_routes(routes) -> list[APIRoute]:
    """Flatten included routers (FastAPI wraps them); our routers carry their own prefixes."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes)
    return found


def _get_routes(app) -> list[APIRoute]:
    return [r for r in _api_routes(app.routes) if "GET" in r.methods]


def test_every_get_route_and_page_is_clean_for_anonymous(demo_app):
    client, engine = demo_app
    keys = _sample_keys(engine)
    checked = 0
    answered_with_data = 0
    for route in _get_routes(client.app):
        for url in _fill(route.path, keys):
            response = client.get(url, params=_required_query(route))
            assert response.status_code < 500, f"{url}: {response.status_code}"
            answered_with_data += response.status_code == 200
            body = response.text
            for name, value in SENTINELS.items():
                assert value not in body, f"{url} leaks {name}"
            if "json" in response.headers.get("content-type", ""):
                leaked = _keys_in(response.json()) & CONFIDENTIAL_FIELDS
                if url.startswith("/openapi") or url.startswith("/ogc/api"):
                    continue  # schemas name fields; the data responses are what matter
                assert not leaked, f"{url} exposes {sorted(leaked)}"
            else:
                for field in CONFIDENTIAL_FIELDS:
                    assert f'"{field}"' not in body, f"{url} names {field}"
            checked += 1
    assert checked >= 8 and answered_with_data >= 20


def test_private_parcel_is_invisible_to_anonymous(demo_app):
    client, engine = demo_app
    keys = _sample_keys(engine)
    assert client.get(f"/api/parcels/{keys['private_code']}").status_code == 404
    public = client.get(f"/api/parcels/{keys['code']}").json()["properties"]
    assert set(public) <= {"code", "area_mu", "status", "status_label", "adcode", "county", "park_id", "park",
                           "land_use", "intended_industry"}


def _fingerprint(engine) -> tuple:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT (SELECT count(*) FROM parcels), (SELECT count(*) FROM enterprises), "
                "(SELECT max(id) FROM history), (SELECT sum(version) FROM parcels), (SELECT count(*) FROM users)"
            )
        ).one()


def test_sql_fragments_in_every_string_parameter_change_nothing(demo_app):
    client, engine = demo_app
    before = _fingerprint(engine)
    keys = _sample_keys(engine)
    probed = 0
    for route in _get_routes(client.app):
        params = [p for p in route.dependant.query_params]
        for url in _fill(route.path, keys):
            for payload in INJECTIONS:
                for p in params:
                    r = client.get(url, params={p.alias: payload})
                    assert r.status_code < 500, f"{url}?{p.alias}={payload}: {r.status_code} {r.text[:200]}"
                    probed += 1
        for name in re.findall(r"{(\w+)}", route.path):
            for payload in INJECTIONS:
                url = route.path.replace("{" + name + "}", payload.replace("/", "%2F"))
                url = re.sub(r"{\w+}", "1", url)
                r = client.get(url)
                assert r.status_code < 500, f"{url}: {r.status_code} {r.text[:200]}"
                probed += 1
    assert probed > 20
    assert _fingerprint(engine) == before


def test_secrets_never_in_logs_or_errors(demo_app, caplog):
    client, engine = demo_app
    secret = "hggis_0123456789ab_TopSecretValueThatMustNotLeak"
    with caplog.at_level("DEBUG"):
        r = client.get("/api/parcels", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert "TopSecretValue" not in r.text
    assert "TopSecretValue" not in caplog.text and "authentication failure" in caplog.text
    with engine.begin() as conn:
        client.app.state.auth_limiter.forget(conn)
