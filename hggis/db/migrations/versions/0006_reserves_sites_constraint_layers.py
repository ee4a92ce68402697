"""标准地 reserves: targets, settings, national land-use norms, indicator defaults, constraint layers.

Default rows are the rules in force when this was written (domain.md §7 and the plan):

- every county-level unit holds 500–1000 亩 of 标准地 in reserve (from 2023-01-01);
- 《工业项目建设用地控制指标》: the 2008 edition (国土资发〔2008〕24号) is the edition in use;
  the 2023 edition's site-wide limits are domain.md's *unverified* values and its 容积率
  table copies the 2008 one until someone checks the text (``verified = false``);
- the minimum 容积率 table is keyed by GB/T 4754-2017 divisions (2 digits) or groups (3),
  mapped from the 2008 table's GB/T 4754-2002 categories (rubber and plastics, merged into
  division 29 in 2017, are split again by group 291/292);
- local default indicators per plan industry are examples inside the published ranges
  (investment 150–250 万元/亩, 亩均税收 8–20, output 250–400) and say so;
- the GB/T 4754 divisions each plan industry covers (for the 容积率 check of parcels without
  a class of their own), the site finder's adjacency tolerance (0.5 m) and score weights are
  settings.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-26
"""
import json

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None

AUDITED = {
    "reserve_targets": ("id",),
    "reserve_settings": ("key",),
    "national_land_norms": ("edition",),
    "national_far_minimums": ("edition", "gbt_prefix"),
    "industry_indicator_defaults": ("edition", "industry_code"),
    "control_indicator_classes": ("parcel_id",),
    "constraint_layers": ("id",),
}

PLAN_SOURCE = "黄冈市制造业产业集群发展规划（2023—2025年）：各县（市、区）储备500亩-1000亩标准地"

NORMS = [
    # edition, title, coverage_min %, admin_max %, green_max %, verified, note
    ("2008", "《工业项目建设用地控制指标》（国土资发〔2008〕24号）", 30, 7, 20, True, None),
    ("2023", "《工业项目建设用地控制指标》（2023年版）", 40, 7, 15, False,
     "建筑系数、绿地率取自 domain.md §7（未核实）；容积率下限暂同 2008 版，启用前请核对原文"),
]

# GB/T 4754-2017 division/group -> (category, minimum 容积率) of the 2008 table.
FAR_2008 = [
    ("13", "农副食品加工业", 1.0),
    ("14", "食品制造业", 1.0),
    ("15", "酒、饮料和精制茶制造业", 1.0),
    ("16", "烟草制品业", 1.0),
    ("17", "纺织业", 0.8),
    ("18", "纺织服装、服饰业", 1.0),
    ("19", "皮革、毛皮、羽毛及其制品和制鞋业", 1.0),
    ("20", "木材加工和木、竹、藤、棕、草制品业", 0.8),
    ("21", "家具制造业", 0.8),
    ("22", "造纸和纸制品业", 0.8),
    ("23", "印刷和记录媒介复制业", 0.8),
    ("24", "文教、工美、体育和娱乐用品制造业", 1.0),
    ("25", "石油、煤炭及其他燃料加工业", 0.5),
    ("26", "化学原料和化学制品制造业", 0.6),
    ("27", "医药制造业", 0.7),
    ("28", "化学纤维制造业", 0.8),
    ("291", "橡胶制品业", 0.8),
    ("292", "塑料制品业", 1.0),
    ("30", "非金属矿物制品业", 0.7),
    ("31", "黑色金属冶炼和压延加工业", 0.6),
    ("32", "有色金属冶炼和压延加工业", 0.6),
    ("33", "金属制品业", 0.7),
    ("34", "通用设备制造业", 0.7),
    ("35", "专用设备制造业", 0.7),
    ("36", "汽车制造业", 0.7),
    ("37", "铁路、船舶、航空航天和其他运输设备制造业", 0.7),
    ("38", "电气机械和器材制造业", 0.7),
    ("39", "计算机、通信和其他电子设备制造业", 1.0),
    ("40", "仪器仪表制造业", 1.0),
    ("41", "其他制造业", 1.0),
    ("42", "废弃资源综合利用业", 0.7),
    ("43", "金属制品、机械和设备修理业", 0.7),
]

ENV_STANDARD = "执行国家及湖北省现行污染物排放标准，环评批复后方可开工（示例默认值）"
LOCAL_EDITION = "local-2023"
# industry, representative GB/T class, investment, tax, output (万元/亩), energy (tce/万元), months
INDICATOR_DEFAULTS = [
    ("agri_food", "13", 180, 10, 300, 0.06, 18, 36),
    ("building_materials", "30", 200, 12, 300, 0.25, 18, 36),
    ("pharma_chem", "27", 250, 15, 350, 0.15, 24, 36),
    ("equipment", "34", 220, 12, 320, 0.04, 18, 36),
    ("optoelectronics", "39", 250, 20, 400, 0.05, 24, 36),
]

SETTINGS = [
    ("national_norms_edition", "2008", "《工业项目建设用地控制指标》采用的版本：2008 或 2023"),
    ("indicator_defaults_edition", LOCAL_EDITION, "本地标准地默认指标（industry_indicator_defaults）的版本"),
    ("adjacency_tolerance_m", 0.5, "相邻地块合并容差（米）：边界相距不超过此值视为连片（测量缝隙）"),
    (
        "industry_gbt_divisions",
        {
            "agri_food": ["13", "14", "15", "16", "17", "18", "19"],
            "building_materials": ["20", "21", "30", "33"],
            "pharma_chem": ["26", "27", "28", "29"],
            "equipment": ["33", "34", "35", "36", "37", "38", "40", "43"],
            "optoelectronics": ["39", "40"],
        },
        "各规划产业涵盖的 GB/T 4754-2017 大类（本系统的对应关系，纺织服装随 0002 迁移归入农产品加工、"
        "钢结构归入建材家居）；地块未设定行业代码时，按其产业各大类中最低的容积率国家标准判断是否偏低",
    ),
    (
        "site_finder",
        {
            "weights": {"area_fit": 0.4, "slope": 0.3, "distance": 0.3},
            "distance_half_m": 5000,
            "slope_zero_deg": 25,
            "unknown_slope_score": 0.5,
            "min_piece_mu": 1.0,
            "max_sub_sites": 5,
        },
        "选址评分：权重；距离得分在 distance_half_m 处为 0.5；坡度达到 slope_zero_deg 得 0 分；"
        "无坡度数据的面积按 unknown_slope_score 计分；约束层裁剪后小于 min_piece_mu 亩的碎片舍弃；"
        "超大连片每块最多拆分 max_sub_sites 个候选",
    ),
]


def _insert_defaults() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "INSERT INTO reserve_targets (edition, adcode, min_mu, max_mu, valid_from, source) "
            "VALUES ('2023–2025 产业集群规划', NULL, 500, 1000, DATE '2023-01-01', :s)"
        ),
        {"s": PLAN_SOURCE},
    )
    for edition, title, coverage, admin, green, verified, note in NORMS:
        conn.execute(
            sa.text(
                "INSERT INTO national_land_norms (edition, title, building_coverage_min, admin_ratio_max, "
                "green_ratio_max, verified, note) VALUES (:e, :t, :c, :a, :g, :v, :n)"
            ),
            {"e": edition, "t": title, "c": coverage, "a": admin, "g": green, "v": verified, "n": note},
        )
        conn.execute(
            sa.text(
                "INSERT INTO national_far_minimums (edition, gbt_prefix, category, far_min) "
                "VALUES (:e, :p, :c, :f)"
            ),
            [{"e": edition, "p": p, "c": c, "f": f} for p, c, f in FAR_2008],
        )
    conn.execute(
        sa.text(
            "INSERT INTO industry_indicator_defaults (edition, industry_code, gbt_code, investment_intensity, "
            "tax_per_mu, output_intensity, energy_per_output, environment_standard, far_span, "
            "construction_months, production_months, note) "
            "VALUES (:e, :i, :g, :inv, :tax, :out, :en, :env, 1.5, :cm, :pm, :note)"
        ),
        [
            {"e": LOCAL_EDITION, "i": i, "g": g, "inv": inv, "tax": tax, "out": out, "en": en,
             "env": ENV_STANDARD, "cm": cm, "pm": pm,
             "note": "示例默认值，取公开案例区间（投资强度150–250、亩均税收8–20、产出250–400 万元/亩）"}
            for i, g, inv, tax, out, en, cm, pm in INDICATOR_DEFAULTS
        ],
    )
    conn.execute(
        sa.text("INSERT INTO reserve_settings (key, value, note) VALUES (:k, CAST(:v AS jsonb), :n)"),
        [{"k": k, "v": json.dumps(v, ensure_ascii=False), "n": n} for k, v, n in SETTINGS],
    )


def _create_audit_triggers() -> None:
    for table, keys in AUDITED.items():
        args = ", ".join("'" + k + "'" for k in keys)
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION hggis_history_record({args})"
        )


def upgrade() -> None:
    op.create_table('national_land_norms',
    sa.Column('edition', sa.String(length=8), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('building_coverage_min', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('admin_ratio_max', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('green_ratio_max', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('verified', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('edition', name=op.f('pk_national_land_norms'))
    )
    op.create_table('reserve_settings',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_reserve_settings'))
    )
    op.create_table('constraint_layers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=True),
    sa.Column('geometry_types', sa.Text(), nullable=True),
    sa.Column('feature_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('source_name', sa.Text(), nullable=True),
    sa.Column('source_crs', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('imported_by', sa.Text(), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('永久基本农田', '生态保护红线', '洪涝区', '道路', '港口', '河流', '其他')", name=op.f('ck_constraint_layers_kind')),
    sa.CheckConstraint("role IN ('constraint', 'reference')", name=op.f('ck_constraint_layers_role')),
    sa.ForeignKeyConstraint(['adcode'], ['counties.adcode'], name=op.f('fk_constraint_layers_adcode_counties')),
    sa.ForeignKeyConstraint(['replaces_id'], ['constraint_layers.id'], name=op.f('fk_constraint_layers_replaces_id_constraint_layers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_constraint_layers')),
    sa.UniqueConstraint('name', 'version', name='uq_constraint_layers_name_version')
    )
    op.create_index('uq_constraint_layers_active_name', 'constraint_layers', ['name'], unique=True, postgresql_where=sa.text('active'))
    op.create_table('industry_indicator_defaults',
    sa.Column('edition', sa.String(length=32), nullable=False),
    sa.Column('industry_code', sa.String(length=32), nullable=False),
    sa.Column('gbt_code', sa.String(length=4), nullable=False),
    sa.Column('investment_intensity', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('tax_per_mu', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('output_intensity', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('energy_per_output', sa.Numeric(precision=10, scale=4), nullable=True),
    sa.Column('environment_standard', sa.Text(), nullable=True),
    sa.Column('far_span', sa.Numeric(precision=4, scale=2), server_default='1.5', nullable=False),
    sa.Column('construction_months', sa.Integer(), nullable=True),
    sa.Column('production_months', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("gbt_code ~ '^[0-9]{2,4}$'", name=op.f('ck_industry_indicator_defaults_gbt_code_format')),
    sa.ForeignKeyConstraint(['industry_code'], ['industries.code'], name=op.f('fk_industry_indicator_defaults_industry_code_industries')),
    sa.PrimaryKeyConstraint('edition', 'industry_code', name=op.f('pk_industry_indicator_defaults'))
    )
    op.create_table('national_far_minimums',
    sa.Column('edition', sa.String(length=8), nullable=False),
    sa.Column('gbt_prefix', sa.String(length=4), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('far_min', sa.Numeric(precision=4, scale=2), nullable=False),
    sa.CheckConstraint("gbt_prefix ~ '^[0-9]{2,4}$'", name=op.f('ck_national_far_minimums_gbt_prefix_format')),
    sa.ForeignKeyConstraint(['edition'], ['national_land_norms.edition'], name=op.f('fk_national_far_minimums_edition_national_land_norms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('edition', 'gbt_prefix', name=op.f('pk_national_far_minimums'))
    )
    op.create_table('reserve_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('edition', sa.Text(), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=True),
    sa.Column('min_mu', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('max_mu', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('min_mu >= 0 AND max_mu >= min_mu', name=op.f('ck_reserve_targets_range')),
    sa.ForeignKeyConstraint(['adcode'], ['counties.adcode'], name=op.f('fk_reserve_targets_adcode_counties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reserve_targets'))
    )
    op.create_table('constraint_features',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('layer_id', sa.Integer(), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4490, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_constraint_features_geom_valid')),
    sa.ForeignKeyConstraint(['layer_id'], ['constraint_layers.id'], name=op.f('fk_constraint_features_layer_id_constraint_layers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_constraint_features'))
    )
    op.create_index(op.f('ix_constraint_features_layer_id'), 'constraint_features', ['layer_id'], unique=False)
    op.create_table('control_indicator_classes',
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('gbt4754_code', sa.String(length=4), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("gbt4754_code ~ '^[0-9]{2,4}$'", name=op.f('ck_control_indicator_classes_gbt_format')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_control_indicator_classes_parcel_id_parcels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('parcel_id', name=op.f('pk_control_indicator_classes'))
    )
    _insert_defaults()
    _create_audit_triggers()


def downgrade() -> None:
    op.drop_table('control_indicator_classes')
    op.drop_index(op.f('ix_constraint_features_layer_id'), table_name='constraint_features')
    op.drop_table('constraint_features')
    op.drop_table('reserve_targets')
    op.drop_table('national_far_minimums')
    op.drop_table('industry_indicator_defaults')
    op.drop_index('uq_constraint_layers_active_name', table_name='constraint_layers', postgresql_where=sa.text('active'))
    op.drop_table('constraint_layers')
    op.drop_table('reserve_settings')
    op.drop_table('national_land_norms')
