"""Builders for evaluation tests: enterprises, their figures, the parcels they hold or lease."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from hggis.enterprises import EnterpriseInput, create_enterprise
from tests.factories import add_parcel, credit_code

FIGURE_DEFAULTS = {
    "tax_paid": 100.0,
    "revenue": 1000.0,
    "value_added": 300.0,
    "output": 1000.0,
    "energy_tce": 100.0,
    "electricity_10k_kwh": 50.0,
    "emissions_t": 1.0,
    "rnd_spending": 10.0,
    "employees": 20,
    "accident": False,
    "utility": False,
    "production_start_year": 2010,
}


def add_firm(conn: Connection, serial: int, park_id: int | None = None, adcode: str = "421102",
             name: str | None = None, code: str | None = None) -> int:
    return create_enterprise(
        conn,
        EnterpriseInput(credit_code=code or credit_code(serial), name=name or f"测试企业{serial:03d}", adcode=adcode,
                        park_id=park_id, industry_code="equipment"),
    )


def add_figures(conn: Connection, enterprise_id: int, year: int = 2024, **fields: object) -> None:
    row = {**FIGURE_DEFAULTS, **fields}
    cols = ", ".join(row)
    conn.execute(
        text(f"INSERT INTO enterprise_years (enterprise_id, year, {cols}) VALUES (:e, :y, {', '.join(':' + c for c in row)})"),
        {"e": enterprise_id, "y": year, **row},
    )


def hold(conn: Connection, enterprise_id: int, serial: int, side_m: float = 100.0, status: str = "producing",
         park_id: int | None = None, share: float = 1.0) -> int:
    """A parcel held by the enterprise (holder_id and a holder occupancy)."""
    pid = add_parcel(conn, serial, status=status, side_m=side_m, park_id=park_id, holder_id=enterprise_id)
    conn.execute(
        text("INSERT INTO occupancies (parcel_id, enterprise_id, share, role) VALUES (:p, :e, :s, 'holder')"),
        {"p": pid, "e": enterprise_id, "s": share},
    )
    return pid


def lease(conn: Connection, parcel_id: int, lessee_id: int, share: float) -> None:
    """The lessee takes ``share`` of the parcel; the holder keeps the rest."""
    conn.execute(
        text("UPDATE occupancies SET share = share - :s WHERE parcel_id = :p AND role = 'holder'"),
        {"s": share, "p": parcel_id},
    )
    conn.execute(
        text("INSERT INTO occupancies (parcel_id, enterprise_id, share, role) VALUES (:p, :e, :s, 'lessee')"),
        {"p": parcel_id, "e": lessee_id, "s": share},
    )


def parcel_area(conn: Connection, parcel_id: int) -> float:
    return conn.execute(text("SELECT area_mu FROM parcels WHERE id = :i"), {"i": parcel_id}).scalar_one()


def results_by_name(conn: Connection, run_id: int) -> dict[str, object]:
    rows = conn.execute(text("SELECT * FROM evaluation_results WHERE run_id = :r"), {"r": run_id}).all()
    return {r.name: r for r in rows}


@pytest.fixture
def db(clean_db: Engine) -> Iterator[Engine]:
    """clean_db, also removing the model versions and policies a test created (defaults stay)."""
    with clean_db.connect() as conn:
        max_model = conn.execute(text("SELECT max(id) FROM evaluation_models")).scalar_one()
        max_policy = conn.execute(text("SELECT max(id) FROM evaluation_policies")).scalar_one()
    yield clean_db
    with clean_db.begin() as conn:
        conn.execute(text("DELETE FROM evaluation_runs"))
        conn.execute(text("DELETE FROM evaluation_models WHERE id > :m"), {"m": max_model})
        conn.execute(text("DELETE FROM evaluation_policies WHERE id > :m"), {"m": max_policy})
