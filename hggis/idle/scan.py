"""The scan: every parcel with a land contract or allocation decision, as of a date.

One INSERT … SELECT evaluates all rules for all parcels (no per-parcel round trips) and
stores one row per (parcel, rule that fired) under a new scan id, so any two scans can be
compared later. Which rules exist, their thresholds and legal texts come from the rule set
in force on the scan date (hggis.idle.rules).

Definitions the SQL applies (calendar rules in hggis.idle.calendar):

- effective start S = the new start date of the latest extension agreement signed on or
  before the scan date, else the contract's agreed start date (an agreement restarts the
  clock, 第十二条);
- started = started_on or completed_on on or before the scan date (动工开发, 第三十条);
- idle since = the day after the ``idle_years`` anniversary of S; ``days`` = days idle,
  counting that first day as 1; recoverable from the day after the ``recovery_years``
  anniversary;
- halted land: started, not complete, ``halted_since`` one full year back, and building
  footprint < 1/3 of the parcel's ellipsoidal area or investment < 25 % of the planned
  investment, both without the land price when the rule set says the parcel figures
  include it (出让合同 示范文本: 固定资产总投资 includes 出让价款);
- halted land at the holder's fault gets the 第十四条 sanctions as the rule set's
  ``disposals_halted`` lists them (default since migration 0015: both): the 20 % fee from
  one full year of halting (``idle_halted``), recovery without compensation from
  ``halted_recovery_years`` full years (``idle_halted_2y``); a rule set listing only the
  第十二条 options gets ``idle_halted`` without a fee, whatever the duration;
- a recorded government cause / force majeure (not withdrawn by the scan date) replaces
  the sanction rules by ``idle_government_cause``: no fee, negotiated options;
- next deadline: the open case's current deadline, else (idle rules only) the 30-day
  investigation deadline counted from the first scan that found the parcel idle since its
  last case closed or agreement was signed (第五条). That first-detection date is carried
  forward from the previous scan (the latest one as of the same or an earlier date whose
  counties cover this one), so a scan reads one earlier scan, not all of them.

Low-efficiency rules (local; thresholds from the rule set, defaults domain.md §6):

- ``low_overdue_completion``: agreed completion date (moved by an agreement) two full years
  back and not complete;
- ``low_intensity``: complete for two full years and investment_to_date per 亩 below 50 % of
  the 标准地 investment intensity (control_indicators) or else of the contract's
  planned_investment per 亩;
- ``low_output``: complete for two full years and the holder's output per 亩 (last complete
  year before the scan year; 亩 = the holder's scanned parcels) below 50 % of the 标准地
  output intensity;
- ``low_production_stopped``: production stopped one full year;
- ``low_class_d``: the holder's class is D in the latest ``low_class_d_years`` evaluated
  years before the scan year, read through ``hggis_idle_evaluation_classes(year)`` (migration
  0005): ``evaluation_results`` ⋈ ``evaluation_runs`` on run_id, the latest run of each year,
  evaluated rows only; when those tables are absent the function returns nothing and the
  scan records that the rule was not applied (``idle_scans.evaluation_source``);
- ``low_banned_industry``: the holder's GB/T 4754 code starts with a prefix of the rule
  set's banned/obsolete list.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant, scope_clause
from hggis.db.session import set_actor
from hggis.errors import Invalid, NotFound
from hggis.idle.calendar import sql_reached_on_interval
from hggis.idle.rules import RuleSet, enabled_rules, rule_set_by_id, rule_set_in_force
from hggis.parcel_values import date_window_problem

DEADLINE_KINDS: dict[str, str] = {
    "investigation": "调查核实并发出《闲置土地调查通知书》期限（第五条：发现后三十日内）",
    "notice": "发出《闲置土地调查通知书》期限（第五条：发现后三十日内）",
    "response": "使用权人提交土地开发利用情况等材料期限（第五条：接到通知书之日起三十日内）",
    "payment": "缴纳土地闲置费期限（第十七条：决定书送达之日起三十日内）",
    "deregistration": "办理国有建设用地使用权注销登记期限（第十七条：决定书送达之日起三十日内）",
}

SCANNABLE = "p.retired_at IS NULL AND p.contract_kind IS NOT NULL AND p.status NOT IN ('reserve', 'on_offer', 'recovered')"


class ScanError(Invalid):
    """A scan that cannot run or be read, with the reason."""


def _r(start: str, years: str) -> str:
    """First day on which ``years`` (a rule-set column) full years have passed since ``start``."""
    return sql_reached_on_interval(start, years.replace("r.", "r.iv_"))


# Per-parcel facts as of :as_of, shared by the scan and the deadline list.
# Needs binds :as_of, :rs (rule set id); ``{scope}`` is a trusted SQL condition on p.
PARCEL_FACTS_CTES = f"""
r AS (
  SELECT *, make_interval(years => idle_years) AS iv_idle_years,
         make_interval(years => recovery_years) AS iv_recovery_years,
         make_interval(years => halted_years) AS iv_halted_years,
         make_interval(years => halted_recovery_years) AS iv_halted_recovery_years,
         make_interval(years => low_overdue_completion_years) AS iv_low_overdue_completion_years,
         make_interval(years => low_completed_years) AS iv_low_completed_years,
         make_interval(years => low_production_stopped_years) AS iv_low_production_stopped_years
    FROM idle_rule_sets WHERE id = :rs
),
ext AS (
  SELECT DISTINCT ON (parcel_id) parcel_id, new_start_date, new_completion_date, signed_on
    FROM idle_extensions WHERE signed_on <= :as_of
   ORDER BY parcel_id, signed_on DESC, id DESC
),
cause AS (
  SELECT DISTINCT ON (parcel_id) parcel_id, reason_code
    FROM idle_delay_causes
   WHERE recorded_on <= :as_of AND (withdrawn_on IS NULL OR withdrawn_on > :as_of)
   ORDER BY parcel_id, recorded_on DESC, id DESC
),
base AS (
  SELECT p.id, p.adcode, p.park_id, p.holder_id, p.land_price, p.area_mu, p.planned_investment,
         p.investment_to_date, p.built_footprint_m2,
         COALESCE(ext.new_start_date, p.agreed_start_date) AS s,
         COALESCE(ext.new_completion_date, p.agreed_completion_date) AS due_completion,
         ext.signed_on AS agreement_on,
         COALESCE(p.started_on <= :as_of OR p.completed_on <= :as_of, false) AS started,
         CASE WHEN p.completed_on <= :as_of THEN p.completed_on END AS completed,
         CASE WHEN p.halted_since <= :as_of THEN GREATEST(p.halted_since, ext.new_start_date) END AS halted,
         CASE WHEN p.production_stopped_since <= :as_of THEN p.production_stopped_since END AS stopped,
         cause.reason_code
    FROM parcels p
    LEFT JOIN ext ON ext.parcel_id = p.id
    LEFT JOIN cause ON cause.parcel_id = p.id
   WHERE {SCANNABLE} AND {{scope}}
),
calc AS (
  SELECT b.*,
         {_r("b.s", "r.idle_years")} AS idle1_from,
         {_r("b.s", "r.recovery_years")} AS idle2_from,
         {_r("b.halted", "r.halted_years")} AS halt_from,
         {_r("b.halted", "r.halted_recovery_years")} AS halt2_from,
         b.area_mu * (2000.0 / 3.0) AS area_m2,
         CASE WHEN r.investment_includes_land_price
              THEN b.investment_to_date - COALESCE(b.land_price, 0) ELSE b.investment_to_date END AS invest_ex,
         CASE WHEN r.investment_includes_land_price
              THEN b.planned_investment - COALESCE(b.land_price, 0) ELSE b.planned_investment END AS planned_ex
    FROM base b CROSS JOIN r
),
facts AS (
  SELECT c.*,
         (c.s IS NOT NULL AND NOT c.started AND :as_of >= c.idle1_from) AS not_started_idle,
         (c.started AND c.completed IS NULL AND c.halted IS NOT NULL AND :as_of >= c.halt_from
          AND (c.built_footprint_m2 < r.footprint_fraction * c.area_m2
               OR (c.planned_ex > 0 AND GREATEST(c.invest_ex, 0) < r.investment_fraction * c.planned_ex))) AS halted_idle,
         -- halted two full years, where the rule set sanctions halted land (第十四条第（二）项)
         ('recovery_without_compensation' = ANY(r.disposals_halted) AND :as_of >= c.halt2_from) AS halted_recoverable
    FROM calc c CROSS JOIN r
)
"""

SCAN_SQL = f"""
WITH {PARCEL_FACTS_CTES},
ci AS (SELECT parcel_id, investment_intensity, output_intensity FROM control_indicators),
holder_output AS (
  SELECT DISTINCT ON (enterprise_id) enterprise_id, output
    FROM enterprise_years WHERE year < :year AND output IS NOT NULL
   ORDER BY enterprise_id, year DESC
),
holder_land AS (  -- land of each holder among the scanned parcels (reserve/on-offer land has no holder)
  SELECT holder_id, sum(area_mu) AS mu FROM base WHERE holder_id IS NOT NULL GROUP BY holder_id
),
dclass AS (
  SELECT enterprise_id FROM (
    SELECT e.enterprise_id, e.class_code,
           row_number() OVER (PARTITION BY e.enterprise_id ORDER BY e.year DESC) AS rn
      FROM hggis_idle_evaluation_classes(:year) e
  ) t, r
   WHERE t.rn <= r.low_class_d_years
   GROUP BY t.enterprise_id, r.low_class_d_years
  HAVING count(*) = r.low_class_d_years AND bool_and(t.class_code = 'D')
),
banned AS (
  SELECT e.id AS enterprise_id FROM enterprises e
   WHERE EXISTS (SELECT 1 FROM idle_banned_industries b
                  WHERE b.rule_set_id = :rs AND e.gbt4754_code LIKE b.gbt4754_prefix || '%')
),
x AS (
  SELECT f.id, f.adcode, f.park_id, f.s, f.halted, f.due_completion, f.completed, f.stopped, f.reason_code,
         f.idle1_from, f.idle2_from, f.halt_from, f.halt2_from, f.not_started_idle, f.halted_idle,
         f.halted_idle AND f.halted_recoverable AS halted_recoverable, f.land_price, f.area_mu,
         f.area_m2, f.built_footprint_m2, f.investment_to_date,
         ci.output_intensity AS ci_output, ho.output / NULLIF(hl.mu, 0) AS holder_output_per_mu,
         COALESCE(ci.investment_intensity, f.planned_investment / NULLIF(f.area_mu, 0)) AS target_intensity,
         {_r("f.due_completion", "r.low_overdue_completion_years")} AS overdue_from,
         {_r("f.completed", "r.low_completed_years")} AS completed_from,
         {_r("f.stopped", "r.low_production_stopped_years")} AS stopped_from,
         f.holder_id IN (SELECT enterprise_id FROM dclass) AS class_d,
         f.holder_id IN (SELECT enterprise_id FROM banned) AS banned
    FROM facts f CROSS JOIN r
    LEFT JOIN ci ON ci.parcel_id = f.id
    LEFT JOIN holder_output ho ON ho.enterprise_id = f.holder_id
    LEFT JOIN holder_land hl ON hl.holder_id = f.holder_id
),
fired AS (
{{FIRED}}
),
open_case AS (
  SELECT parcel_id, due_on, due_kind FROM idle_cases WHERE state NOT IN ('closed', 'reoffered')
),
reset AS (
  SELECT parcel_id, max(on_) AS on_ FROM (
    SELECT parcel_id, closed_on AS on_ FROM idle_cases WHERE closed_on IS NOT NULL
    UNION ALL SELECT parcel_id, signed_on FROM ext
  ) u GROUP BY parcel_id
),
seen AS (  -- first detection, carried forward from the previous scan (as of an earlier or equal date)
  SELECT x.parcel_id, min(x.detected_on) AS first_on
    FROM idle_scan_results x
    LEFT JOIN reset ON reset.parcel_id = x.parcel_id
   WHERE x.scan_id = :prev_scan AND x.category = 'idle' AND (reset.on_ IS NULL OR x.detected_on > reset.on_)
   GROUP BY x.parcel_id
),
ins AS (
  INSERT INTO idle_scan_results (scan_id, parcel_id, rule_code, category, adcode, park_id, clock_start, since_date,
                                 days, fee_amount, measure, delay_reason_code, threshold_date, detected_on,
                                 next_deadline, deadline_kind)
  SELECT :scan_id, x.parcel_id, x.rule_code, x.category, x.adcode, x.park_id, x.clock_start, x.since_date,
         CASE WHEN x.since_date IS NOT NULL THEN :as_of - x.since_date + 1 END,
         x.fee_amount, x.measure, x.delay_reason_code, x.threshold_date,
         CASE WHEN x.category = 'idle' THEN LEAST(seen.first_on, CAST(:as_of AS date)) END,
         CASE WHEN oc.parcel_id IS NOT NULL THEN oc.due_on
              WHEN x.category = 'idle' THEN LEAST(seen.first_on, CAST(:as_of AS date)) + r.investigation_days END,
         CASE WHEN oc.parcel_id IS NOT NULL THEN oc.due_kind
              WHEN x.category = 'idle' THEN 'investigation' END
    FROM fired x CROSS JOIN r
    LEFT JOIN open_case oc ON oc.parcel_id = x.parcel_id
    LEFT JOIN seen ON seen.parcel_id = x.parcel_id
  RETURNING parcel_id
)
SELECT b.scanned, b.without_start, (SELECT count(DISTINCT parcel_id) FROM ins) AS candidates
  FROM (SELECT count(*) AS scanned, count(*) FILTER (WHERE s IS NULL) AS without_start FROM base) b
"""


# One branch per rule, evaluated for each parcel of ``x`` in a LATERAL UNION ALL: a branch
# is a one-row SELECT whose WHERE is the rule's condition on columns computed once per
# parcel, so the output expressions run only for the parcels that hit, and ``x`` is read
# once (not materialised and re-read per rule). Columns: clock start, since (first day the
# rule holds), fee, measure, delay reason, threshold date.
RULE_BRANCHES: list[tuple[str, str, str, str, str, str, str, str, str]] = [
    ("idle_not_started_2y", "idle",
     "x.not_started_idle AND x.reason_code IS NULL AND :as_of >= x.idle2_from",
     "x.s", "x.idle1_from", "round(x.land_price * r.fee_rate, 2)", "NULL", "NULL", "NULL"),
    ("idle_not_started_1y", "idle",
     "x.not_started_idle AND x.reason_code IS NULL AND :as_of < x.idle2_from",
     "x.s", "x.idle1_from", "round(x.land_price * r.fee_rate, 2)", "NULL", "NULL", "x.idle2_from"),
    ("idle_halted_2y", "idle",
     "x.halted_recoverable AND NOT x.not_started_idle AND x.reason_code IS NULL",
     "x.halted", "x.halt_from",
     "CASE WHEN 'fee_collected' = ANY(r.disposals_halted) THEN round(x.land_price * r.fee_rate, 2) END",
     "round((x.built_footprint_m2 / NULLIF(x.area_m2, 0))::numeric, 4)", "NULL", "NULL"),
    ("idle_halted", "idle",
     "x.halted_idle AND NOT x.halted_recoverable AND NOT x.not_started_idle AND x.reason_code IS NULL",
     "x.halted", "x.halt_from",
     "CASE WHEN 'fee_collected' = ANY(r.disposals_halted) THEN round(x.land_price * r.fee_rate, 2) END",
     "round((x.built_footprint_m2 / NULLIF(x.area_m2, 0))::numeric, 4)", "NULL",
     "CASE WHEN 'recovery_without_compensation' = ANY(r.disposals_halted) THEN x.halt2_from END"),
    ("idle_government_cause", "idle",
     "(x.not_started_idle OR x.halted_idle) AND x.reason_code IS NOT NULL",
     "CASE WHEN x.not_started_idle THEN x.s ELSE x.halted END",
     "CASE WHEN x.not_started_idle THEN x.idle1_from ELSE x.halt_from END", "NULL", "NULL", "x.reason_code", "NULL"),
    ("low_overdue_completion", "low_efficiency",
     "x.due_completion IS NOT NULL AND x.completed IS NULL AND :as_of >= x.overdue_from",
     "x.due_completion", "x.overdue_from", "NULL", "NULL", "NULL", "NULL"),
    ("low_intensity", "low_efficiency",
     "x.completed IS NOT NULL AND :as_of >= x.completed_from AND x.area_mu > 0 AND x.target_intensity > 0 "
     "AND COALESCE(x.investment_to_date, 0) / x.area_mu < r.low_intensity_fraction * x.target_intensity",
     "x.completed", "x.completed_from", "NULL",
     "round((COALESCE(x.investment_to_date, 0) / x.area_mu / x.target_intensity)::numeric, 4)", "NULL", "NULL"),
    ("low_output", "low_efficiency",
     "x.completed IS NOT NULL AND :as_of >= x.completed_from AND x.ci_output > 0 "
     "AND x.holder_output_per_mu IS NOT NULL AND x.holder_output_per_mu < r.low_output_fraction * x.ci_output",
     "x.completed", "x.completed_from", "NULL", "round((x.holder_output_per_mu / x.ci_output)::numeric, 4)",
     "NULL", "NULL"),
    ("low_production_stopped", "low_efficiency",
     "x.stopped IS NOT NULL AND :as_of >= x.stopped_from",
     "x.stopped", "x.stopped_from", "NULL", "NULL", "NULL", "NULL"),
    ("low_class_d", "low_efficiency", "x.class_d", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"),
    ("low_banned_industry", "low_efficiency", "x.banned", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"),
]


def _branch(code: str, category: str, hit: str, clock: str, since: str, fee: str, measure: str, reason: str,
            threshold: str) -> str:
    return (
        f"    SELECT '{code}'::text AS rule_code, '{category}'::text AS category, ({clock})::date AS clock_start,"
        f" ({since})::date AS since_date, ({fee})::numeric AS fee_amount, ({measure})::numeric AS measure,"
        f" ({reason})::text AS delay_reason_code, ({threshold})::date AS threshold_date\n"
        f"     WHERE '{code}' = ANY(:rules) AND {hit}"
    )


SCAN_SQL = SCAN_SQL.replace(
    "{FIRED}",
    "  SELECT x.id AS parcel_id, x.adcode, x.park_id, v.*\n    FROM x CROSS JOIN r CROSS JOIN LATERAL (\n"
    + "\n    UNION ALL\n".join(_branch(*b) for b in RULE_BRANCHES)
    + "\n    ) AS v",
)


SCAN_WORK_MEM = "256MB"


def no_jit(conn: Connection, work_mem: str | None = None) -> None:
    """Turn JIT off for this transaction: the planner's row estimates through the one-row
    rule CTE are huge, and PostgreSQL spent ~7 s JIT-compiling a scan that runs in ~2 s.
    A scan also gets more sort/hash memory, so a million-parcel scan does not spill to disk."""
    conn.execute(text("SET LOCAL jit = off"))
    if work_mem:
        conn.execute(text("SELECT set_config('work_mem', :m, true)"), {"m": work_mem})


def _scope_for_scan(principal: Principal) -> tuple[list[str] | None, str, dict[str, Any]]:
    """A county officer scans their counties; city-wide grants scan everything."""
    scope = grant(principal, "idle_cases", "write")
    if scope is None:
        raise Forbidden(f"role {principal.role} may not run idle-land scans")
    if scope == "all":
        return None, "TRUE", {}
    counties = sorted(principal.counties)
    return counties, "p.adcode = ANY(:scope_adcodes)", {"scope_adcodes": counties}


def run_scan(conn: Connection, principal: Principal, as_of: dt.date, reason: str | None = None) -> dict[str, Any]:
    """Scan every contracted parcel in the principal's write scope as of ``as_of``; store results."""
    why = date_window_problem(as_of, future=True)
    if why:  # a scan as of 9999-12-31 would store fees and recoveries no one can owe
        raise ScanError(f"as_of: {why}")
    adcodes, scope_sql, scope_params = _scope_for_scan(principal)
    set_actor(conn, principal.actor, reason or f"闲置土地扫描（截至 {as_of}）")
    rules: RuleSet = rule_set_in_force(conn, as_of)
    started = time.perf_counter()
    no_jit(conn, SCAN_WORK_MEM)
    source = conn.execute(text("SELECT hggis_idle_evaluation_source()")).scalar_one()
    scan_id = conn.execute(
        text(
            "INSERT INTO idle_scans (as_of, rule_set_id, adcodes, actor, evaluation_source) "
            "VALUES (:as_of, :rs, :adcodes, :actor, :src) RETURNING id"
        ),
        {"as_of": as_of, "rs": rules.id, "adcodes": adcodes, "actor": principal.actor, "src": source},
    ).scalar_one()
    prev_scan = conn.execute(
        text(
            "SELECT id FROM idle_scans WHERE id <> :i AND as_of <= :d AND (adcodes IS NULL OR "
            "(CAST(:a AS text[]) IS NOT NULL AND adcodes @> CAST(:a AS text[]))) ORDER BY as_of DESC, id DESC LIMIT 1"
        ),
        {"i": scan_id, "d": as_of, "a": adcodes},
    ).scalar()
    stats = conn.execute(
        text(SCAN_SQL.replace("{scope}", scope_sql)),
        {
            "prev_scan": prev_scan,
            "as_of": as_of,
            "year": as_of.year,
            "rs": rules.id,
            "scan_id": scan_id,
            "rules": enabled_rules(conn, rules.id),
            **scope_params,
        },
    ).one()
    seconds = round(time.perf_counter() - started, 3)
    conn.execute(
        text(
            "UPDATE idle_scans SET parcels_scanned = :a, parcels_without_start = :b, candidates = :c, seconds = :t "
            "WHERE id = :i"
        ),
        {"a": stats.scanned, "b": stats.without_start, "c": stats.candidates, "t": seconds, "i": scan_id},
    )
    return scan_summary(conn, principal, scan_id)


def _scan_row(conn: Connection, scan_id: int) -> Any:
    row = conn.execute(
        text(
            "SELECT s.id, s.as_of, s.rule_set_id, rs.name AS rule_set, s.adcodes, s.actor, s.started_at, s.seconds, "
            "s.parcels_scanned, s.parcels_without_start, s.candidates, s.evaluation_source "
            "FROM idle_scans s JOIN idle_rule_sets rs ON rs.id = s.rule_set_id WHERE s.id = :i"
        ),
        {"i": scan_id},
    ).first()
    if row is None:
        raise NotFound(f"no idle-land scan {scan_id}")
    return row


def scan_summary(conn: Connection, principal: Principal, scan_id: int) -> dict[str, Any]:
    """The scan's header and, per rule, how many parcels in the caller's scope it found."""
    where, params = scope_clause(principal, "idle_cases", "read", "x.adcode", "x.park_id")
    row = _scan_row(conn, scan_id)
    counts = conn.execute(
        text(
            f"""
            SELECT ru.code, ru.name_zh, ru.category, count(x.parcel_id) AS parcels,
                   COALESCE(sum(x.fee_amount), 0) AS fee_total
              FROM idle_rules ru
              LEFT JOIN idle_scan_results x ON x.rule_code = ru.code AND x.scan_id = :i AND {where}
             WHERE ru.rule_set_id = :rs
             GROUP BY ru.code, ru.name_zh, ru.category, ru.sort_order ORDER BY ru.sort_order
            """
        ),
        {"i": scan_id, "rs": row.rule_set_id, **params},
    )
    summary = dict(row._mapping)
    summary["by_rule"] = [dict(c._mapping) for c in counts]
    return summary


def list_scans(conn: Connection, principal: Principal, limit: int = 50) -> list[dict[str, Any]]:
    scope_clause(principal, "idle_cases", "read", "NULL", "NULL")  # refuses roles without a read grant
    rows = conn.execute(
        text(
            "SELECT id, as_of, rule_set_id, adcodes, actor, started_at, seconds, parcels_scanned, candidates "
            "FROM idle_scans ORDER BY id DESC LIMIT :n"
        ),
        {"n": limit},
    )
    return [dict(r._mapping) for r in rows]


def latest_scan_id(conn: Connection) -> int | None:
    return conn.execute(text("SELECT max(id) FROM idle_scans")).scalar()


RESULT_FILTERS = {"rule_code": "x.rule_code", "category": "x.category", "adcode": "x.adcode", "park_id": "x.park_id"}


def scan_results(
    conn: Connection,
    principal: Principal,
    scan_id: int,
    filters: dict[str, Any] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """The candidates of one scan in the caller's read scope, with legal basis and case state."""
    where, params = scope_clause(principal, "idle_cases", "read", "x.adcode", "x.park_id")
    header = _scan_row(conn, scan_id)
    conds = [where]
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key not in RESULT_FILTERS:
            raise ScanError(f"unknown filter {key!r} (one of {', '.join(RESULT_FILTERS)})")
        conds.append(f"{RESULT_FILTERS[key]} = :f_{key}")
        params[f"f_{key}"] = value
    cond = " AND ".join(conds)
    total = conn.execute(
        text(f"SELECT count(*) FROM idle_scan_results x WHERE x.scan_id = :i AND {cond}"), {"i": scan_id, **params}
    ).scalar_one()
    rows = conn.execute(
        text(
            f"""
            SELECT p.code AS parcel_code, x.parcel_id, x.rule_code, ru.name_zh AS rule_name, x.category,
                   x.adcode, co.name AS county, x.park_id, k.name AS park, e.name AS holder,
                   round(p.area_mu::numeric, 2) AS area_mu, p.land_price,
                   x.clock_start, x.since_date, x.days, x.fee_amount, x.measure,
                   x.delay_reason_code, dr.name_zh AS delay_reason, x.threshold_date, x.detected_on,
                   x.next_deadline, x.deadline_kind, ru.legal_basis, ru.proposed_action,
                   c.id AS case_id, c.state AS case_state
              FROM idle_scan_results x
              JOIN parcels p ON p.id = x.parcel_id
              JOIN counties co ON co.adcode = x.adcode
              LEFT JOIN parks k ON k.id = x.park_id
              LEFT JOIN enterprises e ON e.id = p.holder_id
              JOIN idle_rules ru ON ru.rule_set_id = :rs AND ru.code = x.rule_code
              LEFT JOIN idle_delay_reasons dr ON dr.code = x.delay_reason_code
              LEFT JOIN idle_cases c ON c.parcel_id = x.parcel_id AND c.state NOT IN ('closed', 'reoffered')
             WHERE x.scan_id = :i AND {cond}
             ORDER BY ru.sort_order, p.code
             LIMIT :limit OFFSET :offset
            """
        ),
        {"i": scan_id, "rs": header.rule_set_id, "limit": limit, "offset": offset, **params},
    )
    items = []
    for r in rows:
        item = dict(r._mapping)
        item["deadline_label"] = DEADLINE_KINDS.get(item["deadline_kind"] or "")
        items.append(item)
    return {"scan": dict(header._mapping), "total": total, "limit": limit, "offset": offset, "items": items}


def diff_scans(conn: Connection, principal: Principal, older: int, newer: int) -> list[dict[str, Any]]:
    """Parcels whose set of fired rules differs between two scans (in the caller's scope).

    change: ``new`` (a candidate only in the newer scan), ``gone`` (only in the older) or
    ``changed`` (in both, different rules, e.g. 满一年 → 满两年).
    """
    where, params = scope_clause(principal, "idle_cases", "read", "x.adcode", "x.park_id")
    for sid in (older, newer):
        _scan_row(conn, sid)
    rows = conn.execute(
        text(
            f"""
            WITH a AS (SELECT parcel_id, array_agg(rule_code ORDER BY rule_code) AS rules
                         FROM idle_scan_results x WHERE scan_id = :a AND {where} GROUP BY parcel_id),
                 b AS (SELECT parcel_id, array_agg(rule_code ORDER BY rule_code) AS rules
                         FROM idle_scan_results x WHERE scan_id = :b AND {where} GROUP BY parcel_id)
            SELECT p.code AS parcel_code, COALESCE(a.parcel_id, b.parcel_id) AS parcel_id,
                   CASE WHEN a.parcel_id IS NULL THEN 'new' WHEN b.parcel_id IS NULL THEN 'gone' ELSE 'changed' END
                     AS change,
                   COALESCE(a.rules, '{{}}') AS rules_before, COALESCE(b.rules, '{{}}') AS rules_after
              FROM a FULL JOIN b ON a.parcel_id = b.parcel_id
              JOIN parcels p ON p.id = COALESCE(a.parcel_id, b.parcel_id)
             WHERE a.rules IS DISTINCT FROM b.rules
             ORDER BY change, p.code
            """
        ),
        {"a": older, "b": newer, **params},
    )
    return [dict(r._mapping) for r in rows]


def rule_set_of_scan(conn: Connection, scan_id: int) -> RuleSet:
    return rule_set_by_id(conn, _scan_row(conn, scan_id).rule_set_id)
