"""Idle and low-efficiency land: rules as data, scans, cases with events, flags.

Default rows are the rules of 《闲置土地处置办法》 (国土资源部令第53号, in force 2012-07-01)
and the low-efficiency defaults of domain.md §6 (local; to be confirmed for 黄冈). The
legal texts are paraphrases citing the articles; where the article number is not certain
it says so in the report of issue 5 (第十一条 public listing, 第十二条's last paragraph on
第二条第二款 land).

``hggis_idle_evaluation_classes(before_year)`` is the one place the idle rules read the
per-mu evaluation: the class of each evaluated enterprise in the current (latest) run of
each year before ``before_year``, from ``evaluation_results`` ⋈ ``evaluation_runs``. It
checks at call time that those tables exist (they come from a sibling migration) and
returns no rows when they do not; ``hggis_idle_evaluation_source()`` says which case applies.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None

AUDITED = {
    "idle_rule_sets": ("id",),
    "idle_rules": ("rule_set_id", "code"),
    "idle_banned_industries": ("id",),
    "idle_delay_reasons": ("code",),
    "idle_delay_causes": ("id",),
    "idle_extensions": ("id",),
    "idle_cases": ("id",),
    "idle_flags": ("id",),
}

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION hggis_idle_evaluation_classes(before_year integer)
RETURNS TABLE (enterprise_id integer, year integer, class_code text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF to_regclass('public.evaluation_results') IS NULL OR to_regclass('public.evaluation_runs') IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'WITH cur AS (SELECT DISTINCT ON (r.year) r.id, r.year FROM evaluation_runs r '
    '             WHERE r.year < $1 ORDER BY r.year, r.id DESC) '
    'SELECT x.enterprise_id, cur.year, x.class_code::text '
    '  FROM evaluation_results x JOIN cur ON cur.id = x.run_id '
    ' WHERE x.evaluated AND x.class_code IS NOT NULL'
    USING before_year;
END
$$;

CREATE OR REPLACE FUNCTION hggis_idle_evaluation_source() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN to_regclass('public.evaluation_results') IS NOT NULL AND to_regclass('public.evaluation_runs') IS NOT NULL
    THEN 'evaluation_results ⋈ evaluation_runs (latest run of each year)'
    ELSE 'unavailable (no evaluation_results table): class-D rule not applied'
  END
$$;

CREATE OR REPLACE FUNCTION hggis_idle_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'idle_case_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

RULE_SET = {
    "name": "闲置土地处置办法（国土资源部令第53号）默认规则",
    "effective_from": "2012-07-01",
    "note": "闲置土地按国土资源部令第53号；低效用地阈值为 domain.md §6 的默认值（地方规定，须按黄冈市现行办法核定）",
    "disposals_holder_fault": ["fee_collected", "recovery_without_compensation"],
    "disposals_government_cause": ["extension", "change_of_use", "temporary_use", "paid_recovery", "land_swap"],
    "disposals_halted": ["extension", "change_of_use", "temporary_use", "paid_recovery", "land_swap"],
    "disposals_low_efficiency": ["extension", "change_of_use", "paid_recovery", "land_swap"],
}

LOCAL = "低效用地认定属地方规定（默认阈值见 domain.md §6，须按黄冈市现行低效用地认定办法核定）"

# (code, category, name, legal basis, proposed action)
RULES = [
    ("idle_not_started_1y", "idle", "超过约定动工开发日期满一年未动工开发",
     "《闲置土地处置办法》（国土资源部令第53号）第二条第一款：超过国有建设用地使用权有偿使用合同或者划拨决定书"
     "约定、规定的动工开发日期满一年未动工开发的国有建设用地为闲置土地；第十四条第（一）项：除第八条规定情形外，"
     "未动工开发满一年的，按照土地出让或者划拨价款的百分之二十征缴土地闲置费。",
     "发现后三十日内开展调查核实并发出《闲置土地调查通知书》（第五条）；构成闲置土地的下达《闲置土地认定书》"
     "（第九条）并向社会公开（第十一条）；报本级人民政府批准后下达《征缴土地闲置费决定书》（第十四条）。"),
    ("idle_not_started_2y", "idle", "超过约定动工开发日期满两年未动工开发",
     "《闲置土地处置办法》第二条第一款；第十四条第（二）项：除第八条规定情形外，未动工开发满两年的，报经有批准权的"
     "人民政府批准后下达《收回国有建设用地使用权决定书》，无偿收回国有建设用地使用权，闲置土地设有抵押权的同时"
     "抄送相关土地抵押权人；另见《中华人民共和国城市房地产管理法》第二十六条。",
     "调查、认定、公开后，告知听证权利（第十五条），报有批准权的人民政府批准无偿收回；收回的土地可纳入政府土地储备"
     "（第二十条），作为标准地重新出让（腾笼换鸟）。"),
    ("idle_halted", "idle", "已动工开发但开发面积不足三分之一或已投资额不足百分之二十五，且中止开发建设满一年",
     "《闲置土地处置办法》第二条第二款（已投资额、总投资额均不含出让价款、划拨价款和向国家缴纳的相关税费，"
     "第三十条）；第十二条：符合第二条第二款规定情形的闲置土地，依照第十二条规定的方式处置。",
     "调查认定后，与使用权人协商选择第十二条规定的处置方式：延长动工开发期限、调整土地用途或规划条件、"
     "政府安排临时使用、协议有偿收回、置换土地。"),
    ("idle_government_cause", "idle", "闲置系政府、政府有关部门的行为或不可抗力造成",
     "《闲置土地处置办法》第八条（政府、政府有关部门的行为造成动工开发延迟的情形；自然灾害等不可抗力依照办理）；"
     "第十二条（协商处置；除协议有偿收回外，动工开发时间按照新约定、规定的时间重新起算）；第十四条的土地闲置费和"
     "无偿收回不适用于第八条规定情形。",
     "与使用权人协商，拟订处置方案报本级人民政府批准（第十三条）：延长动工开发期限（不超过一年）、调整土地用途或"
     "规划条件、政府安排临时使用（不超过两年）、协议有偿收回、置换土地；公开时同时公开闲置原因（第十一条）。"),
    ("low_overdue_completion", "low_efficiency", "超过约定竣工日期满两年仍未竣工",
     LOCAL + "；《国有建设用地使用权出让合同》约定的竣工期限及违约责任。",
     "约谈督促、限期整改；整改无效的纳入腾笼换鸟清理（协议收回、置换或引进新项目）。"),
    ("low_intensity", "low_efficiency", "竣工满两年，固定资产投资强度低于合同或标准地控制指标的百分之五十",
     LOCAL + "；出让合同或标准地出让时公布的固定资产投资强度控制指标（达产复核）。",
     "达产复核不合格的按合同追究违约责任；限期整改，整改无效的纳入腾笼换鸟清理。"),
    ("low_output", "low_efficiency", "竣工满两年，亩均产出低于标准地控制指标的百分之五十",
     LOCAL + "；标准地出让时公布的产出强度控制指标（达产复核）。",
     "达产复核不合格的按合同追究违约责任；限期整改，整改无效的纳入腾笼换鸟清理。"),
    ("low_production_stopped", "low_efficiency", "停产满一年",
     LOCAL + "。",
     "核实停产原因；无复产计划的引导转让、协议收回或嫁接新项目（腾笼换鸟）。"),
    ("low_class_d", "low_efficiency", "最近一次亩均效益综合评价为D类（倒逼整治）",
     LOCAL + "；亩均效益综合评价办法，D类为“倒逼整治”类。",
     "落实差别化政策（严格限制），限期整改；连续评为D类的纳入腾笼换鸟清理。"),
    ("low_banned_industry", "low_efficiency", "属于禁止类或淘汰类产业",
     LOCAL + "；《产业结构调整指导目录》淘汰类、限制类条目（本系统按国民经济行业分类 GB/T 4754 代码前缀匹配，名单为配置数据）。",
     "依法依规关停淘汰，腾退土地纳入储备后重新出让（腾笼换鸟）。"),
]

ART8 = "《闲置土地处置办法》第八条第一款"
DELAY_REASONS = [
    ("land_not_delivered", "government", "未按照有偿使用合同或划拨决定书约定、规定的期限、条件交付土地，致使项目不具备动工开发条件", ART8 + "第（一）项"),
    ("planning_revised", "government", "土地利用总体规划、城乡规划依法修改，不能按约定、规定的用途、规划和建设条件开发", ART8 + "第（二）项"),
    ("state_policy", "government", "国家出台相关政策，需要修改约定、规定的规划和建设条件", ART8 + "第（三）项"),
    ("petitions", "government", "因处置土地上相关群众信访事项等无法动工开发", ART8 + "第（四）项"),
    ("military_control", "government", "因军事管制无法动工开发", ART8 + "第（五）项"),
    ("cultural_relics", "government", "因文物保护无法动工开发", ART8 + "第（五）项"),
    ("other_government", "government", "政府、政府有关部门的其他行为", ART8 + "第（六）项"),
    ("natural_disaster", "force_majeure", "自然灾害等不可抗力", "《闲置土地处置办法》第八条第二款"),
]

BANNED = [
    ("3031", "粘土砖瓦及建筑砌块制造（实心粘土砖等）", "obsolete",
     "示例默认值：实心粘土砖等属《产业结构调整指导目录》淘汰类条目（未核实；名单须按地方核定）"),
]


def _insert_defaults() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("SELECT set_config('hggis.actor', 'migration 0005', true), "
                         "set_config('hggis.reason', '闲置土地规则默认值', true)"))
    rs_id = conn.execute(
        sa.text(
            "INSERT INTO idle_rule_sets (name, effective_from, note, disposals_holder_fault, disposals_government_cause, "
            "disposals_halted, disposals_low_efficiency) VALUES (:name, CAST(:effective_from AS date), :note, "
            ":disposals_holder_fault, :disposals_government_cause, :disposals_halted, :disposals_low_efficiency) RETURNING id"
        ),
        RULE_SET,
    ).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO idle_rules (rule_set_id, code, category, name_zh, legal_basis, proposed_action, sort_order) "
            "VALUES (:s, :code, :category, :name, :basis, :action, :sort)"
        ),
        [
            {"s": rs_id, "code": c, "category": cat, "name": n, "basis": b, "action": a, "sort": 10 * (i + 1)}
            for i, (c, cat, n, b, a) in enumerate(RULES)
        ],
    )
    conn.execute(
        sa.text("INSERT INTO idle_delay_reasons (code, kind, name_zh, legal_basis, sort_order) VALUES (:c, :k, :n, :b, :o)"),
        [{"c": c, "k": k, "n": n, "b": b, "o": i + 1} for i, (c, k, n, b) in enumerate(DELAY_REASONS)],
    )
    conn.execute(
        sa.text(
            "INSERT INTO idle_banned_industries (rule_set_id, gbt4754_prefix, name_zh, category, source) "
            "VALUES (:s, :p, :n, :c, :src)"
        ),
        [{"s": rs_id, "p": p, "n": n, "c": c, "src": src} for p, n, c, src in BANNED],
    )


def _create_triggers() -> None:
    for table, keys in AUDITED.items():
        args = ", ".join("'" + k + "'" for k in keys)
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION hggis_history_record({args})"
        )
    op.execute(
        "CREATE TRIGGER idle_case_events_append_only BEFORE UPDATE OR DELETE ON idle_case_events "
        "FOR EACH ROW EXECUTE FUNCTION hggis_idle_events_append_only()"
    )


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.create_table('idle_delay_reasons',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('name_zh', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("kind IN ('government', 'force_majeure')", name=op.f('ck_idle_delay_reasons_kind')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_idle_delay_reasons'))
    )
    op.create_table('idle_rule_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('idle_years', sa.Integer(), server_default='1', nullable=False),
    sa.Column('recovery_years', sa.Integer(), server_default='2', nullable=False),
    sa.Column('halted_years', sa.Integer(), server_default='1', nullable=False),
    sa.Column('fee_rate', sa.Numeric(precision=6, scale=4), server_default='0.2', nullable=False),
    sa.Column('footprint_fraction', sa.Numeric(precision=12, scale=10), server_default='0.3333333333', nullable=False),
    sa.Column('investment_fraction', sa.Numeric(precision=6, scale=4), server_default='0.25', nullable=False),
    sa.Column('investment_includes_land_price', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('investigation_days', sa.Integer(), server_default='30', nullable=False),
    sa.Column('response_days', sa.Integer(), server_default='30', nullable=False),
    sa.Column('payment_days', sa.Integer(), server_default='30', nullable=False),
    sa.Column('max_extension_years', sa.Integer(), server_default='1', nullable=False),
    sa.Column('max_temporary_use_years', sa.Integer(), server_default='2', nullable=False),
    sa.Column('low_overdue_completion_years', sa.Integer(), server_default='2', nullable=False),
    sa.Column('low_completed_years', sa.Integer(), server_default='2', nullable=False),
    sa.Column('low_intensity_fraction', sa.Numeric(precision=6, scale=4), server_default='0.5', nullable=False),
    sa.Column('low_output_fraction', sa.Numeric(precision=6, scale=4), server_default='0.5', nullable=False),
    sa.Column('low_production_stopped_years', sa.Integer(), server_default='1', nullable=False),
    sa.Column('low_class_d_years', sa.Integer(), server_default='1', nullable=False),
    sa.Column('lookahead_days', sa.Integer(), server_default='90', nullable=False),
    sa.Column('disposals_holder_fault', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('disposals_government_cause', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('disposals_halted', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('disposals_low_efficiency', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('fee_rate > 0 AND fee_rate <= 1', name=op.f('ck_idle_rule_sets_fee_rate')),
    sa.CheckConstraint('footprint_fraction > 0 AND footprint_fraction < 1 AND investment_fraction > 0 AND investment_fraction < 1', name=op.f('ck_idle_rule_sets_fractions')),
    sa.CheckConstraint('idle_years >= 1 AND recovery_years > idle_years AND halted_years >= 1', name=op.f('ck_idle_rule_sets_years')),
    sa.CheckConstraint('investigation_days > 0 AND response_days > 0 AND payment_days > 0 AND lookahead_days > 0 AND max_extension_years > 0 AND max_temporary_use_years > 0 AND low_class_d_years > 0', name=op.f('ck_idle_rule_sets_positive')),
    sa.CheckConstraint('low_intensity_fraction > 0 AND low_intensity_fraction <= 1 AND low_output_fraction > 0 AND low_output_fraction <= 1', name=op.f('ck_idle_rule_sets_low_fractions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_rule_sets')),
    sa.UniqueConstraint('effective_from', name=op.f('uq_idle_rule_sets_effective_from')),
    sa.UniqueConstraint('name', name=op.f('uq_idle_rule_sets_name'))
    )
    op.create_table('idle_banned_industries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('gbt4754_prefix', sa.String(length=4), nullable=False),
    sa.Column('name_zh', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.CheckConstraint("category IN ('banned', 'obsolete')", name=op.f('ck_idle_banned_industries_category')),
    sa.CheckConstraint("gbt4754_prefix ~ '^[0-9]{2,4}$'", name=op.f('ck_idle_banned_industries_prefix_format')),
    sa.ForeignKeyConstraint(['rule_set_id'], ['idle_rule_sets.id'], name=op.f('fk_idle_banned_industries_rule_set_id_idle_rule_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_banned_industries')),
    sa.UniqueConstraint('rule_set_id', 'gbt4754_prefix', name='uq_idle_banned_industries_set_prefix')
    )
    op.create_table('idle_rules',
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('name_zh', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('proposed_action', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint("category IN ('idle', 'low_efficiency')", name=op.f('ck_idle_rules_category')),
    sa.ForeignKeyConstraint(['rule_set_id'], ['idle_rule_sets.id'], name=op.f('fk_idle_rules_rule_set_id_idle_rule_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_set_id', 'code', name=op.f('pk_idle_rules'))
    )
    op.create_table('idle_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('rule_set_id', sa.Integer(), nullable=False),
    sa.Column('adcodes', postgresql.ARRAY(sa.Text()), nullable=True),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('seconds', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('parcels_scanned', sa.Integer(), server_default='0', nullable=False),
    sa.Column('parcels_without_start', sa.Integer(), server_default='0', nullable=False),
    sa.Column('candidates', sa.Integer(), server_default='0', nullable=False),
    sa.Column('evaluation_source', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['rule_set_id'], ['idle_rule_sets.id'], name=op.f('fk_idle_scans_rule_set_id_idle_rule_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_scans'))
    )
    op.create_table('idle_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), server_default='idle', nullable=False),
    sa.Column('rule_code', sa.Text(), nullable=True),
    sa.Column('basis', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), server_default='suspected', nullable=False),
    sa.Column('source', sa.Text(), server_default='manual', nullable=False),
    sa.Column('scan_id', sa.Integer(), nullable=True),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('idle_since', sa.Date(), nullable=True),
    sa.Column('status_before', sa.Text(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('due_kind', sa.Text(), nullable=True),
    sa.Column('disposal_kind', sa.Text(), nullable=True),
    sa.Column('disposal_on', sa.Date(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("basis IN ('holder_fault', 'government_cause', 'halted', 'low_efficiency')", name=op.f('ck_idle_cases_basis')),
    sa.CheckConstraint("disposal_kind IS NULL OR disposal_kind IN ('fee_collected', 'extension', 'change_of_use', 'temporary_use', 'paid_recovery', 'land_swap', 'recovery_without_compensation')", name=op.f('ck_idle_cases_disposal_kind')),
    sa.CheckConstraint("kind IN ('idle', 'low_efficiency')", name=op.f('ck_idle_cases_kind')),
    sa.CheckConstraint("source IN ('scan', 'flag', 'manual')", name=op.f('ck_idle_cases_source')),
    sa.CheckConstraint("state IN ('suspected', 'notice_issued', 'finding_issued', 'publicly_listed', 'disposal_decided', 'recovered', 'in_reserve', 'reoffered', 'closed')", name=op.f('ck_idle_cases_state')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_idle_cases_parcel_id_parcels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scan_id'], ['idle_scans.id'], name=op.f('fk_idle_cases_scan_id_idle_scans'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_cases'))
    )
    op.create_index(op.f('ix_idle_cases_parcel_id'), 'idle_cases', ['parcel_id'], unique=False)
    op.create_index(op.f('ix_idle_cases_state'), 'idle_cases', ['state'], unique=False)
    op.create_index('uq_idle_cases_open_parcel', 'idle_cases', ['parcel_id'], unique=True, postgresql_where=sa.text("state NOT IN ('closed', 'reoffered')"))
    op.create_table('idle_scan_results',
    sa.Column('scan_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('park_id', sa.Integer(), nullable=True),
    sa.Column('clock_start', sa.Date(), nullable=True),
    sa.Column('since_date', sa.Date(), nullable=True),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('fee_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('measure', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.Column('delay_reason_code', sa.Text(), nullable=True),
    sa.Column('threshold_date', sa.Date(), nullable=True),
    sa.Column('detected_on', sa.Date(), nullable=True),
    sa.Column('next_deadline', sa.Date(), nullable=True),
    sa.Column('deadline_kind', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('scan_id', 'parcel_id', 'rule_code', name=op.f('pk_idle_scan_results'))
    )
    op.create_table('idle_case_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('from_state', sa.Text(), nullable=True),
    sa.Column('to_state', sa.Text(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('documents', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('length(btrim(reason)) > 0', name=op.f('ck_idle_case_events_reason_given')),
    sa.ForeignKeyConstraint(['case_id'], ['idle_cases.id'], name=op.f('fk_idle_case_events_case_id_idle_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_case_events')),
    sa.UniqueConstraint('case_id', 'seq', name='uq_idle_case_events_case_seq')
    )
    op.create_table('idle_delay_causes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('reason_code', sa.Text(), nullable=False),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('evidence_ref', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('withdrawn_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['idle_cases.id'], name=op.f('fk_idle_delay_causes_case_id_idle_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_idle_delay_causes_parcel_id_parcels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reason_code'], ['idle_delay_reasons.code'], name=op.f('fk_idle_delay_causes_reason_code_idle_delay_reasons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_delay_causes'))
    )
    op.create_index(op.f('ix_idle_delay_causes_parcel_id'), 'idle_delay_causes', ['parcel_id'], unique=False)
    op.create_table('idle_extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Text(), server_default='extension', nullable=False),
    sa.Column('agreement_no', sa.Text(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('new_start_date', sa.Date(), nullable=False),
    sa.Column('new_completion_date', sa.Date(), nullable=True),
    sa.Column('temporary_use_until', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('extension', 'change_of_use', 'temporary_use', 'other')", name=op.f('ck_idle_extensions_kind')),
    sa.CheckConstraint('new_completion_date IS NULL OR new_completion_date > new_start_date', name=op.f('ck_idle_extensions_completion_after_start')),
    sa.ForeignKeyConstraint(['case_id'], ['idle_cases.id'], name=op.f('fk_idle_extensions_case_id_idle_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_idle_extensions_parcel_id_parcels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_extensions'))
    )
    op.create_index(op.f('ix_idle_extensions_parcel_id'), 'idle_extensions', ['parcel_id'], unique=False)
    op.create_table('idle_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('park_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('document_ref', sa.Text(), nullable=True),
    sa.Column('flagged_by', sa.Text(), nullable=False),
    sa.Column('flagged_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('decided_by', sa.Text(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'open') = (decided_on IS NULL) AND (status <> 'dismissed' OR decision_reason IS NOT NULL)", name=op.f('ck_idle_flags_decision_complete')),
    sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name=op.f('ck_idle_flags_status')),
    sa.CheckConstraint('length(btrim(note)) > 0', name=op.f('ck_idle_flags_note_given')),
    sa.ForeignKeyConstraint(['case_id'], ['idle_cases.id'], name=op.f('fk_idle_flags_case_id_idle_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_idle_flags_parcel_id_parcels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['park_id'], ['parks.id'], name=op.f('fk_idle_flags_park_id_parks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idle_flags'))
    )
    op.create_index(op.f('ix_idle_flags_parcel_id'), 'idle_flags', ['parcel_id'], unique=False)
    _create_triggers()
    _insert_defaults()


def downgrade() -> None:
    op.drop_index(op.f('ix_idle_flags_parcel_id'), table_name='idle_flags')
    op.drop_table('idle_flags')
    op.drop_index(op.f('ix_idle_extensions_parcel_id'), table_name='idle_extensions')
    op.drop_table('idle_extensions')
    op.drop_index(op.f('ix_idle_delay_causes_parcel_id'), table_name='idle_delay_causes')
    op.drop_table('idle_delay_causes')
    op.drop_table('idle_case_events')
    op.drop_table('idle_scan_results')
    op.drop_index('uq_idle_cases_open_parcel', table_name='idle_cases', postgresql_where=sa.text("state NOT IN ('closed', 'reoffered')"))
    op.drop_index(op.f('ix_idle_cases_state'), table_name='idle_cases')
    op.drop_index(op.f('ix_idle_cases_parcel_id'), table_name='idle_cases')
    op.drop_table('idle_cases')
    op.drop_table('idle_scans')
    op.drop_table('idle_rules')
    op.drop_table('idle_banned_industries')
    op.drop_table('idle_rule_sets')
    op.drop_table('idle_delay_reasons')
    op.execute("DROP FUNCTION IF EXISTS hggis_idle_events_append_only()")
    op.execute("DROP FUNCTION IF EXISTS hggis_idle_evaluation_source()")
    op.execute("DROP FUNCTION IF EXISTS hggis_idle_evaluation_classes(integer)")
