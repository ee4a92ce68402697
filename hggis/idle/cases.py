"""Idle-land cases: the procedure of 《闲置土地处置办法》 and 腾笼换鸟 as a state machine.

    suspected ─issue_notice→ notice_issued ─issue_finding→ finding_issued ─publish→ publicly_listed
        │                        │                                                   │
        └──── close_not_idle ────┘                              decide_disposal ─────┘
                                                                      ▼
                      closed ←─close── disposal_decided ─record_recovery→ recovered
                                                                      │ to_reserve
                                              reoffered ←─reoffer── in_reserve ─close→ closed

Every step is an append-only event (date of the legal act, actor, reason, documents,
details) and the case row itself is audited. A step that the law does not allow is
refused with the reason (``IllegalTransition``) and changes nothing: the whole step runs
in the caller's transaction. Low-efficiency cases (a local procedure, not the 办法) may go
from the finding straight to the disposal and are never publicly listed as idle land.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize, can, scope_clause
from hggis.db.session import set_actor
from hggis.errors import Invalid, NotFound
from hggis.idle.calendar import add_years, due_within, reached_on
from hggis.idle.rules import RuleSet, rule_catalogue, rule_set_in_force
from hggis.idle.tables import CASE_KINDS, DISPOSAL_KINDS, TERMINAL_STATES

STATE_LABELS: dict[str, str] = {
    "suspected": "疑似闲置（待调查）",
    "notice_issued": "已发出调查通知书",
    "finding_issued": "已下达认定书",
    "publicly_listed": "已公开",
    "disposal_decided": "已决定处置方式",
    "recovered": "已收回",
    "in_reserve": "已纳入储备（标准地）",
    "reoffered": "已重新出让（挂牌）",
    "closed": "已结案",
}
DISPOSAL_LABELS: dict[str, str] = {
    "fee_collected": "征缴土地闲置费",
    "extension": "延长动工开发期限",
    "change_of_use": "调整土地用途、规划条件",
    "temporary_use": "政府安排临时使用",
    "paid_recovery": "协议有偿收回",
    "land_swap": "置换土地",
    "recovery_without_compensation": "无偿收回",
}
BASIS_LABELS: dict[str, str] = {
    "holder_fault": "使用权人原因未动工开发",
    "government_cause": "政府原因或不可抗力",
    "halted": "已动工但中止开发建设",
    "low_efficiency": "低效用地",
}
RECOVERY_KINDS = ("paid_recovery", "land_swap", "recovery_without_compensation")
RESTART_KINDS = ("extension", "change_of_use", "temporary_use")
HALTED_RULES = ("idle_halted", "idle_halted_2y")  # 第二条第二款 land: cases on the "halted" basis
OPEN_CAUSE_STATES = ("suspected", "notice_issued", "finding_issued", "publicly_listed")
CLEARED_ON_RESERVE = (
    "holder_id", "contract_kind", "contract_no", "contract_signed_on", "land_price", "agreed_start_date",
    "agreed_completion_date", "planned_investment", "started_on", "built_footprint_m2", "investment_to_date",
    "halted_since", "completed_on", "production_stopped_since",
)
INDICATOR_FIELDS = (
    "investment_intensity", "far_min", "far_max", "tax_per_mu", "output_intensity", "energy_per_output",
    "environment_standard", "building_coverage_min", "green_ratio_max", "admin_ratio_max",
    "construction_months", "production_months",
)


class CaseError(Invalid):
    """Input that cannot be accepted (HTTP 422), with the reason."""


class IllegalTransition(CaseError):
    """A step the procedure does not allow in the case's current state (HTTP 409)."""

    kind = "conflict"  # a CaseError, but the request is fine: the case's state is not


class CaseNotFound(NotFound):
    """No such case, parcel or flag (HTTP 404)."""


@dataclass(frozen=True)
class Document:
    """A document of the procedure: 调查通知书, 认定书, 决定书, 补充协议, 公告 …"""

    kind: str
    number: str
    date: dt.date | None = None
    uri: str | None = None

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["date"] = self.date.isoformat() if self.date else None
        return d


@dataclass(frozen=True)
class ActionSpec:
    label: str
    from_states: tuple[str, ...]
    to_state: str | None  # None: decided by the action
    needs_document: bool
    hint: str


ACTIONS: dict[str, ActionSpec] = {
    "issue_notice": ActionSpec(
        "发出《闲置土地调查通知书》", ("suspected",), "notice_issued", True,
        "调查通知书只能对尚未调查的疑似闲置案件发出（第五条）",
    ),
    "issue_finding": ActionSpec(
        "下达《闲置土地认定书》", ("notice_issued",), "finding_issued", True,
        "须先发出《闲置土地调查通知书》并调查核实（第五条），才能下达《闲置土地认定书》（第九条）",
    ),
    "publish": ActionSpec(
        "向社会公开闲置土地信息", ("finding_issued",), "publicly_listed", False,
        "须先下达《闲置土地认定书》，才能公开闲置土地的位置、使用权人名称和闲置时间（第十一条）",
    ),
    "decide_disposal": ActionSpec(
        "决定处置方式", ("publicly_listed",), "disposal_decided", True,
        "闲置土地须经认定并公开后才能决定处置方式（第九条、第十一条、第十三条、第十四条）",
    ),
    "record_recovery": ActionSpec(
        "登记收回国有建设用地使用权", ("disposal_decided",), "recovered", True,
        "须先决定以协议有偿收回、置换土地或无偿收回方式处置",
    ),
    "to_reserve": ActionSpec(
        "纳入政府土地储备（标准地）", ("recovered",), "in_reserve", False,
        "须先收回土地，才能纳入政府土地储备（第二十条）",
    ),
    "reoffer": ActionSpec(
        "按新的控制指标重新出让（挂牌）", ("in_reserve",), "reoffered", False,
        "须先纳入储备，才能作为标准地重新出让",
    ),
    "close": ActionSpec(
        "结案", ("disposal_decided", "in_reserve"), "closed", False,
        "只有已决定处置方式（非收回）或已纳入储备的案件可以结案",
    ),
    "close_not_idle": ActionSpec(
        "经调查不构成闲置土地，结案", ("suspected", "notice_issued"), "closed", False,
        "认定书已下达的案件不能以“不构成闲置”结案",
    ),
}


def _today() -> dt.date:
    return clock.today()


def _check_date(on: dt.date, what: str) -> None:
    if on > _today():
        raise CaseError(f"{what}的日期 {on} 在今天之后：只能登记已经发生的步骤")


def _parcel(conn: Connection, code: str) -> Any:
    row = conn.execute(
        text(
            "SELECT id, code, adcode, park_id, status, holder_id, land_price FROM parcels "
            "WHERE code = :c AND retired_at IS NULL"
        ),
        {"c": code.strip().upper()},
    ).first()
    if row is None:
        raise CaseNotFound(f"no live parcel with code {code}")
    return row


def _case(conn: Connection, case_id: int, lock: bool = False) -> Any:
    row = conn.execute(
        text(
            "SELECT c.*, p.code AS parcel_code, p.adcode, p.park_id, p.status AS parcel_status, p.land_price "
            "FROM idle_cases c JOIN parcels p ON p.id = c.parcel_id WHERE c.id = :i"
            + (" FOR UPDATE OF c" if lock else "")
        ),
        {"i": case_id},
    ).first()
    if row is None:
        raise CaseNotFound(f"no idle-land case {case_id}")
    return row


def _active_cause(conn: Connection, parcel_id: int, on: dt.date) -> Any:
    return conn.execute(
        text(
            "SELECT d.reason_code, r.name_zh FROM idle_delay_causes d JOIN idle_delay_reasons r ON r.code = d.reason_code "
            "WHERE d.parcel_id = :p AND d.recorded_on <= :d AND (d.withdrawn_on IS NULL OR d.withdrawn_on > :d) "
            "ORDER BY d.recorded_on DESC, d.id DESC LIMIT 1"
        ),
        {"p": parcel_id, "d": on},
    ).first()


def _clock(conn: Connection, parcel_id: int, on: dt.date) -> Any:
    """The parcel's effective start date (after agreements signed by ``on``) and site facts."""
    return conn.execute(
        text(
            """
            SELECT COALESCE(x.new_start_date, p.agreed_start_date) AS start,
                   CASE WHEN p.halted_since IS NOT NULL THEN GREATEST(p.halted_since, x.new_start_date) END AS halted,
                   COALESCE(p.started_on <= :d OR p.completed_on <= :d, false) AS started
              FROM parcels p
              LEFT JOIN LATERAL (SELECT new_start_date FROM idle_extensions e
                                  WHERE e.parcel_id = p.id AND e.signed_on <= :d
                                  ORDER BY e.signed_on DESC, e.id DESC LIMIT 1) x ON true
             WHERE p.id = :p
            """
        ),
        {"p": parcel_id, "d": on},
    ).one()


def _add_event(
    conn: Connection,
    case_id: int,
    action: str,
    from_state: str | None,
    to_state: str,
    on: dt.date,
    actor: str,
    reason: str,
    documents: Sequence[Document] = (),
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        text(
            """
            INSERT INTO idle_case_events (case_id, seq, action, from_state, to_state, event_date, actor, reason,
                                          documents, details)
            VALUES (:c, (SELECT COALESCE(max(seq), 0) + 1 FROM idle_case_events WHERE case_id = :c), :a, :f, :t, :d,
                    :actor, :r, CAST(:docs AS jsonb), CAST(:det AS jsonb))
            """
        ),
        {
            "c": case_id, "a": action, "f": from_state, "t": to_state, "d": on, "actor": actor, "r": reason,
            "docs": json.dumps([d.as_json() for d in documents], ensure_ascii=False),
            "det": json.dumps(details or {}, ensure_ascii=False, default=str),
        },
    )


def _last_event_date(conn: Connection, case_id: int) -> dt.date:
    return conn.execute(
        text("SELECT max(event_date) FROM idle_case_events WHERE case_id = :c"), {"c": case_id}
    ).scalar_one()


def _set_parcel_status(conn: Connection, parcel_id: int, status: str, extra: dict[str, Any] | None = None) -> None:
    sets = ["status = :s", "version = version + 1"]
    params: dict[str, Any] = {"s": status, "p": parcel_id}
    for i, (col, value) in enumerate((extra or {}).items()):
        sets.append(f"{col} = :v{i}")  # column names come from CLEARED_ON_RESERVE / fixed lists only
        params[f"v{i}"] = value
    conn.execute(text(f"UPDATE parcels SET {', '.join(sets)} WHERE id = :p"), params)


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise CaseError("a reason is required for every step of a case")
    return reason.strip()


def open_case(
    conn: Connection,
    principal: Principal,
    parcel_code: str,
    opened_on: dt.date,
    reason: str,
    kind: str = "idle",
    rule_code: str | None = None,
    source: str = "manual",
    scan_id: int | None = None,
    documents: Sequence[Document] = (),
) -> int:
    """Open a case on suspicion (疑似闲置); the 30-day investigation clock starts the next day."""
    reason = _require_reason(reason)
    parcel = _parcel(conn, parcel_code)
    authorize(principal, "idle_cases", "write", parcel.adcode, parcel.park_id)
    set_actor(conn, principal.actor, reason)
    _check_date(opened_on, "立案")
    if kind not in CASE_KINDS:
        raise CaseError(f"unknown case kind {kind!r} (one of {', '.join(CASE_KINDS)})")
    existing = conn.execute(
        text("SELECT id FROM idle_cases WHERE parcel_id = :p AND state NOT IN ('closed', 'reoffered')"),
        {"p": parcel.id},
    ).scalar()
    if existing is not None:
        raise IllegalTransition(f"宗地 {parcel.code} 已有未结案件 #{existing}：同一宗地同时只能有一个案件")
    rules = rule_set_in_force(conn, opened_on)
    if rule_code is not None:
        catalogue = {r["code"]: r for r in rule_catalogue(conn, rules.id)}
        if rule_code not in catalogue:
            raise CaseError(f"unknown rule {rule_code!r}")
        expected = "idle" if kind == "idle" else "low_efficiency"
        if catalogue[rule_code]["category"] != expected:
            raise CaseError(f"rule {rule_code} is not a rule of a {kind} case")
    if kind == "low_efficiency":
        basis = "low_efficiency"
    elif _active_cause(conn, parcel.id, opened_on) is not None or rule_code == "idle_government_cause":
        basis = "government_cause"
    elif rule_code in HALTED_RULES:
        basis = "halted"
    else:
        basis = "holder_fault"
    status_before = parcel.status
    if kind == "idle" and parcel.status in ("supplied", "under_construction"):
        _set_parcel_status(conn, parcel.id, "idle_candidate")
    due = due_within(opened_on, rules.investigation_days)
    case_id = conn.execute(
        text(
            """
            INSERT INTO idle_cases (parcel_id, kind, rule_code, basis, state, source, scan_id, opened_on,
                                    status_before, due_on, due_kind)
            VALUES (:p, :k, :r, :b, 'suspected', :s, :scan, :o, :sb, :due, 'notice') RETURNING id
            """
        ),
        {"p": parcel.id, "k": kind, "r": rule_code, "b": basis, "s": source, "scan": scan_id, "o": opened_on,
         "sb": status_before, "due": due},
    ).scalar_one()
    _add_event(conn, case_id, "open", None, "suspected", opened_on, principal.actor, reason, documents,
               {"basis": basis, "rule_code": rule_code, "source": source, "notice_due_on": due.isoformat()})
    return case_id


def open_cases_from_scan(
    conn: Connection,
    principal: Principal,
    scan_id: int,
    opened_on: dt.date,
    reason: str,
    rule_codes: Sequence[str] | None = None,
) -> list[int]:
    """Open a case for every idle candidate of a scan (in the caller's write scope) without one.

    Set-based: one INSERT for the cases, one for their opening events, one status update.
    """
    reason = _require_reason(reason)
    where, params = scope_clause(principal, "idle_cases", "write", "x.adcode", "x.park_id")
    set_actor(conn, principal.actor, reason)
    _check_date(opened_on, "立案")
    rules = rule_set_in_force(conn, opened_on)
    due = due_within(opened_on, rules.investigation_days)
    rows = conn.execute(
        text(
            f"""
            WITH pick AS (
              SELECT DISTINCT ON (x.parcel_id) x.parcel_id, x.rule_code
                FROM idle_scan_results x
                JOIN idle_rules ru ON ru.rule_set_id = (SELECT rule_set_id FROM idle_scans WHERE id = :scan)
                                  AND ru.code = x.rule_code
               WHERE x.scan_id = :scan AND x.category = 'idle' AND {where}
                 AND (CAST(:codes AS text[]) IS NULL OR x.rule_code = ANY(CAST(:codes AS text[])))
                 AND NOT EXISTS (SELECT 1 FROM idle_cases c WHERE c.parcel_id = x.parcel_id
                                  AND c.state NOT IN ('closed', 'reoffered'))
               ORDER BY x.parcel_id, ru.sort_order
            ),
            ins AS (
              INSERT INTO idle_cases (parcel_id, kind, rule_code, basis, state, source, scan_id, opened_on,
                                      status_before, due_on, due_kind)
              SELECT pick.parcel_id, 'idle', pick.rule_code,
                     CASE WHEN pick.rule_code = 'idle_government_cause' THEN 'government_cause'
                          WHEN pick.rule_code = ANY(:halted_rules) THEN 'halted' ELSE 'holder_fault' END,
                     'suspected', 'scan', :scan, :o, p.status, :due, 'notice'
                FROM pick JOIN parcels p ON p.id = pick.parcel_id
              RETURNING id, parcel_id, rule_code, basis
            ),
            ev AS (
              INSERT INTO idle_case_events (case_id, seq, action, from_state, to_state, event_date, actor, reason, details)
              SELECT ins.id, 1, 'open', NULL, 'suspected', :o, :actor, :reason,
                     jsonb_build_object('basis', ins.basis, 'rule_code', ins.rule_code, 'source', 'scan',
                                        'scan_id', :scan, 'notice_due_on', CAST(:due AS date))
                FROM ins
            ),
            st AS (
              UPDATE parcels p SET status = 'idle_candidate', version = p.version + 1
                FROM ins WHERE p.id = ins.parcel_id AND p.status IN ('supplied', 'under_construction')
            )
            SELECT id FROM ins ORDER BY id
            """
        ),
        {"scan": scan_id, "codes": list(rule_codes) if rule_codes else None, "o": opened_on, "due": due,
         "halted_rules": list(HALTED_RULES),
         "actor": principal.actor, "reason": reason, **params},
    )
    return [r.id for r in rows]


def _transition_guard(conn: Connection, principal: Principal, case_id: int, action: str, on: dt.date,
                      reason: str, documents: Sequence[Document]) -> tuple[Any, ActionSpec]:
    if action not in ACTIONS:
        raise CaseError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    spec = ACTIONS[action]
    reason = _require_reason(reason)
    case = _case(conn, case_id, lock=True)
    authorize(principal, "idle_cases", "write", case.adcode, case.park_id)
    set_actor(conn, principal.actor, reason)
    from_states = spec.from_states
    if action == "decide_disposal" and case.kind == "low_efficiency":
        from_states = ("finding_issued", "publicly_listed")
    if action == "publish" and case.kind == "low_efficiency":
        raise IllegalTransition(f"案件 #{case_id} 为低效用地案件：不作为闲置土地向社会公开")
    if case.state not in from_states:
        raise IllegalTransition(
            f"案件 #{case_id} 当前为“{STATE_LABELS[case.state]}”，不能{spec.label}：{spec.hint}"
        )
    _check_date(on, spec.label)
    last = _last_event_date(conn, case_id)
    if on < last:
        raise CaseError(f"{spec.label}的日期 {on} 早于本案上一步骤的日期 {last}")
    if spec.needs_document and not documents:
        raise CaseError(f"{spec.label}须登记文书（种类和文号）")
    return case, spec


def _finish(conn: Connection, case: Any, action: str, to_state: str, on: dt.date, principal: Principal,
            reason: str, documents: Sequence[Document], details: dict[str, Any], **columns: Any) -> dict[str, Any]:
    sets = ["state = :state", "version = version + 1", "updated_at = now()"]
    params: dict[str, Any] = {"state": to_state, "i": case.id}
    for col, value in columns.items():
        sets.append(f"{col} = :{col}")  # keyword names are fixed in this module
        params[col] = value
    conn.execute(text(f"UPDATE idle_cases SET {', '.join(sets)} WHERE id = :i"), params)
    _add_event(conn, case.id, action, case.state, to_state, on, principal.actor, reason.strip(), documents, details)
    return get_case(conn, principal, case.id)


def transition(
    conn: Connection,
    principal: Principal,
    case_id: int,
    action: str,
    on: dt.date,
    reason: str,
    documents: Sequence[Document] = (),
    **params: Any,
) -> dict[str, Any]:
    """Apply one step to a case (see ACTIONS); refuse it with the reason when illegal."""
    case, spec = _transition_guard(conn, principal, case_id, action, on, reason, documents)
    rules = rule_set_in_force(conn, on)
    handler = _HANDLERS[action]
    return handler(conn, principal, case, spec, rules, on, reason, documents, params)


def _no_params(action: str, params: dict[str, Any], allowed: Sequence[str] = ()) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise CaseError(f"{action}: unexpected parameter(s) {', '.join(extra)}")


def _issue_notice(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("issue_notice", params)
    late = on > case.due_on if case.due_on else False
    due = due_within(on, rules.response_days)
    details = {"late": late, "notice_due_on": case.due_on, "response_due_on": due}
    return _finish(conn, case, "issue_notice", spec.to_state, on, principal, reason, documents, details,
                   due_on=due, due_kind="response")


def _idle_since(conn: Connection, case: Any, rules: RuleSet, on: dt.date) -> dt.date | None:
    clock = _clock(conn, case.parcel_id, on)
    if case.basis == "halted":
        return reached_on(clock.halted, rules.halted_years) if clock.halted else None
    if case.basis in ("holder_fault", "government_cause") and clock.start is not None and not clock.started:
        return reached_on(clock.start, rules.idle_years)
    if case.basis == "government_cause" and clock.halted is not None:
        return reached_on(clock.halted, rules.halted_years)
    return None


def _issue_finding(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("issue_finding", params, ("idle_since",))
    idle_since = params.get("idle_since")
    if case.kind == "idle":
        computed = _idle_since(conn, case, rules, on)
        idle_since = idle_since or computed
        if idle_since is None:
            raise CaseError("闲置起算日无法从合同和现场数据推算：请在认定时给出 idle_since")
        if idle_since > on:
            raise IllegalTransition(
                f"宗地 {case.parcel_code} 到 {on} 尚未满足闲置条件（自 {idle_since} 起才构成闲置土地，第二条）：不能下达认定书"
            )
    details = {"idle_since": idle_since, "basis": case.basis}
    return _finish(conn, case, "issue_finding", spec.to_state, on, principal, reason, documents, details,
                   idle_since=idle_since, due_on=None, due_kind="publish" if case.kind == "idle" else "decide")


def _publish(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("publish", params)
    cause = _active_cause(conn, case.parcel_id, on)
    details = {"published_fields": ["location", "holder_name", "idle_since"]}
    if cause is not None:
        details["idle_cause"] = cause.name_zh  # 第十一条: government causes are published too
    return _finish(conn, case, "publish", spec.to_state, on, principal, reason, documents, details,
                   due_on=None, due_kind="decide")


def _check_disposal_allowed(conn: Connection, case: Any, rules: RuleSet, kind: str, on: dt.date) -> None:
    if kind not in DISPOSAL_KINDS:
        raise CaseError(f"unknown disposal kind {kind!r} (one of {', '.join(DISPOSAL_KINDS)})")
    cause = _active_cause(conn, case.parcel_id, on)
    if kind in ("fee_collected", "recovery_without_compensation") and (
        cause is not None or case.basis == "government_cause"
    ):
        what = cause.name_zh if cause is not None else "政府原因或不可抗力"
        raise IllegalTransition(
            f"案件 #{case.id} 已记录政府原因或不可抗力（{what}，第八条）：不得{DISPOSAL_LABELS[kind]}"
            "（第十四条仅适用于第八条情形以外的闲置土地），应依第十二条协商处置"
        )
    allowed = rules.disposals_for(case.basis)
    if kind not in allowed:
        options = "、".join(DISPOSAL_LABELS[k] for k in allowed)
        raise IllegalTransition(
            f"处置方式“{DISPOSAL_LABELS[kind]}”不适用于{BASIS_LABELS[case.basis]}的案件（规则“{rules.name}”允许：{options}）"
        )
    if case.basis == "halted" and kind in ("fee_collected", "recovery_without_compensation"):
        _check_halted_long_enough(conn, case, rules, kind, on)
    if case.basis == "holder_fault" and kind in ("fee_collected", "recovery_without_compensation"):
        clock = _clock(conn, case.parcel_id, on)
        if clock.start is None:
            raise CaseError(f"宗地 {case.parcel_code} 没有约定动工开发日期：无法计算闲置期限")
        years = rules.idle_years if kind == "fee_collected" else rules.recovery_years
        if on < reached_on(clock.start, years):
            article = "第十四条第（一）项" if kind == "fee_collected" else "第十四条第（二）项"
            raise IllegalTransition(
                f"宗地 {case.parcel_code} 自约定动工开发日期 {clock.start} 起到 {on} 未动工开发未满{years}年"
                f"（满{years}年之日为 {reached_on(clock.start, years)}）：不得{DISPOSAL_LABELS[kind]}（{article}）"
            )


def _check_halted_long_enough(conn: Connection, case: Any, rules: RuleSet, kind: str, on: dt.date) -> None:
    """第十四条 on halted land (第二条第二款): the fee from one full year of halting, recovery from
    ``halted_recovery_years``; the clock is the halt date (moved by a later agreement)."""
    clock = _clock(conn, case.parcel_id, on)
    if clock.halted is None:
        raise CaseError(f"宗地 {case.parcel_code} 没有中止开发建设日期：无法计算闲置期限")
    years = rules.halted_years if kind == "fee_collected" else rules.halted_recovery_years
    if on < reached_on(clock.halted, years):
        article = "第十四条第（一）项" if kind == "fee_collected" else "第十四条第（二）项"
        raise IllegalTransition(
            f"宗地 {case.parcel_code} 自 {clock.halted} 中止开发建设，到 {on} 未满{years}年"
            f"（满{years}年之日为 {reached_on(clock.halted, years)}）：不得{DISPOSAL_LABELS[kind]}（第二条第二款、{article}）"
        )


def _record_agreement(conn: Connection, parcel_id: int, case_id: int | None, kind: str, agreement_no: str,
                      signed_on: dt.date, rules: RuleSet, new_start_date: dt.date | None,
                      new_completion_date: dt.date | None, temporary_use_until: dt.date | None,
                      note: str | None) -> dict[str, Any]:
    if new_start_date is None:
        raise CaseError(f"{DISPOSAL_LABELS.get(kind, kind)}须约定新的动工开发日期 new_start_date（第十二条：动工开发时间重新起算）")
    if new_start_date < signed_on:
        raise CaseError(f"新的动工开发日期 {new_start_date} 早于协议签订日期 {signed_on}")
    if kind == "extension" and new_start_date > add_years(signed_on, rules.max_extension_years):
        raise IllegalTransition(
            f"延长动工开发期限不得超过{rules.max_extension_years}年（第十二条第（一）项）：新的动工开发日期 {new_start_date} "
            f"晚于 {add_years(signed_on, rules.max_extension_years)}"
        )
    if kind == "temporary_use":
        if temporary_use_until is None:
            raise CaseError("政府安排临时使用须给出临时使用截止日期 temporary_use_until")
        limit = add_years(signed_on, rules.max_temporary_use_years)
        if temporary_use_until > limit:
            raise IllegalTransition(
                f"临时使用期限最长不得超过{rules.max_temporary_use_years}年（第十二条第（三）项）：截止日期 "
                f"{temporary_use_until} 晚于 {limit}"
            )
        if new_start_date < temporary_use_until:
            raise CaseError(f"新的动工开发日期 {new_start_date} 早于临时使用结束日期 {temporary_use_until}")
    if new_completion_date is not None and new_completion_date <= new_start_date:
        raise CaseError("新的竣工日期须晚于新的动工开发日期")
    # the cause that led to the agreement has been dealt with: a new delay is judged afresh
    conn.execute(
        text("UPDATE idle_delay_causes SET withdrawn_on = :s WHERE parcel_id = :p AND withdrawn_on IS NULL "
             "AND recorded_on <= :s"),
        {"p": parcel_id, "s": signed_on},
    )
    ext_id = conn.execute(
        text(
            """
            INSERT INTO idle_extensions (parcel_id, case_id, kind, agreement_no, signed_on, new_start_date,
                                         new_completion_date, temporary_use_until, note)
            VALUES (:p, :c, :k, :n, :s, :ns, :nc, :tu, :note) RETURNING id
            """
        ),
        {"p": parcel_id, "c": case_id, "k": kind, "n": agreement_no, "s": signed_on, "ns": new_start_date,
         "nc": new_completion_date, "tu": temporary_use_until, "note": note},
    ).scalar_one()
    return {"extension_id": ext_id, "new_start_date": new_start_date, "new_completion_date": new_completion_date,
            "temporary_use_until": temporary_use_until}


def _decide_disposal(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    allowed_params = ("kind", "new_start_date", "new_completion_date", "temporary_use_until", "swap_parcel_code",
                      "compensation")
    _no_params("decide_disposal", params, allowed_params)
    kind = params.get("kind")
    if not kind:
        raise CaseError(f"decide_disposal needs kind (one of {', '.join(DISPOSAL_KINDS)})")
    _check_disposal_allowed(conn, case, rules, kind, on)
    details: dict[str, Any] = {"kind": kind, "kind_label": DISPOSAL_LABELS[kind], "rule_set": rules.name}
    due_on, due_kind = None, "close"
    if kind == "fee_collected":
        if case.land_price is None:
            raise CaseError(f"宗地 {case.parcel_code} 没有出让或划拨价款：无法计算土地闲置费")
        details["fee_amount"] = (Decimal(case.land_price) * rules.fee_rate).quantize(Decimal("0.01"))
        details["fee_rate"] = rules.fee_rate
        due_on, due_kind = due_within(on, rules.payment_days), "payment"
    elif kind == "recovery_without_compensation":
        due_on, due_kind = due_within(on, rules.payment_days), "deregistration"
    elif kind in ("paid_recovery", "land_swap"):
        due_kind = "recovery"
        if kind == "land_swap" and params.get("swap_parcel_code"):
            details["swap_parcel_code"] = _parcel(conn, params["swap_parcel_code"]).code
        if params.get("compensation") is not None:
            details["compensation"] = Decimal(str(params["compensation"]))
    if kind in RESTART_KINDS:
        details.update(
            _record_agreement(
                conn, case.parcel_id, case.id, kind, documents[0].number, on, rules, params.get("new_start_date"),
                params.get("new_completion_date"), params.get("temporary_use_until"), reason,
            )
        )
    return _finish(conn, case, "decide_disposal", spec.to_state, on, principal, reason, documents, details,
                   disposal_kind=kind, disposal_on=on, due_on=due_on, due_kind=due_kind)


def _record_recovery(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("record_recovery", params)
    if case.disposal_kind not in RECOVERY_KINDS:
        raise IllegalTransition(
            f"案件 #{case.id} 的处置方式为“{DISPOSAL_LABELS.get(case.disposal_kind, case.disposal_kind)}”，不是收回：不能登记收回"
        )
    if case.disposal_kind == "recovery_without_compensation" and _active_cause(conn, case.parcel_id, on) is not None:
        raise IllegalTransition(f"案件 #{case.id} 已记录政府原因或不可抗力（第八条）：不得无偿收回")
    holder = conn.execute(
        text("SELECT e.id, e.name FROM parcels p JOIN enterprises e ON e.id = p.holder_id WHERE p.id = :p"),
        {"p": case.parcel_id},
    ).first()
    removed = conn.execute(text("DELETE FROM occupancies WHERE parcel_id = :p"), {"p": case.parcel_id}).rowcount
    _set_parcel_status(conn, case.parcel_id, "recovered", {"holder_id": None})
    details = {"disposal_kind": case.disposal_kind, "former_holder_id": holder.id if holder else None,
               "former_holder": holder.name if holder else None, "occupancies_ended": removed}
    return _finish(conn, case, "record_recovery", spec.to_state, on, principal, reason, documents, details,
                   due_on=None, due_kind="reserve")


def _to_reserve(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("to_reserve", params)
    old = conn.execute(
        text("SELECT contract_no, agreed_start_date, land_price FROM parcels WHERE id = :p"), {"p": case.parcel_id}
    ).one()
    _set_parcel_status(conn, case.parcel_id, "reserve", {col: None for col in CLEARED_ON_RESERVE})
    details = {"former_contract_no": old.contract_no, "former_agreed_start_date": old.agreed_start_date,
               "former_land_price": old.land_price, "parcel_status": "reserve"}
    return _finish(conn, case, "to_reserve", spec.to_state, on, principal, reason, documents, details,
                   due_on=None, due_kind="reoffer")


def _reoffer(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("reoffer", params, ("indicators", "intended_industry"))
    indicators = dict(params.get("indicators") or {})
    unknown = sorted(set(indicators) - set(INDICATOR_FIELDS))
    if unknown:
        raise CaseError(f"unknown control indicator(s): {', '.join(unknown)} (known: {', '.join(INDICATOR_FIELDS)})")
    if not indicators.get("investment_intensity") or Decimal(str(indicators["investment_intensity"])) <= 0:
        raise CaseError("重新出让须公布控制指标，至少包括固定资产投资强度 investment_intensity（万元/亩，> 0）")
    cols = ["parcel_id", *indicators]
    binds = ", ".join(f":{c}" for c in cols)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in indicators)
    conn.execute(
        text(
            f"INSERT INTO control_indicators ({', '.join(cols)}) VALUES ({binds}) "
            f"ON CONFLICT (parcel_id) DO UPDATE SET {updates}, version = control_indicators.version + 1"
        ),
        {"parcel_id": case.parcel_id, **indicators},
    )
    extra = {}
    if params.get("intended_industry"):
        known = conn.execute(text("SELECT 1 FROM industries WHERE code = :c"), {"c": params["intended_industry"]}).first()
        if known is None:
            raise CaseError(f"unknown industry {params['intended_industry']!r}")
        extra["intended_industry"] = params["intended_industry"]
    _set_parcel_status(conn, case.parcel_id, "on_offer", extra)
    details = {"indicators": indicators, "parcel_status": "on_offer", **extra}
    return _finish(conn, case, "reoffer", spec.to_state, on, principal, reason, documents, details,
                   due_on=None, due_kind=None, outcome="reoffered", closed_on=on)


def _restore_status(conn: Connection, case: Any) -> None:
    if case.parcel_status == "idle_candidate" and case.status_before and case.status_before != "idle_candidate":
        _set_parcel_status(conn, case.parcel_id, case.status_before)


def _close(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("close", params, ("paid_on",))
    if case.state == "disposal_decided" and case.disposal_kind in RECOVERY_KINDS:
        raise IllegalTransition(
            f"案件 #{case.id} 决定{DISPOSAL_LABELS[case.disposal_kind]}：须先登记收回，土地纳入储备后才能结案"
        )
    outcome = case.disposal_kind if case.state == "disposal_decided" else "kept_in_reserve"
    details: dict[str, Any] = {"outcome": outcome}
    if params.get("paid_on"):
        details["fee_paid_on"] = params["paid_on"]
    if case.state == "disposal_decided":
        _restore_status(conn, case)
    return _finish(conn, case, "close", spec.to_state, on, principal, reason, documents, details,
                   due_on=None, due_kind=None, outcome=outcome, closed_on=on)


def _close_not_idle(conn, principal, case, spec, rules: RuleSet, on, reason, documents, params):  # noqa: ANN001
    _no_params("close_not_idle", params)
    _restore_status(conn, case)
    return _finish(conn, case, "close_not_idle", spec.to_state, on, principal, reason, documents,
                   {"outcome": "not_idle"}, due_on=None, due_kind=None, outcome="not_idle", closed_on=on)


_HANDLERS = {
    "issue_notice": _issue_notice,
    "issue_finding": _issue_finding,
    "publish": _publish,
    "decide_disposal": _decide_disposal,
    "record_recovery": _record_recovery,
    "to_reserve": _to_reserve,
    "reoffer": _reoffer,
    "close": _close,
    "close_not_idle": _close_not_idle,
}


def allowed_actions(conn: Connection, principal: Principal, case_id: int) -> list[str]:
    """The steps the procedure allows next on the case for this caller (for buttons in a UI).

    Decided by the state, the case kind and the disposal already decided; date-dependent
    checks (two full years, deadlines) and input checks stay in :func:`transition`, which
    remains the authority. A caller without write scope on the case gets an empty list.
    """
    case = _case(conn, case_id)
    authorize(principal, "idle_cases", "read", case.adcode, case.park_id)
    if not can(principal, "idle_cases", "write", case.adcode, case.park_id):
        return []
    out = []
    for action, spec in ACTIONS.items():
        from_states = spec.from_states
        if action == "decide_disposal" and case.kind == "low_efficiency":
            from_states = ("finding_issued", "publicly_listed")
        if case.state not in from_states:
            continue
        if action == "publish" and case.kind == "low_efficiency":
            continue
        if action == "record_recovery" and case.disposal_kind not in RECOVERY_KINDS:
            continue
        if action == "close" and case.state == "disposal_decided" and case.disposal_kind in RECOVERY_KINDS:
            continue
        out.append(action)
    return out


def allowed_disposals(conn: Connection, case_id: int, on: dt.date) -> list[str]:
    """Disposal kinds the rule set in force on ``on`` allows for the case's basis (第八、十二、十四条)."""
    case = _case(conn, case_id)
    kinds = rule_set_in_force(conn, on).disposals_for(case.basis)
    if case.basis == "government_cause" or _active_cause(conn, case.parcel_id, on) is not None:
        kinds = [k for k in kinds if k not in ("fee_collected", "recovery_without_compensation")]
    return kinds


def record_cause(
    conn: Connection,
    principal: Principal,
    parcel_code: str,
    reason_code: str,
    on: dt.date,
    reason: str,
    evidence_ref: str | None = None,
    note: str | None = None,
) -> int:
    """Record a verified government cause or force majeure (第八条) for a parcel.

    It suppresses the sanctions from ``on``; an open case on the parcel switches to the
    negotiated procedure (basis ``government_cause``), which is refused once a disposal
    has been decided.
    """
    reason = _require_reason(reason)
    parcel = _parcel(conn, parcel_code)
    authorize(principal, "idle_cases", "write", parcel.adcode, parcel.park_id)
    set_actor(conn, principal.actor, reason)
    _check_date(on, "登记政府原因")
    known = conn.execute(text("SELECT name_zh FROM idle_delay_reasons WHERE code = :c"), {"c": reason_code}).scalar()
    if known is None:
        codes = ", ".join(r for r in conn.execute(text("SELECT code FROM idle_delay_reasons ORDER BY sort_order")).scalars())
        raise CaseError(f"unknown delay reason {reason_code!r} (one of {codes})")
    open_case_row = conn.execute(
        text("SELECT id FROM idle_cases WHERE parcel_id = :p AND state NOT IN ('closed', 'reoffered')"),
        {"p": parcel.id},
    ).scalar()
    case = _case(conn, open_case_row, lock=True) if open_case_row is not None else None
    if case is not None:
        if case.kind != "idle":
            raise IllegalTransition(f"案件 #{case.id} 为低效用地案件：政府原因只适用于闲置土地（第八条）")
        if case.state not in OPEN_CAUSE_STATES:
            raise IllegalTransition(
                f"案件 #{case.id} 当前为“{STATE_LABELS[case.state]}”：处置方式已决定，不能再登记政府原因"
            )
        if on < _last_event_date(conn, case.id):
            raise CaseError(f"登记日期 {on} 早于本案上一步骤的日期")
    cause_id = conn.execute(
        text(
            "INSERT INTO idle_delay_causes (parcel_id, case_id, reason_code, recorded_on, evidence_ref, note) "
            "VALUES (:p, :c, :r, :d, :e, :n) RETURNING id"
        ),
        {"p": parcel.id, "c": case.id if case else None, "r": reason_code, "d": on, "e": evidence_ref, "n": note},
    ).scalar_one()
    if case is not None:
        conn.execute(
            text("UPDATE idle_cases SET basis = 'government_cause', version = version + 1, updated_at = now() WHERE id = :i"),
            {"i": case.id},
        )
        docs = [Document("政府原因证明材料", evidence_ref)] if evidence_ref else []
        _add_event(conn, case.id, "record_cause", case.state, case.state, on, principal.actor, reason, docs,
                   {"reason_code": reason_code, "reason_name": known, "basis_before": case.basis})
    return cause_id


def record_extension(
    conn: Connection,
    principal: Principal,
    parcel_code: str,
    agreement_no: str,
    signed_on: dt.date,
    new_start_date: dt.date,
    reason: str,
    kind: str = "extension",
    new_completion_date: dt.date | None = None,
    temporary_use_until: dt.date | None = None,
) -> int:
    """Record a supplementary agreement outside a case (e.g. an approved 延期开工): the clock restarts.

    A parcel with an open idle case must be extended through the case's disposal decision.
    """
    reason = _require_reason(reason)
    parcel = _parcel(conn, parcel_code)
    authorize(principal, "idle_cases", "write", parcel.adcode, parcel.park_id)
    set_actor(conn, principal.actor, reason)
    _check_date(signed_on, "补充协议签订")
    if kind not in RESTART_KINDS:
        raise CaseError(f"unknown agreement kind {kind!r} (one of {', '.join(RESTART_KINDS)})")
    if not agreement_no or not agreement_no.strip():
        raise CaseError("an agreement number (补充协议编号) is required")
    open_id = conn.execute(
        text("SELECT id FROM idle_cases WHERE parcel_id = :p AND state NOT IN ('closed', 'reoffered')"),
        {"p": parcel.id},
    ).scalar()
    if open_id is not None:
        raise IllegalTransition(f"宗地 {parcel.code} 有未结案件 #{open_id}：延期须作为该案的处置方式决定（decide_disposal）")
    rules = rule_set_in_force(conn, signed_on)
    info = _record_agreement(conn, parcel.id, None, kind, agreement_no.strip(), signed_on, rules, new_start_date,
                             new_completion_date, temporary_use_until, reason)
    return info["extension_id"]


CASE_COLUMNS = """
c.id, c.parcel_id, p.code AS parcel_code, p.adcode, co.name AS county, p.park_id, k.name AS park,
e.name AS holder, round(p.area_mu::numeric, 2) AS area_mu, p.status AS parcel_status, c.kind, c.rule_code,
c.basis, c.state, c.source, c.scan_id, c.opened_on, c.idle_since, c.due_on, c.due_kind, c.disposal_kind,
c.disposal_on, c.outcome, c.closed_on, c.version
"""
CASE_FROM = """
idle_cases c JOIN parcels p ON p.id = c.parcel_id JOIN counties co ON co.adcode = p.adcode
LEFT JOIN parks k ON k.id = p.park_id LEFT JOIN enterprises e ON e.id = p.holder_id
"""


def _labelled(row: dict[str, Any]) -> dict[str, Any]:
    row["state_label"] = STATE_LABELS[row["state"]]
    row["basis_label"] = BASIS_LABELS[row["basis"]]
    row["disposal_label"] = DISPOSAL_LABELS.get(row["disposal_kind"] or "")
    return row


def case_history(conn: Connection, principal: Principal, case_id: int) -> list[dict[str, Any]]:
    """Every step of the case, oldest first: date, action, states, actor, reason, documents, details."""
    case = _case(conn, case_id)
    authorize(principal, "idle_cases", "read", case.adcode, case.park_id)
    rows = conn.execute(
        text(
            "SELECT seq, action, from_state, to_state, event_date, actor, reason, documents, details, recorded_at "
            "FROM idle_case_events WHERE case_id = :c ORDER BY seq"
        ),
        {"c": case_id},
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["action_label"] = ACTIONS[item["action"]].label if item["action"] in ACTIONS else {
            "open": "立案（疑似闲置）", "record_cause": "登记政府原因或不可抗力",
            "issue_document": "出具文书"}.get(item["action"], item["action"])
        out.append(item)
    return out


def get_case(conn: Connection, principal: Principal, case_id: int) -> dict[str, Any]:
    """One case with its parcel, its full step history, recorded causes, agreements and flags."""
    case = _case(conn, case_id)
    authorize(principal, "idle_cases", "read", case.adcode, case.park_id)
    row = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.id = :i"), {"i": case_id}).one()
    out = _labelled(dict(row._mapping))
    out["events"] = case_history(conn, principal, case_id)
    out["causes"] = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                "SELECT d.id, d.reason_code, r.name_zh AS reason_name, r.kind, r.legal_basis, d.recorded_on, "
                "d.evidence_ref, d.withdrawn_on FROM idle_delay_causes d JOIN idle_delay_reasons r ON r.code = d.reason_code "
                "WHERE d.parcel_id = :p ORDER BY d.recorded_on, d.id"
            ),
            {"p": case.parcel_id},
        )
    ]
    out["agreements"] = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                "SELECT id, case_id, kind, agreement_no, signed_on, new_start_date, new_completion_date, "
                "temporary_use_until FROM idle_extensions WHERE parcel_id = :p ORDER BY signed_on, id"
            ),
            {"p": case.parcel_id},
        )
    ]
    out["flags"] = [
        dict(r._mapping)
        for r in conn.execute(
            text("SELECT id, note, flagged_by, flagged_on, status FROM idle_flags WHERE case_id = :c ORDER BY id"),
            {"c": case_id},
        )
    ]
    return out


CASE_FILTERS = {"state": "c.state", "kind": "c.kind", "adcode": "p.adcode", "park_id": "p.park_id"}


def list_cases(
    conn: Connection,
    principal: Principal,
    filters: dict[str, Any] | None = None,
    open_only: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """Cases in the caller's read scope (a park manager sees their parks' cases)."""
    where, params = scope_clause(principal, "idle_cases", "read", "p.adcode", "p.park_id")
    conds = [where]
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key not in CASE_FILTERS:
            raise CaseError(f"unknown filter {key!r} (one of {', '.join(CASE_FILTERS)})")
        conds.append(f"{CASE_FILTERS[key]} = :f_{key}")
        params[f"f_{key}"] = value
    if open_only:
        conds.append("c.state NOT IN ('closed', 'reoffered')")
    cond = " AND ".join(conds)
    total = conn.execute(text(f"SELECT count(*) FROM {CASE_FROM} WHERE {cond}"), params).scalar_one()
    rows = conn.execute(
        text(f"SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE {cond} ORDER BY c.id LIMIT :limit OFFSET :offset"),
        {**params, "limit": limit, "offset": offset},
    )
    return {"total": total, "items": [_labelled(dict(r._mapping)) for r in rows]}


__all__ = [
    "ACTIONS", "CaseError", "CaseNotFound", "Document", "IllegalTransition", "TERMINAL_STATES", "allowed_actions",
    "allowed_disposals", "case_history",
    "get_case", "list_cases", "open_case", "open_cases_from_scan", "record_cause", "record_extension", "transition",
]
