"""标准地 control indicators: defaults from the national table (edition as data), flags, writes with history."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import PUBLIC, Forbidden, Principal
from hggis.db.session import transaction
from hggis.reserves.common import InvalidRequest, NotFound, set_setting
from hggis.reserves.indicators import (
    indicator_flags,
    indicator_history,
    national_far_min,
    parcel_indicators,
    propose_indicators,
    set_indicators,
)
from tests.access_helpers import make_user
from tests.reserves_helpers import ADMIN, add, gk_box

GOOD = {"far_min": 1.0, "far_max": 2.5, "building_coverage_min": 40, "admin_ratio_max": 7, "green_ratio_max": 15}


@pytest.fixture
def edition_2008(clean_db):
    yield clean_db
    with transaction(clean_db, "test teardown", "restore edition") as conn:
        set_setting(conn, ADMIN, "national_norms_edition", "2008")


@pytest.mark.parametrize(
    ("code", "prefix", "far"),
    [("2720", "27", 0.7), ("2614", "26", 0.6), ("2911", "291", 0.8), ("2921", "292", 1.0), ("3670", "36", 0.7),
     ("3982", "39", 1.0), ("2511", "25", 0.5), ("1711", "17", 0.8), ("1810", "18", 1.0)],
)
def test_national_minimum_far_by_gbt_code(engine, code, prefix, far):
    with engine.connect() as conn:
        found = national_far_min(conn, code, "2008")
    assert (found["gbt_prefix"], found["far_min"]) == (prefix, far)


def test_no_national_far_outside_manufacturing(engine):
    with engine.connect() as conn:
        assert national_far_min(conn, "4610", "2008") is None  # 水的生产和供应


def test_proposal_for_an_industry_and_for_a_class(engine):
    with engine.connect() as conn:
        pharma = propose_indicators(conn, "pharma_chem")
        chem = propose_indicators(conn, "pharma_chem", "2614")
        optical = propose_indicators(conn, gbt4754_code="3976")
    v = pharma["values"]
    assert (v["far_min"], v["building_coverage_min"], v["admin_ratio_max"], v["green_ratio_max"]) == (0.7, 30, 7, 20)
    assert v["far_max"] == pytest.approx(2.2) and v["investment_intensity"] == 250 and v["tax_per_mu"] == 15
    assert "医药制造业" in pharma["sources"]["far_min"] and pharma["national_edition"] == "2008"
    assert chem["values"]["far_min"] == 0.6  # 化学原料和化学制品制造业
    assert optical["values"]["far_min"] == 1.0 and "investment_intensity" not in optical["values"]


def test_edition_is_a_setting(edition_2008):
    with transaction(edition_2008, "admin", "采用2023版") as conn:
        set_setting(conn, ADMIN, "national_norms_edition", "2023")
    with edition_2008.connect() as conn:
        p = propose_indicators(conn, "equipment")
        history = conn.execute(
            text("SELECT before, after FROM history WHERE table_name = 'reserve_settings' AND object_id = 'national_norms_edition'")
        ).one()
    assert p["national_edition"] == "2023" and p["national_verified"] is False
    assert (p["values"]["building_coverage_min"], p["values"]["green_ratio_max"]) == (40, 15)
    assert history.before["value"] == "2008" and history.after["value"] == "2023"
    officer = Principal("o", "county_officer", counties=frozenset({"421102"}))
    with pytest.raises(Forbidden):
        with transaction(edition_2008, "o", "try") as conn:
            set_setting(conn, officer, "national_norms_edition", "2008")


def test_bad_proposal_requests(engine):
    with engine.connect() as conn:
        with pytest.raises(InvalidRequest) as err:
            propose_indicators(conn, "steel")
        assert err.value.field == "industry"
        with pytest.raises(InvalidRequest) as err:
            propose_indicators(conn, gbt4754_code="27a")
        assert err.value.field == "gbt4754_code"


def test_flags_below_national_minimums(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        ok = add(conn, gk_box(0, 0, 100, 100), intended_industry="optoelectronics")
        loose = add(conn, gk_box(200, 0, 100, 100), intended_industry="pharma_chem")
        missing = add(conn, gk_box(400, 0, 100, 100), status="on_offer")
        add(conn, gk_box(600, 0, 100, 100), status="producing")  # not reserve land: not listed
        set_indicators(conn, ADMIN, ok, GOOD)
        set_indicators(conn, ADMIN, loose, {"far_min": 0.5, "far_max": 1.5, "building_coverage_min": 25,
                                            "admin_ratio_max": 10, "green_ratio_max": 25})
    with clean_db.connect() as conn:
        rows = {r["code"]: r for r in indicator_flags(conn, ADMIN)}
        flagged = [r["code"] for r in indicator_flags(conn, ADMIN, flagged_only=True)]
    assert set(rows) == {ok, loose, missing}
    assert rows[ok]["flags"] == []
    codes = {f["code"] for f in rows[loose]["flags"]}
    assert codes == {"far_min_below_national", "building_coverage_below_national",
                     "admin_ratio_above_national", "green_ratio_above_national"}
    far = next(f for f in rows[loose]["flags"] if f["code"] == "far_min_below_national")
    # no GB/T class recorded: judged against the lowest minimum of 医药化工's divisions (chemicals, 0.6)
    assert (far["value"], far["national"]) == (0.5, 0.6) and "化学原料和化学制品制造业" in far["message"]
    assert rows[missing]["flags"][0]["code"] == "indicators_missing"
    assert sorted(flagged) == sorted([loose, missing])


def test_own_gbt_class_overrides_the_industry(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        chem = add(conn, gk_box(0, 0, 100, 100), intended_industry="pharma_chem")
        pharma = add(conn, gk_box(200, 0, 100, 100), intended_industry="pharma_chem")
        unknown = add(conn, gk_box(400, 0, 100, 100), intended_industry="pharma_chem")
        set_indicators(conn, ADMIN, chem, {**GOOD, "far_min": 0.65}, gbt4754_code="2614")  # chemicals: ≥ 0.6
        set_indicators(conn, ADMIN, pharma, {**GOOD, "far_min": 0.65}, gbt4754_code="2720")  # pharma: ≥ 0.7
        set_indicators(conn, ADMIN, unknown, {**GOOD, "far_min": 0.65})  # no class: lowest of 医药化工, 0.6
    with clean_db.connect() as conn:
        data = {c: parcel_indicators(conn, ADMIN, c) for c in (chem, pharma, unknown)}
    assert data[chem]["gbt4754_code"] == "2614" and data[chem]["national"]["far_min"] == 0.6 and data[chem]["flags"] == []
    assert [f["code"] for f in data[pharma]["flags"]] == ["far_min_below_national"]
    assert data[pharma]["national"]["far_category"] == "医药制造业"
    assert data[unknown]["flags"] == [] and data[unknown]["national"]["far_min"] == 0.6


def test_set_with_defaults_history_and_version_check(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        code = add(conn, gk_box(0, 0, 100, 100), intended_industry="equipment")
    with transaction(clean_db, "officer-wang (county_officer)", "发布标准地指标") as conn:
        first = set_indicators(conn, ADMIN, code, {"tax_per_mu": 18}, fill_defaults=True, expected_version=0)
    assert first["indicators"]["far_min"] == 0.7 and first["indicators"]["tax_per_mu"] == 18
    assert first["indicators"]["investment_intensity"] == 220 and first["version"] == 1
    with transaction(clean_db, "officer-li (county_officer)", "调整容积率") as conn:
        second = set_indicators(conn, ADMIN, code, {"far_min": 1.2}, expected_version=1)
    assert second["version"] == 2 and second["indicators"]["tax_per_mu"] == 18
    with pytest.raises(InvalidRequest) as err:
        with transaction(clean_db, "x", "stale") as conn:
            set_indicators(conn, ADMIN, code, {"far_min": 1.3}, expected_version=1)
    assert err.value.field == "version"
    with clean_db.connect() as conn:
        rows = indicator_history(conn, ADMIN, code)
    assert [(r["action"], r["actor"], r["reason"]) for r in rows] == [
        ("insert", "officer-wang (county_officer)", "发布标准地指标"),
        ("update", "officer-li (county_officer)", "调整容积率"),
    ]
    assert rows[1]["before"] == {"far_min": 0.7} and rows[1]["after"] == {"far_min": 1.2}


def test_who_may_set_indicators(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        code = add(conn, gk_box(0, 0, 100, 100))
        producing = add(conn, gk_box(200, 0, 100, 100), status="producing")
    own = Principal("hz", "county_officer", counties=frozenset({"421102"}))
    other = Principal("mc", "county_officer", counties=frozenset({"421181"}))
    manager = Principal("pm", "park_manager", parks=frozenset({1}))
    with transaction(clean_db, "hz", "ok") as conn:
        set_indicators(conn, own, code, GOOD)
    for who in (other, manager, PUBLIC):
        with pytest.raises(Forbidden):
            with transaction(clean_db, who.username, "no") as conn:
                set_indicators(conn, who, code, GOOD)
    with pytest.raises(InvalidRequest, match="producing"):
        with transaction(clean_db, "hz", "no") as conn:
            set_indicators(conn, own, producing, GOOD)
    with pytest.raises(InvalidRequest) as err:
        with transaction(clean_db, "hz", "no") as conn:
            set_indicators(conn, own, code, {"far_min": 3, "far_max": 2})
    assert err.value.field == "far_min"
    with pytest.raises(InvalidRequest) as err:
        with transaction(clean_db, "hz", "no") as conn:
            set_indicators(conn, own, code, {"green_ratio_max": 120})
    assert err.value.field == "green_ratio_max"


def test_public_reads_indicators_of_land_on_offer_only(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        offer = add(conn, gk_box(0, 0, 100, 100), status="on_offer", intended_industry="agri_food")
        reserve = add(conn, gk_box(200, 0, 100, 100))
        set_indicators(conn, ADMIN, offer, GOOD)
    with clean_db.connect() as conn:
        data = parcel_indicators(conn, PUBLIC, offer)
        assert data["indicators"]["far_min"] == 1.0 and data["proposed"]["values"]["far_min"] == 1.0
        with pytest.raises(NotFound):
            parcel_indicators(conn, PUBLIC, reserve)
        with pytest.raises(Forbidden):
            indicator_history(conn, PUBLIC, offer)


def test_api_indicators(clean_db):
    client = TestClient(create_app(clean_db))
    with transaction(clean_db, "test", "setup") as conn:
        code = add(conn, gk_box(0, 0, 100, 100), intended_industry="pharma_chem")
    officer = make_user(clean_db, "hz-ind", "county_officer", counties=["421102"])
    outsider = make_user(clean_db, "mc-ind", "county_officer", counties=["421181"])
    url = f"/api/reserves/parcels/{code}/indicators"
    body = {"reason": "发布指标", "version": 0, "far_min": 0.5, "far_max": 2.0, "building_coverage_min": 30,
            "admin_ratio_max": 7, "green_ratio_max": 20, "fill_defaults": True}
    assert client.put(url, json=body).status_code == 401
    assert client.put(url, json=body, headers=outsider.headers).status_code == 403
    done = client.put(url, json=body, headers=officer.headers)
    assert done.status_code == 200, done.text
    assert [f["code"] for f in done.json()["flags"]] == ["far_min_below_national"]
    assert done.json()["indicators"]["investment_intensity"] == 250
    bad = client.put(url, json={**body, "version": 0}, headers=officer.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "version"
    history = client.get(url + "/history", headers=officer.headers)
    assert history.status_code == 200 and history.json()[0]["actor"] == "hz-ind (county_officer)"
    flags = client.get("/api/reserves/indicators/flags", headers=officer.headers)
    assert [r["code"] for r in flags.json()] == [code]
    proposal = client.get("/api/reserves/indicators/proposal", params={"industry": "agri_food"})
    assert proposal.status_code == 200 and proposal.json()["values"]["far_min"] == 1.0
    assert client.get("/api/reserves/indicators/proposal", params={"industry": "x"}).status_code == 422
    assert client.get(url).status_code == 404  # reserve land is not public
