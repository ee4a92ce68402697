"""Each scan rule on both sides of each boundary date; exemptions, clock restart, versions, diff."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from hggis.access.policy import Forbidden
from hggis.db.session import transaction
from hggis.idle.cases import IllegalTransition, record_cause, record_extension
from hggis.idle.rules import RuleError, create_rule_set, rule_set_in_force
from hggis.idle.scan import diff_scans, scan_results, scan_summary
from hggis.parcels import ParcelInput, create_parcel
from tests.factories import parcel_code, square
from tests.idle_helpers import (
    ADMIN,
    OFFICER,
    D,
    a_park,
    add_holder,
    area_m2,
    contracted,
    fired,
    manager,
    rules_of,
    scan,
)

CODE1 = parcel_code(1)


@pytest.fixture
def db(clean_db):
    yield clean_db
    with clean_db.begin() as conn:  # rule sets created by a test (the default one, id 1, stays)
        conn.execute(text("DELETE FROM idle_scan_results WHERE scan_id IN (SELECT id FROM idle_scans WHERE rule_set_id <> 1)"))
        conn.execute(text("DELETE FROM idle_scans WHERE rule_set_id <> 1"))
        conn.execute(text("DELETE FROM idle_rule_sets WHERE id <> 1"))


def _setup(db, serial=1, start=None, **kw):  # noqa: ANN001, ANN202
    with transaction(db, "test", "setup") as conn:
        return contracted(conn, serial, start, **kw)


# ---- not started: one and two full years ----------------------------------------------------


def test_one_year_not_started_boundary(db):
    _setup(db, start=D(2023, 6, 30))
    assert rules_of(db, D(2024, 6, 30), 1) == set()
    hit = fired(db, D(2024, 7, 1))[CODE1]
    assert set(hit) == {"idle_not_started_1y"}
    row = hit["idle_not_started_1y"]
    assert row["since_date"] == D(2024, 7, 1) and row["days"] == 1 and row["clock_start"] == D(2023, 6, 30)
    assert row["fee_amount"] == Decimal("200.00")  # 20 % of 1000 万元
    assert row["threshold_date"] == D(2025, 7, 1)
    assert row["next_deadline"] == D(2024, 7, 31) and row["deadline_kind"] == "investigation"


def test_two_years_not_started_boundary(db):
    _setup(db, start=D(2023, 6, 30))
    assert rules_of(db, D(2025, 6, 30), 1) == {"idle_not_started_1y"}
    row = fired(db, D(2025, 7, 1))[CODE1]["idle_not_started_2y"]
    assert row["days"] == 366 and row["threshold_date"] is None and row["fee_amount"] == Decimal("200.00")


@pytest.mark.parametrize(
    ("start", "before", "first"),
    [
        (D(2024, 2, 29), D(2025, 2, 28), D(2025, 3, 1)),  # 29 Feb → anniversary 28 Feb
        (D(2023, 2, 28), D(2024, 2, 28), D(2024, 2, 29)),  # anniversary falls in a leap year
        (D(2020, 2, 29), D(2021, 2, 28), D(2021, 3, 1)),
    ],
)
def test_leap_day_starts(db, start, before, first):
    _setup(db, start=start)
    assert rules_of(db, before, 1) == set()
    assert rules_of(db, first, 1) == {"idle_not_started_1y"}


def test_leap_day_two_years(db):
    _setup(db, start=D(2024, 2, 29))
    assert rules_of(db, D(2026, 2, 28), 1) == {"idle_not_started_1y"}
    assert rules_of(db, D(2026, 3, 1), 1) == {"idle_not_started_2y"}


def test_started_land_is_not_idle_and_start_counts_as_of_its_date(db):
    _setup(db, start=D(2023, 1, 10), started_on=D(2024, 5, 1), built_footprint_m2=9000.0,
           investment_to_date=Decimal("4000"))
    assert rules_of(db, D(2024, 4, 30), 1) == {"idle_not_started_1y"}  # not yet started on that day
    assert rules_of(db, D(2024, 5, 1), 1) == set()


def test_parcels_without_contract_or_start_date_are_not_candidates(db):
    with transaction(db, "test", "setup") as conn:
        contracted(conn, 1, None)
        from tests.factories import add_parcel
        add_parcel(conn, 2, status="reserve")
    summary = scan(db, D(2025, 6, 30))
    assert summary["parcels_scanned"] == 1 and summary["parcels_without_start"] == 1
    assert summary["candidates"] == 0


# ---- started but halted -----------------------------------------------------------------------


def test_halted_one_year_boundary_and_footprint_third(db):
    with transaction(db, "test", "setup") as conn:
        pid = contracted(conn, 1, D(2021, 6, 1), status="under_construction", started_on=D(2021, 9, 1),
                         halted_since=D(2023, 3, 15), investment_to_date=Decimal("5000"))
        third = area_m2(conn, pid) / 3
        conn.execute(text("UPDATE parcels SET built_footprint_m2 = :f WHERE id = :i"), {"f": third - 0.5, "i": pid})
    assert rules_of(db, D(2024, 3, 15), 1) == set()
    row = fired(db, D(2024, 3, 16))[CODE1]["idle_halted"]
    assert row["since_date"] == D(2024, 3, 16) and row["clock_start"] == D(2023, 3, 15)
    assert row["fee_amount"] == Decimal("200.00")  # 第二条第二款 land at the holder's fault: 第十四条 (migration 0015)
    assert row["threshold_date"] == D(2025, 3, 16)  # recovery without compensation from two full years of halting
    assert Decimal("0.33") < row["measure"] < Decimal("0.334")
    with transaction(db, "test", "exactly one third") as conn:
        conn.execute(text("UPDATE parcels SET built_footprint_m2 = :f WHERE id = :i"), {"f": third, "i": pid})
    assert rules_of(db, D(2024, 3, 16), 1) == set()


def test_halted_investment_quarter_excludes_land_price(db):
    # planned 5000 incl. land price 1000 → 4000 without it; 25 % = 1000 → investment_to_date 2000 is exactly enough
    with transaction(db, "test", "setup") as conn:
        pid = contracted(conn, 1, D(2021, 6, 1), status="under_construction", started_on=D(2021, 9, 1),
                         halted_since=D(2023, 1, 1), investment_to_date=Decimal("2000"))
        conn.execute(text("UPDATE parcels SET built_footprint_m2 = :f WHERE id = :i"), {"f": area_m2(conn, pid), "i": pid})
    assert rules_of(db, D(2024, 6, 30), 1) == set()
    with transaction(db, "test", "a little less") as conn:
        conn.execute(text("UPDATE parcels SET investment_to_date = 1999.99 WHERE id = :i"), {"i": pid})
    assert rules_of(db, D(2024, 6, 30), 1) == {"idle_halted"}
    with transaction(db, "test", "completed") as conn:
        conn.execute(text("UPDATE parcels SET completed_on = '2024-01-01' WHERE id = :i"), {"i": pid})
    assert rules_of(db, D(2024, 6, 30), 1) == set()


def test_halted_two_full_years_is_recoverable_and_the_reading_is_rule_data(db):
    with transaction(db, "test", "setup") as conn:
        contracted(conn, 1, D(2021, 6, 1), status="under_construction", started_on=D(2021, 9, 1),
                   halted_since=D(2023, 3, 15), built_footprint_m2=100.0, investment_to_date=Decimal("1100"))
    assert rules_of(db, D(2025, 3, 15), 1) == {"idle_halted"}  # last day of the second year
    row = fired(db, D(2025, 3, 16))[CODE1]["idle_halted_2y"]
    assert row["since_date"] == D(2024, 3, 16) and row["fee_amount"] == Decimal("200.00")
    with pytest.raises(RuleError, match="refused by the database"):  # recovery must come after the fee
        with transaction(db, "test", "x") as conn:
            create_rule_set(conn, ADMIN, "坏", D(2025, 1, 1), {"halted_recovery_years": 1})
    # the 第十二条末款 reading as a local version: negotiated options only, no fee, no recovery
    with transaction(db, "test", "第十二条口径") as conn:
        create_rule_set(conn, ADMIN, "第十二条口径", D(2025, 1, 1),
                        {"disposals_halted": ["extension", "change_of_use", "temporary_use", "paid_recovery", "land_swap"]})
    row = fired(db, D(2025, 3, 16))[CODE1]["idle_halted"]
    assert row["fee_amount"] is None and row["threshold_date"] is None
    assert rules_of(db, D(2026, 6, 30), 1) == {"idle_halted"}
    assert rules_of(db, D(2024, 12, 31), 1) == {"idle_halted"}  # the default set, before the new version


# ---- exemptions and the clock restart ---------------------------------------------------------


@pytest.mark.parametrize("reason_code", ["land_not_delivered", "cultural_relics", "natural_disaster"])
def test_government_cause_or_force_majeure_suppresses_sanctions(db, reason_code):
    _setup(db, start=D(2022, 3, 1))
    with transaction(db, "test", "cause") as conn:
        record_cause(conn, OFFICER, CODE1, reason_code, D(2024, 9, 1), "经审核属实")
    assert rules_of(db, D(2024, 8, 31), 1) == {"idle_not_started_2y"}  # before the cause was recorded
    row = fired(db, D(2024, 9, 1))[CODE1]
    assert set(row) == {"idle_government_cause"}
    assert row["idle_government_cause"]["fee_amount"] is None
    assert row["idle_government_cause"]["delay_reason_code"] == reason_code
    assert row["idle_government_cause"]["since_date"] == D(2023, 3, 2)
    with transaction(db, "test", "withdrawn") as conn:
        conn.execute(text("UPDATE idle_delay_causes SET withdrawn_on = '2024-12-01'"))
    assert rules_of(db, D(2024, 12, 1), 1) == {"idle_not_started_2y"}


def test_extension_agreement_restarts_the_clock(db):
    _setup(db, start=D(2023, 1, 1))
    with transaction(db, "test", "agreement") as conn:
        record_extension(conn, OFFICER, CODE1, "BC-2024-01", D(2024, 5, 1), D(2025, 1, 1), "政府原因延期开工")
    assert rules_of(db, D(2024, 4, 30), 1) == {"idle_not_started_1y"}
    assert rules_of(db, D(2024, 5, 1), 1) == set()
    assert rules_of(db, D(2026, 1, 1), 1) == set()
    row = fired(db, D(2026, 1, 2))[CODE1]["idle_not_started_1y"]
    assert row["clock_start"] == D(2025, 1, 1)
    # found idle before the agreement, but the investigation clock restarts after it
    assert row["next_deadline"] == D(2026, 2, 1)


def test_extension_longer_than_one_year_is_refused(db):
    _setup(db, start=D(2023, 1, 1))
    with pytest.raises(IllegalTransition, match="不得超过1年"):
        with transaction(db, "test", "too long") as conn:
            record_extension(conn, OFFICER, CODE1, "BC-1", D(2024, 5, 1), D(2025, 5, 2), "延期")
    with transaction(db, "test", "exactly one year") as conn:
        record_extension(conn, OFFICER, CODE1, "BC-2", D(2024, 5, 1), D(2025, 5, 1), "延期")


# ---- low efficiency ------------------------------------------------------------------------


def test_overdue_completion_two_years(db):
    _setup(db, start=D(2020, 1, 1), status="under_construction", completion=D(2022, 6, 30),
           started_on=D(2020, 2, 1), built_footprint_m2=1e6, investment_to_date=Decimal("5000"))
    assert rules_of(db, D(2024, 6, 30), 1) == set()
    assert rules_of(db, D(2024, 7, 1), 1) == {"low_overdue_completion"}


def test_low_investment_intensity_against_contract_and_control_indicator(db):
    with transaction(db, "test", "setup") as conn:
        pid = contracted(conn, 1, D(2019, 1, 1), status="producing", planned="3000", started_on=D(2019, 2, 1),
                         completed_on=D(2022, 1, 10), built_footprint_m2=1e6, investment_to_date=Decimal("1500"))
    assert rules_of(db, D(2024, 1, 11), 1) == set()  # exactly 50 % of the contract figure
    with transaction(db, "test", "less") as conn:
        conn.execute(text("UPDATE parcels SET investment_to_date = 1499 WHERE id = :i"), {"i": pid})
    assert rules_of(db, D(2024, 1, 10), 1) == set()  # completed not yet two full years
    hit = fired(db, D(2024, 1, 11))[CODE1]
    assert set(hit) == {"low_intensity"} and Decimal("0.49") < hit["low_intensity"]["measure"] < Decimal("0.5")
    with transaction(db, "test", "标准地 indicator") as conn:  # the control figure replaces the contract figure
        conn.execute(text("INSERT INTO control_indicators (parcel_id, investment_intensity) VALUES (:i, 150)"), {"i": pid})
        mu = conn.execute(text("SELECT area_mu FROM parcels WHERE id = :i"), {"i": pid}).scalar_one()
        conn.execute(text("UPDATE parcels SET investment_to_date = :v WHERE id = :i"), {"v": round(75 * mu + 1, 2), "i": pid})
    assert rules_of(db, D(2024, 1, 11), 1) == set()


def test_low_output_per_mu(db):
    with transaction(db, "test", "setup") as conn:
        firm = add_holder(conn, 1)
        pid = contracted(conn, 1, D(2019, 1, 1), status="producing", holder_id=firm, started_on=D(2019, 2, 1),
                         completed_on=D(2021, 6, 1), built_footprint_m2=1e6, investment_to_date=Decimal("6000"))
        conn.execute(text("INSERT INTO control_indicators (parcel_id, investment_intensity, output_intensity) "
                          "VALUES (:i, 1, 300)"), {"i": pid})
        mu = conn.execute(text("SELECT area_mu FROM parcels WHERE id = :i"), {"i": pid}).scalar_one()
        conn.execute(text("INSERT INTO enterprise_years (enterprise_id, year, output) VALUES (:e, 2024, :o)"),
                     {"e": firm, "o": round(150 * mu + 0.5, 2)})
    assert rules_of(db, D(2025, 6, 30), 1) == set()
    with transaction(db, "test", "lower output") as conn:
        conn.execute(text("UPDATE enterprise_years SET output = :o"), {"o": round(150 * mu - 0.5, 2)})
    assert rules_of(db, D(2025, 6, 30), 1) == {"low_output"}
    assert rules_of(db, D(2024, 6, 30), 1) == set()  # 2024 figures are not yet the last complete year


def test_production_stopped_one_year(db):
    _setup(db, start=D(2018, 1, 1), status="producing", started_on=D(2018, 2, 1), completed_on=D(2019, 6, 1),
           built_footprint_m2=1e6, investment_to_date=Decimal("5000"), production_stopped_since=D(2024, 3, 1))
    assert rules_of(db, D(2025, 3, 1), 1) == set()
    assert rules_of(db, D(2025, 3, 2), 1) == {"low_production_stopped"}


def _evaluation(conn, firm: int, year: int, klass: str) -> None:  # noqa: ANN001
    model = conn.execute(text("SELECT id FROM evaluation_models ORDER BY id LIMIT 1")).scalar()
    if model is None:
        model = conn.execute(text("INSERT INTO evaluation_models (name, valid_from, params, created_by) "
                                  "VALUES ('t', 2020, '{}', 'test') RETURNING id")).scalar_one()
    run = conn.execute(text("INSERT INTO evaluation_runs (year, model_id, actor) VALUES (:y, :m, 'test') RETURNING id"),
                       {"y": year, "m": model}).scalar_one()
    conn.execute(
        text("INSERT INTO evaluation_results (run_id, enterprise_id, credit_code, name, adcode, evaluated, land_mu, "
             "class_code) SELECT :r, id, credit_code, name, adcode, true, 10, :k FROM enterprises WHERE id = :e"),
        {"r": run, "e": firm, "k": klass},
    )


def test_class_d_in_latest_evaluation(db):
    with transaction(db, "test", "setup") as conn:
        firm = add_holder(conn, 1)
        contracted(conn, 1, D(2018, 1, 1), status="producing", holder_id=firm, started_on=D(2018, 2, 1),
                   completed_on=D(2019, 6, 1), built_footprint_m2=1e6, investment_to_date=Decimal("5000"))
        _evaluation(conn, firm, 2023, "C")
        _evaluation(conn, firm, 2024, "D")
    assert scan(db, D(2025, 6, 30))["evaluation_source"].startswith("evaluation_results")
    assert rules_of(db, D(2025, 6, 30), 1) == {"low_class_d"}
    assert rules_of(db, D(2024, 6, 30), 1) == set()  # the 2024 evaluation is not yet known in 2024
    with transaction(db, "test", "re-run of 2024") as conn:
        _evaluation(conn, firm, 2024, "C")  # the latest run of a year is the current one
    assert rules_of(db, D(2025, 6, 30), 1) == set()


def test_banned_industry_by_code_prefix(db):
    with transaction(db, "test", "setup") as conn:
        brick = add_holder(conn, 1, gbt="3031")
        stone = add_holder(conn, 2, gbt="3032")
        for serial, firm in ((1, brick), (2, stone)):
            contracted(conn, serial, D(2018, 1, 1), status="producing", holder_id=firm, started_on=D(2018, 2, 1),
                       completed_on=D(2019, 6, 1), built_footprint_m2=1e6, investment_to_date=Decimal("5000"))
    hits = fired(db, D(2025, 6, 30))
    assert set(hits) == {CODE1} and set(hits[CODE1]) == {"low_banned_industry"}


# ---- rules as versioned data ----------------------------------------------------------------


def test_new_rule_version_applies_from_its_date(db):
    _setup(db, start=D(2018, 1, 1), status="producing", started_on=D(2018, 2, 1), completed_on=D(2019, 6, 1),
           built_footprint_m2=1e6, investment_to_date=Decimal("5000"), production_stopped_since=D(2024, 3, 1))
    with pytest.raises(Forbidden):
        with transaction(db, "test", "x") as conn:
            create_rule_set(conn, OFFICER, "县里自定", D(2025, 1, 1))
    with pytest.raises(RuleError, match="unknown rule parameter"):
        with transaction(db, "test", "x") as conn:
            create_rule_set(conn, ADMIN, "坏", D(2025, 1, 1), {"no_such": 1})
    with transaction(db, "test", "new version") as conn:
        create_rule_set(conn, ADMIN, "黄冈2025", D(2025, 1, 1), {"low_production_stopped_years": 2},
                        rule_texts={"low_banned_industry": {"enabled": False}})
        assert rule_set_in_force(conn, D(2024, 12, 31)).low_production_stopped_years == 1
        assert rule_set_in_force(conn, D(2025, 1, 1)).name == "黄冈2025"
    assert rules_of(db, D(2025, 3, 2), 1) == set()  # two years now
    assert rules_of(db, D(2026, 3, 2), 1) == {"low_production_stopped"}
    with db.connect() as conn:
        actors = conn.execute(text("SELECT DISTINCT actor FROM history WHERE table_name = 'idle_rule_sets'")).scalars().all()
    assert ADMIN.actor in actors


# ---- results, scope and the diff between scans ---------------------------------------------


def test_results_carry_legal_basis_and_respect_scope(db):
    park_a, park_b = a_park(db, "甲园区"), a_park(db, "乙园区")
    with transaction(db, "test", "setup") as conn:
        contracted(conn, 1, D(2022, 1, 1), park_id=park_a)
        contracted(conn, 2, D(2022, 1, 1), park_id=park_b)
        create_parcel(conn, ParcelInput(code=parcel_code(3, "421182"), geometry=square(115.56, 29.86, 100),
                                        status="supplied", contract_kind="出让", land_price=Decimal("800"),
                                        agreed_start_date=D(2022, 1, 1)))
    summary = scan(db, D(2025, 6, 30))
    assert summary["candidates"] == 3
    with db.connect() as conn:
        mine = scan_results(conn, manager(park_a), summary["id"])
        county = scan_results(conn, OFFICER, summary["id"])
        counts = {r["code"]: r["parcels"] for r in scan_summary(conn, OFFICER, summary["id"])["by_rule"]}
    assert [r["parcel_code"] for r in mine["items"]] == [CODE1]
    assert "第十四条" in mine["items"][0]["legal_basis"] and "第二条" in mine["items"][0]["legal_basis"]
    assert mine["items"][0]["fee_amount"] == Decimal("200.00")
    assert county["total"] == 2 and counts["idle_not_started_2y"] == 2
    # a county officer's own scan covers only their county
    assert scan(db, D(2025, 6, 30), OFFICER)["parcels_scanned"] == 2


def test_diff_between_two_scans(db):
    with transaction(db, "test", "setup") as conn:
        contracted(conn, 1, D(2023, 6, 1))  # 1y → 2y
        contracted(conn, 2, D(2024, 3, 1))  # becomes idle
        contracted(conn, 3, D(2023, 1, 1), started_on=D(2023, 1, 1))  # stays fine
        pid4 = contracted(conn, 4, D(2023, 1, 1))  # starts building in between
    first = scan(db, D(2025, 1, 31))
    with transaction(db, "test", "site visit") as conn:
        conn.execute(text("UPDATE parcels SET started_on = '2025-04-01' WHERE id = :i"), {"i": pid4})
    second = scan(db, D(2025, 6, 30))
    with db.connect() as conn:
        changes = {r["parcel_code"]: r for r in diff_scans(conn, ADMIN, first["id"], second["id"])}
    assert changes[parcel_code(1)]["change"] == "changed"
    assert changes[parcel_code(1)]["rules_before"] == ["idle_not_started_1y"]
    assert changes[parcel_code(1)]["rules_after"] == ["idle_not_started_2y"]
    assert changes[parcel_code(2)]["change"] == "new"
    assert changes[parcel_code(4)]["change"] == "gone"
    assert parcel_code(3) not in changes and len(changes) == 3


def test_first_detection_fixes_the_investigation_deadline(db):
    _setup(db, start=D(2023, 6, 1))
    assert fired(db, D(2025, 1, 31))[CODE1]["idle_not_started_1y"]["next_deadline"] == D(2025, 3, 2)
    later = fired(db, D(2025, 6, 30))[CODE1]["idle_not_started_2y"]
    assert later["next_deadline"] == D(2025, 3, 2)  # 30 days from the first scan that found it


def test_low_output_waits_two_full_years_after_completion(db):
    with transaction(db, "test", "setup") as conn:
        firm = add_holder(conn, 1)
        pid = contracted(conn, 1, D(2019, 1, 1), status="producing", holder_id=firm, started_on=D(2019, 2, 1),
                         completed_on=D(2021, 6, 1), built_footprint_m2=1e6, investment_to_date=Decimal("6000"))
        conn.execute(text("INSERT INTO control_indicators (parcel_id, investment_intensity, output_intensity) "
                          "VALUES (:i, 1, 300)"), {"i": pid})
        conn.execute(text("INSERT INTO enterprise_years (enterprise_id, year, output) VALUES (:e, 2022, 10)"),
                     {"e": firm})
    assert rules_of(db, D(2023, 6, 1), 1) == set()
    assert rules_of(db, D(2023, 6, 2), 1) == {"low_output"}


def test_production_stopped_on_a_leap_day(db):
    _setup(db, start=D(2018, 1, 1), status="producing", started_on=D(2018, 2, 1), completed_on=D(2019, 6, 1),
           built_footprint_m2=1e6, investment_to_date=Decimal("5000"), production_stopped_since=D(2024, 2, 29))
    assert rules_of(db, D(2025, 2, 28), 1) == set()
    row = fired(db, D(2025, 3, 1))[CODE1]["low_production_stopped"]
    assert row["since_date"] == D(2025, 3, 1) and row["days"] == 1
