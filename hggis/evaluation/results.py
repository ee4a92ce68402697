"""Reading results: lists with filters and paging, and the full explanation of one result.

Every number a person sees (API, CLI, Excel) comes from the rows a run stored; the
explanation rebuilds each score from those rows: the unit's land (parcel by parcel), its
figures, each indicator's numerator and denominator, the group benchmark with the sums
behind it, the ratio, cap and weight, the class boundaries of the group, ties, and every
rule and override that applied, in Chinese, with the differential policies of the class.
Lists are filtered to the caller's scope in SQL (``scope_clause``); one result outside the
scope is refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, can, scope_clause
from hggis.db.models import Parcel, table_of
from hggis.errors import NotFound
from hggis.evaluation import policies
from hggis.evaluation.compute import class_boundaries
from hggis.evaluation.land import FIGURE_COLUMNS
from hggis.evaluation.model import CLASS_LABELS, DENOMINATORS, FIGURES, GROUP_LABELS, ModelParams, parse_params
from hggis.evaluation.runs import RunError, authorize_read, result_scope

MAX_PAGE = 1000
SORTS = {
    "rank": "r.size_group, r.rank NULLS LAST, r.enterprise_id",
    "total_score": "r.total_score DESC NULLS LAST, r.enterprise_id",
    "land_mu": "r.land_mu DESC, r.enterprise_id",
    "name": "r.name, r.enterprise_id",
    "enterprise_id": "r.enterprise_id",
}
REASON_LABELS = {
    "merged": "承租企业并入宗地权利人",
    "quality": "数据质量问题",
    "no_figures": "无年度经济数据",
    "no_land": "无用地",
    "below_min_land": "用地面积低于门槛",
}


@dataclass(frozen=True)
class ResultFilter:
    class_code: str | None = None
    size_group: str | None = None
    park_id: int | None = None
    adcode: str | None = None
    industry_code: str | None = None
    evaluated: bool | None = None
    reason_code: str | None = None
    result_list: str | None = None  # above / below: land holders of the group; tenant: firms leasing all their land


#: the SQL condition of each result list (hggis.evaluation.publication_tables.RESULT_LISTS)
RESULT_LIST_SQL = {
    "above": "r.size_group = 'above' AND NOT r.tenant",
    "below": "r.size_group = 'below' AND NOT r.tenant",
    "tenant": "r.tenant",
}


class ResultError(NotFound):
    """A result that does not exist, with the reason."""


def run_model(conn: Connection, run_id: int) -> tuple[dict[str, Any], ModelParams]:
    row = conn.execute(
        text(
            "SELECT r.id, r.year, r.model_id, m.name AS model_name, m.params FROM evaluation_runs r "
            "JOIN evaluation_models m ON m.id = r.model_id WHERE r.id = :i"
        ),
        {"i": run_id},
    ).first()
    if row is None:
        raise RunError(f"no evaluation run {run_id}")
    return {"run_id": row.id, "year": row.year, "model_id": row.model_id, "model_name": row.model_name}, parse_params(
        row.params
    )


def indicators_of(row: Any, params: ModelParams) -> list[dict[str, Any]]:
    if not row.size_group or row.indicator_values is None:
        return []
    out = []
    for j, ind in enumerate(params.group_indicators(row.size_group)):
        v = row.indicator_values[j] if j < len(row.indicator_values) else None
        s = row.indicator_scores[j] if j < len(row.indicator_scores) else None
        out.append(
            {"key": ind.key, "label": ind.label, "unit": ind.unit, "weight": ind.weight,
             "value": None if v is None else round(v, 4), "score": None if s is None else round(s, 2)}
        )
    return out


def _item(row: Any, params: ModelParams) -> dict[str, Any]:
    d = {
        "enterprise_id": row.enterprise_id,
        "credit_code": row.credit_code,
        "name": row.name,
        "adcode": row.adcode,
        "park_id": row.park_id,
        "industry_code": row.industry_code,
        "size_group": row.size_group,
        "size_group_label": GROUP_LABELS.get(row.size_group or "", None),
        "evaluated": row.evaluated,
        "land_mu": round(row.land_mu, 4),
        "figures": {c: getattr(row, c) for c in FIGURE_COLUMNS},
        "indicators": indicators_of(row, params) if row.evaluated else [],
        "total_score": float(row.total_score) if row.total_score is not None else None,
        "rank": row.rank,
        "group_size": row.group_size,
        "quota_class": row.quota_class,
        "class_code": row.class_code,
        "class_label": CLASS_LABELS.get(row.class_code or "", None),
        "reason_code": row.reason_code,
        "reason": row.reason,
        "merged_into": row.merged_into,
        "tenant": row.tenant,
        "result_list": "tenant" if row.tenant else row.size_group,
    }
    return d


def list_results(
    conn: Connection,
    principal: Principal,
    run_id: int,
    filters: ResultFilter = ResultFilter(),
    limit: int = 100,
    offset: int = 0,
    sort: str = "rank",
) -> dict[str, Any]:
    """A page of a run's results in the caller's scope (filters and sort are allow-listed)."""
    authorize_read(principal)
    if sort not in SORTS:
        raise ValueError(f"sort {sort!r}: one of {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValueError(f"limit 1–{MAX_PAGE}, offset ≥ 0")
    run, params = run_model(conn, run_id)
    where, bind = result_scope(principal, "r")
    clauses = ["r.run_id = :run", where]
    bind = {**bind, "run": run_id}
    for field in ("class_code", "size_group", "park_id", "adcode", "industry_code", "evaluated", "reason_code"):
        value = getattr(filters, field)
        if value is not None:
            clauses.append(f"r.{field} = :f_{field}")
            bind[f"f_{field}"] = value
    if filters.result_list is not None:
        if filters.result_list not in RESULT_LIST_SQL:
            raise ValueError(f"result list {filters.result_list!r}: one of {', '.join(RESULT_LIST_SQL)}")
        clauses.append(RESULT_LIST_SQL[filters.result_list])
    cond = " AND ".join(clauses)
    total = conn.execute(text(f"SELECT count(*) FROM evaluation_results r WHERE {cond}"), bind).scalar_one()
    rows = conn.execute(
        text(f"SELECT r.* FROM evaluation_results r WHERE {cond} ORDER BY {SORTS[sort]} LIMIT :limit OFFSET :offset"),
        {**bind, "limit": limit, "offset": offset},
    ).all()
    return {**run, "numberMatched": total, "numberReturned": len(rows), "items": [_item(r, params) for r in rows]}


# ----------------------------------------------------------------------------------------
# explanation of one result
# ----------------------------------------------------------------------------------------


#: Quality findings name the enterprise's own fields too, not only figures and indicators.
QUALITY_FIELD_LABELS = {"credit_code": "统一社会信用代码", "name": "企业名称", "land_mu": "用地面积（亩）"}


def quality_field_labels(params: ModelParams) -> dict[str, str]:
    """Chinese names of the fields a quality finding may name (figures, indicators, identity)."""
    out = {key: f"{label}（{unit}）" for key, (label, unit) in FIGURES.items()}
    out.update({i.key: f"{i.label}（{i.unit}）" for g in ("above", "below") for i in params.group_indicators(g)})
    out.update(QUALITY_FIELD_LABELS)
    return out


def rule_text(rule: dict[str, Any], params: ModelParams, labels: dict[str, str]) -> str:
    code = rule.get("rule")
    ind = labels.get(rule.get("indicator", ""), rule.get("indicator", ""))
    if code == "missing_average":
        return f"“{ind}”缺少数据，按本组有数据企业的平均得分 {rule['score']:.2f} 计"
    if code == "missing_zero":
        return f"“{ind}”缺少数据，该项不得分"
    if code == "zero_denominator":
        return f"“{ind}”分母为0：分子为正按封顶（{params.score_cap:g}倍权重）计分，否则按下限计分"
    if code == "no_benchmark":
        return f"“{ind}”本组无可用基准值（无企业有该项数据），该项按下限计分"
    if code == "utility":
        return "公用事业企业：参与评价计分，但不参加排名、不占类别名额，类别为T"
    if code == "accident_veto":
        return f"年内发生安全或环境事故，一票否决：由{rule['from']}类降为{rule['to']}类"
    if code == "first_years":
        return f"投产未满{rule['years']}年，不列入D类：由D类调整为{rule['to']}类"
    if code == "newly_above":
        return f"新上规企业（上年营业收入低于{params.above_size_revenue:g}万元），不列入D类：由D类调整为{rule['to']}类"
    return str(rule)


def _authorize_row(principal: Principal, row: Any) -> None:
    if not can(principal, "evaluation", "read", adcode=row.adcode, park_id=row.park_id):
        raise Forbidden(f"{principal.username} may not read the evaluation of enterprise {row.enterprise_id}: outside their scope")


def explain_result(conn: Connection, principal: Principal, run_id: int, enterprise_id: int) -> dict[str, Any]:
    """Everything behind one result, rebuilt from what the run stored."""
    authorize_read(principal)
    run, params = run_model(conn, run_id)
    row = conn.execute(
        text("SELECT * FROM evaluation_results WHERE run_id = :r AND enterprise_id = :e"),
        {"r": run_id, "e": enterprise_id},
    ).first()
    if row is None:
        raise ResultError(f"enterprise {enterprise_id} is not listed in evaluation run {run_id}")
    _authorize_row(principal, row)
    out = {**run, **_item(row, params)}
    out["inputs"] = {
        "land_mu": row.land_mu,
        "figures": {c: {"label": FIGURES[c][0], "unit": FIGURES[c][1], "value": getattr(row, c)} for c in FIGURE_COLUMNS},
        "accident": row.accident,
        "utility": row.utility,
        "production_start_year": row.production_start_year,
        "newly_above": row.newly_above,
    }
    out["land"] = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                "SELECT parcel_id, parcel_code, occupant_id, role, share, parcel_area_mu, land_mu FROM evaluation_land "
                "WHERE run_id = :r AND enterprise_id = :e ORDER BY parcel_code, occupant_id"
            ),
            {"r": run_id, "e": enterprise_id},
        )
    ]
    out["merged_lessees"] = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                "SELECT enterprise_id, name, credit_code, tax_paid, revenue, value_added, land_mu FROM evaluation_results "
                "WHERE run_id = :r AND merged_into = :e ORDER BY enterprise_id"
            ),
            {"r": run_id, "e": enterprise_id},
        )
    ]
    if row.merged_into is not None:
        holder = conn.execute(
            text("SELECT enterprise_id, name, credit_code FROM evaluation_results WHERE run_id = :r AND enterprise_id = :e"),
            {"r": run_id, "e": row.merged_into},
        ).first()
        out["merged_into_holder"] = dict(holder._mapping) if holder else {"enterprise_id": row.merged_into}
    rules = (row.explanation or {}).get("rules", [])
    if row.evaluated and row.size_group:
        out.update(_score_detail(conn, run_id, row, params, rules))
    labels = {i.key: i.label for g in ("above", "below") for i in params.group_indicators(g)}
    out["rules"] = [{**r, "text": rule_text(r, params, labels)} for r in rules]
    for m in out["merged_lessees"]:
        out["rules"].insert(0, {"rule": "merged_lessee", "enterprise_id": m["enterprise_id"],
                                "text": f"承租企业 {m['name']}（{m['credit_code']}）的用地和经济数据并入本企业评价"})
    out["quality_issues"] = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                "SELECT check_code, field, value, reason, blocking FROM evaluation_quality_issues "
                "WHERE run_id = :r AND enterprise_id = :e ORDER BY id"
            ),
            {"r": run_id, "e": enterprise_id},
        )
    ]
    if row.class_code:
        measures = policies.policies_for_year(conn, run["year"]).get(row.class_code, [])
        out["policies"] = policies.with_amounts(measures, row.electricity_10k_kwh)
    else:
        out["policies"] = []
    return out


def _score_detail(conn: Connection, run_id: int, row: Any, params: ModelParams, rules: list[dict]) -> dict[str, Any]:
    bench = {
        b.indicator: b
        for b in conn.execute(
            text("SELECT * FROM evaluation_benchmarks WHERE run_id = :r AND size_group = :g"),
            {"r": run_id, "g": row.size_group},
        )
    }
    special = {r.get("indicator"): r for r in rules if r.get("indicator")}
    detail = []
    for j, ind in enumerate(params.group_indicators(row.size_group)):
        b = bench.get(ind.key)
        num = getattr(row, ind.numerator)
        den = getattr(row, ind.denominator)
        value = row.indicator_values[j]
        ratio = value / b.benchmark if value is not None and b is not None and b.benchmark else None
        detail.append(
            {
                "key": ind.key,
                "label": ind.label,
                "unit": ind.unit,
                "formula": f"{FIGURES[ind.numerator][0]} / {DENOMINATORS[ind.denominator][0]}"
                + (f" × {ind.scale:g}" if ind.scale != 1 else ""),
                "numerator": num,
                "denominator": den,
                "value": value,
                "benchmark": b.benchmark if b else None,
                "benchmark_mode": b.mode if b else None,
                "benchmark_numerator_sum": b.numerator_sum if b else None,
                "benchmark_denominator_sum": b.denominator_sum if b else None,
                "benchmark_population": b.population if b else None,
                "ratio": ratio,
                "capped": ratio is not None and ratio > params.score_cap,
                "weight": ind.weight,
                "cap": params.score_cap,
                "floor": params.score_floor,
                "score": row.indicator_scores[j],
                "rule": special.get(ind.key, {}).get("rule"),
            }
        )
    result: dict[str, Any] = {"score_detail": detail}
    if row.rank is not None:
        bounds = class_boundaries(row.group_size, params)
        tied = conn.execute(
            text(
                "SELECT count(*) FROM evaluation_results WHERE run_id = :r AND size_group = :g "
                "AND rank IS NOT NULL AND total_score = :t AND enterprise_id <> :e"
            ),
            {"r": run_id, "g": row.size_group, "t": row.total_score, "e": row.enterprise_id},
        ).scalar_one()
        result["placement"] = {
            "rank": row.rank,
            "group_size": row.group_size,
            "class_boundaries": {q.class_code: int(k) for q, k in zip(params.quotas, bounds, strict=True)},
            "quota_class": row.quota_class,
            "tied_with": tied,
            "text": (
                f"{GROUP_LABELS[row.size_group]}{row.group_size}家企业中排第{row.rank}名；"
                + "，".join(f"{q.class_code}类至第{int(k)}名" for q, k in zip(params.quotas, bounds, strict=True))
                + f"；按名额为{row.quota_class}类"
                + (f"；与{tied}家企业总分相同，并列名次、同享较优类别" if tied else "")
            ),
        }
    return result


def run_quality(conn: Connection, principal: Principal, run_id: int) -> list[dict[str, Any]]:
    """The quality findings a run stored, in the caller's scope (blocking first)."""
    authorize_read(principal)
    run_model(conn, run_id)
    where, bind = result_scope(principal, "r")
    rows = conn.execute(
        text(
            "SELECT q.enterprise_id, r.credit_code, r.name, r.adcode, r.park_id, q.check_code, q.field, q.value, "
            "q.reason, q.blocking FROM evaluation_quality_issues q JOIN evaluation_results r "
            f"ON r.run_id = q.run_id AND r.enterprise_id = q.enterprise_id WHERE q.run_id = :run AND {where} "
            "ORDER BY q.blocking DESC, q.check_code, q.id"
        ),
        {**bind, "run": run_id},
    ).all()
    return [dict(r._mapping) for r in rows]


def enterprise_parcels(conn: Connection, principal: Principal, enterprise_id: int) -> list[str]:
    """Codes of the live parcels an enterprise holds that the caller may read (the explanation page's links).

    The explanation itself is scoped by the result's row; the parcels are scoped by their own
    county and park, so a firm holding land in two counties shows an officer only their county's.
    """
    parcels = table_of(Parcel)
    cond, params = scope_clause(principal, "parcels", "read", "parcels.adcode", "parcels.park_id")
    query = (select(parcels.c.code)
             .where(parcels.c.holder_id == enterprise_id, parcels.c.retired_at.is_(None), text(cond).bindparams(**params))
             .order_by(parcels.c.code))
    return list(conn.execute(query).scalars())
