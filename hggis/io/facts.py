"""Development facts of a parcel (批后监管): what happened on the land after it was supplied.

One list of the facts, their kinds and the headers offices write, used by the parcels
import (extra mapped columns) and by the development-facts sheet keyed by 宗地代码
(``hggis.io.facts_import``). Areas are m² (建筑占地, 总建筑面积), money 万元 (the header's unit
converts), dates any form ``hggis.io.values.parse_date`` reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hggis.io import values as V

#: field → kind (date, area_m2, money, text)
FACT_KINDS: dict[str, str] = {
    "delivered_on": "date",
    "started_on": "date",
    "halted_since": "date",
    "completed_on": "date",
    "production_stopped_since": "date",
    "built_footprint_m2": "area_m2",
    "floor_area_m2": "area_m2",
    "investment_to_date": "money",
    "supervision_no": "text",
}
FACT_FIELDS = tuple(FACT_KINDS)
FACT_SQL_TYPES = {f: {"date": "date", "area_m2": "double precision", "money": "numeric(14, 2)", "text": "text"}[k]
                  for f, k in FACT_KINDS.items()}
FACT_LABELS: dict[str, str] = {
    "delivered_on": "交地日期",
    "started_on": "实际开工日期",
    "halted_since": "停工日期",
    "completed_on": "竣工日期",
    "production_stopped_since": "停产日期",
    "built_footprint_m2": "建筑占地面积（m²）",
    "floor_area_m2": "总建筑面积（m²）",
    "investment_to_date": "累计完成投资（万元）",
    "supervision_no": "合同电子监管号",
}
FACT_HEADERS: dict[str, list[str]] = {
    "delivered_on": ["交地日期", "交地时间", "交地确认日期", "JDRQ", "delivered_on"],
    "started_on": ["实际开工日期", "开工日期", "动工日期", "实际动工日期", "KGRQ", "started_on"],
    "halted_since": ["停工日期", "中止开发日期", "停建日期", "halted_since"],
    "completed_on": ["竣工日期", "实际竣工日期", "JGRQ", "completed_on"],
    "production_stopped_since": ["停产日期", "production_stopped_since"],
    "built_footprint_m2": ["建筑占地面积", "建筑基底面积", "已建面积", "built_footprint_m2"],
    "floor_area_m2": ["总建筑面积", "建筑面积", "JZMJ", "floor_area_m2"],
    "investment_to_date": ["累计完成投资", "已完成投资", "已投资额", "investment_to_date"],
    "supervision_no": ["合同电子监管号", "电子监管号", "监管号", "JGH", "supervision_no"],
}

#: users beside the holder, listed in a parcels file (hggis.io.parcel_occupants)
OCCUPANT_HEADERS: dict[str, list[str]] = {
    "occupant_code": ["承租企业统一社会信用代码", "承租企业信用代码", "用地企业信用代码", "occupant_code"],
    "occupant_share": ["承租份额", "用地企业份额", "occupant_share"],
    "occupant_name": ["承租企业", "承租企业名称", "用地企业名称", "occupant_name"],
}


def _area(value: Any) -> V.Parsed:
    number, why = V.parse_number(value)
    if why is None and number is not None and number < 0:
        return None, "不能为负数"
    return number, why


def _text(value: Any) -> V.Parsed:
    return V.as_text(value), None


FACT_PARSERS: dict[str, Callable[[Any], V.Parsed]] = {
    "date": V.parse_date,
    "area_m2": _area,
    "money": V.parse_number,
    "text": _text,
}
