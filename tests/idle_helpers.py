"""Builders for the idle-land tests: contracted parcels, holders, principals, scans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, operator
from hggis.db.session import transaction
from hggis.idle.cases import Document, transition
from hggis.idle.scan import run_scan
from tests.factories import add_parcel, add_park, credit_code, parcel_code

D = dt.date
ADMIN = operator()
OFFICER = Principal(username="wang", role="county_officer", counties=frozenset({"421102"}))
OTHER_OFFICER = Principal(username="zhao", role="county_officer", counties=frozenset({"421182"}))

FACT_COLUMNS = (
    "started_on", "built_footprint_m2", "investment_to_date", "halted_since", "completed_on",
    "production_stopped_since",
)


def manager(*park_ids: int, name: str = "li") -> Principal:
    return Principal(username=name, role="park_manager", parks=frozenset(park_ids))


def add_holder(conn: Connection, serial: int, name: str | None = None, gbt: str | None = "2710",
               adcode: str = "421102") -> int:
    return conn.execute(
        text("INSERT INTO enterprises (credit_code, name, adcode, gbt4754_code) VALUES (:c, :n, :a, :g) RETURNING id"),
        {"c": credit_code(serial), "n": name or f"测试企业{serial}", "a": adcode, "g": gbt},
    ).scalar_one()


def contracted(
    conn: Connection,
    serial: int,
    start: dt.date | None,
    status: str = "supplied",
    land_price: str = "1000",
    planned: str = "5000",
    completion: dt.date | None = None,
    park_id: int | None = None,
    holder_id: int | None = None,
    **facts: Any,
) -> int:
    """A parcel with a 出让 contract (money in 万元) and optional facts on the ground."""
    pid = add_parcel(
        conn, serial, status=status, park_id=park_id, holder_id=holder_id, contract_kind="出让",
        contract_no=f"HT-{serial}", land_price=Decimal(land_price), agreed_start_date=start,
        agreed_completion_date=completion, planned_investment=Decimal(planned),
    )
    unknown = set(facts) - set(FACT_COLUMNS)
    assert not unknown, unknown
    if facts:
        sets = ", ".join(f"{k} = :{k}" for k in facts)
        conn.execute(text(f"UPDATE parcels SET {sets} WHERE id = :i"), {**facts, "i": pid})
    return pid


def area_m2(conn: Connection, pid: int) -> float:
    return conn.execute(text("SELECT area_mu * 2000.0 / 3.0 FROM parcels WHERE id = :i"), {"i": pid}).scalar_one()


def scan(engine: Engine, as_of: dt.date, principal: Principal = ADMIN) -> dict[str, Any]:
    with transaction(engine, principal.actor, "test scan") as conn:
        return run_scan(conn, principal, as_of)


def fired(engine: Engine, as_of: dt.date, principal: Principal = ADMIN) -> dict[str, dict[str, Any]]:
    """Scan as of a date; {parcel code: {rule code: result row}}."""
    summary = scan(engine, as_of, principal)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.code, x.* FROM idle_scan_results x JOIN parcels p ON p.id = x.parcel_id WHERE x.scan_id = :s"
            ),
            {"s": summary["id"]},
        ).mappings()
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            out.setdefault(r["code"], {})[r["rule_code"]] = dict(r)
    return out


def rules_of(engine: Engine, as_of: dt.date, serial: int) -> set[str]:
    return set(fired(engine, as_of).get(parcel_code(serial), {}))


def doc(kind: str, number: str) -> list[Document]:
    return [Document(kind=kind, number=number)]


def step(engine: Engine, case_id: int, action: str, on: dt.date, principal: Principal = OFFICER,
         documents: list[Document] | None = None, reason: str | None = None, **params: Any) -> dict[str, Any]:
    """One case step in its own transaction; documents default to a plausible one when required."""
    defaults = {
        "issue_notice": doc("闲置土地调查通知书", f"黄自然资闲调〔{on.year}〕{case_id}号"),
        "issue_finding": doc("闲置土地认定书", f"黄自然资闲认〔{on.year}〕{case_id}号"),
        "decide_disposal": doc("处置决定书", f"黄自然资闲处〔{on.year}〕{case_id}号"),
        "record_recovery": doc("收回国有建设用地使用权决定书", f"黄政收〔{on.year}〕{case_id}号"),
    }
    documents = documents if documents is not None else defaults.get(action, [])
    with transaction(engine, principal.actor, reason or action) as conn:
        return transition(conn, principal, case_id, action, on, reason or f"测试：{action}", documents, **params)


def a_park(engine: Engine, name: str = "测试园区", adcode: str = "421102") -> int:
    with transaction(engine, "test", "setup") as conn:
        return add_park(conn, name, adcode)
