"""Chinese labels of the fields the OGC collections show (for the HTML pages)."""

from __future__ import annotations

FIELD_LABELS: dict[str, str] = {
    "adcode": "行政区划代码",
    "name": "名称",
    "has_boundary": "有独立边界",
    "id": "编号",
    "county": "县市区",
    "level": "级别",
    "industry": "主导产业",
    "leading_industries": "主导产业（细分）",
    "area_mu": "面积（亩）",
    "contact_office": "联系部门",
    "code": "宗地代码",
    "status": "状态",
    "status_label": "状态说明",
    "park_id": "园区编号",
    "park": "园区",
    "land_use": "用途代码",
    "intended_industry": "拟引产业",
    "holder_id": "权利人编号",
    "holder": "权利人",
    "holder_credit_code": "统一社会信用代码",
    "contract_kind": "供地方式",
    "contract_no": "合同编号",
    "land_price": "土地价款（万元）",
    "agreed_start_date": "约定开工日期",
    "agreed_completion_date": "约定竣工日期",
    "planned_investment": "计划投资（万元）",
    "started_on": "实际开工日期",
    "built_footprint_m2": "建筑基底面积（m²）",
    "investment_to_date": "已完成投资（万元）",
    "halted_since": "停工起始日期",
    "completed_on": "竣工日期",
    "production_stopped_since": "停产起始日期",
    "parent_codes": "来源宗地",
    "version": "版本",
    "updated_at": "更新时间",
}


def label(field: str) -> str:
    return FIELD_LABELS.get(field, field)
