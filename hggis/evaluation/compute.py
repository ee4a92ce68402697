"""Scores, totals, ranks and classes of every listed enterprise, vectorised over one frame.

**Population.** A listed enterprise (it holds counted land or reported figures for the
year) is evaluated unless, in this order: it is a lessee merged into its holder; it was
excluded for blocking data-quality findings (run with proceed); it has no figures for the
year; its land is zero; its land is below ``min_land_mu``. The reason is stored with it.
Size group: 规上 when the figures of the year say the enterprise is on the statistics
bureau's 规上 list (``enterprise_years.above_size``, the 规上企业 column of the figures
import), 规下 when they say it is not; when they do not say, 规上 when its own
main-business revenue is ≥ ``above_size_revenue`` (a statistical status of the legal
entity, so merged lessees do not lift a holder into 规上).

**Tenants** (enterprises whose counted land is all leased, hggis.evaluation.land.tenants)
form the third result list; with ``result_lists.tenants_ranked_separately`` they are
ranked and classed among the tenants of their size group (same benchmarks).

**Graded population.** The evaluated enterprises of a group, minus public utilities when
``utilities_class_t`` is on: utilities are scored against the same benchmarks but are not
ranked, take no quota place and get class T. Benchmarks are computed over the graded
population (a water works' or heat plant's figures are not a manufacturing benchmark).

**Indicator score** = weight × clamp(value / benchmark, score_floor, score_cap), where
value = scale × numerator / denominator, benchmark = scale × Σ numerator / Σ denominator
over graded enterprises having both figures (``regional``) or the published
``fixed_benchmark``. A zero denominator with a positive numerator (no emissions, no
energy use) scores the cap; with a zero numerator it scores the floor. Missing data: the
indicator's ``missing`` rule, ``zero`` or ``group_average`` (the mean score of graded
enterprises having the data; domain.md's rule for 单位排放增加值). No usable benchmark
(nobody in the group has the data) scores the floor for everyone, with the rule noted.

**Total** = Σ indicator scores, rounded to 0.01 (the precision printed); ranks compare
these rounded totals.

**Classes.** Rank = competition rank of the total within the graded group (1, 2, 2, 4).
With n graded enterprises, class boundaries are the whole numbers nearest to the
cumulative quotas (halves round up): k_A = ⌊0.20·n + ½⌋, k_B = ⌊0.75·n + ½⌋,
k_C = ⌊0.95·n + ½⌋, k_D = n. An enterprise of rank r takes the first class whose
boundary is ≥ r. **Tie rule**: equal totals share a rank, the best of their positions, so
they share the better class; a tie across a boundary therefore lets a class run over its
quota, and the next class is correspondingly smaller (nobody is pushed down because of a
tie).

**Overrides**, applied after the quota placement to the enterprise concerned only (the
places of others are not refilled): an accident in the year (一票否决) lowers A or B to
``accident_best_class`` (C); a firm in its first ``first_years`` production years
(year − production_start_year < N) or newly above size (规上 now, own revenue of the
previous year below the threshold) is not put in D: D becomes ``protected_class`` (C).
Every rule that touched a result is stored in its explanation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hggis.evaluation.model import GRADED_CLASSES, ModelParams

REASON_CODES = ("merged", "quality", "no_figures", "no_land", "below_min_land")


@dataclass
class Scored:
    frame: pd.DataFrame
    values: dict[str, np.ndarray] = field(default_factory=dict)  # group -> (rows × indicators)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    benchmarks: pd.DataFrame = field(default_factory=pd.DataFrame)


def class_boundaries(n: int, params: ModelParams) -> np.ndarray:
    """Cumulative class boundaries (in enterprises) for n graded enterprises."""
    bounds = [int(np.floor(q.cumulative * n + 0.5 + 1e-9)) for q in params.quotas[:-1]]
    return np.array([*bounds, n], dtype=np.int64)


def quota_classes(ranks: np.ndarray, n: int, params: ModelParams) -> np.ndarray:
    idx = np.searchsorted(class_boundaries(n, params), ranks, side="left")
    return np.array(GRADED_CLASSES, dtype=object)[np.minimum(idx, len(GRADED_CLASSES) - 1)]


def competition_rank(totals: np.ndarray) -> np.ndarray:
    """1 + the number of strictly better totals (equal totals share the best position)."""
    return pd.Series(totals).rank(method="min", ascending=False).to_numpy().astype(np.int64)


def _population(frame: pd.DataFrame, params: ModelParams, year: int, quality_reasons: dict[int, str]) -> pd.DataFrame:
    out = frame.copy()
    n = len(out)
    code = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)

    def mark(mask: np.ndarray, c: str, texts: np.ndarray | list[str] | str) -> None:
        todo = mask & pd.isna(code)
        code[todo] = c
        reason[todo] = np.asarray(texts, dtype=object)[todo] if not isinstance(texts, str) else texts

    merged = out["merged_into"].notna().to_numpy()
    if merged.any():
        holders = out.loc[merged, "merged_into"].astype("int64")
        texts = np.full(n, None, dtype=object)
        texts[merged] = [f"承租企业，数据并入宗地权利人 {a}（{b}）评价"
                         for a, b in zip(out.loc[holders, "name"], out.loc[holders, "credit_code"], strict=True)]
        mark(merged, "merged", texts)
    if quality_reasons:
        q = out.index.isin(list(quality_reasons))
        texts = np.full(n, None, dtype=object)
        texts[q] = [quality_reasons[int(i)] for i in out.index[q]]
        mark(q, "quality", texts)
    mark(~out["has_figures"].to_numpy(), "no_figures", f"无{year}年度经济数据")
    land = out["land_mu"].to_numpy(dtype=float)
    mark(land <= 1e-9, "no_land", "无计入评价的用地（用地面积为0）")
    low = (land < params.min_land_mu) & pd.isna(code)
    if low.any():
        texts = np.full(n, None, dtype=object)
        texts[low] = [f"用地面积 {_land_text(x, params.min_land_mu)} 亩，低于参评门槛 {params.min_land_mu:g} 亩"
                      for x in land[low]]
        mark(low, "below_min_land", texts)
    out["reason_code"] = code
    out["reason"] = reason
    out["evaluated"] = pd.isna(code)
    group_revenue = out["own_revenue"].where(out["own_revenue"].notna(), out["revenue"])
    out["size_group"] = np.where(
        out["has_figures"].to_numpy(),
        np.where(is_above(group_revenue, _declared(out, "above_size"), params), "above", "below"),
        np.full(len(out), None, dtype=object),
    )
    prev = out["prev_revenue"].to_numpy(dtype=float)
    prev_declared = _declared(out, "prev_above_size")
    prev_below = np.where(prev_declared == 0, np.isfinite(prev) & (prev < params.above_size_revenue), prev_declared == 2)
    out["newly_above"] = (out["size_group"] == "above") & prev_below
    start = out["production_start_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    age = year - start
    out["first_years"] = np.isfinite(age) & (age >= 0) & (age < params.overrides.first_years)
    return out


def _declared(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The stated 规上 status (1 on the list, 2 not, 0 not stated); 0 where the column is absent."""
    if column not in frame:
        return np.zeros(len(frame), dtype=np.int64)
    return frame[column].fillna(0).to_numpy(dtype=np.int64)


def is_above(revenue: pd.Series, declared: np.ndarray, params: ModelParams) -> np.ndarray:
    """规上 or not: the statistics bureau's list where the figures state it, else own revenue ≥ threshold.

    The list is the legal status (a firm stays 规上 for the year it was admitted even if its
    revenue dips); the revenue rule is the fallback for sheets that do not carry it.
    """
    by_revenue = revenue.to_numpy(dtype=float) >= params.above_size_revenue
    return np.where(declared == 1, True, np.where(declared == 2, False, by_revenue))


def _land_text(x: float, threshold: float) -> str:
    """Two decimals, or four (truncated) when two would print the threshold itself (2.998 → "2.9980", not "3.00")."""
    return f"{x:.2f}" if round(x, 2) < threshold else f"{np.floor(x * 1e4) / 1e4:.4f}"


def _ranking_parts(out: pd.DataFrame, graded: np.ndarray, params: ModelParams) -> list[np.ndarray]:
    """The populations ranked apart within a size group: land holders and tenants, or all together."""
    if not params.result_lists.tenants_ranked_separately or "tenant" not in out:
        return [graded]
    tenant = out["tenant"].to_numpy(dtype=bool)
    return [graded & ~tenant, graded & tenant]


def _rule(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":")) + ","


def score(
    frame: pd.DataFrame,
    params: ModelParams,
    year: int,
    quality_reasons: dict[int, str] | None = None,
) -> Scored:
    """Evaluate every listed enterprise of ``frame`` (land.Units.frame) with ``params``."""
    out = _population(frame, params, year, quality_reasons or {})
    n = len(out)
    ov = params.overrides
    rules = pd.Series([""] * n, index=out.index, dtype=object)
    total = np.full(n, np.nan)
    rank = np.full(n, np.nan)
    group_size = np.full(n, np.nan)
    quota_class = np.full(n, None, dtype=object)
    klass = np.full(n, None, dtype=object)
    values: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    bench_rows: list[dict] = []
    evaluated = out["evaluated"].to_numpy()
    utility = out["utility"].to_numpy(dtype=bool) & ov.utilities_class_t

    for group in ("above", "below"):
        inds = params.group_indicators(group)
        pop = evaluated & (out["size_group"] == group).to_numpy()
        graded = pop & ~utility
        vmat = np.full((n, len(inds)), np.nan)
        smat = np.full((n, len(inds)), np.nan)
        for j, ind in enumerate(inds):
            num = out[ind.numerator].to_numpy(dtype=float)
            den = out[ind.denominator].to_numpy(dtype=float)
            has = np.isfinite(num) & np.isfinite(den)
            in_bench = graded & has
            nsum = float(num[in_bench].sum()) if in_bench.any() else None
            dsum = float(den[in_bench].sum()) if in_bench.any() else None
            if params.benchmark_mode == "fixed":
                bench = float(ind.fixed_benchmark)  # type: ignore[arg-type]
            else:
                bench = ind.scale * nsum / dsum if nsum is not None and dsum and dsum > 0 else np.nan
            usable = np.isfinite(bench) and bench > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(has & (den > 0), ind.scale * num / np.where(den > 0, den, 1.0), np.nan)
                ratio = value / bench if usable else np.full(n, np.nan)
            zero_den = has & (den <= 0)
            ratio = np.where(zero_den, np.where(num > 0, params.score_cap, params.score_floor), ratio)
            s = ind.weight * np.clip(ratio, params.score_floor, params.score_cap)
            if not usable:
                s = np.where(has, ind.weight * params.score_floor, s)
            s = np.where(pop & has, s, np.nan)
            graded_has = graded & has & np.isfinite(s)
            average = float(s[graded_has].mean()) if graded_has.any() else None
            missing = pop & ~has
            fill = (average if average is not None else 0.0) if ind.missing == "group_average" else 0.0
            s = np.where(missing, fill, s)
            vmat[:, j] = np.where(pop, value, np.nan)
            smat[:, j] = np.where(pop, s, np.nan)
            bench_rows.append(
                {
                    "size_group": group,
                    "indicator": ind.key,
                    "position": j,
                    "mode": params.benchmark_mode,
                    "numerator_sum": nsum,
                    "denominator_sum": dsum,
                    "population": int(in_bench.sum()),
                    "benchmark": bench if usable else None,
                    "average_score": average,
                }
            )
            # explanation rules of this indicator
            if missing.any():
                if ind.missing == "group_average":
                    frag = _rule({"rule": "missing_average", "indicator": ind.key, "score": round(fill, 4)})
                else:
                    frag = _rule({"rule": "missing_zero", "indicator": ind.key})
                rules = rules.where(~missing, rules + frag)
            zd = pop & zero_den
            if zd.any():
                rules = rules.where(~zd, rules + _rule({"rule": "zero_denominator", "indicator": ind.key}))
            if not usable and pop.any():
                rules = rules.where(~pop, rules + _rule({"rule": "no_benchmark", "indicator": ind.key}))
        values[group], scores[group] = vmat, smat
        if not pop.any():
            continue
        group_total = np.round(np.nansum(smat, axis=1), 2)
        total = np.where(pop, group_total, total)
        # ranks and quota classes of the graded enterprises
        for part in _ranking_parts(out, graded, params):
            g_idx = np.flatnonzero(part)
            if len(g_idx):
                r = competition_rank(group_total[g_idx])
                rank[g_idx] = r
                group_size[g_idx] = len(g_idx)
                quota_class[g_idx] = quota_classes(r, len(g_idx), params)
    klass[:] = quota_class
    # overrides
    is_t = evaluated & utility
    klass[is_t] = "T"
    if is_t.any():
        rules = rules.where(~is_t, rules + _rule({"rule": "utility"}))
    order = {c: i for i, c in enumerate(GRADED_CLASSES)}
    if ov.accident_veto:
        best = order[ov.accident_best_class]
        hit = np.array([c in order and order[c] < best for c in klass]) & out["accident"].to_numpy(dtype=bool)
        for frm in ("A", "B"):
            m = hit & (klass == frm)
            if m.any():
                rules = rules.where(~m, rules + _rule({"rule": "accident_veto", "from": frm, "to": ov.accident_best_class}))
        klass[hit] = ov.accident_best_class
    in_d = klass == "D"
    first = in_d & out["first_years"].to_numpy(dtype=bool) & ov.first_years_not_d
    newly = in_d & out["newly_above"].to_numpy(dtype=bool) & ov.newly_above_not_d
    if first.any():
        rules = rules.where(~first, rules + _rule({"rule": "first_years", "from": "D", "to": ov.protected_class, "years": ov.first_years}))
    if newly.any():
        rules = rules.where(~newly, rules + _rule({"rule": "newly_above", "from": "D", "to": ov.protected_class}))
    klass[first | newly] = ov.protected_class

    out["total_score"] = total
    out["rank"] = pd.array(np.where(np.isfinite(rank), rank, np.nan), dtype="Float64").astype("Int64")
    out["group_size"] = pd.array(np.where(np.isfinite(group_size), group_size, np.nan), dtype="Float64").astype("Int64")
    out["quota_class"] = quota_class
    out["class_code"] = klass
    out["explanation"] = '{"rules":[' + rules.str.rstrip(",") + "]}"
    return Scored(frame=out, values=values, scores=scores, benchmarks=pd.DataFrame(bench_rows))
