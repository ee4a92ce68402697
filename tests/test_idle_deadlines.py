"""Deadlines: overdue investigations, thresholds ahead (90 days), work waiting on the officer; exports."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from hggis.db.session import transaction
from hggis.idle.cases import open_case
from hggis.idle.deadlines import COLUMNS, deadlines, to_csv, to_xlsx
from hggis.idle.flags import flag_parcel
from tests.factories import parcel_code
from tests.idle_helpers import OFFICER, D, a_park, contracted, manager, step


def _kinds(db, as_of, who=OFFICER, days=None):  # noqa: ANN001, ANN202
    with db.connect() as conn:
        return {(r["kind"], r["parcel_code"]) for r in deadlines(conn, who, as_of, days)}


def test_investigation_overdue_after_thirty_days(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2022, 1, 1))
        open_case(conn, OFFICER, parcel_code(1), D(2025, 1, 1), "疑似闲置")
    assert _kinds(clean_db, D(2025, 1, 31)) == {("case_waiting_officer", parcel_code(1))}
    assert _kinds(clean_db, D(2025, 2, 1)) == {("investigation_overdue", parcel_code(1))}
    with clean_db.connect() as conn:
        row = deadlines(conn, OFFICER, D(2025, 2, 1))[0]
    assert row["due_on"] == D(2025, 1, 31) and row["days_left"] == -1 and row["waiting_on"] == "officer"


def test_thresholds_within_ninety_days_both_sides(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2024, 3, 31))  # idle from 2025-04-01 = as_of + 90
        contracted(conn, 2, D(2024, 4, 1))  # idle from 2025-04-02 = as_of + 91
        contracted(conn, 3, D(2023, 3, 31))  # two full years on 2025-04-01
        contracted(conn, 4, D(2023, 12, 1))  # already idle (2024-12-02); two years only on 2025-12-02
        contracted(conn, 5, D(2021, 1, 1), status="under_construction", started_on=D(2021, 2, 1),
                   halted_since=D(2024, 3, 1), built_footprint_m2=10.0, investment_to_date=Decimal("1100"))
    assert _kinds(clean_db, D(2025, 1, 1)) == {
        ("threshold_1y", parcel_code(1)),
        ("threshold_2y", parcel_code(3)),
        ("threshold_halted", parcel_code(5)),  # halted since 2024-03-01: idle from 2025-03-02
    }
    assert ("threshold_1y", parcel_code(2)) in _kinds(clean_db, D(2025, 1, 2))
    assert ("threshold_1y", parcel_code(1)) not in _kinds(clean_db, D(2025, 4, 1))  # already idle that day
    assert _kinds(clean_db, D(2025, 1, 1), days=30) == set()


def test_waiting_on_holder_or_officer_and_flags(clean_db):
    park = a_park(clean_db)
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2022, 1, 1), park_id=park)
        contracted(conn, 2, D(2022, 1, 1), park_id=park)
        case_id = open_case(conn, OFFICER, parcel_code(1), D(2025, 1, 2), "疑似闲置")
        flag_parcel(conn, manager(park), parcel_code(2), "长期未开工", on=D(2025, 1, 5))
    step(clean_db, case_id, "issue_notice", D(2025, 1, 10))
    # the holder has 30 days to answer the notice: nothing for the officer until then
    assert _kinds(clean_db, D(2025, 2, 9)) == {("flag_waiting_officer", parcel_code(2))}
    assert _kinds(clean_db, D(2025, 2, 10)) == {("flag_waiting_officer", parcel_code(2)),
                                                ("case_waiting_officer", parcel_code(1))}
    # the park manager sees their park's items as well
    assert _kinds(clean_db, D(2025, 2, 10), who=manager(park)) == _kinds(clean_db, D(2025, 2, 10))
    assert _kinds(clean_db, D(2025, 2, 10), who=manager(park + 1)) == set()


def test_exports_read_back(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        contracted(conn, 1, D(2022, 1, 1))
        open_case(conn, OFFICER, parcel_code(1), D(2025, 1, 1), "疑似闲置")
        contracted(conn, 2, D(2024, 3, 1))
    with clean_db.connect() as conn:
        rows = deadlines(conn, OFFICER, D(2025, 2, 1))
    assert len(rows) == 2
    parsed = list(csv.reader(io.StringIO(to_csv(rows).lstrip("\ufeff"))))
    assert parsed[0] == list(COLUMNS.values())
    assert {r[3] for r in parsed[1:]} == {parcel_code(1), parcel_code(2)}
    wb = load_workbook(io.BytesIO(to_xlsx(rows, D(2025, 2, 1))))
    ws = wb.active
    assert ws.title == "闲置土地期限" and "2025年2月1日" in ws["A1"].value
    assert [c.value for c in ws[2]] == list(COLUMNS.values())
    assert ws.freeze_panes == "A3"
    first = [c.value for c in ws[3]]
    assert first[0] == rows[0]["kind_label"] and first[1].date() == rows[0]["due_on"] and first[2] == rows[0]["days_left"]
