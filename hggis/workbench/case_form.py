"""The forms of an idle-land case page: one form per step the procedure allows next.

Which steps are allowed, and everything a step checks (dates, documents, deadlines, the
disposal allowed for the case's basis), is decided by ``hggis.idle.cases``; this module
only reads the submitted fields into the arguments of ``transition`` with Chinese
messages for input that is not a date or a number, and says which extra fields each
step's form shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from hggis.idle.cases import DISPOSAL_LABELS, Document

# Extra fields of a step's form beyond date, reason and document: name -> (label, kind).
STEP_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "issue_finding": {"idle_since": ("闲置起算日（可空，由合同和现场数据推算）", "date")},
    "decide_disposal": {
        "kind": ("处置方式", "disposal"),
        "new_start_date": ("新的动工开发日期（延期、调整用途、临时使用时必填）", "date"),
        "new_completion_date": ("新的竣工日期（可空）", "date"),
        "temporary_use_until": ("临时使用截止日期（临时使用时必填）", "date"),
        "swap_parcel_code": ("置换宗地代码（置换土地时）", "text"),
        "compensation": ("补偿金额（万元，协议有偿收回时）", "decimal"),
    },
    "reoffer": {
        "investment_intensity": ("固定资产投资强度（万元/亩）", "decimal"),
        "tax_per_mu": ("亩均税收（万元/亩，可空）", "decimal"),
        "far_min": ("容积率下限（可空）", "decimal"),
    },
    "close": {"paid_on": ("土地闲置费缴纳日期（可空）", "date")},
}
DOCUMENT_HINTS: dict[str, str] = {
    "issue_notice": "闲置土地调查通知书",
    "issue_finding": "闲置土地认定书",
    "publish": "公告",
    "decide_disposal": "处置决定书或补充协议",
    "record_recovery": "收回国有建设用地使用权决定书",
    "to_reserve": "纳入储备通知",
    "reoffer": "出让公告",
    "close": "结案报告",
    "close_not_idle": "调查结论",
}
INDICATOR_KEYS = ("investment_intensity", "tax_per_mu", "far_min")
DISPOSAL_CHOICES = list(DISPOSAL_LABELS.items())


@dataclass
class StepInput:
    """A step as submitted: arguments for ``transition``, or errors per field."""

    action: str
    values: dict[str, str]
    on: dt.date | None = None
    reason: str = ""
    documents: list[Document] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _date(raw: str) -> dt.date:
    return dt.date.fromisoformat(raw.strip())


def read_step(action: str, form: dict[str, str]) -> StepInput:
    values = {k: (form.get(k) or "").strip()[:500] for k in
              ("on", "reason", "doc_kind", "doc_number", "doc_date", *STEP_FIELDS.get(action, {}))}
    step = StepInput(action, values, reason=values["reason"])
    try:
        step.on = _date(values["on"])
    except ValueError:
        step.errors["on"] = "请填写日期（年-月-日），即该步骤实际发生的日期"
    if len(step.reason) < 2:
        step.errors["reason"] = "请填写办理意见或理由（至少 2 个字），将记入案卷"
    if values["doc_kind"] or values["doc_number"]:
        if not values["doc_kind"]:
            step.errors["doc_kind"] = "请填写文书种类"
        if not values["doc_number"]:
            step.errors["doc_number"] = "请填写文号"
        doc_date = None
        if values["doc_date"]:
            try:
                doc_date = _date(values["doc_date"])
            except ValueError:
                step.errors["doc_date"] = "日期格式应为 年-月-日"
        if not step.errors.get("doc_kind") and not step.errors.get("doc_number"):
            step.documents.append(Document(values["doc_kind"], values["doc_number"], doc_date))
    indicators: dict[str, Any] = {}
    for name, (_label, kind) in STEP_FIELDS.get(action, {}).items():
        raw = values[name]
        if not raw:
            continue
        try:
            if kind == "date":
                value: Any = _date(raw)
            elif kind == "decimal":
                value = Decimal(raw.replace(",", ""))
                if not value.is_finite() or value < 0:
                    raise InvalidOperation
            elif kind == "disposal":
                if raw not in DISPOSAL_LABELS:
                    raise ValueError
                value = raw
            else:
                value = raw.upper()
        except (ValueError, InvalidOperation):
            step.errors[name] = {"date": "日期格式应为 年-月-日", "decimal": "应为不小于 0 的数字"}.get(kind, "请从列表中选择")
            continue
        if action == "reoffer" and name in INDICATOR_KEYS:
            indicators[name] = value
        else:
            step.params[name] = value
    if indicators:
        step.params["indicators"] = indicators
    return step


def field_for_message(action: str, message: str) -> str:
    """The form field a refusal of ``transition`` is about (its message names it), else the form."""
    if "文书" in message:
        return "doc_kind"
    for name in STEP_FIELDS.get(action, {}):
        if name in message:
            return name
    if ("日期" in message and "早于" in message) or "今天之后" in message:
        return "on"
    if "reason" in message:
        return "reason"
    return "_form"
