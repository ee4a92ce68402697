"""Plan targets (考核): the 2025 targets of the cluster plan as versioned data.

The default rows are the plan's 2025 targets (domain.md §4, seed/huanggang-cluster-plan-2023):

- 规上工业总产值 > 3000 亿元; one county > 1000 亿元; three parks > 500 亿元;
- ≥ 400 new industrial projects started and ≥ 300 put into production a year;
- 规上 enterprise count +10 % a year (规上: main-business revenue ≥ 2000 万元);
- every county holds 500–1000 亩 of 标准地 in reserve;
- ≥ 50 % of 规上 enterprises with an R&D institution (no data source yet);
- cluster tiers: 千亿 ≥ 1000, 百亿 ≥ 100, 十亿 ≥ 10 亿元 of output.

A change is a new version of the same (indicator, subject, target_year). Rows are audited.

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0003'
branch_labels = None
depends_on = None

PLAN = "黄冈市制造强县聚力打造现代产业集群三年行动方案（2023—2025年）"

# indicator, subject, label, min, max, threshold, unit, note
DEFAULTS = [
    ("above_size_output", "", "规上工业总产值", 3000, None, None, "亿元", "全市，2025 年"),
    ("county_output_over", "", "规上工业总产值超千亿的县市区", 1, None, 1000, "个", "门槛 1000 亿元"),
    ("parks_output_over", "", "产值超 500 亿元的园区", 3, None, 500, "个", "园区企业产值合计，门槛 500 亿元"),
    ("projects_started", "", "每年新开工工业项目", 400, None, None, "个", "以宗地实际开工日期计"),
    ("projects_completed", "", "每年新投产工业项目", 300, None, None, "个", "以宗地竣工投产日期计"),
    ("above_size_growth", "", "规上工业企业数量年增长", 10, None, None, "%", ""),
    ("above_size_threshold", "", "规上工业企业标准（主营业务收入）", None, None, 2000, "万元", "年主营业务收入 ≥ 2000 万元"),
    ("county_reserve", "", "每县标准地储备", 500, 1000, None, "亩", "标准地储备台账另有版本化目标时以台账为准"),
    ("rnd_institution_share", "", "规上工业企业建有研发机构比例", 50, None, None, "%", "暂无数据来源"),
    ("cluster_tier_output", "千亿", "千亿级产业集群产值", 1000, None, None, "亿元", ""),
    ("cluster_tier_output", "百亿", "百亿级特色产业集群产值", 100, None, None, "亿元", ""),
    ("cluster_tier_output", "十亿", "十亿级块状经济产值", 10, None, None, "亿元", ""),
]


def upgrade() -> None:
    op.create_table('plan_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('indicator', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('target_year', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('min_value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('max_value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('threshold', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_targets')),
    sa.UniqueConstraint('indicator', 'subject', 'target_year', 'version', name='uq_plan_targets_version')
    )
    op.execute(
        "CREATE TRIGGER plan_targets_history AFTER INSERT OR UPDATE OR DELETE ON plan_targets "
        "FOR EACH ROW EXECUTE FUNCTION hggis_history_record('id')"
    )
    op.execute("SELECT set_config('hggis.actor', 'migration 0009', true), set_config('hggis.reason', '行动方案 2025 年目标（默认）', true)")
    table = sa.table(
        "plan_targets", sa.column("plan"), sa.column("indicator"), sa.column("subject"), sa.column("target_year"),
        sa.column("label"), sa.column("min_value"), sa.column("max_value"), sa.column("threshold"),
        sa.column("unit"), sa.column("note"),
    )
    op.bulk_insert(table, [
        {"plan": PLAN, "indicator": i, "subject": s, "target_year": 2025, "label": label, "min_value": lo,
         "max_value": hi, "threshold": th, "unit": unit, "note": note or None}
        for i, s, label, lo, hi, th, unit, note in DEFAULTS
    ])


def downgrade() -> None:
    op.drop_table('plan_targets')
