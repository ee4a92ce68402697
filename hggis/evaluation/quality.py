"""Data-quality report of a year's figures, checked before anything is scored.

Each finding names the enterprise, the field, the value and the reason. The model's
``quality.blocking`` list says which checks block a run; by default the impossible ones:

- ``negative``: a figure below zero;
- ``tax_gt_revenue``: tax paid above main-business revenue;
- ``va_gt_output``: value added above gross output;
- ``employees_zero_with_output``: output reported with zero employees;
- ``duplicate_entity``: two enterprises whose credit codes share the 主体标识码
  (characters 9–17, the national organisation code, GB 32100-2015). The database already
  refuses two equal credit codes, so a "duplicate credit code" that reaches us is the same
  legal entity registered twice under different registration-authority/region prefixes:
  its figures would be counted twice.

Warnings (listed, never blocking by default): ``duplicate_name`` (same name, different
codes), ``missing`` (a figure an indicator needs is empty) and ``outlier`` (an indicator
value whose robust z-score on the log scale, |ln v − median| / (1.4826 · MAD), exceeds
``quality.outlier_mad_k`` within its size group; computed on the evaluated units after
merging, so it runs after scoring and can never change a result).

A run refuses to start while blocking findings exist unless told to proceed; then the
enterprises concerned are listed as not evaluated with the findings as the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hggis.evaluation.land import FIGURE_COLUMNS
from hggis.evaluation.model import FIGURES, GROUP_LABELS, QUALITY_CHECKS, ModelParams

ISSUE_COLUMNS = ("enterprise_id", "credit_code", "name", "adcode", "park_id", "check_code", "field", "value", "reason", "blocking")


@dataclass
class QualityReport:
    issues: pd.DataFrame  # ISSUE_COLUMNS

    @property
    def blocking(self) -> pd.DataFrame:
        return self.issues[self.issues["blocking"]]

    @property
    def blocking_ids(self) -> set[int]:
        return {int(i) for i in self.blocking["enterprise_id"]}

    def reasons(self) -> dict[int, str]:
        """Enterprise -> the blocking findings, as one Chinese sentence."""
        out: dict[int, list[str]] = {}
        for eid, reason in zip(self.blocking["enterprise_id"], self.blocking["reason"], strict=True):
            out.setdefault(int(eid), []).append(reason)
        return {k: "数据质量问题：" + "；".join(v) for k, v in out.items()}

    def summary(self) -> dict[str, object]:
        counts = self.issues.groupby(["check_code", "blocking"]).size()
        return {
            "issues": int(len(self.issues)),
            "blocking_issues": int(self.issues["blocking"].sum()),
            "blocking_enterprises": len(self.blocking_ids),
            "by_check": {f"{c}{'(blocking)' if b else ''}": int(n) for (c, b), n in counts.items()},
        }

    def extend(self, more: pd.DataFrame) -> QualityReport:
        if more.empty:
            return self
        return QualityReport(pd.concat([self.issues, more], ignore_index=True))


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if np.isfinite(x) else str(x)


def _issues(firms: pd.DataFrame, mask: pd.Series, code: str, field: str, values: Iterable[str],
            reasons: Iterable[str], params: ModelParams) -> pd.DataFrame:
    sel = firms[mask]
    return pd.DataFrame(
        {
            "enterprise_id": sel.index.astype("int64"),
            "credit_code": sel["credit_code"].to_numpy(),
            "name": sel["name"].to_numpy(),
            "adcode": sel["adcode"].to_numpy(),
            "park_id": sel["park_id"].to_numpy(),
            "check_code": code,
            "field": field,
            "value": list(values),
            "reason": list(reasons),
            "blocking": code in params.quality.blocking,
        }
    )


def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ISSUE_COLUMNS}).astype({"blocking": bool})


def check_figures(firms: pd.DataFrame, params: ModelParams) -> QualityReport:
    """The pre-scoring checks on the enterprises' own figures of the year."""
    parts: list[pd.DataFrame] = []
    rep = firms[firms["has_figures"]]
    for col in FIGURE_COLUMNS:
        m = rep[col] < 0
        if m.any():
            label, unit = FIGURES[col]
            vals = rep.loc[m, col]
            parts.append(_issues(rep, m, "negative", col, vals.map(_fmt),
                                 [f"{label}为负（{_fmt(v)} {unit}）" for v in vals], params))
    m = rep["tax_paid"] > rep["revenue"]
    if m.any():
        sub = rep[m]
        parts.append(_issues(rep, m, "tax_gt_revenue", "tax_paid", sub["tax_paid"].map(_fmt),
                             [f"税收 {_fmt(t)} 万元大于营业收入 {_fmt(r)} 万元" for t, r in zip(sub["tax_paid"], sub["revenue"], strict=True)],
                             params))
    m = rep["value_added"] > rep["output"]
    if m.any():
        sub = rep[m]
        parts.append(_issues(rep, m, "va_gt_output", "value_added", sub["value_added"].map(_fmt),
                             [f"工业增加值 {_fmt(v)} 万元大于工业总产值 {_fmt(o)} 万元" for v, o in zip(sub["value_added"], sub["output"], strict=True)],
                             params))
    m = (rep["employees"] == 0) & (rep["output"] > 0)
    if m.any():
        sub = rep[m]
        parts.append(_issues(rep, m, "employees_zero_with_output", "employees", ["0"] * int(m.sum()),
                             [f"工业总产值 {_fmt(o)} 万元，但年均职工人数为0" for o in sub["output"]], params))
    body = firms["credit_code"].str[8:17]
    m = body.duplicated(keep=False)
    if m.any():
        groups = firms[m].groupby(body[m])["credit_code"].apply(list)
        others = [", ".join(c for c in groups[b] if c != code) for b, code in zip(body[m], firms.loc[m, "credit_code"], strict=True)]
        parts.append(_issues(firms, m, "duplicate_entity", "credit_code", firms.loc[m, "credit_code"],
                             [f"主体标识码 {b} 与 {o} 重复（同一主体重复登记，数据会重复计算）" for b, o in zip(body[m], others, strict=True)],
                             params))
    names = firms["name"].str.strip()
    m = names.duplicated(keep=False)
    if m.any():
        parts.append(_issues(firms, m, "duplicate_name", "name", names[m],
                             [f"企业名称“{n}”与其他统一社会信用代码重名" for n in names[m]], params))
    above = rep["revenue"] >= params.above_size_revenue
    for group, gmask in (("above", above), ("below", ~above)):
        for ind in params.group_indicators(group):
            for col in (ind.numerator, ind.denominator):
                if col == "land_mu":
                    continue
                m = gmask & rep[col].isna()
                if m.any():
                    rule = "按同组平均得分计" if ind.missing == "group_average" else "该项不得分"
                    parts.append(_issues(rep, m, "missing", col, [""] * int(m.sum()),
                                         [f"{GROUP_LABELS[group]}指标“{ind.label}”所需的{FIGURES[col][0]}缺失，{rule}"] * int(m.sum()),
                                         params))
    issues = pd.concat(parts, ignore_index=True) if parts else empty_issues()
    issues = issues.drop_duplicates(["enterprise_id", "check_code", "field"]).reset_index(drop=True)
    return QualityReport(issues)


def outliers(scored: pd.DataFrame, values: dict[str, np.ndarray], params: ModelParams) -> pd.DataFrame:
    """Outlier warnings among evaluated units, per size group and indicator (log-scale robust z)."""
    k = params.quality.outlier_mad_k
    parts: list[pd.DataFrame] = []
    for group in ("above", "below"):
        rows = scored.index[(scored["size_group"] == group) & scored["evaluated"]]
        if len(rows) < params.quality.outlier_min_population:
            continue
        matrix = values[group]
        pos = scored.index.get_indexer(rows)
        for j, ind in enumerate(params.group_indicators(group)):
            v = matrix[pos, j]
            ok = np.isfinite(v) & (v > 0)
            if ok.sum() < params.quality.outlier_min_population:
                continue
            logs = np.log(v[ok])
            med = float(np.median(logs))
            mad = float(np.median(np.abs(logs - med))) * 1.4826
            if mad <= 0:
                continue
            z = np.full(len(v), 0.0)
            z[ok] = np.abs(np.log(np.where(ok, v, 1.0))[ok] - med) / mad
            hit = z > k
            if not hit.any():
                continue
            sel = scored.loc[rows[hit]]
            median_v = float(np.exp(med))
            reasons = [
                f"{GROUP_LABELS[group]}“{ind.label}” {_fmt(x)} {ind.unit}，"
                f"{'远高于' if x > median_v else '远低于'}同组中位数 {_fmt(median_v)}（稳健z={zz:.1f}）"
                for x, zz in zip(v[hit], z[hit], strict=True)
            ]
            parts.append(
                pd.DataFrame(
                    {
                        "enterprise_id": sel.index.astype("int64"),
                        "credit_code": sel["credit_code"].to_numpy(),
                        "name": sel["name"].to_numpy(),
                        "adcode": sel["adcode"].to_numpy(),
                        "park_id": sel["park_id"].to_numpy(),
                        "check_code": "outlier",
                        "field": ind.key,
                        "value": [_fmt(x) for x in v[hit]],
                        "reason": reasons,
                        "blocking": False,  # found after scoring: it can never block
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else empty_issues()


def check_labels() -> dict[str, str]:
    return dict(QUALITY_CHECKS)
