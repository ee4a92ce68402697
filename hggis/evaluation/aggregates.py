"""Per-park and per-county figures of a run, the park intensity indicators, and park ranking.

Computed once per run, in SQL, from the run's results and the parcels as they are at run
time, and stored (``evaluation_aggregates``), so a year's park figures do not drift when
parcels change later.

Two kinds of figures, deliberately kept apart:

- **evaluated enterprises**: class distribution, Σ land, Σ tax, Σ value added, Σ revenue of
  the evaluated enterprises (merged units), and per size group every model indicator as
  Σ numerator / Σ denominator; 亩均税收 = Σ tax / Σ land of these enterprises;
- **park intensity** (开发区土地集约利用评价, domain.md §5), from the parcels (non-retired):
  土地供应率 = supplied / total parcel land; 土地建成率 = built / supplied, where built means
  a supplied parcel whose status is one of ``parks.built_statuses`` (已投产) or whose
  construction is completed (``completed_on``); per-亩 fixed investment (Σ
  ``investment_to_date``), revenue and tax of the industrial land supplied (land use in
  ``parks.industrial_land_uses``). Revenue and tax here are those of every listed
  enterprise of the park (evaluated or not; a merged lessee's figures are in its holder's),
  and the denominator is all industrial land supplied, idle land included, so idle land
  drags the figure down as it should.

Parks are ranked by ``parks.rank_by`` (default: tax per 亩 of industrial land supplied);
equal values share the better rank; parks without the figure are not ranked. Counties are
ranked by the same figure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.evaluation.model import ModelParams
from hggis.evaluation.reading import authorize_read, result_scope

#: What parks and counties may be ranked by (``parks.rank_by`` of the model), as pages name it.
RANK_BY_LABELS = {
    "industrial_tax_per_mu": "工业用地亩均税收（万元/亩）",
    "tax_per_mu": "参评企业亩均税收（万元/亩）",
    "industrial_revenue_per_mu": "工业用地亩均营业收入（万元/亩）",
}

_LEVELS = {
    # level: (key column of parcels/results, the list of units, its name column)
    "park": ("park_id", "SELECT k.id AS park_id, k.adcode, k.name FROM parks k", "park_id"),
    "county": ("adcode", "SELECT NULL::integer AS park_id, c.adcode, c.name FROM counties c", "adcode"),
}


def _indicator_sql(params: ModelParams) -> str:
    """jsonb {group: {indicator: Σ num / Σ den × scale}} over evaluated results (fields allow-listed)."""
    groups = []
    for group in ("above", "below"):
        pairs = []
        for ind in params.group_indicators(group):
            cond = (
                f"r.evaluated AND r.size_group = '{group}' AND r.{ind.numerator} IS NOT NULL "
                f"AND r.{ind.denominator} IS NOT NULL"
            )
            expr = (
                f"round((sum(r.{ind.numerator}) FILTER (WHERE {cond}) / "
                f"nullif(sum(r.{ind.denominator}) FILTER (WHERE {cond}), 0) * {ind.scale})::numeric, 4)"
            )
            pairs.append(f"'{ind.key}', {expr}")
        groups.append(f"'{group}', jsonb_build_object({', '.join(pairs)})")
    return f"jsonb_build_object({', '.join(groups)})"


def _store_level(conn: Connection, run_id: int, params: ModelParams, level: str) -> None:
    key, units_sql, _ = _LEVELS[level]
    pk = params.parks
    rank_by = pk.rank_by
    sql = f"""
    WITH units AS ({units_sql}),
    res AS (SELECT * FROM evaluation_results WHERE run_id = :run),
    ent AS (
        SELECT r.{key} AS k,
               count(*) AS n_listed,
               count(*) FILTER (WHERE r.evaluated) AS n_evaluated,
               coalesce(sum(r.land_mu) FILTER (WHERE r.evaluated), 0) AS evaluated_land_mu,
               coalesce(sum(r.tax_paid) FILTER (WHERE r.evaluated), 0) AS evaluated_tax,
               coalesce(sum(r.value_added) FILTER (WHERE r.evaluated), 0) AS evaluated_value_added,
               coalesce(sum(r.revenue) FILTER (WHERE r.evaluated), 0) AS evaluated_revenue,
               coalesce(sum(r.tax_paid) FILTER (WHERE r.merged_into IS NULL), 0) AS all_tax,
               coalesce(sum(r.revenue) FILTER (WHERE r.merged_into IS NULL), 0) AS all_revenue,
               {_indicator_sql(params)} AS indicators
        FROM res r GROUP BY r.{key}
    ),
    cls AS (
        SELECT k, jsonb_object_agg(size_group, counts) AS class_counts FROM (
            SELECT r.{key} AS k, r.size_group, jsonb_object_agg(r.class_code, r.n) AS counts
            FROM (SELECT {key}, size_group, class_code, count(*) AS n FROM res WHERE evaluated
                  GROUP BY {key}, size_group, class_code) r
            GROUP BY r.{key}, r.size_group
        ) g GROUP BY k
    ),
    lnd AS (
        SELECT p.{key} AS k,
               sum(p.area_mu) AS total_land_mu,
               coalesce(sum(p.area_mu) FILTER (WHERE p.status = ANY(:supplied)), 0) AS supplied_mu,
               coalesce(sum(p.area_mu) FILTER (WHERE p.status = ANY(:supplied)
                   AND (p.status = ANY(:built) OR p.completed_on IS NOT NULL)), 0) AS built_mu,
               coalesce(sum(p.area_mu) FILTER (WHERE p.status = ANY(:idle)), 0) AS idle_mu,
               coalesce(sum(p.area_mu) FILTER (WHERE p.status = ANY(:supplied) AND p.land_use = ANY(:iu)), 0)
                   AS industrial_supplied_mu,
               coalesce(sum(p.investment_to_date) FILTER (WHERE p.status = ANY(:supplied) AND p.land_use = ANY(:iu)), 0)
                   AS fixed_investment
        FROM parcels p WHERE p.retired_at IS NULL GROUP BY p.{key}
    ),
    joined AS (
        SELECT u.park_id, u.adcode, u.name,
               coalesce(e.n_listed, 0) AS n_listed, coalesce(e.n_evaluated, 0) AS n_evaluated,
               coalesce(c.class_counts, '{{}}'::jsonb) AS class_counts,
               coalesce(e.evaluated_land_mu, 0) AS evaluated_land_mu, coalesce(e.evaluated_tax, 0) AS evaluated_tax,
               coalesce(e.evaluated_value_added, 0) AS evaluated_value_added,
               coalesce(e.evaluated_revenue, 0) AS evaluated_revenue,
               e.evaluated_tax / nullif(e.evaluated_land_mu, 0) AS tax_per_mu,
               e.evaluated_value_added / nullif(e.evaluated_land_mu, 0) AS va_per_mu,
               e.evaluated_revenue / nullif(e.evaluated_land_mu, 0) AS revenue_per_mu,
               coalesce(e.indicators, '{{}}'::jsonb) AS indicators,
               coalesce(l.total_land_mu, 0) AS total_land_mu, coalesce(l.supplied_mu, 0) AS supplied_mu,
               coalesce(l.built_mu, 0) AS built_mu, coalesce(l.idle_mu, 0) AS idle_mu,
               coalesce(l.industrial_supplied_mu, 0) AS industrial_supplied_mu,
               l.supplied_mu / nullif(l.total_land_mu, 0) AS supply_rate,
               l.built_mu / nullif(l.supplied_mu, 0) AS built_rate,
               coalesce(l.fixed_investment, 0) AS fixed_investment,
               coalesce(e.all_tax, 0) AS all_tax, coalesce(e.all_revenue, 0) AS all_revenue,
               l.fixed_investment / nullif(l.industrial_supplied_mu, 0) AS investment_per_mu,
               e.all_revenue / nullif(l.industrial_supplied_mu, 0) AS industrial_revenue_per_mu,
               e.all_tax / nullif(l.industrial_supplied_mu, 0) AS industrial_tax_per_mu
        FROM units u
        LEFT JOIN ent e ON e.k = u.{key}
        LEFT JOIN cls c ON c.k = u.{key}
        LEFT JOIN lnd l ON l.k = u.{key}
    )
    INSERT INTO evaluation_aggregates (
        run_id, level, park_id, adcode, name, n_listed, n_evaluated, class_counts, evaluated_land_mu,
        evaluated_tax, evaluated_value_added, evaluated_revenue, tax_per_mu, va_per_mu, revenue_per_mu,
        indicators, total_land_mu, supplied_mu, built_mu, idle_mu, industrial_supplied_mu, supply_rate,
        built_rate, fixed_investment, all_tax, all_revenue, investment_per_mu, industrial_revenue_per_mu,
        industrial_tax_per_mu, rank)
    SELECT :run, :level, park_id, adcode, name, n_listed, n_evaluated, class_counts, evaluated_land_mu,
           evaluated_tax, evaluated_value_added, evaluated_revenue, tax_per_mu, va_per_mu, revenue_per_mu,
           indicators, total_land_mu, supplied_mu, built_mu, idle_mu, industrial_supplied_mu, supply_rate,
           built_rate, fixed_investment, all_tax, all_revenue, investment_per_mu, industrial_revenue_per_mu,
           industrial_tax_per_mu,
           CASE WHEN {rank_by} IS NULL THEN NULL ELSE rank() OVER (ORDER BY {rank_by} DESC NULLS LAST) END
    FROM joined
    """
    conn.execute(
        text(sql),
        {
            "run": run_id,
            "level": level,
            "supplied": list(pk.supplied_statuses),
            "built": list(pk.built_statuses),
            "idle": list(pk.idle_statuses),
            "iu": list(pk.industrial_land_uses),
        },
    )


def store(conn: Connection, run_id: int, params: ModelParams) -> None:
    """Compute and store the park and county aggregates of a run (inside its transaction)."""
    for level in ("park", "county"):
        _store_level(conn, run_id, params, level)


AGGREGATE_FIELDS = (
    "park_id", "adcode", "name", "n_listed", "n_evaluated", "class_counts", "evaluated_land_mu", "evaluated_tax",
    "evaluated_value_added", "evaluated_revenue", "tax_per_mu", "va_per_mu", "revenue_per_mu", "indicators",
    "total_land_mu", "supplied_mu", "built_mu", "idle_mu", "industrial_supplied_mu", "supply_rate", "built_rate",
    "fixed_investment", "all_tax", "all_revenue", "investment_per_mu", "industrial_revenue_per_mu",
    "industrial_tax_per_mu", "rank",
)


def read_aggregates(conn: Connection, principal: Principal, run_id: int, level: str) -> list[dict[str, Any]]:
    """The stored park or county rows of a run, within the caller's scope, best rank first."""
    if level not in _LEVELS:
        raise ValueError(f"level {level!r}: park or county")
    authorize_read(principal)
    # a county row sums other parks too: park managers see park rows only
    where, params = result_scope(principal, "a")
    if level == "county":
        where = where.replace("a.park_id", "NULL::integer")
    rows = conn.execute(
        text(
            f"SELECT {', '.join('a.' + f for f in AGGREGATE_FIELDS)} FROM evaluation_aggregates a "
            f"WHERE a.run_id = :run AND a.level = :level AND {where} ORDER BY a.rank NULLS LAST, a.adcode, a.park_id"
        ),
        {"run": run_id, "level": level, **params},
    ).all()
    return [dict(r._mapping) for r in rows]
