"""The officer's parcel edit form: typed input with Chinese messages per field, then update_parcel.

Only fields whose value differs from the version the officer saw are sent, so the history
records real changes. The checks of the edit itself (scope, version, status needs a reason,
park in the parcel's county, …) stay in ``hggis.parcel_edits.update_parcel``; a refusal
from there is shown beside the field it names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hggis.access.policy import Principal
from hggis.identifiers import InvalidIdentifier, validate_credit_code
from hggis.inputs import is_ascii_digits
from hggis.parcel_edits import EDITABLE, StaleVersion, update_parcel
from hggis.parcels import InvalidParcel
from hggis.workbench.labels import PARCEL_FIELDS

# The form's fields in display order: (form name, parcel column, input kind).
FORM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("status", "status", "choice"),
    ("park_id", "park_id", "choice"),
    ("land_use", "land_use", "land_use"),
    ("holder_credit_code", "holder_id", "credit_code"),
    ("intended_industry", "intended_industry", "choice"),
    ("contract_kind", "contract_kind", "choice"),
    ("contract_no", "contract_no", "text"),
    ("contract_signed_on", "contract_signed_on", "date"),
    ("land_price", "land_price", "decimal"),
    ("agreed_start_date", "agreed_start_date", "date"),
    ("agreed_completion_date", "agreed_completion_date", "date"),
    ("planned_investment", "planned_investment", "decimal"),
    ("started_on", "started_on", "date"),
    ("built_footprint_m2", "built_footprint_m2", "float"),
    ("investment_to_date", "investment_to_date", "decimal"),
    ("halted_since", "halted_since", "date"),
    ("completed_on", "completed_on", "date"),
    ("production_stopped_since", "production_stopped_since", "date"),
    ("delivered_on", "delivered_on", "date"),
    ("floor_area_m2", "floor_area_m2", "float"),
    ("supervision_no", "supervision_no", "text"),
)
assert {c for _, c, _ in FORM_FIELDS} <= set(EDITABLE)
LABELS = {name: ("使用权人统一社会信用代码" if name == "holder_credit_code" else PARCEL_FIELDS[col])
          for name, col, _ in FORM_FIELDS}
MAX_TEXT = 200


@dataclass
class EditOutcome:
    """What happened to a submitted edit: saved (new version), refused with messages, or stale."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    stale: StaleVersion | None = None
    new_version: int | None = None
    changed: list[str] = field(default_factory=list)

    @property
    def saved(self) -> bool:
        return self.new_version is not None


def form_values(parcel: dict[str, Any]) -> dict[str, str]:
    """The parcel's current values as the form shows them."""
    out: dict[str, str] = {}
    for name, col, _ in FORM_FIELDS:
        value = parcel.get("holder_credit_code") if name == "holder_credit_code" else parcel.get(col)
        out[name] = "" if value is None else str(value)
    return out


def _parse(kind: str, raw: str, conn: Connection) -> Any:
    """One field's value, or ValueError with the Chinese reason."""
    raw = raw.strip()
    if raw == "":
        return None
    if len(raw) > MAX_TEXT:
        raise ValueError(f"不能超过 {MAX_TEXT} 个字符")
    if kind == "date":
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError("日期格式应为 年-月-日，例如 2024-03-01") from None
    if kind in ("decimal", "float"):
        try:
            number = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            raise ValueError("应为数字") from None
        if not number.is_finite() or number < 0:
            raise ValueError("应为不小于 0 的数字")
        return float(number) if kind == "float" else number
    if kind == "credit_code":
        try:
            code = validate_credit_code(raw)
        except (InvalidIdentifier, ValueError) as exc:
            raise ValueError(f"统一社会信用代码无效：{exc}") from None
        if conn.execute(text("SELECT 1 FROM enterprises WHERE credit_code = :c"), {"c": code}).first() is None:
            raise ValueError("系统中没有该统一社会信用代码的企业，请先登记企业")
        return code  # update_parcel resolves it: a holder named by credit code
    if kind == "land_use":
        if not (len(raw) == 4 and is_ascii_digits(raw)):
            raise ValueError("地类应为 GB/T 21010 的四位编码，例如 0601（工业用地）")
        return raw
    if kind == "choice" and is_ascii_digits(raw):
        return int(raw)
    return raw


def _same(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is None and new is None
    if isinstance(new, (Decimal, float, int)) and not isinstance(new, bool):
        try:
            return Decimal(str(old)) == Decimal(str(new))
        except InvalidOperation:
            return False
    return str(old) == str(new)


def _field_of(message: str) -> str | None:
    """The form field a service message is about (messages start with the column name)."""
    head = message.split(":", 1)[0].strip()
    for name, col, _ in FORM_FIELDS:
        if head in (col, name):
            return name
    return None


def submit_edit(
    conn: Connection,
    principal: Principal,
    parcel: dict[str, Any],
    submitted: dict[str, str],
    version: int,
    reason: str,
) -> EditOutcome:
    """Parse the form, send the changed fields to update_parcel; errors come back per field."""
    outcome = EditOutcome(values={name: submitted.get(name, "") for name, _, _ in FORM_FIELDS})
    outcome.values["reason"] = reason
    if not reason.strip():
        outcome.errors["reason"] = "请填写修改原因（将记入变更历史）"
    elif len(reason) > 500:
        outcome.errors["reason"] = "修改原因不能超过 500 个字符"
    changes: dict[str, Any] = {}
    for name, col, kind in FORM_FIELDS:
        try:
            value = _parse(kind, outcome.values[name], conn)
        except ValueError as exc:
            outcome.errors[name] = str(exc)
            continue
        if kind == "credit_code":
            if value is not None and not _same(parcel.get("holder_credit_code"), value):
                changes["holder_credit_code"] = value
            elif value is None and parcel.get(col) is not None:
                changes[col] = None
        elif not _same(parcel.get(col), value):
            changes[col] = value
    if not changes and not outcome.errors:
        outcome.errors["_form"] = "没有修改任何字段"
    if outcome.errors:
        return outcome
    try:
        with conn.begin_nested():  # a refusal by the database leaves the transaction usable
            outcome.new_version = update_parcel(conn, principal, parcel["code"], changes, version, reason.strip())
        outcome.changed = [LABELS["holder_credit_code"] if c == "holder_credit_code" else PARCEL_FIELDS[c]
                           for c in changes]
    except StaleVersion as exc:
        outcome.stale = exc
    except InvalidParcel as exc:
        message = str(exc)
        where = _field_of(message) or (_field_of(exc.field) if exc.field else None) or "_form"
        outcome.errors[where] = f"未保存：{message}"
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or "约束"
        outcome.errors["_form"] = f"未保存：数据库拒绝了这次修改（违反 {constraint}），请核对填写的内容"
    return outcome
