"""Evaluation runs: computed atomically, kept forever, compared between years.

A run is one transaction: it reads the land and figures, checks quality, scores, and
writes the run row, every result, the parcels behind each result's land, the benchmarks,
the quality findings and the park/county aggregates. Any failure rolls all of it back, so a
run is either complete or absent. Earlier runs of the same year stay; the newest run of a
year is the one the year's figures are read from ("current"), and an older run remains
addressable by id.

Reads are scoped: results are filtered with ``scope_clause`` of the ``evaluation`` resource
(park managers see their parks' enterprises, county officers their counties'); a run's
metadata and class counts are visible to every role that may read evaluations.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, authorize
from hggis.db.maintenance import analyze
from hggis.db.session import transaction
from hggis.errors import Invalid
from hggis.evaluation import aggregates, compute, land, quality, stages
from hggis.evaluation.frames import write_binary, write_frame
from hggis.evaluation.model import ModelParams, model_for_year
from hggis.evaluation.reading import authorize_read, result_scope

ISSUE_COLUMNS = ("run_id", "enterprise_id", "check_code", "field", "value", "reason", "blocking")
#: what a run writes, re-analysed in its transaction (stale statistics made the map take minutes)
RUN_TABLES = ("evaluation_runs", "evaluation_results", "evaluation_land", "evaluation_benchmarks",
              "evaluation_quality_issues", "evaluation_aggregates")
BENCH_COLUMNS = ("run_id", "size_group", "indicator", "position", "mode", "numerator_sum", "denominator_sum",
                 "population", "benchmark", "average_score")


class RunError(Invalid, RuntimeError):
    """A run that cannot be done or found, with the reason."""


class BlockingQualityErrors(RunError):
    """The figures have blocking data-quality findings and the run was not told to proceed."""

    def __init__(self, year: int, report: quality.QualityReport) -> None:
        self.report = report
        n = len(report.blocking_ids)
        first = report.blocking.iloc[0]
        super().__init__(
            f"{year} 年度数据有 {len(report.blocking)} 项阻断性质量问题，涉及 {n} 家企业"
            f"（例如 {first['name']}：{first['reason']}）；核实数据，或用 --proceed 排除这些企业后评价"
        )


@dataclass
class Evaluation:
    """Everything a run computes, before it is written (also used for the quality report)."""

    year: int
    model_id: int
    model_name: str
    params: ModelParams
    inputs: land.Inputs
    report: quality.QualityReport
    units: land.Units | None = None
    scored: compute.Scored | None = None


@dataclass
class RunSummary:
    run_id: int
    year: int
    model_id: int
    model_name: str
    n_listed: int
    n_evaluated: int
    class_counts: dict[str, dict[str, int]]
    quality: dict[str, Any]
    duration_ms: int
    reasons: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, int] = field(default_factory=dict)  # per phase, for benchmarks and operators

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare(conn: Connection, year: int, model_id: int | None = None) -> Evaluation:
    """Read the inputs of ``year`` and run the pre-scoring quality checks."""
    mid, name, params = model_for_year(conn, year, model_id)
    inputs = land.read_inputs(conn, year, params)
    report = quality.check_figures(inputs.firms, params)
    return Evaluation(year=year, model_id=mid, model_name=name, params=params, inputs=inputs, report=report)


def compute_evaluation(ev: Evaluation, proceed: bool) -> Evaluation:
    """Attribute land and figures, score, and add the outlier warnings (no writes)."""
    excluded = ev.report.blocking_ids if proceed else set()
    reasons = ev.report.reasons() if proceed else {}
    ev.units = land.attribute(ev.inputs, ev.params, excluded)
    ev.scored = compute.score(ev.units.frame, ev.params, ev.year, reasons)
    ev.report = ev.report.extend(quality.outliers(ev.scored.frame, ev.scored.values, ev.params))
    return ev


def class_counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    ev = frame[frame["evaluated"]]
    counts = ev.groupby(["size_group", "class_code"]).size()
    out: dict[str, dict[str, int]] = {"above": {}, "below": {}}
    for (g, c), n in counts.items():
        out[str(g)][str(c)] = int(n)
    return out


GROUP_CODES = {"above": 1, "below": 2}
CLASS_CODES = ("A", "B", "C", "D", "T")
FIGURE_SQL = ", ".join(f"nullif(s.{c}, 'NaN')" for c in land.FIGURE_COLUMNS)


def _codes(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """1-based position in ``vocabulary`` (0 for none), for the int2 staging columns."""
    lookup = {v: i + 1 for i, v in enumerate(vocabulary)}
    return pd.Series(values).map(lookup).fillna(0).to_numpy(dtype=np.int16)


def _stage_results(conn: Connection, ev: Evaluation) -> int:
    """Binary-COPY the computed numbers into a temp table; returns the number of indicator slots."""
    assert ev.scored is not None and ev.units is not None
    frame = ev.scored.frame
    n = len(frame)
    k = max(len(ev.params.group_indicators(g)) for g in GROUP_CODES)
    values, scores = np.full((n, k), np.nan), np.full((n, k), np.nan)
    width = np.zeros(n, dtype=np.int16)
    for group in GROUP_CODES:
        rows = ((frame["size_group"] == group) & frame["evaluated"]).to_numpy()
        kg = len(ev.params.group_indicators(group))
        values[rows, :kg] = ev.scored.values[group][rows]
        scores[rows, :kg] = ev.scored.scores[group][rows]
        width[rows] = kg
    ints = {c: frame[c].astype("Float64").fillna(0).to_numpy(dtype=np.int64).astype(np.int32)
            for c in ("merged_into", "production_start_year", "rank", "group_size")}
    columns: list[tuple[str, str, np.ndarray]] = [
        ("enterprise_id", "int4", frame.index.to_numpy(dtype=np.int64).astype(np.int32)),
        ("unit_id", "int4", frame["unit_id"].to_numpy(dtype=np.int64).astype(np.int32)),
        ("size_group", "int2", _codes(frame["size_group"], tuple(GROUP_CODES))),
        ("evaluated", "bool", frame["evaluated"].to_numpy(dtype=bool)),
        ("reason_code", "int2", _codes(frame["reason_code"], compute.REASON_CODES)),
        ("merged_into", "int4", ints["merged_into"]),
        ("land_mu", "float8", frame["land_mu"].to_numpy(dtype=float)),
        *[(c, "float8", frame[c].to_numpy(dtype=float)) for c in land.FIGURE_COLUMNS],
        ("accident", "bool", frame["accident"].to_numpy(dtype=bool)),
        ("utility", "bool", frame["utility"].to_numpy(dtype=bool)),
        ("production_start_year", "int4", ints["production_start_year"]),
        ("newly_above", "bool", frame["newly_above"].to_numpy(dtype=bool)),
        ("tenant", "bool", frame["tenant"].to_numpy(dtype=bool)),
        ("width", "int2", width),
        *[(f"v{j}", "float8", values[:, j]) for j in range(k)],
        *[(f"s{j}", "float8", scores[:, j]) for j in range(k)],
        ("total_score", "float8", frame["total_score"].to_numpy(dtype=float)),
        ("rank", "int4", ints["rank"]),
        ("group_size", "int4", ints["group_size"]),
        ("quota_class", "int2", _codes(frame["quota_class"], CLASS_CODES)),
        ("class_code", "int2", _codes(frame["class_code"], CLASS_CODES)),
    ]
    pg = {"int4": "integer", "int2": "smallint", "float8": "float8", "bool": "boolean"}
    conn.execute(text(
        "CREATE TEMP TABLE ev_stage (" + ", ".join(f"{c} {pg[t]}" for c, t, _ in columns) + ") ON COMMIT DROP"
    ))
    write_binary(conn, "ev_stage", columns)
    sparse = frame[frame["reason"].notna() | (frame["explanation"] != '{"rules":[]}')]
    conn.execute(text("CREATE TEMP TABLE ev_text (enterprise_id integer, reason text, explanation text) ON COMMIT DROP"))
    sparse = pd.DataFrame({"enterprise_id": sparse.index.astype("int64"), "reason": sparse["reason"],
                           "explanation": sparse["explanation"]})
    write_frame(conn, "ev_text", sparse, ("enterprise_id", "reason", "explanation"))
    conn.execute(text("ANALYZE ev_stage (enterprise_id)"))  # row count and key statistics for the joins
    conn.execute(text("ANALYZE ev_text (enterprise_id)"))
    return k


def _write(conn: Connection, run_id: int, ev: Evaluation) -> None:
    """Results, land rows, benchmarks and findings of the run; the bulk goes server-side."""
    k = _stage_results(conn, ev)
    arr = "CASE WHEN s.width > 0 THEN (ARRAY[{}])[1:s.width] END"
    values = arr.format(", ".join(f"nullif(s.v{j}, 'NaN')" for j in range(k)))
    scores = arr.format(", ".join(f"nullif(s.s{j}, 'NaN')" for j in range(k)))
    conn.execute(
        text(
            f"""
            INSERT INTO evaluation_results (
                run_id, enterprise_id, credit_code, name, park_id, adcode, industry_code, size_group, evaluated,
                reason_code, reason, merged_into, land_mu, {", ".join(land.FIGURE_COLUMNS)}, accident, utility,
                production_start_year, newly_above, tenant, indicator_values, indicator_scores, total_score, rank,
                group_size, quota_class, class_code, explanation)
            SELECT :run, s.enterprise_id, e.credit_code, e.name, e.park_id, e.adcode, e.industry_code,
                   (ARRAY['above', 'below'])[nullif(s.size_group, 0)], s.evaluated,
                   (CAST(:reasons AS text[]))[nullif(s.reason_code, 0)], t.reason, nullif(s.merged_into, 0),
                   s.land_mu, {FIGURE_SQL}, s.accident, s.utility, nullif(s.production_start_year, 0),
                   s.newly_above, s.tenant, {values}, {scores}, round(nullif(s.total_score, 'NaN')::numeric, 2),
                   nullif(s.rank, 0), nullif(s.group_size, 0), (CAST(:classes AS text[]))[nullif(s.quota_class, 0)],
                   (CAST(:classes AS text[]))[nullif(s.class_code, 0)],
                   coalesce(CAST(t.explanation AS jsonb), '{{"rules": []}}'::jsonb)
            FROM ev_stage s
            JOIN enterprises e ON e.id = s.enterprise_id
            LEFT JOIN ev_text t ON t.enterprise_id = s.enterprise_id
            """
        ),
        {"run": run_id, "reasons": list(compute.REASON_CODES), "classes": list(CLASS_CODES)},
    )
    _write_land(conn, run_id, ev)
    assert ev.scored is not None  # a run always scores, even an empty year
    bench = ev.scored.benchmarks.copy()
    bench["run_id"] = run_id
    write_frame(conn, "evaluation_benchmarks", bench, BENCH_COLUMNS)
    issues = ev.report.issues.copy()
    issues["run_id"] = run_id
    write_frame(conn, "evaluation_quality_issues", issues, ISSUE_COLUMNS)


LAND_COLUMNS = ("run_id", "enterprise_id", "occupant_id", "parcel_id", "parcel_code", "role", "share",
                "parcel_area_mu", "land_mu")


def _write_land(conn: Connection, run_id: int, ev: Evaluation) -> None:
    """The land rows the results were computed from, exactly (the frame of hggis.evaluation.land)."""
    assert ev.units is not None
    rows = ev.units.land
    rows = rows[rows["occupant_id"].isin(ev.units.frame.index)].copy()
    rows["run_id"] = run_id
    write_frame(conn, "evaluation_land", rows, LAND_COLUMNS)


def run_evaluation(
    engine: Engine,
    principal: Principal,
    year: int,
    model_id: int | None = None,
    proceed: bool = False,
    reason: str | None = None,
) -> RunSummary:
    """Evaluate ``year`` in one transaction and return what the run stored."""
    authorize(principal, "evaluation", "run")
    started = time.perf_counter()
    timings: dict[str, int] = {}

    def lap(phase: str) -> None:
        timings[phase] = int((time.perf_counter() - started) * 1000) - sum(timings.values())

    with transaction(engine, principal.actor, reason or f"亩均效益评价 {year}") as conn:
        # one large set-based transaction: JIT compilation costs more than it saves here, and the
        # sorts of 10⁵-row joins should stay in memory
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        stage = stages.before_run(conn, year)
        ev = prepare(conn, year, model_id)
        lap("read_and_check")
        if not ev.inputs.firms["has_figures"].any():
            raise RunError(f"no enterprise has figures for {year}: load the year's figures first")
        if ev.report.blocking_ids and not proceed:
            raise BlockingQualityErrors(year, ev.report)
        compute_evaluation(ev, proceed)
        lap("land_and_scores")
        assert ev.scored is not None
        frame = ev.scored.frame
        counts = class_counts(frame)
        is_demo = conn.execute(text("SELECT EXISTS (SELECT 1 FROM dataset_meta WHERE key = 'demo')")).scalar_one()
        run_id = conn.execute(
            text(
                "INSERT INTO evaluation_runs (year, model_id, actor, reason, proceed, n_listed, n_evaluated, "
                "class_counts, quality_summary, is_demo) VALUES (:y, :m, :a, :r, :p, :nl, :ne, CAST(:cc AS jsonb), "
                "CAST(:qs AS jsonb), :demo) RETURNING id"
            ),
            {
                "y": year, "m": ev.model_id, "a": principal.actor, "r": reason, "p": proceed,
                "nl": len(frame), "ne": int(frame["evaluated"].sum()),
                "cc": _json(counts), "qs": _json(ev.report.summary()), "demo": is_demo,
            },
        ).scalar_one()
        stages.after_run(conn, stage, run_id)
        _write(conn, run_id, ev)
        lap("write_results")
        aggregates.store(conn, run_id, ev.params)
        lap("aggregates")
        analyze(conn, *RUN_TABLES)  # the 亩均 map and reports read the run right after the commit
        lap("analyze")
        duration = int((time.perf_counter() - started) * 1000)
        conn.execute(text("UPDATE evaluation_runs SET duration_ms = :d WHERE id = :i"), {"d": duration, "i": run_id})
    lap("commit")
    duration = int((time.perf_counter() - started) * 1000)
    reasons = frame.loc[~frame["evaluated"], "reason_code"].value_counts()
    return RunSummary(
        run_id=run_id, year=year, model_id=ev.model_id, model_name=ev.model_name, n_listed=len(frame),
        n_evaluated=int(frame["evaluated"].sum()), class_counts=counts, quality=ev.report.summary(),
        duration_ms=duration, reasons={str(k): int(v) for k, v in reasons.items()}, timings_ms=timings,
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))


# ----------------------------------------------------------------------------------------
# reading runs
# ----------------------------------------------------------------------------------------

RUN_COLUMNS = (
    "r.id, r.year, r.model_id, m.name AS model_name, r.actor, r.reason, r.proceed, r.created_at, r.duration_ms, "
    "r.n_listed, r.n_evaluated, r.class_counts, r.quality_summary, r.is_demo, r.land_list_id, r.supersedes_run_id"
)


def _run_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["created_at"] = d["created_at"].isoformat()
    return d


def list_runs(conn: Connection, principal: Principal, year: int | None = None) -> list[dict[str, Any]]:
    authorize_read(principal)
    rows = conn.execute(
        text(
            f"SELECT {RUN_COLUMNS} FROM evaluation_runs r JOIN evaluation_models m ON m.id = r.model_id "
            "WHERE CAST(:y AS integer) IS NULL OR r.year = :y ORDER BY r.id DESC"
        ),
        {"y": year},
    ).all()
    return [_run_dict(r) for r in rows]


def get_run(conn: Connection, principal: Principal, run_id: int) -> dict[str, Any]:
    authorize_read(principal)
    row = conn.execute(
        text(f"SELECT {RUN_COLUMNS} FROM evaluation_runs r JOIN evaluation_models m ON m.id = r.model_id WHERE r.id = :i"),
        {"i": run_id},
    ).first()
    if row is None:
        raise RunError(f"no evaluation run {run_id}")
    out = _run_dict(row)
    out["stage_label"] = stages.run_stage_label(conn, run_id, row.year)
    return out


def latest_run_id(conn: Connection, year: int) -> int:
    rid = conn.execute(text("SELECT max(id) FROM evaluation_runs WHERE year = :y"), {"y": year}).scalar_one()
    if rid is None:
        raise RunError(f"no evaluation run for {year}: run `hggis evaluate --year {year}` first")
    return rid


def resolve_run(conn: Connection, run_id: int | None, year: int | None) -> int:
    """An explicit run id, or the latest run of ``year``."""
    if run_id is not None:
        if conn.execute(text("SELECT 1 FROM evaluation_runs WHERE id = :i"), {"i": run_id}).first() is None:
            raise RunError(f"no evaluation run {run_id}")
        return run_id
    if year is None:
        raise RunError("name a run id or a year")
    return latest_run_id(conn, year)


# ----------------------------------------------------------------------------------------
# comparison of two years
# ----------------------------------------------------------------------------------------

CLASS_ORDER = {"A": 1, "B": 2, "C": 3, "D": 4}


def compare_runs(
    conn: Connection,
    principal: Principal,
    year_from: int | None = None,
    year_to: int | None = None,
    run_from: int | None = None,
    run_to: int | None = None,
) -> dict[str, Any]:
    """Class changes between two runs (by default the latest runs of two years), in scope."""
    authorize_read(principal)
    a = resolve_run(conn, run_from, year_from)
    b = resolve_run(conn, run_to, year_to)
    where, params = result_scope(principal, "x")
    rows = conn.execute(
        text(
            f"""
            WITH f AS (SELECT * FROM evaluation_results WHERE run_id = :a),
                 t AS (SELECT * FROM evaluation_results WHERE run_id = :b),
                 x AS (
                    SELECT coalesce(t.enterprise_id, f.enterprise_id) AS enterprise_id,
                           coalesce(t.name, f.name) AS name, coalesce(t.credit_code, f.credit_code) AS credit_code,
                           coalesce(t.adcode, f.adcode) AS adcode, coalesce(t.park_id, f.park_id) AS park_id,
                           f.class_code AS class_from, t.class_code AS class_to,
                           f.total_score AS total_from, t.total_score AS total_to,
                           f.size_group AS group_from, t.size_group AS group_to,
                           f.reason AS reason_from, t.reason AS reason_to,
                           f.enterprise_id IS NOT NULL AS listed_from, t.enterprise_id IS NOT NULL AS listed_to
                    FROM f FULL JOIN t ON t.enterprise_id = f.enterprise_id
                 )
            SELECT * FROM x WHERE {where} ORDER BY enterprise_id
            """
        ),
        {"a": a, "b": b, **params},
    ).all()
    matrix: dict[str, dict[str, int]] = {}
    changes: list[dict[str, Any]] = []
    to_d: list[dict[str, Any]] = []
    for r in rows:
        cf = r.class_from or ("未参评" if r.listed_from else "未列入")
        ct = r.class_to or ("未参评" if r.listed_to else "未列入")
        matrix.setdefault(cf, {}).setdefault(ct, 0)
        matrix[cf][ct] += 1
        if cf == ct:
            continue
        if r.class_from in CLASS_ORDER and r.class_to in CLASS_ORDER:
            direction = "up" if CLASS_ORDER[r.class_to] < CLASS_ORDER[r.class_from] else "down"
        else:
            direction = "changed"
        item = {
            "enterprise_id": r.enterprise_id, "name": r.name, "credit_code": r.credit_code, "adcode": r.adcode,
            "park_id": r.park_id, "class_from": cf, "class_to": ct, "direction": direction,
            "total_from": float(r.total_from) if r.total_from is not None else None,
            "total_to": float(r.total_to) if r.total_to is not None else None,
        }
        changes.append(item)
        if r.class_to == "D":
            to_d.append(item)
    years: dict[int, int] = {
        i: y for i, y in conn.execute(text("SELECT id, year FROM evaluation_runs WHERE id IN (:a, :b)"), {"a": a, "b": b})
    }
    return {
        "run_from": a, "run_to": b, "year_from": years[a], "year_to": years[b],
        "transitions": matrix, "changes": changes, "moved_to_d": to_d,
        "counts": {
            "up": sum(1 for c in changes if c["direction"] == "up"),
            "down": sum(1 for c in changes if c["direction"] == "down"),
            "changed": sum(1 for c in changes if c["direction"] == "changed"),
            "moved_to_d": len(to_d),
        },
    }
