"""Roles, scopes, tokens, concurrency and lineage, through the real API and database."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import POLICY, PUBLIC, ROLES, Forbidden, authorize, matrix_markdown, operator
from hggis.config import PROJECT_ROOT
from hggis.db.session import transaction
from hggis.parcel_edits import update_parcel
from tests.access_helpers import make_user
from tests.factories import HUANGZHOU, add_parcel, add_park, parcel_code, square


@pytest.fixture
def world(clean_db):
    """Two parks in two counties, a parcel in each, and one user of every role."""
    with transaction(clean_db, "test setup", "world") as conn:
        park_hz = add_park(conn, "黄州测试园", "421102")
        park_mc = add_park(conn, "麻城测试园", "421181")
        add_parcel(conn, 1, status="producing", park_id=park_hz)
        # a parcel in 麻城 (around 115.0E 31.17N)
        from hggis.parcels import ParcelInput, create_parcel

        create_parcel(conn, ParcelInput(code=parcel_code(1, "421181"), geometry=square(115.02, 31.17, 100),
                                        status="producing", park_id=park_mc))
    users = {
        "admin": make_user(clean_db, "admin", "city_admin"),
        "officer_hz": make_user(clean_db, "officer-hz", "county_officer", counties=["421102"]),
        "manager_hz": make_user(clean_db, "manager-hz", "park_manager", parks=[park_hz]),
        "manager_mc": make_user(clean_db, "manager-mc", "park_manager", parks=[park_mc]),
    }
    app = create_app(clean_db)
    with TestClient(app) as client:
        yield {"client": client, "engine": clean_db, "users": users, "parks": (park_hz, park_mc),
               "hz": parcel_code(1, "421102"), "mc": parcel_code(1, "421181")}


def _version(client, code, headers):
    return client.get(f"/api/parcels/{code}", headers=headers).json()["properties"]["version"]


# --- tokens ---------------------------------------------------------------------------

def test_missing_malformed_unknown_expired_revoked_tokens_all_get_the_same_401(world):
    client, engine, admin = world["client"], world["engine"], world["users"]["admin"]
    body = {"version": 1, "reason": "x", "land_use": "0602"}
    assert client.patch(f"/api/parcels/{world['hz']}", json=body).status_code == 401  # no token
    answers = []
    for header in ("Bearer", "Basic abc", "Bearer hggis_nope_nope", admin.headers["Authorization"] + "x"):
        r = client.get("/api/parcels", headers={"Authorization": header})
        answers.append((r.status_code, r.json()["detail"]))
    with transaction(engine, "test", "expire") as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                          "WHERE user_id = (SELECT id FROM users WHERE username = 'officer-hz')"))
    r = client.get("/api/parcels", headers=world["users"]["officer_hz"].headers)
    answers.append((r.status_code, r.json()["detail"]))
    with transaction(engine, "test", "revoke") as conn:
        from hggis.access.users import revoke_tokens, user_id

        revoke_tokens(conn, user_id(conn, "manager-hz"))
    r = client.get("/api/parcels", headers=world["users"]["manager_hz"].headers)
    answers.append((r.status_code, r.json()["detail"]))
    assert set(answers) == {(401, "invalid or expired credentials")}


def test_repeated_failures_are_rate_limited_but_valid_tokens_still_work(world):
    client = world["client"]
    codes = [client.get("/api/parcels", headers={"Authorization": "Bearer hggis_bad_guess"}).status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert client.get("/api/parcels", headers={"Authorization": "Bearer hggis_bad_guess"}).headers["retry-after"] == "300"
    # one guesser behind the office NAT does not lock out a colleague with a valid token
    assert client.get("/api/parcels", headers=world["users"]["admin"].headers).status_code == 200
    assert client.get("/api/parcels", headers=world["users"]["officer_hz"].headers).status_code == 200


def test_tokens_are_stored_only_as_sha256(world):
    import hashlib

    with world["engine"].connect() as conn:
        stored = set(conn.execute(text("SELECT token_hash FROM api_tokens")).scalars())
        history = conn.execute(text("SELECT string_agg(coalesce(after::text, ''), ' ') FROM history")).scalar()
    assert stored == {hashlib.sha256(u.token.encode()).hexdigest() for u in world["users"].values()}
    for user in world["users"].values():
        secret = user.token.split("_", 2)[2]
        assert len(secret) >= 43  # 256 bits, URL-safe base64
        assert not any(secret in h for h in stored) and secret not in history
    assert "token_hash" not in history


# --- the role x resource matrix, through real operations --------------------------------

def _try(fn) -> bool:
    try:
        fn()
        return True
    except Forbidden:
        return False


def test_parcel_write_matrix_in_and_out_of_scope(world):
    """Derived from POLICY['parcels']['write']: who may edit a parcel in 黄州 and one in 麻城."""
    engine = world["engine"]
    principals = {"public": PUBLIC}
    with engine.connect() as conn:
        from hggis.access.users import verify_token

        for key, user in world["users"].items():
            principals[user.role + ":" + key] = verify_token(conn, user.token)
    for label, principal in principals.items():
        for code, adcode, park in ((world["hz"], "421102", world["parks"][0]), (world["mc"], "421181", world["parks"][1])):
            expected = _try(lambda p=principal, a=adcode, k=park: authorize(p, "parcels", "write", a, k))

            def edit(principal=principal, code=code):
                with transaction(engine, principal.actor, "matrix") as conn:
                    version = conn.execute(text("SELECT version FROM parcels WHERE code = :c"), {"c": code}).scalar()
                    update_parcel(conn, principal, code, {"land_use": "0602"}, version, "matrix")
                    raise RuntimeError("rollback")  # keep the data unchanged between probes

            try:
                edit()
                allowed = True
            except RuntimeError:
                allowed = True
            except Forbidden:
                allowed = False
            assert allowed == expected, (label, code)
    grants = POLICY["parcels"]["write"]
    assert "public" not in grants and "park_manager" not in grants and grants["county_officer"] == "county"


def test_http_403_and_nothing_changes_outside_scope(world):
    client, engine = world["client"], world["engine"]
    officer = world["users"]["officer_hz"]
    r = client.patch(f"/api/parcels/{world['mc']}", headers=officer.headers,
                     json={"version": 1, "land_use": "0602"})
    assert r.status_code == 403
    with transaction(engine, "test", "probe") as conn:
        from hggis.access.users import verify_token

        principal = verify_token(conn, officer.token)
        with pytest.raises(Forbidden):
            update_parcel(conn, principal, world["mc"], {"land_use": "0602"}, 1, "probe")
    manager = world["users"]["manager_hz"]
    r = client.patch(f"/api/parcels/{world['hz']}", headers=manager.headers, json={"version": 1, "land_use": "0602"})
    assert r.status_code == 403
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels WHERE land_use = '0602'")).scalar() == 0


def test_lists_are_filtered_to_scope(world):
    client, users = world["client"], world["users"]

    def codes(headers):
        return {f["properties"]["code"] for f in client.get("/api/parcels", headers=headers).json()["features"]}

    assert codes(users["admin"].headers) == {world["hz"], world["mc"]}
    assert codes(users["officer_hz"].headers) == {world["hz"]}
    assert codes(users["manager_mc"].headers) == {world["mc"]}
    assert codes({}) == set()  # producing parcels are not public


def test_users_are_managed_by_city_admin_only(world):
    from hggis.access.users import UserError, create_user, list_users, verify_token

    with world["engine"].connect() as conn:
        officer = verify_token(conn, world["users"]["officer_hz"].token)
        admin = verify_token(conn, world["users"]["admin"].token)
        with pytest.raises(Forbidden):
            list_users(conn, officer)
        assert {u["username"] for u in list_users(conn, admin)} >= {"admin", "officer-hz"}
        with pytest.raises(Forbidden):
            create_user(conn, officer, "sneaky", "city_admin")
        with pytest.raises(UserError, match="needs at least one county"):
            create_user(conn, admin, "no-scope", "county_officer")


def test_history_read_respects_scope(world):
    client, users = world["client"], world["users"]
    r = client.get(f"/api/history/parcels/{world['mc']}", headers=users["officer_hz"].headers)
    assert r.status_code == 404  # out of scope answers like a missing parcel (tests/test_bad_input.py)
    r = client.get(f"/api/history/parcels/{world['hz']}", headers=users["officer_hz"].headers)
    assert r.status_code == 200 and r.json()[0]["action"] == "insert"
    assert client.get(f"/api/history/parcels/{world['hz']}").status_code == 401


# --- optimistic concurrency ---------------------------------------------------------------

def test_stale_version_gets_409_with_who_changed_it(world):
    client, admin, officer = world["client"], world["users"]["admin"], world["users"]["officer_hz"]
    code = world["hz"]
    v = _version(client, code, admin.headers)
    assert client.patch(f"/api/parcels/{code}", headers=officer.headers,
                        json={"version": v, "land_use": "0602"}).status_code == 200
    r = client.patch(f"/api/parcels/{code}", headers=admin.headers, json={"version": v, "land_use": "0603"})
    assert r.status_code == 409
    assert r.json()["detail"]["changed_by"] == "officer-hz (county_officer)"
    assert r.json()["detail"]["current_version"] == v + 1
    # If-Match works as well as the body field
    r = client.patch(f"/api/parcels/{code}", headers={**admin.headers, "If-Match": f'"{v + 1}"'}, json={"land_use": "0603"})
    assert r.status_code == 200


def test_two_concurrent_updates_exactly_one_wins(world):
    client, users, code = world["client"], world["users"], world["hz"]
    v = _version(client, code, users["admin"].headers)
    barrier, results = threading.Barrier(2), {}

    def fire(name, land_use):
        barrier.wait()
        results[name] = client.patch(f"/api/parcels/{code}", headers=users[name].headers,
                                     json={"version": v, "land_use": land_use}).status_code

    threads = [threading.Thread(target=fire, args=("admin", "0602")), threading.Thread(target=fire, args=("officer_hz", "0603"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 409]
    with world["engine"].connect() as conn:
        land_use, version = conn.execute(text("SELECT land_use, version FROM parcels WHERE code = :c"), {"c": code}).one()
        winner = next(n for n, s in results.items() if s == 200)
    assert version == v + 1 and land_use == {"admin": "0602", "officer_hz": "0603"}[winner]


def test_status_change_without_reason_is_422(world):
    client, admin, code = world["client"], world["users"]["admin"], world["hz"]
    r = client.patch(f"/api/parcels/{code}", headers=admin.headers, json={"version": 1, "status": "idle_candidate"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]


# --- retirement, split and merge keep lineage ----------------------------------------------

def test_split_then_merge_keeps_lineage_and_history(world):
    client, admin, engine = world["client"], world["users"]["admin"], world["engine"]
    code = world["hz"]
    lon, lat = HUANGZHOU[0] + 0.003, HUANGZHOU[1]  # add_parcel(1) lies here
    parent = square(lon, lat, 100)
    minx, miny, maxx, maxy = parent.bounds
    mid = (minx + maxx) / 2
    children = [
        {"code": parcel_code(101), "geometry": mapping(box(minx, miny, mid, maxy))},
        {"code": parcel_code(102), "geometry": mapping(box(mid, miny, maxx, maxy))},
    ]
    bad = [children[0], {"code": parcel_code(103), "geometry": mapping(box(mid, miny, maxx, (miny + maxy) / 2))}]
    r = client.post(f"/api/parcels/{code}/split", headers=admin.headers, json={"version": 1, "reason": "分宗", "children": bad})
    assert r.status_code == 422 and "not all of it" in r.json()["detail"][0]["msg"]
    r = client.post(f"/api/parcels/{code}/split", headers=admin.headers, json={"version": 1, "reason": "分宗", "children": children})
    assert r.status_code == 200, r.text
    assert client.get(f"/api/parcels/{code}", headers=admin.headers).status_code == 404  # retired
    child = client.get(f"/api/parcels/{parcel_code(101)}", headers=admin.headers).json()["properties"]
    assert child["parent_codes"] == [code] and child["status"] == "producing"
    r = client.post("/api/parcels/merge", headers=admin.headers,
                    json={"parcels": {parcel_code(101): 1, parcel_code(102): 1}, "new_code": parcel_code(110), "reason": "合宗"})
    assert r.status_code == 200, r.text
    merged = client.get(f"/api/parcels/{parcel_code(110)}", headers=admin.headers).json()
    assert merged["properties"]["parent_codes"] == [parcel_code(101), parcel_code(102)]
    assert merged["properties"]["area_mu"] == pytest.approx(15.0, abs=0.3)
    with engine.connect() as conn:
        retired = conn.execute(text("SELECT count(*) FROM parcels WHERE retired_at IS NOT NULL")).scalar()
    assert retired == 3
    history = client.get(f"/api/history/parcels/{code}", headers=admin.headers).json()
    assert [h["action"] for h in history] == ["insert", "update"] and history[1]["reason"] == "分宗"
    assert "retired_at" in history[1]["after"]


def test_merge_refuses_parcels_that_do_not_touch(world):
    client, admin = world["client"], world["users"]["admin"]
    with transaction(world["engine"], "test", "setup") as conn:
        add_parcel(conn, 5)  # ~0.012 deg east of parcel 1: far apart
    r = client.post("/api/parcels/merge", headers=admin.headers,
                    json={"parcels": {world["hz"]: 1, parcel_code(5): 1}, "new_code": parcel_code(111), "reason": "合宗"})
    assert r.status_code == 422 and "not adjacent" in r.json()["detail"][0]["msg"]


# --- the matrix in the README is the matrix in the code -------------------------------------

def test_readme_documents_the_policy_matrix():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert matrix_markdown() in readme, "run `hggis access matrix` and paste it into the README"


def test_every_role_is_known_and_cli_operator_is_full_admin():
    assert operator().role == "city_admin"
    for actions in POLICY.values():
        for grants in actions.values():
            assert set(grants) <= set(ROLES)


def test_a_token_revoked_after_use_is_refused_at_once(world):
    """Every request reads the token's row: revocation applies to the next request, in every worker."""
    client, engine, officer = world["client"], world["engine"], world["users"]["officer_hz"]
    assert client.get("/api/parcels", headers=officer.headers).status_code == 200
    assert client.get("/api/parcels", headers=officer.headers).status_code == 200
    forged = officer.token[:-3] + ("aaa" if not officer.token.endswith("aaa") else "bbb")
    assert client.get("/api/parcels", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    with transaction(engine, "test", "revoke") as conn:
        from hggis.access.users import revoke_tokens, user_id

        revoke_tokens(conn, user_id(conn, "officer-hz"))
    assert client.get("/api/parcels", headers=officer.headers).status_code == 401
