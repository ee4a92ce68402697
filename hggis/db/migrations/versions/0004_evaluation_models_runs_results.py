"""Per-mu evaluation (亩均效益综合评价): model versions, differential policies, runs and results.

The default model is domain.md §5's published county method, valid from 2022 onward;
every value in it is configuration (hggis.evaluation.model validates it, and a test checks
that this stored default equals ``ModelParams()``). Differential policies are defaults
too: the measures follow the usual "A 优先保障, B 积极支持, C 相对控制, D 严格限制" wording
and the electricity surcharges (差别化电价, 元/千瓦时) are placeholders that each place
sets for itself. Models and policies are audited; run output is append-only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 03:05:42.803191
"""
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _ind(key, label, unit, num, den, weight, scale=1.0, missing="zero"):
    return {"key": key, "label": label, "unit": unit, "numerator": num, "denominator": den, "weight": weight,
            "scale": scale, "missing": missing, "fixed_benchmark": None}


DEFAULT_MODEL = {
    "indicators": {
        "above": [
            _ind("tax_per_mu", "亩均税收", "万元/亩", "tax_paid", "land_mu", 30.0),
            _ind("va_per_mu", "亩均增加值", "万元/亩", "value_added", "land_mu", 20.0),
            _ind("va_per_energy", "单位能耗增加值", "万元/吨标准煤", "value_added", "energy_tce", 20.0),
            _ind("va_per_emission", "单位排放增加值", "万元/吨", "value_added", "emissions_t", 10.0,
                 missing="group_average"),
            _ind("labour_productivity", "全员劳动生产率", "万元/人", "value_added", "employees", 10.0),
            _ind("rnd_ratio", "R&D经费占比", "%", "rnd_spending", "revenue", 10.0, scale=100.0),
        ],
        "below": [
            _ind("tax_per_mu", "亩均税收", "万元/亩", "tax_paid", "land_mu", 50.0),
            _ind("tax_per_electricity", "单位电耗税收", "万元/万千瓦时", "tax_paid", "electricity_10k_kwh", 50.0),
        ],
    },
    "benchmark_mode": "regional",
    "score_cap": 2.0,
    "score_floor": 0.0,
    "quotas": [
        {"class_code": "A", "cumulative": 0.2},
        {"class_code": "B", "cumulative": 0.75},
        {"class_code": "C", "cumulative": 0.95},
        {"class_code": "D", "cumulative": 1.0},
    ],
    "min_land_mu": 3.0,
    "above_size_revenue": 2000.0,
    "land_statuses": ["supplied", "under_construction", "producing", "idle_candidate"],
    "lessee_rule": "merge_into_holder",
    "overrides": {
        "accident_veto": True,
        "accident_best_class": "C",
        "first_years_not_d": True,
        "first_years": 2,
        "newly_above_not_d": True,
        "protected_class": "C",
        "utilities_class_t": True,
    },
    "quality": {
        "blocking": ["negative", "tax_gt_revenue", "va_gt_output", "employees_zero_with_output", "duplicate_entity"],
        "outlier_mad_k": 6.0,
        "outlier_min_population": 20,
    },
    "parks": {
        "supplied_statuses": ["supplied", "under_construction", "producing", "idle_candidate"],
        "built_statuses": ["producing"],
        "idle_statuses": ["idle_candidate"],
        "industrial_land_uses": ["0601"],
        "rank_by": "industrial_tax_per_mu",
    },
}

KWH = "元/千瓦时"
# (class, category, measure, price item, price delta, unit)
DEFAULT_POLICIES = [
    ("A", "用地", "优先保障新增建设用地指标和项目用地需求", None, None, None),
    ("A", "电价", "执行现行目录电价，不加价", "差别化电价", 0, KWH),
    ("A", "用能与排放", "优先保障用能指标和排污权指标", None, None, None),
    ("A", "信贷", "列入金融机构优先支持名单，优先授信", None, None, None),
    ("A", "财政奖补", "优先享受技改、研发等财政奖补政策", None, None, None),
    ("B", "用地", "积极支持合理的新增用地需求", None, None, None),
    ("B", "电价", "执行现行目录电价，不加价", "差别化电价", 0, KWH),
    ("B", "信贷", "积极支持融资需求", None, None, None),
    ("B", "财政奖补", "可申请各类财政奖补政策", None, None, None),
    ("C", "用地", "原则上不新增用地，引导盘活存量、提升亩均效益", None, None, None),
    ("C", "电价", "实行差别化电价加价", "差别化电价", 0.05, KWH),
    ("C", "用能与排放", "相对控制新增用能和排污权", None, None, None),
    ("C", "城镇土地使用税", "不享受城镇土地使用税减免", None, None, None),
    ("D", "用地", "不安排新增用地，限期整改，整改无效的依法依规腾退（腾笼换鸟）", None, None, None),
    ("D", "电价", "实行差别化电价加价", "差别化电价", 0.10, KWH),
    ("D", "用能与排放", "严格限制新增用能和排污权，不予新增排放总量", None, None, None),
    ("D", "信贷", "从严控制新增授信", None, None, None),
    ("D", "财政奖补", "不享受各类财政奖补政策", None, None, None),
    ("T", "说明", "公用事业企业参评不分类，不适用差别化政策", None, None, None),
]
AUDITED = ("evaluation_models", "evaluation_policies")


def upgrade() -> None:
    op.create_table('evaluation_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.Integer(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('valid_from BETWEEN 1990 AND 2100', name=op.f('ck_evaluation_models_valid_from_range')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_evaluation_models_valid_to_after_from')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_models'))
    )
    op.create_table('evaluation_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_code', sa.String(length=1), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('measure', sa.Text(), nullable=False),
    sa.Column('price_item', sa.Text(), nullable=True),
    sa.Column('price_delta', sa.Numeric(precision=10, scale=4), nullable=True),
    sa.Column('price_unit', sa.Text(), nullable=True),
    sa.Column('valid_from', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.Integer(), nullable=True),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("class_code IN ('A', 'B', 'C', 'D', 'T')", name=op.f('ck_evaluation_policies_class_code')),
    sa.CheckConstraint('(price_delta IS NULL) = (price_unit IS NULL)', name=op.f('ck_evaluation_policies_price_has_unit')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name=op.f('ck_evaluation_policies_valid_to_after_from')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_policies'))
    )
    op.create_table('evaluation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('proceed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('n_listed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_evaluated', sa.Integer(), server_default='0', nullable=False),
    sa.Column('class_counts', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('quality_summary', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint('year BETWEEN 1990 AND 2100', name=op.f('ck_evaluation_runs_year_range')),
    sa.ForeignKeyConstraint(['model_id'], ['evaluation_models.id'], name=op.f('fk_evaluation_runs_model_id_evaluation_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_runs'))
    )
    op.create_index(op.f('ix_evaluation_runs_year'), 'evaluation_runs', ['year'], unique=False)
    op.create_table('evaluation_aggregates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Text(), nullable=False),
    sa.Column('park_id', sa.Integer(), nullable=True),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('n_listed', sa.Integer(), nullable=False),
    sa.Column('n_evaluated', sa.Integer(), nullable=False),
    sa.Column('class_counts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('evaluated_land_mu', sa.Float(), nullable=False),
    sa.Column('evaluated_tax', sa.Float(), nullable=False),
    sa.Column('evaluated_value_added', sa.Float(), nullable=False),
    sa.Column('evaluated_revenue', sa.Float(), nullable=False),
    sa.Column('tax_per_mu', sa.Float(), nullable=True),
    sa.Column('va_per_mu', sa.Float(), nullable=True),
    sa.Column('revenue_per_mu', sa.Float(), nullable=True),
    sa.Column('indicators', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('total_land_mu', sa.Float(), nullable=False),
    sa.Column('supplied_mu', sa.Float(), nullable=False),
    sa.Column('built_mu', sa.Float(), nullable=False),
    sa.Column('idle_mu', sa.Float(), nullable=False),
    sa.Column('industrial_supplied_mu', sa.Float(), nullable=False),
    sa.Column('supply_rate', sa.Float(), nullable=True),
    sa.Column('built_rate', sa.Float(), nullable=True),
    sa.Column('fixed_investment', sa.Float(), nullable=False),
    sa.Column('all_tax', sa.Float(), nullable=False),
    sa.Column('all_revenue', sa.Float(), nullable=False),
    sa.Column('investment_per_mu', sa.Float(), nullable=True),
    sa.Column('industrial_revenue_per_mu', sa.Float(), nullable=True),
    sa.Column('industrial_tax_per_mu', sa.Float(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.CheckConstraint("(level = 'park') = (park_id IS NOT NULL)", name=op.f('ck_evaluation_aggregates_park_level_has_park')),
    sa.CheckConstraint("level IN ('park', 'county')", name=op.f('ck_evaluation_aggregates_level')),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_evaluation_aggregates_run_id_evaluation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_aggregates'))
    )
    op.create_index(op.f('ix_evaluation_aggregates_run_id'), 'evaluation_aggregates', ['run_id'], unique=False)
    op.create_table('evaluation_benchmarks',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('size_group', sa.Text(), nullable=False),
    sa.Column('indicator', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('numerator_sum', sa.Float(), nullable=True),
    sa.Column('denominator_sum', sa.Float(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('benchmark', sa.Float(), nullable=True),
    sa.Column('average_score', sa.Float(), nullable=True),
    sa.CheckConstraint("mode IN ('regional', 'fixed')", name=op.f('ck_evaluation_benchmarks_mode')),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_evaluation_benchmarks_run_id_evaluation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'size_group', 'indicator', name=op.f('pk_evaluation_benchmarks'))
    )
    op.create_table('evaluation_land',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('occupant_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('parcel_code', sa.String(length=19), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('parcel_area_mu', sa.Float(), nullable=False),
    sa.Column('land_mu', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_evaluation_land_run_id_evaluation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'parcel_id', 'occupant_id', name=op.f('pk_evaluation_land'))
    )
    op.create_index('ix_evaluation_land_run_enterprise', 'evaluation_land', ['run_id', 'enterprise_id'], unique=False)
    op.create_table('evaluation_quality_issues',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('check_code', sa.Text(), nullable=False),
    sa.Column('field', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('blocking', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_evaluation_quality_issues_run_id_evaluation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_quality_issues'))
    )
    op.create_index(op.f('ix_evaluation_quality_issues_run_id'), 'evaluation_quality_issues', ['run_id'], unique=False)
    op.create_table('evaluation_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('park_id', sa.Integer(), nullable=True),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('industry_code', sa.Text(), nullable=True),
    sa.Column('size_group', sa.Text(), nullable=True),
    sa.Column('evaluated', sa.Boolean(), nullable=False),
    sa.Column('reason_code', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('merged_into', sa.Integer(), nullable=True),
    sa.Column('land_mu', sa.Float(), nullable=False),
    sa.Column('tax_paid', sa.Float(), nullable=True),
    sa.Column('revenue', sa.Float(), nullable=True),
    sa.Column('value_added', sa.Float(), nullable=True),
    sa.Column('output', sa.Float(), nullable=True),
    sa.Column('energy_tce', sa.Float(), nullable=True),
    sa.Column('electricity_10k_kwh', sa.Float(), nullable=True),
    sa.Column('emissions_t', sa.Float(), nullable=True),
    sa.Column('rnd_spending', sa.Float(), nullable=True),
    sa.Column('employees', sa.Float(), nullable=True),
    sa.Column('accident', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('utility', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('production_start_year', sa.Integer(), nullable=True),
    sa.Column('newly_above', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('indicator_values', postgresql.ARRAY(sa.Float()), nullable=True),
    sa.Column('indicator_scores', postgresql.ARRAY(sa.Float()), nullable=True),
    sa.Column('total_score', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('group_size', sa.Integer(), nullable=True),
    sa.Column('quota_class', sa.String(length=1), nullable=True),
    sa.Column('class_code', sa.String(length=1), nullable=True),
    sa.Column('explanation', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.CheckConstraint("class_code IS NULL OR class_code IN ('A', 'B', 'C', 'D', 'T')", name=op.f('ck_evaluation_results_class_code')),
    sa.CheckConstraint("size_group IS NULL OR size_group IN ('above', 'below')", name=op.f('ck_evaluation_results_size_group')),
    sa.CheckConstraint('evaluated = (class_code IS NOT NULL)', name=op.f('ck_evaluation_results_evaluated_has_class')),
    sa.CheckConstraint('evaluated OR reason IS NOT NULL', name=op.f('ck_evaluation_results_not_evaluated_has_reason')),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_evaluation_results_run_id_evaluation_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'enterprise_id', name=op.f('pk_evaluation_results'))
    )

    for table in AUDITED:
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hggis_history_record('id')"
        )
    _insert_defaults()


def _insert_defaults() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("SELECT set_config('hggis.actor', 'migration 0004', true), "
                         "set_config('hggis.reason', 'default evaluation model and policies', true)"))
    conn.execute(
        sa.text(
            "INSERT INTO evaluation_models (name, valid_from, valid_to, params, note, created_by) "
            "VALUES (:n, 2022, NULL, CAST(:p AS jsonb), :note, 'migration 0004')"
        ),
        {
            "n": "默认模型（domain.md §5 县级公开方法）",
            "p": json.dumps(DEFAULT_MODEL, ensure_ascii=False),
            "note": "规上六项指标、规下两项指标；基准值为同年同组区域值；单项得分封顶2倍权重；"
                    "A 20%、B 至75%、C 至95%、D 其余。黄冈本地方法未经核实，各项均可在新版本中调整。",
        },
    )
    for order, (cls, category, measure, item, delta, unit) in enumerate(DEFAULT_POLICIES):
        conn.execute(
            sa.text(
                "INSERT INTO evaluation_policies (class_code, category, measure, price_item, price_delta, "
                "price_unit, valid_from, valid_to, sort_order) VALUES (:c, :cat, :m, :i, :d, :u, 2022, NULL, :o)"
            ),
            {"c": cls, "cat": category, "m": measure, "i": item, "d": delta, "u": unit, "o": order},
        )


def downgrade() -> None:
    op.drop_table('evaluation_results')
    op.drop_index(op.f('ix_evaluation_quality_issues_run_id'), table_name='evaluation_quality_issues')
    op.drop_table('evaluation_quality_issues')
    op.drop_index('ix_evaluation_land_run_enterprise', table_name='evaluation_land')
    op.drop_table('evaluation_land')
    op.drop_table('evaluation_benchmarks')
    op.drop_index(op.f('ix_evaluation_aggregates_run_id'), table_name='evaluation_aggregates')
    op.drop_table('evaluation_aggregates')
    op.drop_index(op.f('ix_evaluation_runs_year'), table_name='evaluation_runs')
    op.drop_table('evaluation_runs')
    op.drop_table('evaluation_policies')
    op.drop_table('evaluation_models')
