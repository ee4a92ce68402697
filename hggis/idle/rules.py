"""Rule parameters, the rule catalogue with its legal texts, reason codes, the banned list.

All of it is data (migration 0005 inserts the defaults of 《闲置土地处置办法》 and of
domain.md §6). The set in force on a date is the one with the latest ``effective_from``
on or before it, so a scan as of 2025-06-30 always uses the rules of that day, and a new
local rule (say, 黄冈 adopts 40 % instead of 50 % for low output) is a new version, not an
edit that would change what earlier scans meant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant
from hggis.db.session import set_actor
from hggis.errors import Invalid
from hggis.idle.tables import DISPOSAL_KINDS


class RuleError(Invalid):
    """A rule set that cannot be created or found, with the reason."""


@dataclass(frozen=True)
class RuleSet:
    id: int
    name: str
    effective_from: dt.date
    note: str | None
    idle_years: int
    recovery_years: int
    halted_years: int
    halted_recovery_years: int
    fee_rate: Decimal
    footprint_fraction: Decimal
    investment_fraction: Decimal
    investment_includes_land_price: bool
    investigation_days: int
    response_days: int
    payment_days: int
    max_extension_years: int
    max_temporary_use_years: int
    low_overdue_completion_years: int
    low_completed_years: int
    low_intensity_fraction: Decimal
    low_output_fraction: Decimal
    low_production_stopped_years: int
    low_class_d_years: int
    lookahead_days: int
    disposals_holder_fault: list[str]
    disposals_government_cause: list[str]
    disposals_halted: list[str]
    disposals_low_efficiency: list[str]

    def disposals_for(self, basis: str) -> list[str]:
        return list(getattr(self, f"disposals_{basis}"))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PARAMETERS = tuple(f.name for f in fields(RuleSet) if f.name not in ("id", "name", "effective_from", "note"))
_COLUMNS = ", ".join(f.name for f in fields(RuleSet))


def _rule_set(row: Any) -> RuleSet:
    return RuleSet(**{f.name: getattr(row, f.name) for f in fields(RuleSet)})


def rule_set_in_force(conn: Connection, as_of: dt.date) -> RuleSet:
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM idle_rule_sets WHERE effective_from <= :d ORDER BY effective_from DESC LIMIT 1"),
        {"d": as_of},
    ).first()
    if row is None:
        raise RuleError(f"no idle-land rule set is in force on {as_of} (the earliest starts later)")
    return _rule_set(row)


def rule_set_by_id(conn: Connection, rule_set_id: int) -> RuleSet:
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM idle_rule_sets WHERE id = :i"), {"i": rule_set_id}).first()
    if row is None:
        raise RuleError(f"no idle-land rule set {rule_set_id}")
    return _rule_set(row)


def list_rule_sets(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(text("SELECT id, name, effective_from, note FROM idle_rule_sets ORDER BY effective_from"))
    return [dict(r._mapping) for r in rows]


def rule_catalogue(conn: Connection, rule_set_id: int) -> list[dict[str, Any]]:
    """The rules of one version: code, category, Chinese name, legal basis, proposed action."""
    rows = conn.execute(
        text(
            "SELECT code, category, name_zh, legal_basis, proposed_action, enabled FROM idle_rules "
            "WHERE rule_set_id = :s ORDER BY sort_order, code"
        ),
        {"s": rule_set_id},
    )
    return [dict(r._mapping) for r in rows]


def enabled_rules(conn: Connection, rule_set_id: int) -> list[str]:
    return [r["code"] for r in rule_catalogue(conn, rule_set_id) if r["enabled"]]


def delay_reasons(conn: Connection) -> list[dict[str, Any]]:
    """Government causes and force majeure of 第八条, as reason codes."""
    rows = conn.execute(text("SELECT code, kind, name_zh, legal_basis FROM idle_delay_reasons ORDER BY sort_order"))
    return [dict(r._mapping) for r in rows]


def banned_industries(conn: Connection, rule_set_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "SELECT gbt4754_prefix, name_zh, category, source FROM idle_banned_industries "
            "WHERE rule_set_id = :s ORDER BY gbt4754_prefix"
        ),
        {"s": rule_set_id},
    )
    return [dict(r._mapping) for r in rows]


def _validate_changes(changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - set(PARAMETERS))
    if unknown:
        raise RuleError(f"unknown rule parameter(s): {', '.join(unknown)} (known: {', '.join(PARAMETERS)})")
    for key, value in changes.items():
        if key.startswith("disposals_"):
            bad = [v for v in value if v not in DISPOSAL_KINDS]
            if bad:
                raise RuleError(f"{key}: unknown disposal kind(s) {', '.join(bad)}")


def create_rule_set(
    conn: Connection,
    principal: Principal,
    name: str,
    effective_from: dt.date,
    changes: dict[str, Any] | None = None,
    note: str | None = None,
    rule_texts: dict[str, dict[str, Any]] | None = None,
    banned: list[dict[str, Any]] | None = None,
) -> int:
    """A new version, copied from the one in force on ``effective_from``, with ``changes``.

    Rules are city-wide, so only a principal whose write grant covers everything (city
    administrator) may create one. ``rule_texts`` overrides catalogue rows by code (e.g.
    ``{"low_class_d": {"enabled": False}}``); ``banned`` replaces the banned list.
    """
    if grant(principal, "idle_cases", "write") != "all":
        raise Forbidden(f"{principal.username} may not change city-wide idle-land rules (city administrators only)")
    changes = dict(changes or {})
    _validate_changes(changes)
    set_actor(conn, principal.actor, note or f"新规则版本 {name}")
    base = rule_set_in_force(conn, effective_from)
    if base.effective_from == effective_from:
        raise RuleError(f"a rule set already starts on {effective_from} ({base.name})")
    values = {k: changes.get(k, getattr(base, k)) for k in PARAMETERS}
    cols = ", ".join(PARAMETERS)
    binds = ", ".join(f":{k}" for k in PARAMETERS)
    try:
        new_id = conn.execute(
            text(
                f"INSERT INTO idle_rule_sets (name, effective_from, note, {cols}) "
                f"VALUES (:name, :effective_from, :note, {binds}) RETURNING id"
            ),
            {"name": name, "effective_from": effective_from, "note": note, **values},
        ).scalar_one()
    except Exception as exc:  # CHECK constraints on the parameters, unique name
        raise RuleError(f"rule set {name!r} refused by the database: {str(exc).splitlines()[0]}") from None
    conn.execute(
        text(
            "INSERT INTO idle_rules (rule_set_id, code, category, name_zh, legal_basis, proposed_action, enabled, sort_order) "
            "SELECT :n, code, category, name_zh, legal_basis, proposed_action, enabled, sort_order "
            "FROM idle_rules WHERE rule_set_id = :b"
        ),
        {"n": new_id, "b": base.id},
    )
    for code, patch in (rule_texts or {}).items():
        allowed = {"name_zh", "legal_basis", "proposed_action", "enabled"}
        if set(patch) - allowed or not patch:
            raise RuleError(f"rule {code}: only {', '.join(sorted(allowed))} can be changed")
        sets = ", ".join(f"{k} = :{k}" for k in patch)
        done = conn.execute(
            text(f"UPDATE idle_rules SET {sets} WHERE rule_set_id = :n AND code = :c"), {**patch, "n": new_id, "c": code}
        )
        if done.rowcount != 1:
            raise RuleError(f"unknown rule {code}")
    if banned is None:
        conn.execute(
            text(
                "INSERT INTO idle_banned_industries (rule_set_id, gbt4754_prefix, name_zh, category, source) "
                "SELECT :n, gbt4754_prefix, name_zh, category, source FROM idle_banned_industries WHERE rule_set_id = :b"
            ),
            {"n": new_id, "b": base.id},
        )
    elif banned:
        conn.execute(
            text(
                "INSERT INTO idle_banned_industries (rule_set_id, gbt4754_prefix, name_zh, category, source) "
                "VALUES (:n, :gbt4754_prefix, :name_zh, :category, :source)"
            ),
            [{"n": new_id, "source": None, **b} for b in banned],
        )
    return new_id
