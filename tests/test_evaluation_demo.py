"""The evaluation over the synthetic demo data set (示例数据), years 2023 and 2024."""

from __future__ import annotations

from sqlalchemy import text

from hggis.access.policy import operator
from hggis.demo.loader import load_demo
from hggis.evaluation.compute import class_boundaries
from hggis.evaluation.model import default_params
from hggis.evaluation.runs import compare_runs, run_evaluation
from tests.evaluation_helpers import db  # noqa: F401


def test_demo_2024_classes_follow_the_quotas(db):
    load_demo(db, seed=2023)
    summary = run_evaluation(db, operator(), 2024)
    params = default_params()
    assert summary.quality["blocking_issues"] == 0
    assert summary.n_evaluated > 800
    with db.connect() as conn:
        for group in ("above", "below"):
            rows = conn.execute(
                text("SELECT rank, quota_class, class_code, accident FROM evaluation_results "
                     "WHERE run_id = :r AND size_group = :g AND rank IS NOT NULL"),
                {"r": summary.run_id, "g": group},
            ).all()
            n = len(rows)
            assert n > 250, group
            bounds = dict(zip("ABCD", class_boundaries(n, params), strict=True))
            quota = {c: sum(1 for r in rows if r.quota_class == c) for c in "ABCD"}
            final = {c: sum(1 for r in rows if r.class_code == c) for c in "ABCD"}
            # quota places are the quotas (ties may only enlarge the better class by the tied firms)
            assert quota["A"] >= bounds["A"] and quota["A"] / n < 0.20 + 0.02
            assert abs((quota["A"] + quota["B"]) / n - 0.75) < 0.02
            assert abs(quota["D"] / n - 0.05) < 0.02 and quota["D"] > 0
            # overrides only move firms out of A/B (accidents) and out of D (new firms)
            assert final["A"] <= quota["A"] and final["D"] <= quota["D"]
            assert final["A"] / n > 0.17 and final["D"] / n > 0.02
            assert all(r.class_code == "C" for r in rows if r.accident and r.quota_class in "AB")
        demo = conn.execute(text("SELECT is_demo FROM evaluation_runs WHERE id = :r"), {"r": summary.run_id}).scalar_one()
        lessees = conn.execute(
            text("SELECT count(*) FROM evaluation_results WHERE run_id = :r AND reason_code = 'merged'"),
            {"r": summary.run_id},
        ).scalar_one()
        utilities = conn.execute(
            text("SELECT count(*) FROM evaluation_results WHERE run_id = :r AND class_code = 'T'"), {"r": summary.run_id}
        ).scalar_one()
        parks = conn.execute(
            text("SELECT count(*) FROM evaluation_aggregates WHERE run_id = :r AND level = 'park' AND rank IS NOT NULL"),
            {"r": summary.run_id},
        ).scalar_one()
    assert demo and lessees > 20 and utilities > 0 and parks >= 10
    earlier = run_evaluation(db, operator(), 2023)
    with db.connect() as conn:
        cmp = compare_runs(conn, operator(), 2023, 2024)
    assert cmp["run_from"] == earlier.run_id and cmp["counts"]["up"] > 0 and cmp["counts"]["down"] > 0
