"""Reading cell values as offices write them: numbers with thousands separators, dates in
several spellings, 是/否, land-use names instead of GB/T 21010 codes, status labels.

Each parser returns ``(value, None)`` or ``(None, reason)`` so a caller can list every bad
cell with its reason instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from hggis.db.models import CONTRACT_KINDS, PARCEL_STATUSES

# GB/T 21010-2017 classes seen on industrial-land files (a national standard, not local data).
LAND_USE_NAMES: dict[str, str] = {
    "工业用地": "0601",
    "工业": "0601",
    "采矿用地": "0602",
    "盐田": "0603",
    "仓储用地": "0604",
    "物流仓储用地": "0604",
    "零售商业用地": "0501",
    "批发市场用地": "0502",
    "商务金融用地": "0505",
    "其他商服用地": "0507",
    "城镇住宅用地": "0701",
    "农村宅基地": "0702",
    "机关团体用地": "0801",
    "科研用地": "0805",
    "公用设施用地": "0809",
    "公路用地": "1003",
    "城镇村道路用地": "1004",
    "交通服务场站用地": "1005",
    "空闲地": "1201",
}
STATUS_BY_LABEL: dict[str, str] = {**{v: k for k, v in PARCEL_STATUSES.items()}, **{k: k for k in PARCEL_STATUSES}}
STATUS_BY_LABEL.update({"储备": "reserve", "储备地": "reserve", "挂牌": "on_offer", "已供地": "supplied",
                        "已投产": "producing", "投产": "producing", "闲置": "idle_candidate", "收回": "recovered"})

Parsed = tuple[Any, str | None]


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:  # pandas NA / NaT
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def as_text(value: Any) -> str | None:
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_number(value: Any) -> Parsed:
    """A float from 1234.5, "1,234.5", "１２３" or " 12 "; blank is (None, None)."""
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        return None, "应为数字，实为“是/否”值"
    if isinstance(value, (int, float)):
        f = float(value)
    else:
        s = str(value).strip().translate(str.maketrans("０１２３４５６７８９．，－", "0123456789.,-"))
        s = s.replace(",", "").replace(" ", "")
        try:
            f = float(s)
        except ValueError:
            return None, f"不是数字：{value!r}"
    if not math.isfinite(f):
        return None, f"不是有限的数字：{value!r}"
    return f, None


def parse_int(value: Any) -> Parsed:
    f, err = parse_number(value)
    if err or f is None:
        return None, err
    if not float(f).is_integer():
        return None, f"应为整数，实为 {value!r}"
    return int(f), None


def parse_date(value: Any) -> Parsed:
    """2024-03-01, 2024/3/1, 20240301, 2024年3月1日, an Excel date or datetime."""
    if is_blank(value):
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    s = str(value).strip()
    m = re.match(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$", s) or re.match(r"^(\d{4})(\d{2})(\d{2})$", s)
    if not m:
        return None, f"不是日期：{value!r}（请写作 2024-03-01）"
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None
    except ValueError:
        return None, f"没有这一天：{value!r}"


def parse_bool(value: Any) -> Parsed:
    if is_blank(value):
        return None, None
    s = str(value).strip().lower()
    if s in ("是", "有", "y", "yes", "true", "1", "√"):
        return True, None
    if s in ("否", "无", "n", "no", "false", "0", "×"):
        return False, None
    return None, f"请填写“是”或“否”，而不是 {value!r}"


def parse_land_use(value: Any) -> Parsed:
    """A 4-digit GB/T 21010 code from "0601", 601, "0601 工业用地" or "工业用地"."""
    s = as_text(value)
    if s is None:
        return None, None
    m = re.match(r"^(\d{3,4})\b", s)
    if m:
        return m.group(1).zfill(4), None
    name = s.strip()
    if name in LAND_USE_NAMES:
        return LAND_USE_NAMES[name], None
    return None, f"地类 {value!r} 不是 GB/T 21010 编码或可识别的地类名称（例如 0601 工业用地）"


def parse_status(value: Any) -> Parsed:
    s = as_text(value)
    if s is None:
        return None, None
    if s in STATUS_BY_LABEL:
        return STATUS_BY_LABEL[s], None
    return None, f"无法识别的状态 {value!r}（可选：{'、'.join(PARCEL_STATUSES.values())}）"


def parse_contract_kind(value: Any) -> Parsed:
    s = as_text(value)
    if s is None:
        return None, None
    if s in CONTRACT_KINDS:
        return s, None
    return None, f"供地方式 {value!r} 无法识别（可选：{'、'.join(CONTRACT_KINDS)}）"
