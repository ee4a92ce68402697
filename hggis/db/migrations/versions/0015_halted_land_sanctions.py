"""Halted land at the holder's fault gets the 第十四条 sanctions; the default rule texts re-checked.

Land that was started, then halted with less than 1/3 of the area built or less than 25 % of
the investment made (第二条第二款), is idle land. Migration 0005 gave it only the negotiated
options of 第十二条 (no 土地闲置费, no recovery whatever the cause), so a holder who dug one
trench and stopped for years was never sanctioned. The product's reading (domain.md §6,
issue 12) is that 第十四条 ("除本办法第八条规定情形外，闲置土地按照下列方式处理") covers
all idle land except the 第八条 government causes: halted one full year → 20 % fee,
halted two full years → recovery without compensation.

This is a correction of the default data, not a new law, so the default rule set (in force
from 2012-07-01) is updated in place; the history triggers record the change. Rule sets a
city administrator created keep their own choice: the scan proposes the fee and the
recovery for halted land only when ``disposals_halted`` lists them, so either reading of
the 办法 is one rule-set version away.

- ``idle_rule_sets.halted_recovery_years`` (default 2): full years of halting after which
  recovery without compensation is proposed (the halted counterpart of ``recovery_years``);
- the default set's ``disposals_halted`` becomes the 第十四条 pair;
- rule ``idle_halted_2y`` (halted two full years) is added to every rule set's catalogue
  (it fires only where the set allows recovery for halted land);
- legal texts of the default catalogue re-checked against the 办法 article by article
  (hearing right 第十五条 before either sanction, 30-day payment/deregistration 第十七条,
  mortgagee notice 第十三条, 土地管理法 article numbering).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DEFAULT_SET = "闲置土地处置办法（国土资源部令第53号）默认规则"
SANCTIONS = ["fee_collected", "recovery_without_compensation"]
NEGOTIATED = ["extension", "change_of_use", "temporary_use", "paid_recovery", "land_swap"]

A = "《闲置土地处置办法》（国土资源部令第53号）"
HALTED_DEF = (
    A + "第二条第二款：已动工开发但开发建设用地面积占应动工开发建设用地总面积不足三分之一或者已投资额占总投资额"
    "不足百分之二十五，中止开发建设满一年的国有建设用地，也可以认定为闲置土地（已投资额、总投资额均不含出让价款、"
    "划拨价款和向国家缴纳的相关税费，第三十条）"
)
READING = (
    "本系统默认口径（domain.md §6）：第十四条“除本办法第八条规定情形外，闲置土地按照下列方式处理”适用于第二条第二款"
    "闲置土地。须经法制审核确认：第十四条各项表述为“未动工开发”，第十二条末款规定“符合本办法第二条第二款规定情形的"
    "闲置土地，依照本条规定的方式处置”；按该款口径处置的，新建规则版本将 disposals_halted 设为第十二条处置方式。"
)

# code -> (name, legal basis, proposed action) after this migration
TEXTS = {
    "idle_not_started_1y": (
        "超过约定动工开发日期满一年未动工开发",
        A + "第二条第一款：超过国有建设用地使用权有偿使用合同或者划拨决定书约定、规定的动工开发日期满一年未动工开发的"
        "国有建设用地为闲置土地；第十四条第（一）项：除第八条规定情形外，未动工开发满一年的，报经本级人民政府批准后"
        "下达《征缴土地闲置费决定书》，按照土地出让或者划拨价款的百分之二十征缴土地闲置费，土地闲置费不得列入生产成本。",
        "发现后三十日内开展调查核实并发出《闲置土地调查通知书》（第五条）；构成闲置土地的下达《闲置土地认定书》"
        "（第九条）并向社会公开（第十一条）；书面告知申请听证的权利（第十五条）；报本级人民政府批准后下达《征缴土地"
        "闲置费决定书》（第十四条、第十六条），使用权人自送达之日起三十日内缴纳（第十七条）。",
    ),
    "idle_not_started_2y": (
        "超过约定动工开发日期满两年未动工开发",
        A + "第二条第一款；第十四条第（二）项：除第八条规定情形外，未动工开发满两年的，按照《中华人民共和国土地管理法》"
        "第三十七条（2019年修正后为第三十八条）和《中华人民共和国城市房地产管理法》第二十六条的规定，报经有批准权的"
        "人民政府批准后下达《收回国有建设用地使用权决定书》，无偿收回国有建设用地使用权；闲置土地设有抵押权的，同时"
        "抄送相关土地抵押权人。",
        "调查、认定、公开后，书面告知申请听证的权利（第十五条），报有批准权的人民政府批准无偿收回（第十四条、第十六条）；"
        "使用权人自决定书送达之日起三十日内办理注销登记、交回土地权利证书（第十七条）；收回的土地可纳入政府土地储备"
        "（第二十条），作为标准地重新出让（腾笼换鸟）。",
    ),
    "idle_halted": (
        "已动工开发但开发面积不足三分之一或已投资额不足百分之二十五，且中止开发建设满一年",
        HALTED_DEF + "；第十四条第（一）项：除第八条规定情形外，按照土地出让或者划拨价款的百分之二十征缴土地闲置费。"
        + READING,
        "调查核实（第五条）、下达《闲置土地认定书》（第九条）并公开（第十一条）后，书面告知申请听证的权利（第十五条），"
        "报本级人民政府批准后下达《征缴土地闲置费决定书》（第十四条、第十六条），三十日内缴纳（第十七条）。",
    ),
    "idle_halted_2y": (
        "已动工开发但开发面积不足三分之一或已投资额不足百分之二十五，且中止开发建设满两年",
        HALTED_DEF + "；第十四条第（二）项：除第八条规定情形外，报经有批准权的人民政府批准后无偿收回国有建设用地使用权，"
        "闲置土地设有抵押权的同时抄送相关土地抵押权人。" + READING,
        "调查、认定、公开后，书面告知申请听证的权利（第十五条），报有批准权的人民政府批准无偿收回（第十四条、第十六条）；"
        "三十日内办理注销登记（第十七条）；收回的土地可纳入政府土地储备（第二十条）。",
    ),
    "idle_government_cause": (
        "闲置系政府、政府有关部门的行为或不可抗力造成",
        A + "第八条（政府、政府有关部门的行为造成动工开发延迟的情形，使用权人提供闲置原因说明材料、经审核属实；自然灾害等"
        "不可抗力依照办理）；第十二条（协商处置；除协议有偿收回外，动工开发时间按照新约定、规定的时间重新起算）；"
        "第十四条的土地闲置费和无偿收回不适用于第八条规定情形。",
        "与使用权人协商，拟订处置方案报本级人民政府批准（第十三条），设有抵押权的书面通知抵押权人（第十三条）："
        "延长动工开发期限（不超过一年）、调整土地用途或规划条件、政府安排临时使用（不超过两年）、协议有偿收回、"
        "置换土地；公开时同时公开闲置原因（第十一条）。",
    ),
}

# the texts of migration 0005, restored on downgrade
OLD_TEXTS = {
    "idle_not_started_1y": (
        "超过约定动工开发日期满一年未动工开发",
        "《闲置土地处置办法》（国土资源部令第53号）第二条第一款：超过国有建设用地使用权有偿使用合同或者划拨决定书"
        "约定、规定的动工开发日期满一年未动工开发的国有建设用地为闲置土地；第十四条第（一）项：除第八条规定情形外，"
        "未动工开发满一年的，按照土地出让或者划拨价款的百分之二十征缴土地闲置费。",
        "发现后三十日内开展调查核实并发出《闲置土地调查通知书》（第五条）；构成闲置土地的下达《闲置土地认定书》"
        "（第九条）并向社会公开（第十一条）；报本级人民政府批准后下达《征缴土地闲置费决定书》（第十四条）。",
    ),
    "idle_not_started_2y": (
        "超过约定动工开发日期满两年未动工开发",
        "《闲置土地处置办法》第二条第一款；第十四条第（二）项：除第八条规定情形外，未动工开发满两年的，报经有批准权的"
        "人民政府批准后下达《收回国有建设用地使用权决定书》，无偿收回国有建设用地使用权，闲置土地设有抵押权的同时"
        "抄送相关土地抵押权人；另见《中华人民共和国城市房地产管理法》第二十六条。",
        "调查、认定、公开后，告知听证权利（第十五条），报有批准权的人民政府批准无偿收回；收回的土地可纳入政府土地储备"
        "（第二十条），作为标准地重新出让（腾笼换鸟）。",
    ),
    "idle_halted": (
        "已动工开发但开发面积不足三分之一或已投资额不足百分之二十五，且中止开发建设满一年",
        "《闲置土地处置办法》第二条第二款（已投资额、总投资额均不含出让价款、划拨价款和向国家缴纳的相关税费，"
        "第三十条）；第十二条：符合第二条第二款规定情形的闲置土地，依照第十二条规定的方式处置。",
        "调查认定后，与使用权人协商选择第十二条规定的处置方式：延长动工开发期限、调整土地用途或规划条件、"
        "政府安排临时使用、协议有偿收回、置换土地。",
    ),
    "idle_government_cause": (
        "闲置系政府、政府有关部门的行为或不可抗力造成",
        "《闲置土地处置办法》第八条（政府、政府有关部门的行为造成动工开发延迟的情形；自然灾害等不可抗力依照办理）；"
        "第十二条（协商处置；除协议有偿收回外，动工开发时间按照新约定、规定的时间重新起算）；第十四条的土地闲置费和"
        "无偿收回不适用于第八条规定情形。",
        "与使用权人协商，拟订处置方案报本级人民政府批准（第十三条）：延长动工开发期限（不超过一年）、调整土地用途或"
        "规划条件、政府安排临时使用（不超过两年）、协议有偿收回、置换土地；公开时同时公开闲置原因（第十一条）。"),
}

YEARS_OLD = "idle_years >= 1 AND recovery_years > idle_years AND halted_years >= 1"
YEARS_NEW = YEARS_OLD + " AND halted_recovery_years > halted_years"


def _actor(conn: sa.engine.Connection) -> None:
    conn.execute(sa.text("SELECT set_config('hggis.actor', 'migration 0015', true), "
                         "set_config('hggis.reason', '中止开发建设的闲置土地适用第十四条；默认规则文本核对', true)"))


def _set_texts(conn: sa.engine.Connection, texts: dict[str, tuple[str, str, str]]) -> None:
    conn.execute(
        sa.text(
            "UPDATE idle_rules SET name_zh = :n, legal_basis = :b, proposed_action = :a "
            "WHERE code = :c AND rule_set_id = (SELECT id FROM idle_rule_sets WHERE name = :s)"
        ),
        [{"c": c, "n": n, "b": b, "a": a, "s": DEFAULT_SET} for c, (n, b, a) in texts.items() if c != "idle_halted_2y"],
    )


def upgrade() -> None:
    conn = op.get_bind()
    _actor(conn)
    op.add_column("idle_rule_sets", sa.Column("halted_recovery_years", sa.Integer(), server_default="2", nullable=False))
    op.drop_constraint(op.f("ck_idle_rule_sets_years"), "idle_rule_sets", type_="check")
    op.create_check_constraint(op.f("ck_idle_rule_sets_years"), "idle_rule_sets", YEARS_NEW)
    conn.execute(
        sa.text("UPDATE idle_rule_sets SET disposals_halted = :d WHERE name = :s"), {"d": SANCTIONS, "s": DEFAULT_SET}
    )
    _set_texts(conn, TEXTS)
    name, basis, action = TEXTS["idle_halted_2y"]
    # right after idle_halted in every catalogue; it fires only where disposals_halted allows recovery
    conn.execute(
        sa.text(
            "INSERT INTO idle_rules (rule_set_id, code, category, name_zh, legal_basis, proposed_action, enabled, sort_order) "
            "SELECT h.rule_set_id, 'idle_halted_2y', 'idle', :n, :b, :a, h.enabled, h.sort_order + 5 "
            "FROM idle_rules h WHERE h.code = 'idle_halted' "
            "AND NOT EXISTS (SELECT 1 FROM idle_rules x WHERE x.rule_set_id = h.rule_set_id AND x.code = 'idle_halted_2y')"
        ),
        {"n": name, "b": basis, "a": action},
    )


def downgrade() -> None:
    conn = op.get_bind()
    _actor(conn)
    conn.execute(sa.text("DELETE FROM idle_rules WHERE code = 'idle_halted_2y'"))
    _set_texts(conn, OLD_TEXTS)
    conn.execute(
        sa.text("UPDATE idle_rule_sets SET disposals_halted = :d WHERE name = :s"), {"d": NEGOTIATED, "s": DEFAULT_SET}
    )
    op.drop_constraint(op.f("ck_idle_rule_sets_years"), "idle_rule_sets", type_="check")
    op.create_check_constraint(op.f("ck_idle_rule_sets_years"), "idle_rule_sets", YEARS_OLD)
    op.drop_column("idle_rule_sets", "halted_recovery_years")
