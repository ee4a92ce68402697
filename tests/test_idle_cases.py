"""The case workflow: every legal step, every illegal one refused (and nothing changed), history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hggis import clock
from hggis.access.policy import Forbidden
from hggis.db.session import transaction
from hggis.idle.cases import (
    ACTIONS,
    CaseError,
    IllegalTransition,
    allowed_actions,
    allowed_disposals,
    case_history,
    get_case,
    open_case,
    open_cases_from_scan,
    record_cause,
)
from hggis.idle.tables import CASE_STATES
from tests.factories import parcel_code
from tests.idle_helpers import OFFICER, OTHER_OFFICER, D, a_park, add_holder, contracted, manager, rules_of, scan, step

CODE1 = parcel_code(1)
INDICATORS = {"investment_intensity": Decimal("220"), "far_min": Decimal("1.0"), "tax_per_mu": Decimal("15")}

# The holder-fault path of a parcel agreed to start on 2022-01-01 (two full years on 2024-01-02).
PATH = [
    ("issue_notice", D(2024, 3, 10), {}),
    ("issue_finding", D(2024, 4, 20), {}),
    ("publish", D(2024, 4, 25), {}),
    ("decide_disposal", D(2024, 5, 10), {"kind": "recovery_without_compensation"}),
    ("record_recovery", D(2024, 6, 20), {}),
    ("to_reserve", D(2024, 6, 25), {}),
    ("reoffer", D(2024, 7, 1), {"indicators": INDICATORS, "intended_industry": "equipment"}),
]
STATE_AFTER = {
    "suspected": 0, "notice_issued": 1, "finding_issued": 2, "publicly_listed": 3, "disposal_decided": 4,
    "recovered": 5, "in_reserve": 6, "reoffered": 7,
}


def new_case(db, serial: int = 1, start: dt.date = D(2022, 1, 1), opened: dt.date = D(2024, 3, 1), **kw) -> int:  # noqa: ANN001
    with transaction(db, "test", "setup") as conn:
        firm = add_holder(conn, serial, f"闲置企业{serial}")
        contracted(conn, serial, start, holder_id=firm, **kw)
        conn.execute(text("INSERT INTO occupancies (parcel_id, enterprise_id, share) "
                          "SELECT id, holder_id, 1 FROM parcels WHERE code = :c"), {"c": parcel_code(serial)})
    with transaction(db, OFFICER.actor, "立案") as conn:
        return open_case(conn, OFFICER, parcel_code(serial), opened, "扫描发现超过约定动工日期未动工", rule_code=None)


def drive(db, state: str, serial: int = 1) -> int:  # noqa: ANN001
    """A case brought to ``state`` by legal steps (closed: by a fee decision and closing)."""
    case_id = new_case(db, serial)
    if state == "closed":
        for action, on, params in PATH[:3]:
            step(db, case_id, action, on, **params)
        step(db, case_id, "decide_disposal", D(2024, 5, 10), kind="fee_collected")
        step(db, case_id, "close", D(2024, 6, 15), paid_on=D(2024, 6, 1))
        return case_id
    for action, on, params in PATH[: STATE_AFTER[state]]:
        step(db, case_id, action, on, **params)
    return case_id


def _snapshot(db, case_id: int) -> tuple:  # noqa: ANN001
    with db.connect() as conn:
        return conn.execute(
            text("SELECT c.state, c.version, p.status, (SELECT count(*) FROM idle_case_events e WHERE e.case_id = c.id), "
                 "(SELECT count(*) FROM idle_extensions), (SELECT count(*) FROM control_indicators) "
                 "FROM idle_cases c JOIN parcels p ON p.id = c.parcel_id WHERE c.id = :i"),
            {"i": case_id},
        ).one()


PARAMS = {"decide_disposal": {"kind": "fee_collected"}, "reoffer": {"indicators": INDICATORS}}


@pytest.mark.parametrize("state", CASE_STATES)
def test_every_illegal_transition_is_refused_and_changes_nothing(clean_db, state):
    case_id = drive(clean_db, state)
    before = _snapshot(clean_db, case_id)
    assert before[0] == state
    illegal = [a for a, spec in ACTIONS.items() if state not in spec.from_states]
    assert illegal  # every state refuses something
    with clean_db.connect() as conn:  # what a UI offers: the legal steps of the state (here: after a recovery decision)
        offered = allowed_actions(conn, OFFICER, case_id)
    assert offered == [a for a, spec in ACTIONS.items() if state in spec.from_states and (a, state) != ("close", "disposal_decided")]
    for action in illegal:
        with pytest.raises(IllegalTransition) as info:
            step(clean_db, case_id, action, D(2024, 12, 1), **PARAMS.get(action, {}))
        assert f"#{case_id}" in str(info.value)
        assert _snapshot(clean_db, case_id) == before, action


LEGAL = [(state, action) for action, spec in ACTIONS.items() for state in spec.from_states]


@pytest.mark.parametrize(("state", "action"), LEGAL)
def test_every_legal_transition(clean_db, state, action):
    params = PARAMS.get(action, {})
    if (state, action) == ("disposal_decided", "close"):  # closing needs a disposal that is not a recovery
        case_id = new_case(clean_db)
        for a, on, p in PATH[:3]:
            step(clean_db, case_id, a, on, **p)
        step(clean_db, case_id, "decide_disposal", D(2024, 5, 10), kind="fee_collected")
    else:
        case_id = drive(clean_db, state)
    expected = ACTIONS[action].to_state
    result = step(clean_db, case_id, action, D(2024, 12, 1), **params)
    assert result["state"] == expected
    assert result["events"][-1]["action"] == action and result["events"][-1]["event_date"] == D(2024, 12, 1)


def test_full_path_recovery_reserve_reoffer_and_history(clean_db):
    case_id = new_case(clean_db)
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT status FROM parcels")).scalar() == "idle_candidate"
    statuses = {}
    for action, on, params in PATH:
        result = step(clean_db, case_id, action, on, **params)
        statuses[action] = result["parcel_status"]
    assert statuses["record_recovery"] == "recovered"
    assert statuses["to_reserve"] == "reserve"
    assert statuses["reoffer"] == "on_offer"
    with clean_db.connect() as conn:
        parcel = conn.execute(text("SELECT holder_id, contract_no, agreed_start_date, intended_industry FROM parcels")).one()
        ci = conn.execute(text("SELECT investment_intensity, far_min, tax_per_mu FROM control_indicators")).one()
        occupancies = conn.execute(text("SELECT count(*) FROM occupancies")).scalar()
        history = case_history(conn, OFFICER, case_id)
        case = get_case(conn, OFFICER, case_id)
        parcel_history = conn.execute(
            text("SELECT after ->> 'status', reason, actor FROM history WHERE table_name = 'parcels' "
                 "AND after ? 'status' ORDER BY id")
        ).all()
    assert parcel == (None, None, None, "equipment")
    assert ci == (Decimal("220.00"), Decimal("1.00"), Decimal("15.00")) and occupancies == 0
    assert case["state"] == "reoffered" and case["outcome"] == "reoffered" and case["closed_on"] == D(2024, 7, 1)
    # the complete history, read back
    assert [(e["seq"], e["action"], e["from_state"], e["to_state"], e["event_date"]) for e in history] == [
        (1, "open", None, "suspected", D(2024, 3, 1)),
        (2, "issue_notice", "suspected", "notice_issued", D(2024, 3, 10)),
        (3, "issue_finding", "notice_issued", "finding_issued", D(2024, 4, 20)),
        (4, "publish", "finding_issued", "publicly_listed", D(2024, 4, 25)),
        (5, "decide_disposal", "publicly_listed", "disposal_decided", D(2024, 5, 10)),
        (6, "record_recovery", "disposal_decided", "recovered", D(2024, 6, 20)),
        (7, "to_reserve", "recovered", "in_reserve", D(2024, 6, 25)),
        (8, "reoffer", "in_reserve", "reoffered", D(2024, 7, 1)),
    ]
    assert all(e["actor"] == OFFICER.actor and e["reason"] for e in history)
    assert history[0]["reason"] == "扫描发现超过约定动工日期未动工"
    assert history[1]["documents"] == [{"kind": "闲置土地调查通知书", "number": f"黄自然资闲调〔2024〕{case_id}号",
                                        "date": None, "uri": None}]
    assert history[1]["details"]["late"] is False  # within 30 days of 2024-03-01
    assert history[2]["details"]["idle_since"] == "2023-01-02"
    assert history[4]["details"]["kind"] == "recovery_without_compensation"
    assert history[5]["details"]["former_holder"] == "闲置企业1"
    assert history[6]["details"]["former_contract_no"] == "HT-1"
    assert [s for s, _, _ in parcel_history] == ["supplied", "idle_candidate", "recovered", "reserve", "on_offer"]
    assert all(actor == OFFICER.actor for _, _, actor in parcel_history[1:])


def test_finding_before_notice_is_refused_with_the_reason(clean_db):
    case_id = new_case(clean_db)
    with pytest.raises(IllegalTransition, match="须先发出《闲置土地调查通知书》"):
        step(clean_db, case_id, "issue_finding", D(2024, 3, 5))


def test_finding_before_the_land_is_idle_is_refused(clean_db):
    case_id = new_case(clean_db, start=D(2023, 6, 1), opened=D(2024, 5, 1))
    step(clean_db, case_id, "issue_notice", D(2024, 5, 5))
    with pytest.raises(IllegalTransition, match="2024-06-02"):
        step(clean_db, case_id, "issue_finding", D(2024, 6, 1))
    assert step(clean_db, case_id, "issue_finding", D(2024, 6, 2))["idle_since"] == D(2024, 6, 2)


def test_no_recovery_without_compensation_before_two_full_years(clean_db):
    case_id = new_case(clean_db, start=D(2023, 1, 1), opened=D(2024, 2, 1))
    for action, on in (("issue_notice", D(2024, 2, 5)), ("issue_finding", D(2024, 3, 1)), ("publish", D(2024, 3, 2))):
        step(clean_db, case_id, action, on)
    with pytest.raises(IllegalTransition, match="满2年之日为 2025-01-02"):
        step(clean_db, case_id, "decide_disposal", D(2025, 1, 1), kind="recovery_without_compensation")
    with pytest.raises(IllegalTransition, match="不适用于使用权人原因"):
        step(clean_db, case_id, "decide_disposal", D(2025, 1, 1), kind="extension", new_start_date=D(2025, 6, 1))
    result = step(clean_db, case_id, "decide_disposal", D(2025, 1, 2), kind="recovery_without_compensation")
    assert result["due_kind"] == "deregistration" and result["due_on"] == D(2025, 2, 1)


def test_fee_decision_computes_twenty_percent(clean_db):
    case_id = drive(clean_db, "publicly_listed")
    with clean_db.connect() as conn:
        assert allowed_disposals(conn, case_id, D(2024, 5, 10)) == ["fee_collected", "recovery_without_compensation"]
    result = step(clean_db, case_id, "decide_disposal", D(2024, 5, 10), kind="fee_collected")
    assert result["events"][-1]["details"]["fee_amount"] == "200.00"
    assert result["due_kind"] == "payment" and result["due_on"] == D(2024, 6, 9)
    with pytest.raises(IllegalTransition, match="不是收回"):
        step(clean_db, case_id, "record_recovery", D(2024, 6, 20))


def test_government_cause_forbids_sanctions_and_extension_restarts_the_clock(clean_db):
    case_id = new_case(clean_db)
    with transaction(clean_db, OFFICER.actor, "cause") as conn:
        record_cause(conn, OFFICER, CODE1, "land_not_delivered", D(2024, 3, 5), "土地未按期交付，经审核属实",
                     evidence_ref="黄土储函〔2021〕8号")
    for action, on, params in PATH[:3]:
        step(clean_db, case_id, action, on, **params)
    with clean_db.connect() as conn:
        assert allowed_disposals(conn, case_id, D(2024, 5, 10)) == [
            "extension", "change_of_use", "temporary_use", "paid_recovery", "land_swap"]
    for kind in ("recovery_without_compensation", "fee_collected"):
        with pytest.raises(IllegalTransition, match="不得(无偿收回|征缴土地闲置费)"):
            step(clean_db, case_id, "decide_disposal", D(2024, 5, 10), kind=kind)
    with pytest.raises(IllegalTransition, match="不得超过1年"):
        step(clean_db, case_id, "decide_disposal", D(2024, 5, 10), kind="extension", new_start_date=D(2025, 5, 11))
    with pytest.raises(IllegalTransition, match="不得超过2年"):
        step(clean_db, case_id, "decide_disposal", D(2024, 5, 10), kind="temporary_use",
             temporary_use_until=D(2026, 5, 11), new_start_date=D(2026, 6, 1))
    result = step(clean_db, case_id, "decide_disposal", D(2024, 5, 10), kind="extension",
                  new_start_date=D(2024, 12, 1), new_completion_date=D(2026, 12, 1))
    assert result["basis"] == "government_cause" and result["agreements"][-1]["new_start_date"] == D(2024, 12, 1)
    assert [e["action"] for e in result["events"]][:3] == ["open", "record_cause", "issue_notice"]
    closed = step(clean_db, case_id, "close", D(2024, 5, 20))
    assert closed["outcome"] == "extension" and closed["parcel_status"] == "supplied"  # status restored
    assert rules_of(clean_db, D(2025, 12, 1), 1) == set()
    assert rules_of(clean_db, D(2025, 12, 2), 1) == {"idle_not_started_1y"}  # a new delay is the holder's


def test_cause_cannot_be_recorded_after_the_disposal(clean_db):
    case_id = drive(clean_db, "disposal_decided")
    with pytest.raises(IllegalTransition, match="处置方式已决定"):
        with transaction(clean_db, OFFICER.actor, "cause") as conn:
            record_cause(conn, OFFICER, CODE1, "petitions", D(2024, 5, 20), "信访")
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idle_delay_causes")).scalar() == 0
    with pytest.raises(IllegalTransition, match="须先登记收回"):
        step(clean_db, case_id, "close", D(2024, 5, 20))


def test_halted_land_sanctions_follow_the_halting_clock(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2021, 6, 1), status="under_construction", started_on=D(2021, 9, 1),
                   halted_since=D(2023, 3, 15), built_footprint_m2=100.0, investment_to_date=Decimal("1100"))
    with transaction(clean_db, OFFICER.actor, "立案") as conn:
        case_id = open_case(conn, OFFICER, CODE1, D(2024, 4, 1), "中止开发满一年", rule_code="idle_halted")
    step(clean_db, case_id, "issue_notice", D(2024, 4, 2))
    assert step(clean_db, case_id, "issue_finding", D(2024, 5, 1))["idle_since"] == D(2024, 3, 16)
    step(clean_db, case_id, "publish", D(2024, 5, 2))
    # 第十四条 applies to 第二条第二款 land at the holder's fault (migration 0015): no negotiated options
    with pytest.raises(IllegalTransition, match="不适用于已动工但中止开发建设"):
        step(clean_db, case_id, "decide_disposal", D(2024, 5, 3), kind="paid_recovery", compensation=Decimal("800"))
    # halted since 2023-03-15: two full years only from 2025-03-16
    with pytest.raises(IllegalTransition, match="满2年之日为 2025-03-16"):
        step(clean_db, case_id, "decide_disposal", D(2024, 5, 3), kind="recovery_without_compensation")
    decided = step(clean_db, case_id, "decide_disposal", D(2024, 5, 3), kind="fee_collected")
    assert decided["disposal_kind"] == "fee_collected"


def test_low_efficiency_case_is_not_published(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2018, 1, 1), status="producing", started_on=D(2018, 2, 1), completed_on=D(2019, 1, 1),
                   production_stopped_since=D(2023, 1, 1), built_footprint_m2=1e6, investment_to_date=Decimal("5000"))
    with transaction(clean_db, OFFICER.actor, "立案") as conn:
        case_id = open_case(conn, OFFICER, CODE1, D(2024, 3, 1), "停产满一年", kind="low_efficiency",
                            rule_code="low_production_stopped")
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT status FROM parcels")).scalar() == "producing"  # not 疑似闲置
    step(clean_db, case_id, "issue_notice", D(2024, 3, 5))
    step(clean_db, case_id, "issue_finding", D(2024, 4, 1), idle_since=None)
    with pytest.raises(IllegalTransition, match="不作为闲置土地向社会公开"):
        step(clean_db, case_id, "publish", D(2024, 4, 2))
    with pytest.raises(IllegalTransition, match="低效用地案件"):
        with transaction(clean_db, OFFICER.actor, "x") as conn:
            record_cause(conn, OFFICER, CODE1, "state_policy", D(2024, 4, 2), "政策")
    assert step(clean_db, case_id, "decide_disposal", D(2024, 4, 2), kind="paid_recovery")["state"] == "disposal_decided"


@pytest.mark.parametrize(
    ("on", "documents", "reason", "message"),
    [
        (D(2024, 2, 29), None, None, "早于本案上一步骤"),
        (clock.today() + dt.timedelta(days=1), None, None, "在今天之后"),
        (D(2024, 3, 10), [], None, "须登记文书"),
        (D(2024, 3, 10), None, "  ", "reason is required"),
    ],
)
def test_bad_step_input_is_refused(clean_db, on, documents, reason, message):
    case_id = new_case(clean_db)
    before = _snapshot(clean_db, case_id)
    with pytest.raises(CaseError, match=message):
        step(clean_db, case_id, "issue_notice", on, documents=documents, reason=reason)
    assert _snapshot(clean_db, case_id) == before


def test_one_open_case_per_parcel_and_scope(clean_db):
    case_id = new_case(clean_db)
    with pytest.raises(IllegalTransition, match=f"已有未结案件 #{case_id}"):
        with transaction(clean_db, OFFICER.actor, "again") as conn:
            open_case(conn, OFFICER, CODE1, D(2024, 3, 2), "重复立案")
    park = a_park(clean_db)
    before = _snapshot(clean_db, case_id)
    for who in (manager(park), OTHER_OFFICER):
        with pytest.raises(Forbidden):
            step(clean_db, case_id, "issue_notice", D(2024, 3, 10), principal=who)
    assert _snapshot(clean_db, case_id) == before


def test_events_are_append_only_and_cases_audited(clean_db):
    case_id = drive(clean_db, "notice_issued")
    with pytest.raises(DBAPIError, match="append-only"):
        with clean_db.begin() as conn:
            conn.execute(text("UPDATE idle_case_events SET reason = 'changed'"))
    with clean_db.connect() as conn:
        rows = conn.execute(
            text("SELECT action, actor, reason FROM history WHERE table_name = 'idle_cases' AND object_id = :i ORDER BY id"),
            {"i": str(case_id)},
        ).all()
    assert [r.action for r in rows] == ["insert", "update"]
    assert rows[1].actor == OFFICER.actor and rows[1].reason == "测试：issue_notice"


def test_cases_opened_from_a_scan_in_one_go(clean_db):
    park = a_park(clean_db)
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2022, 1, 1), park_id=park)
        contracted(conn, 2, D(2023, 9, 1), park_id=park)
        contracted(conn, 3, D(2024, 9, 1), park_id=park)  # not idle yet
    summary = scan(clean_db, D(2025, 1, 31))
    with transaction(clean_db, OFFICER.actor, "批量立案") as conn:
        ids = open_cases_from_scan(conn, OFFICER, summary["id"], D(2025, 2, 3), "2025年1月扫描批量立案")
    with transaction(clean_db, OFFICER.actor, "again") as conn:
        assert open_cases_from_scan(conn, OFFICER, summary["id"], D(2025, 2, 3), "再次") == []
    with clean_db.connect() as conn:
        cases = conn.execute(text("SELECT rule_code, basis, due_on, source FROM idle_cases ORDER BY id")).all()
        statuses = conn.execute(text("SELECT code, status FROM parcels ORDER BY code")).all()
        events = conn.execute(text("SELECT count(*) FROM idle_case_events WHERE action = 'open'")).scalar()
        history_actor = conn.execute(text("SELECT DISTINCT actor FROM history WHERE table_name = 'idle_cases'")).scalars().all()
    assert len(ids) == 2 and events == 2 and history_actor == [OFFICER.actor]
    assert cases == [("idle_not_started_2y", "holder_fault", D(2025, 3, 5), "scan"),
                     ("idle_not_started_1y", "holder_fault", D(2025, 3, 5), "scan")]
    assert [s for _, s in statuses] == ["idle_candidate", "idle_candidate", "supplied"]
    # the next scan shows the case's deadline
    again = scan(clean_db, D(2025, 2, 10))
    with clean_db.connect() as conn:
        deadlines = conn.execute(text("SELECT next_deadline, deadline_kind FROM idle_scan_results WHERE scan_id = :s"),
                                 {"s": again["id"]}).all()
    assert set(deadlines) == {(D(2025, 3, 5), "notice")}
