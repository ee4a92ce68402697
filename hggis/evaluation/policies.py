"""Differential policies (差别化政策): the measures each class brings, as a configurable table.

"A 优先保障, B 积极支持, C 相对控制, D 严格限制" (domain.md §5): land supply, electricity,
water and gas prices, emission rights, energy quotas, credit, land-use tax, subsidies. The
amounts are local configuration, so they are rows (``evaluation_policies``) valid for a
span of years, created with defaults by migration 0004 and changed by city
administrators (the ``evaluation_models`` write grant). A measure with a price carries
``price_delta`` per ``price_unit`` (positive: surcharge, negative: discount), e.g.
差别化电价 +0.10 元/千瓦时 for D. Rows are never deleted: a measure ends by setting
``valid_to``, so the policies shown with an old run stay reconstructible.

For an enterprise with its electricity use known, a per-kWh delta gives the yearly
amount: Δ 元/千瓦时 × use 万千瓦时 = Δ × use 万元 (the 10⁴ cancels).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize
from hggis.errors import Invalid
from hggis.evaluation.tables import CLASS_CODES

KWH_UNIT = "元/千瓦时"


class PolicyError(Invalid):
    """A policy row that cannot be stored, with the reason."""


_COLUMNS = "id, class_code, category, measure, price_item, price_delta, price_unit, valid_from, valid_to, sort_order"


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    if isinstance(d.get("price_delta"), Decimal):
        d["price_delta"] = float(d["price_delta"])
    return d


def policies_for_year(conn: Connection, year: int) -> dict[str, list[dict[str, Any]]]:
    """Class -> measures valid in ``year`` (no authorization: callers have checked theirs)."""
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM evaluation_policies WHERE valid_from <= :y "
            "AND (valid_to IS NULL OR valid_to >= :y) ORDER BY class_code, sort_order, id"
        ),
        {"y": year},
    ).all()
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in CLASS_CODES}
    for r in rows:
        out[r.class_code].append(_row(r))
    return out


def list_policies(conn: Connection, principal: Principal, year: int | None = None) -> list[dict[str, Any]]:
    authorize(principal, "evaluation_models", "read")
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM evaluation_policies WHERE CAST(:y AS integer) IS NULL OR "
            "(valid_from <= :y AND (valid_to IS NULL OR valid_to >= :y)) ORDER BY class_code, sort_order, id"
        ),
        {"y": year},
    ).all()
    return [_row(r) for r in rows]


def add_policy(
    conn: Connection,
    principal: Principal,
    class_code: str,
    category: str,
    measure: str,
    valid_from: int,
    valid_to: int | None = None,
    price_item: str | None = None,
    price_delta: float | None = None,
    price_unit: str | None = None,
    sort_order: int = 100,
) -> int:
    authorize(principal, "evaluation_models", "write")
    if class_code not in CLASS_CODES:
        raise PolicyError(f"class {class_code!r}: one of {', '.join(CLASS_CODES)}")
    if not category.strip() or not measure.strip():
        raise PolicyError("a policy needs a category and a measure")
    if (price_delta is None) != (price_unit is None):
        raise PolicyError("a price change needs both price_delta and price_unit")
    if valid_to is not None and valid_to < valid_from:
        raise PolicyError(f"valid_to {valid_to} is before valid_from {valid_from}")
    return conn.execute(
        text(
            "INSERT INTO evaluation_policies (class_code, category, measure, price_item, price_delta, price_unit, "
            "valid_from, valid_to, sort_order) VALUES (:c, :cat, :m, :i, :d, :u, :f, :t, :o) RETURNING id"
        ),
        {
            "c": class_code, "cat": category.strip(), "m": measure.strip(), "i": price_item, "d": price_delta,
            "u": price_unit, "f": valid_from, "t": valid_to, "o": sort_order,
        },
    ).scalar_one()


def end_policy(conn: Connection, principal: Principal, policy_id: int, last_year: int) -> None:
    """A measure stops applying after ``last_year`` (rows are kept for old runs)."""
    authorize(principal, "evaluation_models", "write")
    row = conn.execute(text("SELECT valid_from FROM evaluation_policies WHERE id = :i"), {"i": policy_id}).first()
    if row is None:
        raise PolicyError(f"no policy {policy_id}")
    if last_year < row.valid_from:
        raise PolicyError(f"policy {policy_id} starts in {row.valid_from}; it cannot end in {last_year}")
    conn.execute(
        text("UPDATE evaluation_policies SET valid_to = :t, version = version + 1 WHERE id = :i"),
        {"t": last_year, "i": policy_id},
    )


def with_amounts(measures: list[dict[str, Any]], electricity_10k_kwh: float | None) -> list[dict[str, Any]]:
    """The measures of one enterprise, with the yearly amount of per-kWh price changes (万元)."""
    out = []
    for m in measures:
        item = dict(m)
        if m.get("price_unit") == KWH_UNIT and m.get("price_delta") is not None and electricity_10k_kwh is not None:
            item["yearly_amount_10k_yuan"] = round(float(m["price_delta"]) * float(electricity_10k_kwh), 2)
        out.append(item)
    return out


def policy_text(measures: list[dict[str, Any]]) -> str:
    """One line for a report cell: 用地：…；电价：+0.10 元/千瓦时 …"""
    parts = []
    for m in measures:
        s = f"{m['category']}：{m['measure']}"
        if m.get("price_delta"):
            s += f"（{m['price_item'] or ''}{float(m['price_delta']):+.2f} {m['price_unit']}）"
        parts.append(s)
    return "；".join(parts)
