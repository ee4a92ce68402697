"""The per-mu evaluation against a small dataset worked out by hand, and each rule on its own."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hggis.access.policy import Forbidden, Principal, operator
from hggis.db.session import transaction
from hggis.evaluation.compute import class_boundaries, competition_rank, quota_classes
from hggis.evaluation.model import ModelError, ModelParams, create_model, default_params, derive_params, parse_params
from hggis.evaluation.results import explain_result
from hggis.evaluation.runs import BlockingQualityErrors, RunError, compare_runs, run_evaluation
from tests.evaluation_helpers import add_figures, add_firm, db, hold, lease, parcel_area, results_by_name  # noqa: F401
from tests.factories import add_park

ADMIN = operator()


def build_hand_dataset(engine):  # noqa: ANN001, ANN201
    """Ten evaluated enterprises and three not evaluated, in one park (see the test's docstring)."""
    above = {
        # name: tax, va, energy, emissions, employees, revenue, rnd
        "E1": (600, 1500, 1000, 15, 100, 10000, 200),
        "E2": (300, 900, 300, 4.5, 60, 6000, 60),
        "E3": (300, 600, 300, 12, 100, 5000, 100),
        "E4": (150, 600, 150, 4, 40, 4000, 200),
        "E5": (90, 300, 150, 3.5, 60, 3000, 30),
        "E6": (60, 100, 100, None, 40, 2000, 10),
    }
    below = {  # name: tax, electricity, revenue, parcels
        "F1": (100, 50, 1500, 2),
        "F2": (50, 20, 1000, 1),
        "F3": (40, 10, 800, 1),
        "F4": (10, 20, 1999.99, 1),
    }
    serial = 0
    with transaction(engine, "test", "hand dataset") as conn:
        park = add_park(conn, "手算园区")
        for i, (name, (tax, va, energy, em, emp, rev, rnd)) in enumerate(above.items(), start=1):
            eid = add_firm(conn, i, park, name=name)
            add_figures(conn, eid, tax_paid=tax, value_added=va, energy_tce=energy, emissions_t=em, employees=emp,
                        revenue=rev, output=rev, rnd_spending=rnd)
            serial += 1
            hold(conn, eid, serial, park_id=park)
        for i, (name, (tax, el, rev, n)) in enumerate(below.items(), start=11):
            eid = add_firm(conn, i, park, name=name)
            add_figures(conn, eid, tax_paid=tax, electricity_10k_kwh=el, revenue=rev, output=rev, value_added=rev / 4)
            for _ in range(n):
                serial += 1
                hold(conn, eid, serial, park_id=park)
        g1 = add_firm(conn, 21, park, name="G1")  # ~2.4 亩: below the 3 亩 threshold
        add_figures(conn, g1, tax_paid=5, revenue=100, output=100, value_added=30)
        serial += 1
        small = hold(conn, g1, serial, side_m=40, park_id=park)
        g2 = add_firm(conn, 22, park, name="G2")  # figures, no land
        add_figures(conn, g2, tax_paid=7, revenue=200, output=200, value_added=50)
        g3 = add_firm(conn, 23, park, name="G3")  # land (suspected idle), no figures
        serial += 1
        idle = hold(conn, g3, serial, status="idle_candidate", park_id=park)
        serial += 1
        reserve = add_parcel_reserve(conn, serial, park)
        area = parcel_area(conn, reserve)
        small_area = parcel_area(conn, small)
        assert parcel_area(conn, idle) == pytest.approx(area, rel=1e-12)
    return park, area, small_area


def add_parcel_reserve(conn, serial, park):  # noqa: ANN001, ANN201
    from tests.factories import add_parcel

    return add_parcel(conn, serial, status="reserve", park_id=park)


def test_hand_computed_scores_and_classes(db):
    """Default model (domain.md §5). Every parcel is a 100 m square at the same latitude, so all
    have the same ellipsoidal area a (≈ 15 亩); 亩均 ratios value/benchmark do not depend on a.

    规上 (revenue ≥ 2000 万元; E6 has exactly 2000): one parcel each, so 亩均 benchmark = mean/a.

    | firm | tax | VA   | energy | emis. | empl. | revenue | R&D |
    | E1   | 600 | 1500 | 1000   | 15    | 100   | 10000   | 200 |
    | E2   | 300 |  900 |  300   | 4.5   |  60   |  6000   |  60 |
    | E3   | 300 |  600 |  300   | 12    | 100   |  5000   | 100 |
    | E4   | 150 |  600 |  150   | 4     |  40   |  4000   | 200 |
    | E5   |  90 |  300 |  150   | 3.5   |  60   |  3000   |  30 |
    | E6   |  60 |  100 |  100   | —     |  40   |  2000   |  10 |

    Benchmarks: tax 1500/6 = 250/a; VA 4000/6 = 666.67/a; VA/energy 4000/2000 = 2;
    VA/emissions over E1–E5 only (E6 has none) 3900/39 = 100; VA/employee 4000/400 = 10;
    R&D 600/30000 = 2 %.
    Ratios (capped at 2) × weight:
    亩均税收 ×30: 2.4→2: 60 | 1.2: 36 | 1.2: 36 | 0.6: 18 | 0.36: 10.8 | 0.24: 7.2
    亩均增加值 ×20: 2.25→2: 40 | 1.35: 27 | 0.9: 18 | 0.9: 18 | 0.45: 9 | 0.15: 3
    单位能耗增加值 ×20: 1.5/2=.75: 15 | 3/2: 30 | 2/2: 20 | 4/2: 40 | 2/2: 20 | 1/2: 10
    单位排放增加值 ×10: 100/100: 10 | 200: 20 | 50: 5 | 150: 15 | 85.714: 8.5714 |
        E6 missing → mean of E1–E5 = 58.5714/5 = 11.7143
    全员劳动生产率 ×10: 15/10: 15 | 15: 15 | 6: 6 | 15: 15 | 5: 5 | 2.5: 2.5
    R&D经费占比 ×10: 2 %/2 %: 10 | 1 %: 5 | 2 %: 10 | 5 %→2: 20 | 1 %: 5 | 0.5 %: 2.5
    Totals: E1 150.00, E2 133.00, E3 95.00, E4 126.00, E5 58.37, E6 36.91.
    Ranks: E1 1, E2 2, E4 3, E3 4, E5 5, E6 6. n = 6: k_A = ⌊1.2+.5⌋ = 1, k_B = ⌊4.5+.5⌋ = 5,
    k_C = ⌊5.7+.5⌋ = 6 → E1 A; E2, E4, E3, E5 B; E6 C.

    规下: F1 two parcels, the others one; Σ land = 5a, Σ tax = 200 → benchmark 40/a;
    Σ tax / Σ electricity = 200/100 = 2.
    亩均税收 ×50: F1 50/40 = 1.25: 62.5 | F2 50/40: 62.5 | F3 40/40: 50 | F4 10/40: 12.5
    单位电耗税收 ×50: F1 100/50 = 2 → 1: 50 | F2 2.5 → 1.25: 62.5 | F3 4 → 2: 100 | F4 .5 → .25: 12.5
    Totals: F1 112.5, F2 125, F3 150, F4 25 → ranks F3, F2, F1, F4; n = 4: k_A = 1, k_B = 3,
    k_C = 4 → F3 A, F2 B, F1 B, F4 C (F4's revenue 1999.99 is below the 2000 threshold).

    Not evaluated: G1 (~2.4 亩 < 3 亩), G2 (no land), G3 (no figures).
    """
    park, a, small = build_hand_dataset(db)
    summary = run_evaluation(db, ADMIN, 2024)
    expected = {
        "E1": ([60, 40, 15, 10, 15, 10], 150.00, 1, "A"),
        "E2": ([36, 27, 30, 20, 15, 5], 133.00, 2, "B"),
        "E3": ([36, 18, 20, 5, 6, 10], 95.00, 4, "B"),
        "E4": ([18, 18, 40, 15, 15, 20], 126.00, 3, "B"),
        "E5": ([10.8, 9, 20, 8.5714, 5, 5], 58.37, 5, "B"),
        "E6": ([7.2, 3, 10, 11.7143, 2.5, 2.5], 36.91, 6, "C"),
        "F1": ([62.5, 50], 112.50, 3, "B"),
        "F2": ([62.5, 62.5], 125.00, 2, "B"),
        "F3": ([50, 100], 150.00, 1, "A"),
        "F4": ([12.5, 12.5], 25.00, 4, "C"),
    }
    with db.connect() as conn:
        res = results_by_name(conn, summary.run_id)
        bench = {
            (b.size_group, b.indicator): b.benchmark
            for b in conn.execute(text("SELECT * FROM evaluation_benchmarks WHERE run_id = :r"), {"r": summary.run_id})
        }
    for name, (scores, total, rank, klass) in expected.items():
        r = res[name]
        assert r.evaluated, name
        assert r.indicator_scores == pytest.approx(scores, abs=0.005), name
        assert float(r.total_score) == pytest.approx(total, abs=0.005), name
        assert (r.rank, r.class_code) == (rank, klass), name
        assert r.size_group == ("above" if name.startswith("E") else "below")
    assert res["E1"].indicator_values[0] == pytest.approx(600 / a)
    assert res["F1"].land_mu == pytest.approx(2 * a)
    assert bench[("above", "tax_per_mu")] == pytest.approx(250 / a)
    assert bench[("above", "va_per_emission")] == pytest.approx(100)
    assert bench[("above", "rnd_ratio")] == pytest.approx(2.0)
    assert bench[("below", "tax_per_mu")] == pytest.approx(40 / a)
    assert bench[("below", "tax_per_electricity")] == pytest.approx(2.0)
    assert res["E6"].indicator_values[3] is None  # no emission data: no value, the group's average score
    assert res["E6"].explanation["rules"] == [{"rule": "missing_average", "indicator": "va_per_emission", "score": 11.7143}]
    reasons = {n: (res[n].reason_code, res[n].reason) for n in ("G1", "G2", "G3")}
    assert reasons["G1"][0] == "below_min_land" and f"{small:.2f}" in reasons["G1"][1] and "3 亩" in reasons["G1"][1]
    assert reasons["G2"] == ("no_land", "无计入评价的用地（用地面积为0）")
    assert reasons["G3"] == ("no_figures", "无2024年度经济数据")
    assert summary.n_listed == 13 and summary.n_evaluated == 10
    assert summary.class_counts == {"above": {"A": 1, "B": 4, "C": 1}, "below": {"A": 1, "B": 2, "C": 1}}


def test_park_aggregates_and_intensity(db):
    """Park figures of the hand dataset: 13 parcels of area a (11 producing, one suspected idle, one
    reserve) and G1's small producing one."""
    park, a, small = build_hand_dataset(db)
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM evaluation_aggregates WHERE run_id = :r AND level = 'park' AND park_id = :p"),
            {"r": summary.run_id, "p": park},
        ).one()
        county = conn.execute(
            text("SELECT * FROM evaluation_aggregates WHERE run_id = :r AND level = 'county' AND adcode = '421102'"),
            {"r": summary.run_id},
        ).one()
    evaluated_tax = 600 + 300 + 300 + 150 + 90 + 60 + 100 + 50 + 40 + 10
    all_tax = evaluated_tax + 5 + 7  # G1 and G2 are listed in the park too
    assert row.n_listed == 13 and row.n_evaluated == 10 and row.rank == 1
    assert row.class_counts == {"above": {"A": 1, "B": 4, "C": 1}, "below": {"A": 1, "B": 2, "C": 1}}
    assert row.evaluated_land_mu == pytest.approx(11 * a)
    assert row.tax_per_mu == pytest.approx(evaluated_tax / (11 * a))
    total, supplied = 13 * a + small, 12 * a + small
    assert row.total_land_mu == pytest.approx(total)
    assert row.supplied_mu == pytest.approx(supplied)
    assert row.supply_rate == pytest.approx(supplied / total)
    assert row.built_rate == pytest.approx((11 * a + small) / supplied)  # G3's idle parcel is not built
    assert row.idle_mu == pytest.approx(a)
    assert row.industrial_tax_per_mu == pytest.approx(all_tax / supplied)  # idle land in the denominator
    assert row.indicators["below"]["tax_per_electricity"] == pytest.approx(2.0)
    assert county.n_evaluated == 10 and county.evaluated_tax == pytest.approx(evaluated_tax)


def _group(engine, totals, *, park=None, start_serial=1, revenue=5000.0, per_firm=None):  # noqa: ANN001, ANN202
    """One 规上 firm per total, scored by 亩均税收 only (a one-indicator model makes totals exact)."""
    ids = []
    with transaction(engine, "test", "group") as conn:
        park = park or add_park(conn)
        for k, t in enumerate(totals):
            s = start_serial + k
            eid = add_firm(conn, s, park, name=f"Q{s:03d}")
            add_figures(conn, eid, tax_paid=t, revenue=revenue, output=revenue, **(per_firm or {}).get(k, {}))
            hold(conn, eid, s, park_id=park)
            ids.append(eid)
    return ids


def _one_indicator_model(engine, **changes):  # noqa: ANN001, ANN202
    """亩均税收 only, fixed benchmark 10/a-independent: score = 100 × tax / (Σtax/n) with cap 1000."""
    params = default_params().model_dump(mode="json")
    tax = params["indicators"]["above"][0]
    params["indicators"]["above"] = [{**tax, "weight": 100.0}]
    params["score_cap"] = 1000.0
    params = derive_params(params, changes)
    with transaction(engine, "test", "model") as conn:
        return create_model(conn, ADMIN, "一项指标（测试）", 2024, params, 2024)


def test_quota_boundaries_are_nearest_whole_numbers():
    params = default_params()
    assert list(class_boundaries(20, params)) == [4, 15, 19, 20]
    assert list(class_boundaries(10, params)) == [2, 8, 10, 10]  # 9.5 rounds up: no D among ten
    assert list(class_boundaries(1, params)) == [0, 1, 1, 1]  # a lone firm is B, never D
    assert list(class_boundaries(673, params)) == [135, 505, 639, 673]
    ranks = competition_rank([90.0, 80.0, 80.0, 70.0])
    assert list(ranks) == [1, 2, 2, 4]
    assert list(quota_classes(ranks, 4, params)) == ["A", "B", "B", "C"]


def test_quotas_on_twenty_firms(db):
    """20 firms with distinct 亩均税收 1..20: A = top 4, B = next 11, C = next 4, D = last 1."""
    _group(db, list(range(20, 0, -1)))
    mid = _one_indicator_model(db)
    summary = run_evaluation(db, ADMIN, 2024, model_id=mid)
    with db.connect() as conn:
        classes = [r.class_code for r in conn.execute(
            text("SELECT class_code FROM evaluation_results WHERE run_id = :r ORDER BY rank"), {"r": summary.run_id})]
    assert classes == ["A"] * 4 + ["B"] * 11 + ["C"] * 4 + ["D"]
    assert summary.model_id == mid


def test_tie_across_a_boundary_shares_the_better_class(db):
    """Ten firms; ranks 2 and 3 are tied, and the A boundary is k_A = 2: both tied firms are A.
    Totals 100 × tax/mean(tax): taxes 30, 20, 20, 10 … the tie is exact, so the ranks are 1, 2, 2, 4."""
    taxes = [30, 20, 20, 10, 9, 8, 7, 6, 5, 4]
    _group(db, taxes)
    mid = _one_indicator_model(db)
    summary = run_evaluation(db, ADMIN, 2024, model_id=mid)
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT rank, class_code, quota_class, total_score, name FROM evaluation_results "
                 "WHERE run_id = :r ORDER BY rank, name"), {"r": summary.run_id}).all()
        expl = explain_result(conn, ADMIN, summary.run_id,
                              conn.execute(text("SELECT enterprise_id FROM evaluation_results WHERE run_id = :r AND name = 'Q003'"),
                                           {"r": summary.run_id}).scalar_one())
    assert [r.rank for r in rows] == [1, 2, 2, 4, 5, 6, 7, 8, 9, 10]
    assert [r.class_code for r in rows] == ["A", "A", "A"] + ["B"] * 5 + ["C"] * 2  # A holds 3 of a quota of 2
    assert rows[1].total_score == rows[2].total_score
    assert expl["placement"]["tied_with"] == 1 and "并列" in expl["placement"]["text"]


def test_accident_veto_bars_a_and_b(db):
    """Top firm (A) and a B firm had accidents: both become C; a C firm with an accident stays C."""
    taxes = list(range(20, 0, -1))
    ids = _group(db, taxes, per_firm={0: {"accident": True}, 5: {"accident": True}, 16: {"accident": True}})
    mid = _one_indicator_model(db)
    summary = run_evaluation(db, ADMIN, 2024, model_id=mid)
    with db.connect() as conn:
        got = {r.enterprise_id: r for r in conn.execute(
            text("SELECT * FROM evaluation_results WHERE run_id = :r"), {"r": summary.run_id})}
    assert (got[ids[0]].quota_class, got[ids[0]].class_code) == ("A", "C")
    assert (got[ids[5]].quota_class, got[ids[5]].class_code) == ("B", "C")
    assert (got[ids[16]].quota_class, got[ids[16]].class_code) == ("C", "C")
    assert got[ids[0]].explanation["rules"] == [{"rule": "accident_veto", "from": "A", "to": "C"}]
    assert got[ids[1]].class_code == "A"  # places are not refilled: the others keep their class


def test_first_production_years_and_newly_above_size_are_not_put_in_d(db):
    """Three bottom firms of 40 (D = last 2): one started production in 2023, one was 规下 in 2023."""
    taxes = list(range(40, 0, -1))
    ids = _group(db, taxes, per_firm={39: {"production_start_year": 2023}})
    with transaction(db, "test", "prior year") as conn:
        add_figures(conn, ids[38], year=2023, revenue=1500.0, output=1500.0)  # newly above size in 2024
        add_figures(conn, ids[0], year=2023, revenue=1500.0, output=1500.0)  # newly above but A: untouched
    mid = _one_indicator_model(db)
    summary = run_evaluation(db, ADMIN, 2024, model_id=mid)
    with db.connect() as conn:
        got = {r.enterprise_id: r for r in conn.execute(
            text("SELECT * FROM evaluation_results WHERE run_id = :r"), {"r": summary.run_id})}
    assert (got[ids[39]].quota_class, got[ids[39]].class_code) == ("D", "C")
    assert got[ids[39]].explanation["rules"] == [{"rule": "first_years", "from": "D", "to": "C", "years": 2}]
    assert (got[ids[38]].quota_class, got[ids[38]].class_code) == ("D", "C")
    assert got[ids[38]].newly_above and got[ids[38]].explanation["rules"][0]["rule"] == "newly_above"
    assert got[ids[0]].newly_above and got[ids[0]].class_code == "A"
    # switch the protection off in a new version: the same data gives D
    mid2 = _one_indicator_model(db, **{"overrides.first_years_not_d": False, "overrides.newly_above_not_d": False})
    again = run_evaluation(db, ADMIN, 2024, model_id=mid2)
    with db.connect() as conn:
        d = conn.execute(text("SELECT count(*) FROM evaluation_results WHERE run_id = :r AND class_code = 'D'"),
                         {"r": again.run_id}).scalar_one()
    assert d == 2


def test_utilities_are_scored_but_not_ranked(db):
    """A utility with the best figures gets class T, no rank, and takes no quota place."""
    taxes = [500] + list(range(20, 0, -1))
    ids = _group(db, taxes, per_firm={0: {"utility": True}})
    mid = _one_indicator_model(db)
    summary = run_evaluation(db, ADMIN, 2024, model_id=mid)
    with db.connect() as conn:
        got = {r.enterprise_id: r for r in conn.execute(
            text("SELECT * FROM evaluation_results WHERE run_id = :r"), {"r": summary.run_id})}
    u = got[ids[0]]
    assert u.evaluated and u.class_code == "T" and u.rank is None and u.total_score is not None
    assert got[ids[1]].rank == 1 and got[ids[1]].group_size == 20
    # the benchmark excludes the utility: Σ 1..20 / 20 = 10.5 per parcel → the best graded firm scores 100·20/10.5
    assert float(got[ids[1]].total_score) == pytest.approx(100 * 20 / 10.5, abs=0.005)
    assert summary.class_counts["above"] == {"A": 4, "B": 11, "C": 4, "D": 1, "T": 1}


def test_missing_emission_gets_the_group_average_and_zero_for_other_missing(db):
    """Emissions missing → the mean emission score of the others; energy missing → 0 for that indicator."""
    with transaction(db, "test", "setup") as conn:
        park = add_park(conn)
        firms = []
        for s, (em, energy) in enumerate([(1.0, 100.0), (2.0, 100.0), (None, 100.0), (1.0, None)], start=1):
            eid = add_firm(conn, s, park, name=f"M{s}")
            add_figures(conn, eid, revenue=5000, output=5000, value_added=300, emissions_t=em, energy_tce=energy)
            hold(conn, eid, s, park_id=park)
            firms.append(eid)
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        got = {r.name: r for r in conn.execute(text("SELECT * FROM evaluation_results WHERE run_id = :r"),
                                               {"r": summary.run_id})}
    # emissions benchmark over M1, M2, M4: 900 / 4 = 225; M1 300/1 → 1.333 → 13.33; M2 150 → .667 → 6.67; M4 = M1
    em_scores = [got[n].indicator_scores[3] for n in ("M1", "M2", "M4")]
    assert em_scores == pytest.approx([13.3333, 6.6667, 13.3333], abs=1e-3)
    assert got["M3"].indicator_scores[3] == pytest.approx(sum(em_scores) / 3)
    assert got["M4"].indicator_scores[2] == 0  # energy missing: that indicator scores 0
    assert {"rule": "missing_zero", "indicator": "va_per_energy"} in got["M4"].explanation["rules"]


def test_land_threshold_is_configurable(db):
    """~2.4 亩 is below the default 3 亩; a model with min_land_mu 2 evaluates it."""
    with transaction(db, "test", "setup") as conn:
        park = add_park(conn)
        for s in range(1, 4):
            eid = add_firm(conn, s, park, name=f"L{s}")
            add_figures(conn, eid)
            hold(conn, eid, s, side_m=40 if s == 1 else 100, park_id=park)
    first = run_evaluation(db, ADMIN, 2024)
    with transaction(db, "test", "model") as conn:
        params = derive_params(default_params().model_dump(mode="json"), {"min_land_mu": 2})
        mid = create_model(conn, ADMIN, "门槛2亩", 2024, params)
    second = run_evaluation(db, ADMIN, 2024)  # the newest version valid for 2024 is picked
    with db.connect() as conn:
        a = results_by_name(conn, first.run_id)["L1"]
        b = results_by_name(conn, second.run_id)["L1"]
    assert 2.0 < a.land_mu < 3.0
    assert not a.evaluated and a.reason_code == "below_min_land"
    assert b.evaluated and second.model_id == mid


def _lessee_dataset(engine):  # noqa: ANN001, ANN202
    """H holds two parcels; L leases 40 % of the first; K holds its own parcel."""
    with transaction(engine, "test", "lessees") as conn:
        park = add_park(conn)
        h = add_firm(conn, 1, park, name="H")
        add_figures(conn, h, tax_paid=100, revenue=3000, output=3000, value_added=600, emissions_t=2.0)
        p1 = hold(conn, h, 1, park_id=park)
        hold(conn, h, 2, park_id=park)
        lessee = add_firm(conn, 2, park, name="L")
        add_figures(conn, lessee, tax_paid=40, revenue=500, output=500, value_added=100, emissions_t=None,
                    accident=True)
        lease(conn, p1, lessee, 0.4)
        k = add_firm(conn, 3, park, name="K")
        add_figures(conn, k, tax_paid=100, revenue=3000, output=3000, value_added=600)
        hold(conn, k, 3, park_id=park)
        a = parcel_area(conn, p1)
    return h, lessee, a


def test_lessee_is_merged_into_the_holder_by_default(db):
    h, lessee, a = _lessee_dataset(db)
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        got = results_by_name(conn, summary.run_id)
        expl = explain_result(conn, ADMIN, summary.run_id, h)
    H, L = got["H"], got["L"]
    assert not L.evaluated and L.reason_code == "merged" and L.merged_into == h
    assert "并入宗地权利人 H" in L.reason
    assert H.land_mu == pytest.approx(2 * a)  # the whole of both parcels
    assert H.tax_paid == pytest.approx(140) and H.value_added == pytest.approx(700)
    assert H.emissions_t is None  # the lessee reported none: the merged figure is missing
    assert H.accident  # the lessee's accident counts for the unit
    assert H.size_group == "above"
    assert [m["enterprise_id"] for m in expl["merged_lessees"]] == [lessee]
    assert {(x["occupant_id"], x["role"]) for x in expl["land"]} == {(h, "holder"), (lessee, "lessee")}
    assert sum(x["land_mu"] for x in expl["land"]) == pytest.approx(2 * a)


def test_lessee_rule_own_share(db):
    h, lessee, a = _lessee_dataset(db)
    with transaction(db, "test", "model") as conn:
        params = derive_params(default_params().model_dump(mode="json"), {"lessee_rule": "own_share"})
        create_model(conn, ADMIN, "承租企业单独评价", 2024, params)
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        got = results_by_name(conn, summary.run_id)
    H, L = got["H"], got["L"]
    assert H.land_mu == pytest.approx(1.6 * a) and H.tax_paid == pytest.approx(100)
    assert L.land_mu == pytest.approx(0.4 * a) and L.evaluated and L.size_group == "below"  # 0.4 × ~15 亩 = ~6 亩
    assert L.merged_into is None


def test_lessee_without_a_holder_with_figures_is_evaluated_on_its_share(db):
    """Merging needs a holder with figures for the year; otherwise nobody's figures vanish."""
    with transaction(db, "test", "setup") as conn:
        park = add_park(conn)
        h = add_firm(conn, 1, park, name="H")  # no 2024 figures
        p1 = hold(conn, h, 1, side_m=200, park_id=park)
        lessee = add_firm(conn, 2, park, name="L")
        add_figures(conn, lessee)
        lease(conn, p1, lessee, 0.5)
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        got = results_by_name(conn, summary.run_id)
    assert got["H"].reason_code == "no_figures"
    assert got["L"].evaluated and got["L"].merged_into is None
    assert got["L"].land_mu == pytest.approx(got["H"].land_mu)


def test_quality_blocks_the_run_then_proceed_excludes(db):
    with transaction(db, "test", "setup") as conn:
        park = add_park(conn)
        cases = {
            "OK1": {}, "OK2": {},
            "TAX": {"tax_paid": 900.0, "revenue": 800.0},
            "VA": {"value_added": 1200.0, "output": 1000.0},
            "EMP": {"employees": 0},
            "NEG": {"energy_tce": -5.0},
        }
        ids = {}
        for s, (name, fig) in enumerate(cases.items(), start=1):
            ids[name] = add_firm(conn, s, park, name=name)
            add_figures(conn, ids[name], **fig)
            hold(conn, ids[name], s, park_id=park)
        from hggis.identifiers import make_credit_code

        # the same 主体标识码 (chars 9–17) as firm 1, registered under another county prefix
        dup = add_firm(conn, 99, park, name="DUP", code=make_credit_code("91421125MA0000001"))
        add_figures(conn, dup)
        hold(conn, dup, 99, park_id=park)
    with pytest.raises(BlockingQualityErrors) as err:
        run_evaluation(db, ADMIN, 2024)
    blocking = err.value.report.blocking
    found = {(r.name, r.check_code, r.field) for r in blocking.itertuples()}
    assert found == {
        ("TAX", "tax_gt_revenue", "tax_paid"),
        ("VA", "va_gt_output", "value_added"),
        ("EMP", "employees_zero_with_output", "employees"),
        ("NEG", "negative", "energy_tce"),
        ("DUP", "duplicate_entity", "credit_code"),
        ("OK1", "duplicate_entity", "credit_code"),
    }
    tax = blocking[blocking["name"] == "TAX"].iloc[0]
    assert tax["value"] == "900" and "税收 900 万元大于营业收入 800 万元" in tax["reason"]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM evaluation_runs")).scalar_one() == 0
    summary = run_evaluation(db, ADMIN, 2024, proceed=True)
    with db.connect() as conn:
        got = results_by_name(conn, summary.run_id)
        stored = conn.execute(text("SELECT count(*) FROM evaluation_quality_issues WHERE run_id = :r AND blocking"),
                              {"r": summary.run_id}).scalar_one()
    assert got["OK2"].evaluated
    for name in ("TAX", "VA", "EMP", "NEG", "DUP", "OK1"):
        assert got[name].reason_code == "quality" and got[name].reason.startswith("数据质量问题："), name
    assert stored == 6


def test_outliers_are_warnings_listed_with_value(db):
    taxes = [10.0 + 0.5 * k for k in range(25)] + [10000.0]
    _group(db, taxes, revenue=50000.0)
    from hggis.evaluation.service import quality_report

    with db.connect() as conn:
        rep = quality_report(conn, ADMIN, 2024)
    out = [i for i in rep["issues"] if i["check_code"] == "outlier" and i["field"] == "tax_per_mu"]
    assert len(out) == 1 and out[0]["name"] == "Q026" and not out[0]["blocking"] and "远高于" in out[0]["reason"]
    assert rep["run_would_start"]


def test_a_failing_run_leaves_nothing(db, owner_engine):
    """A database error at the last step (the aggregates) rolls back the whole run."""
    build_hand_dataset(db)
    # the fault is planted by the schema owner: the app role may not create triggers
    with owner_engine.begin() as conn:
        conn.execute(text(
            "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'simulated failure'; END $$"))
        conn.execute(text("CREATE TRIGGER test_fail BEFORE INSERT ON evaluation_aggregates "
                          "FOR EACH STATEMENT EXECUTE FUNCTION test_fail()"))
    try:
        with pytest.raises(DBAPIError, match="simulated failure"):
            run_evaluation(db, ADMIN, 2024)
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("DROP TRIGGER test_fail ON evaluation_aggregates"))
            conn.execute(text("DROP FUNCTION test_fail()"))
    with db.connect() as conn:
        for table in ("evaluation_runs", "evaluation_results", "evaluation_benchmarks", "evaluation_land",
                      "evaluation_quality_issues", "evaluation_aggregates"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    assert run_evaluation(db, ADMIN, 2024).n_evaluated == 10  # and a clean run then works


def test_runs_are_kept_and_years_compared(db):
    ids = _group(db, list(range(20, 0, -1)))
    with transaction(db, "test", "2023 figures") as conn:
        for k, eid in enumerate(ids):  # 2023: the order reversed
            add_figures(conn, eid, year=2023, tax_paid=float(k + 1), revenue=5000, output=5000)
    r23 = run_evaluation(db, ADMIN, 2023)
    r24a = run_evaluation(db, ADMIN, 2024)
    r24b = run_evaluation(db, ADMIN, 2024, reason="again")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM evaluation_runs")).scalar_one() == 3
        data = compare_runs(conn, ADMIN, 2023, 2024)
    assert (data["run_from"], data["run_to"]) == (r23.run_id, r24b.run_id) and r24a.run_id < r24b.run_id
    assert data["transitions"]["D"]["A"] == 1 and data["transitions"]["A"]["D"] == 1
    moved = [c["enterprise_id"] for c in data["moved_to_d"]]
    assert moved == [ids[-1]]  # the firm that was best in 2023 is last in 2024
    assert data["counts"]["moved_to_d"] == 1 and data["counts"]["up"] >= 1 and data["counts"]["down"] >= 1


def test_model_versions(db):
    with db.connect() as conn:
        stored = conn.execute(text("SELECT params, valid_from, valid_to FROM evaluation_models WHERE id = 1")).one()
    assert parse_params(stored.params) == ModelParams()  # the migration's default is domain.md §5
    assert (stored.valid_from, stored.valid_to) == (2022, None)
    bad = [
        {"quotas.0.cumulative": 0.9},  # A above B
        {"indicators.above.0.numerator": "profit"},
        {"indicators.above.0.weight": -1},
        {"benchmark_mode": "fixed"},  # without fixed_benchmark values
        {"quality.blocking": ["outlier"]},
    ]
    for change in bad:
        with pytest.raises(ModelError):
            parse_params(derive_params(default_params().model_dump(mode="json"), change))
    officer = Principal(username="o", role="county_officer", counties=frozenset({"421102"}))
    with pytest.raises(Forbidden):
        with transaction(db, "test") as conn:
            create_model(conn, officer, "x", 2024, default_params().model_dump(mode="json"))
    with pytest.raises(RunError):
        run_evaluation(db, ADMIN, 2024)  # no figures at all
    with pytest.raises(Forbidden):
        run_evaluation(db, officer, 2024)


def test_fixed_benchmarks(db):
    """Fixed published benchmarks replace the regional ones: tax 20/20 = 1 → 30 points for 亩均税收."""
    with transaction(db, "test", "setup") as conn:
        park = add_park(conn)
        eid = add_firm(conn, 1, park, name="X")
        pid = hold(conn, eid, 1, park_id=park)
        a = parcel_area(conn, pid)
        add_figures(conn, eid, tax_paid=20 * a, revenue=5000, output=5000)
        params = default_params().model_dump(mode="json")
        params["benchmark_mode"] = "fixed"
        for g in ("above", "below"):
            for ind in params["indicators"][g]:
                ind["fixed_benchmark"] = 20.0 if ind["key"] == "tax_per_mu" else 1e9
        create_model(conn, ADMIN, "固定基准", 2024, params)
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        r = results_by_name(conn, summary.run_id)["X"]
        b = conn.execute(text("SELECT mode, benchmark FROM evaluation_benchmarks WHERE run_id = :r "
                              "AND size_group = 'above' AND indicator = 'tax_per_mu'"), {"r": summary.run_id}).one()
    assert r.indicator_scores[0] == pytest.approx(30.0, abs=0.01) and (b.mode, b.benchmark) == ("fixed", 20.0)  # tax kept to 0.01 万元


def test_explanation_and_policies(db):
    build_hand_dataset(db)
    with transaction(db, "test", "policy") as conn:
        from hggis.evaluation.policies import add_policy

        add_policy(conn, ADMIN, "A", "电价", "优惠电价（测试）", 2024, 2024, "差别化电价", -0.02, "元/千瓦时")
    summary = run_evaluation(db, ADMIN, 2024)
    with db.connect() as conn:
        e1 = conn.execute(text("SELECT enterprise_id FROM evaluation_results WHERE name = 'E1'")).scalar_one()
        e6 = conn.execute(text("SELECT enterprise_id FROM evaluation_results WHERE name = 'E6'")).scalar_one()
        x1 = explain_result(conn, ADMIN, summary.run_id, e1)
        x6 = explain_result(conn, ADMIN, summary.run_id, e6)
    tax = x1["score_detail"][0]
    assert tax["capped"] and tax["score"] == pytest.approx(60) and tax["benchmark_population"] == 6
    assert tax["benchmark_numerator_sum"] == pytest.approx(1500)
    assert x1["placement"]["class_boundaries"] == {"A": 1, "B": 5, "C": 6, "D": 6}
    discount = [p for p in x1["policies"] if p["measure"] == "优惠电价（测试）"][0]
    assert discount["yearly_amount_10k_yuan"] == pytest.approx(-0.02 * 50)  # Δ × 50 万kWh
    assert any("平均得分 11.71" in r["text"] for r in x6["rules"])
    assert x6["class_code"] == "C" and any(p["category"] == "电价" and p["price_delta"] == 0.05 for p in x6["policies"])
