"""Chinese labels of the fields people see on pages, in history and in downloads."""

from __future__ import annotations

from hggis.db.models import PARCEL_STATUSES
from hggis.occupancies import ROLE_LABELS

PARCEL_FIELDS: dict[str, str] = {
    "code": "宗地代码",
    "status": "状态",
    "park_id": "园区",
    "adcode": "县（市、区）",
    "land_use": "地类（GB/T 21010）",
    "holder_id": "使用权人",
    "intended_industry": "意向产业",
    "contract_kind": "供地方式",
    "contract_no": "合同（决定书）编号",
    "contract_signed_on": "合同签订日期",
    "land_price": "出让（划拨）价款（万元）",
    "agreed_start_date": "约定动工日期",
    "agreed_completion_date": "约定竣工日期",
    "planned_investment": "约定总投资（万元）",
    "started_on": "实际动工日期",
    "built_footprint_m2": "已建基底面积（平方米）",
    "investment_to_date": "已完成投资（万元）",
    "halted_since": "停工日期",
    "completed_on": "竣工日期",
    "production_stopped_since": "停产日期",
    "floor_area_m2": "总建筑面积（平方米）",
    "delivered_on": "交地日期",
    "supervision_no": "合同电子监管号",
    "parent_codes": "来源宗地",
    "retired_at": "注销时间",
    "geom": "界址（几何）",
    "area_mu": "面积（亩）",
}
INDICATOR_FIELDS: dict[str, str] = {
    "investment_intensity": "固定资产投资强度（万元/亩）",
    "far_min": "容积率下限",
    "far_max": "容积率上限",
    "tax_per_mu": "亩均税收（万元/亩）",
    "output_intensity": "产出强度（万元/亩）",
    "energy_per_output": "单位产出能耗（吨标准煤/万元）",
    "environment_standard": "环境标准",
    "building_coverage_min": "建筑系数下限（%）",
    "green_ratio_max": "绿地率上限（%）",
    "admin_ratio_max": "行政办公及生活服务设施用地比例上限（%）",
    "construction_months": "建设期（月）",
    "production_months": "投产期（月）",
}
OCCUPANCY_FIELDS: dict[str, str] = {
    "enterprise_id": "使用企业",
    "share": "使用份额",
    "role": "使用方式",
    "floor_area_m2": "使用建筑面积（平方米）",
    "valid_from": "起始日期",
    "valid_to": "终止日期",
}
TABLE_LABELS: dict[str, str] = {
    "parcels": "宗地",
    "control_indicators": "控制指标",
    "occupancies": "用地企业",
    "patrols": "巡查记录",
}
ACTION_LABELS: dict[str, str] = {"insert": "新增", "update": "修改", "delete": "删除"}
ROLE_IN_PARCEL = ROLE_LABELS
# Bookkeeping columns that change on every write and say nothing to a reader.
SILENT_FIELDS = frozenset({"version", "updated_at", "id", "parcel_id", "area_mu"})


def status_label(code: str | None) -> str:
    return PARCEL_STATUSES.get(code or "", code or "")


PATROL_FIELDS: dict[str, str] = {"stage": "现场情况", "note": "说明"}


def field_label(table: str, field: str) -> str:
    labels = {"parcels": PARCEL_FIELDS, "control_indicators": INDICATOR_FIELDS, "occupancies": OCCUPANCY_FIELDS,
              "patrols": PATROL_FIELDS}
    return labels.get(table, {}).get(field, field)
