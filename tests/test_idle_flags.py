"""Park managers' flags: confirm → case → recovery → reserve → re-offer; dismissal; scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from hggis.access.policy import Forbidden
from hggis.db.session import transaction
from hggis.idle.cases import IllegalTransition, allowed_actions, get_case, list_cases
from hggis.idle.flags import confirm_flag, dismiss_flag, flag_parcel, list_flags
from tests.factories import parcel_code
from tests.idle_helpers import OFFICER, OTHER_OFFICER, D, a_park, add_holder, contracted, manager, step


@pytest.fixture
def parks(clean_db):
    a, b = a_park(clean_db, "甲园区"), a_park(clean_db, "乙园区")
    with transaction(clean_db, "test", "setup") as conn:
        firm = add_holder(conn, 1, "甲园区闲置企业")
        contracted(conn, 1, D(2022, 1, 1), park_id=a, holder_id=firm)
        contracted(conn, 2, D(2022, 1, 1), park_id=b)
    return a, b


def _flag(db, who, serial=1, note="围墙内长期无施工，杂草丛生"):  # noqa: ANN001, ANN202
    with transaction(db, who.actor, "flag") as conn:
        return flag_parcel(conn, who, parcel_code(serial), note, "照片 IMG_2024_0315.jpg", D(2024, 3, 15))


def _count(db, table):  # noqa: ANN001, ANN202
    with db.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_flag_confirm_case_recovery_reserve_reoffer_end_to_end(clean_db, parks):
    park_a, _ = parks
    mgr = manager(park_a)
    flag_id = _flag(clean_db, mgr)
    with clean_db.connect() as conn:
        seen = list_flags(conn, mgr)["items"]
    assert [(f["id"], f["status"], f["document_ref"]) for f in seen] == [(flag_id, "open", "照片 IMG_2024_0315.jpg")]
    with transaction(clean_db, OFFICER.actor, "核实") as conn:
        case_id = confirm_flag(conn, OFFICER, flag_id, "现场核实属实，立案调查", D(2024, 3, 20))
    for action, on, params in [
        ("issue_notice", D(2024, 3, 25), {}),
        ("issue_finding", D(2024, 5, 6), {}),
        ("publish", D(2024, 5, 8), {}),
        ("decide_disposal", D(2024, 6, 1), {"kind": "recovery_without_compensation"}),
        ("record_recovery", D(2024, 7, 15), {}),
        ("to_reserve", D(2024, 7, 16), {}),
        ("reoffer", D(2024, 8, 1), {"indicators": {"investment_intensity": Decimal("250"),
                                                    "output_intensity": Decimal("350")}}),
    ]:
        step(clean_db, case_id, action, on, **params)
    with clean_db.connect() as conn:
        # the park manager sees the flag, its case and the whole history
        flags = list_flags(conn, mgr)["items"]
        case = get_case(conn, mgr, case_id)
        mine = list_cases(conn, mgr)["items"]
        parcel = conn.execute(text("SELECT status, holder_id FROM parcels WHERE code = :c"), {"c": parcel_code(1)}).one()
        ci = conn.execute(text("SELECT investment_intensity, output_intensity FROM control_indicators")).one()
    assert flags[0]["status"] == "confirmed" and flags[0]["case_id"] == case_id and flags[0]["case_state"] == "reoffered"
    assert case["source"] == "flag" and case["flags"][0]["id"] == flag_id
    assert [e["action"] for e in case["events"]] == [
        "open", "issue_notice", "issue_finding", "publish", "decide_disposal", "record_recovery", "to_reserve", "reoffer"]
    assert [c["id"] for c in mine] == [case_id]
    assert tuple(parcel) == ("on_offer", None)
    assert ci == (Decimal("250.00"), Decimal("350.00"))


def test_manager_of_another_park_gets_forbidden_and_nothing_changes(clean_db, parks):
    park_a, park_b = parks
    other = manager(park_b, name="zhou")
    with pytest.raises(Forbidden):
        _flag(clean_db, other, serial=1)
    assert _count(clean_db, "idle_flags") == 0
    flag_id = _flag(clean_db, manager(park_a))
    with transaction(clean_db, OFFICER.actor, "核实") as conn:
        case_id = confirm_flag(conn, OFFICER, flag_id, "立案", D(2024, 3, 20))
    with clean_db.connect() as conn:
        assert allowed_actions(conn, OFFICER, case_id) == ["issue_notice", "close_not_idle"]
        assert allowed_actions(conn, manager(park_a), case_id) == []  # may read, may not act
        with pytest.raises(Forbidden):
            allowed_actions(conn, other, case_id)
        with pytest.raises(Forbidden):
            get_case(conn, other, case_id)
        assert list_cases(conn, other)["items"] == [] and list_flags(conn, other)["items"] == []
    with pytest.raises(Forbidden):  # a manager cannot move a case either
        step(clean_db, case_id, "issue_notice", D(2024, 3, 25), principal=manager(park_a))
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT state FROM idle_cases")).scalar() == "suspected"


def test_only_county_officers_decide_flags(clean_db, parks):
    park_a, _ = parks
    flag_id = _flag(clean_db, manager(park_a))
    for who in (manager(park_a), OTHER_OFFICER):
        with pytest.raises(Forbidden):
            with transaction(clean_db, who.actor, "x") as conn:
                confirm_flag(conn, who, flag_id, "越权", D(2024, 3, 20))
    assert _count(clean_db, "idle_cases") == 0
    with transaction(clean_db, OFFICER.actor, "驳回") as conn:
        dismiss_flag(conn, OFFICER, flag_id, "已于2024年3月开工，现场为施工准备", D(2024, 3, 20))
    with pytest.raises(IllegalTransition, match="已驳回"):
        with transaction(clean_db, OFFICER.actor, "x") as conn:
            confirm_flag(conn, OFFICER, flag_id, "再确认", D(2024, 3, 21))
    with clean_db.connect() as conn:
        flag = list_flags(conn, manager(park_a))["items"][0]
    assert (flag["status"], flag["decision_reason"], flag["decided_by"]) == (
        "dismissed", "已于2024年3月开工，现场为施工准备", OFFICER.actor)
    assert _count(clean_db, "idle_cases") == 0


def test_confirming_a_flag_joins_the_open_case(clean_db, parks):
    park_a, _ = parks
    first, second = _flag(clean_db, manager(park_a)), _flag(clean_db, manager(park_a), note="再次发现无人施工")
    with transaction(clean_db, OFFICER.actor, "核实") as conn:
        case1 = confirm_flag(conn, OFFICER, first, "立案", D(2024, 3, 20))
        case2 = confirm_flag(conn, OFFICER, second, "并案", D(2024, 3, 21))
    assert case1 == case2 and _count(clean_db, "idle_cases") == 1
