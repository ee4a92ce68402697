"""腾笼换鸟 what-if through the API: before and after for a D-class occupant, and nothing written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import operator
from hggis.demo.loader import load_demo
from hggis.evaluation.runs import run_evaluation
from tests.access_helpers import make_user

CANDIDATE = {"name": "新材料项目", "investment": 50000, "yearly_tax": 3000, "output": 150000, "land_mu": 5}
#: every stored thing a what-if could touch, fingerprinted (row count and an md5 of the rows)
WATCHED = ("parcels", "enterprises", "enterprise_years", "occupancies", "evaluation_runs", "evaluation_results",
           "evaluation_land", "intensity_runs", "intensity_results", "history", "plan_targets", "idle_cases")


def fingerprint(engine) -> dict[str, tuple[int, str]]:
    out = {}
    with engine.connect() as conn:
        for t in WATCHED:
            out[t] = tuple(conn.execute(text(
                f"SELECT count(*), coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') FROM {t} x"
            )).one())
    return out


@pytest.fixture(scope="module")
def swap(engine):
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=11)
    run_id = run_evaluation(engine, operator(), 2024, proceed=True).run_id
    with engine.connect() as conn:
        d = conn.execute(text(
            "SELECT r.enterprise_id, p.park_id, p.adcode, sum(l.land_mu) AS mu FROM evaluation_results r "
            "JOIN evaluation_land l ON l.run_id = r.run_id AND l.enterprise_id = r.enterprise_id "
            "JOIN parcels p ON p.id = l.parcel_id WHERE r.run_id = :r AND r.class_code = 'D' AND p.park_id IS NOT NULL "
            "GROUP BY 1, 2, 3 HAVING sum(l.land_mu) > 6 ORDER BY 4 DESC, 1 LIMIT 1"), {"r": run_id}).one()
        c = conn.execute(text("SELECT enterprise_id FROM evaluation_results WHERE run_id = :r AND class_code = 'C' "
                              "ORDER BY enterprise_id LIMIT 1"), {"r": run_id}).scalar_one()
        other_park = conn.execute(text("SELECT id FROM parks WHERE id <> :p ORDER BY id LIMIT 1"),
                                  {"p": d.park_id}).scalar_one()
    users = {
        "admin": make_user(engine, "wi-admin", "city_admin").headers,
        "manager": make_user(engine, "wi-pm", "park_manager", parks=[d.park_id]).headers,
        "other": make_user(engine, "wi-other", "park_manager", parks=[other_park]).headers,
        "officer": make_user(engine, "wi-officer", "county_officer", counties=[d.adcode]).headers,
    }
    with TestClient(create_app(engine)) as client:
        yield client, engine, users, d, c, run_id
    wipe_data(engine)


def test_before_and_after_for_a_d_class_occupant_writes_nothing(swap):
    client, engine, users, d, _c, run_id = swap
    before = fingerprint(engine)
    r = client.post("/api/intensity/whatif", headers=users["manager"],
                    json={"enterprise_id": d.enterprise_id, "run_id": run_id, "candidate": CANDIDATE})
    assert r.status_code == 200, r.text
    body = r.json()
    assert fingerprint(engine) == before  # stored data and history unchanged
    assert body["written"] is False and body["park"]["id"] == d.park_id
    occ = body["occupant"]
    assert occ["class_code"] == "D" and occ["land_mu"] == pytest.approx(d.mu, abs=1e-3)
    part = occ["share_of_its_land"]
    delta_tax = CANDIDATE["yearly_tax"] - occ["tax"] * part
    assert body["after"]["tax"] - body["before"]["tax"] == pytest.approx(delta_tax, abs=0.02)
    den = body["after"]["industrial_supplied_mu"]
    assert body["after"]["tax_per_mu"] == pytest.approx(body["after"]["tax"] / den, rel=1e-3)
    assert body["after"]["tax_per_mu"] > body["before"]["tax_per_mu"]
    assert body["after"]["score"] >= body["before"]["score"]
    inv_b = next(i for i in body["before"]["indicators"] if i["key"] == "investment_intensity")
    inv_a = next(i for i in body["after"]["indicators"] if i["key"] == "investment_intensity")
    assert inv_a["value"] != inv_b["value"]
    plan = body["plan"]
    out = plan["parks_over"]["park_output_yi"]
    assert out["after"] - out["before"] == pytest.approx((CANDIDATE["output"] - occ["output"] * part) / 1e4, abs=1e-3)
    assert plan["parks_over"]["threshold_yi"] == 500 and plan["county"]["threshold_yi"] == 1000
    assert plan["county"]["adcode"] == d.adcode and plan["city"]["target_yi"] == 3000
    assert body["left_over_mu"] == pytest.approx(d.mu - CANDIDATE["land_mu"], abs=1e-3)
    # the same what-if twice gives the same answer (nothing moved in between)
    again = client.post("/api/intensity/whatif", headers=users["admin"],
                        json={"enterprise_id": d.enterprise_id, "run_id": run_id, "candidate": CANDIDATE}).json()
    assert again["after"]["score"] == body["after"]["score"]
    assert fingerprint(engine) == before


def test_refusals_name_the_input(swap):
    client, engine, users, d, c, run_id = swap
    before = fingerprint(engine)

    def post(headers, **body):
        return client.post("/api/intensity/whatif", headers=headers, json={"run_id": run_id, **body})

    too_big = post(users["admin"], enterprise_id=d.enterprise_id, candidate={**CANDIDATE, "land_mu": d.mu + 50})
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["loc"][-1] == "land_mu"
    not_d = post(users["admin"], enterprise_id=c, candidate=CANDIDATE)
    assert not_d.status_code == 422 and "不是 D 类" in not_d.text
    assert post(users["other"], enterprise_id=d.enterprise_id, candidate=CANDIDATE).status_code == 403
    assert post(users["officer"], enterprise_id=d.enterprise_id, candidate=CANDIDATE).status_code == 403
    assert post({}, enterprise_id=d.enterprise_id, candidate=CANDIDATE).status_code == 401
    project = post(users["admin"], enterprise_id=d.enterprise_id, project_id=7)
    assert project.status_code == 422 and "项目" in project.text
    negative = post(users["admin"], enterprise_id=d.enterprise_id, candidate={**CANDIDATE, "yearly_tax": -1})
    assert negative.status_code == 422
    assert fingerprint(engine) == before
