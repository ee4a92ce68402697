"""The form that derives a new evaluation model version from an existing one.

A model version is never edited (hggis.evaluation.model): an administrator changes a few
values of a base version and stores the result as a new version. This module turns the
form into the dotted-path changes ``derive_params`` applies, with Chinese messages per
field for values that are not numbers; whether the result is a valid model is decided by
``parse_params`` inside ``create_model``.
"""

from __future__ import annotations

from typing import Any

from hggis.evaluation.model import ModelParams
from hggis.inputs import is_ascii_digits
from hggis.workbench.words import plain_text

MODEL_FORM_ERRORS = "未保存：{}"
QUOTA_CLASSES = ("A", "B", "C")  # D always ends at 1.0
SCALARS: dict[str, tuple[str, type]] = {
    "score_cap": ("得分封顶倍数（×权重）", float),
    "score_floor": ("得分下限倍数", float),
    "min_land_mu": ("参评用地门槛（亩）", float),
    "above_size_revenue": ("规上企业营业收入标准（万元）", float),
}
CHOICES: dict[str, tuple[str, dict[str, str]]] = {
    "benchmark_mode": ("基准值", {"regional": "本组区域平均（Σ分子/Σ分母）", "fixed": "固定公布值"}),
    "lessee_rule": ("承租企业", {"merge_into_holder": "并入宗地权利人评价", "own_share": "按自身份额单独评价"}),
}
OVERRIDE_FLAGS: dict[str, str] = {
    "accident_veto": "发生安全或环境事故一票否决",
    "first_years_not_d": "投产初期企业不列入 D 类",
    "newly_above_not_d": "新上规企业不列入 D 类",
    "utilities_class_t": "公用事业企业不分类（T 类）",
}
MISSING: dict[str, str] = {"zero": "缺数据不得分", "group_average": "缺数据按本组平均得分"}


def model_form_values(base: dict[str, Any], params: ModelParams) -> dict[str, str]:
    """The form prefilled from the base version (a new name and the same validity)."""
    v: dict[str, str] = {
        "name": f"{plain_text(base['name'])}（修订）",
        "valid_from": str(base["valid_from"]),
        "valid_to": "" if base["valid_to"] is None else str(base["valid_to"]),
        "note": "",
    }
    for key in SCALARS:
        v[key] = f"{getattr(params, key):g}"
    for key in CHOICES:
        v[key] = getattr(params, key)
    for q in params.quotas[:3]:
        v[f"quota_{q.class_code}"] = f"{q.cumulative:g}"
    for group in ("above", "below"):
        for i, ind in enumerate(params.group_indicators(group)):
            v[f"weight_{group}_{i}"] = f"{ind.weight:g}"
            v[f"missing_{group}_{i}"] = ind.missing
    for key in OVERRIDE_FLAGS:
        v[f"override_{key}"] = "1" if getattr(params.overrides, key) else ""
    v["override_first_years"] = str(params.overrides.first_years)
    return v


def _number(raw: str, kind: type) -> Any:
    value = kind(raw.strip().replace(",", ""))
    if value != value or value in (float("inf"), float("-inf")):  # NaN, infinity
        raise ValueError
    return value


def model_changes(form: dict[str, str], params: ModelParams) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(dotted-path changes, name/validity/note, errors per field) from the submitted form."""
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    meta: dict[str, Any] = {"name": form.get("name", "").strip(), "note": form.get("note", "").strip() or None}
    if not meta["name"]:
        errors["name"] = "请填写新版本的名称"
    for key, label in (("valid_from", "起始年度"), ("valid_to", "截止年度")):
        raw = form.get(key, "").strip()
        if not raw and key == "valid_to":
            meta[key] = None
            continue
        if not is_ascii_digits(raw) or not 1990 <= int(raw) <= 2100:
            errors[key] = f"{label}应为 1990–2100 之间的年份"
        else:
            meta[key] = int(raw)

    def take(field: str, path: str, kind: type, current: Any) -> None:
        raw = form.get(field, "")
        try:
            value = _number(raw, kind)
        except ValueError:
            errors[field] = "应为数字" if kind is float else "应为整数"
            return
        if value != current:
            changes[path] = value

    for key, (_label, kind) in SCALARS.items():
        take(key, key, kind, getattr(params, key))
    for key, (_label, allowed) in CHOICES.items():
        value = form.get(key, getattr(params, key))
        if value not in allowed:
            errors[key] = "请选择列表中的一项"
        elif value != getattr(params, key):
            changes[key] = value
    for i, q in enumerate(params.quotas[:3]):
        take(f"quota_{q.class_code}", f"quotas.{i}.cumulative", float, q.cumulative)
    for group in ("above", "below"):
        for i, ind in enumerate(params.group_indicators(group)):
            take(f"weight_{group}_{i}", f"indicators.{group}.{i}.weight", float, ind.weight)
            missing = form.get(f"missing_{group}_{i}", ind.missing)
            if missing not in MISSING:
                errors[f"missing_{group}_{i}"] = "请选择列表中的一项"
            elif missing != ind.missing:
                changes[f"indicators.{group}.{i}.missing"] = missing
    for key in OVERRIDE_FLAGS:
        on = form.get(f"override_{key}") == "1"
        if on != getattr(params.overrides, key):
            changes[f"overrides.{key}"] = on
    take("override_first_years", "overrides.first_years", int, params.overrides.first_years)
    return changes, meta, errors
