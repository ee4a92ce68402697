"""Reference data of the plan: county-level units, the five industries, the plan's clusters.

These are facts of the 2023–2025 plan (shared/seed) and of the administrative divisions
(domain.md §3–4), not demo data. County polygons are loaded from data/boundaries by
``hggis db migrate`` (see hggis.boundaries), because geometry files do not belong in a
migration.

Mapping of the ten 特色 clusters to the five industries is ours (the plan does not state
it): 纺织服装 → 农产品加工, 钢结构 → 建材家居, 蕲艾 and 中药材 → 医药化工, 窑炉 → 装备制造.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTIES = [
    ("421102", "黄州区", True, None),
    ("421121", "团风县", True, None),
    ("421122", "红安县", True, None),
    ("421123", "罗田县", True, None),
    ("421124", "英山县", True, None),
    ("421125", "浠水县", True, None),
    ("421126", "蕲春县", True, None),
    ("421127", "黄梅县", True, None),
    ("421181", "麻城市", True, None),
    ("421182", "武穴市", True, None),
    (
        "421171",
        "龙感湖管理区",
        False,
        "统计代码单位，非法定县级行政区；公开边界数据无独立多边形（并入黄梅县）",
    ),
]

INDUSTRIES = [
    ("agri_food", "农产品加工", 1, True),
    ("building_materials", "建材家居", 2, True),
    ("pharma_chem", "医药化工", 3, True),
    ("equipment", "装备制造", 4, False),
    ("optoelectronics", "光电子信息", 5, False),
]

# (name, tier, industry, counties)
CLUSTERS = [
    ("农产品加工产业集群", "千亿", "agri_food", []),
    ("建材家居产业集群", "千亿", "building_materials", []),
    ("医药化工产业集群", "千亿", "pharma_chem", []),
    ("黄州电子信息材料", "百亿", "optoelectronics", ["421102"]),
    ("麻城石材", "百亿", "building_materials", ["421181"]),
    ("红安罗田黄州食品饮料", "百亿", "agri_food", ["421122", "421123", "421102"]),
    ("麻城浠水汽车零配件", "百亿", "equipment", ["421181", "421125"]),
    ("黄梅龙感湖纺织服装", "百亿", "agri_food", ["421127", "421171"]),
    ("武穴医药化工", "百亿", "pharma_chem", ["421182"]),
    ("团风钢结构", "百亿", "building_materials", ["421121"]),
    ("蕲春蕲艾", "百亿", "pharma_chem", ["421126"]),
    ("黄州浠水窑炉", "百亿", "equipment", ["421102", "421125"]),
    ("英山罗田麻城中药材", "百亿", "pharma_chem", ["421124", "421123", "421181"]),
]


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("SELECT set_config('hggis.actor', 'migration 0002', true)"))
    for adcode, name, has_boundary, note in COUNTIES:
        conn.execute(
            sa.text(
                "INSERT INTO counties (adcode, name, has_boundary, note) VALUES (:a, :n, :h, :note) "
                "ON CONFLICT (adcode) DO NOTHING"
            ),
            {"a": adcode, "n": name, "h": has_boundary, "note": note},
        )
    for code, name, order, target in INDUSTRIES:
        conn.execute(
            sa.text(
                "INSERT INTO industries (code, name, sort_order, is_thousand_yi_target) "
                "VALUES (:c, :n, :o, :t) ON CONFLICT (code) DO NOTHING"
            ),
            {"c": code, "n": name, "o": order, "t": target},
        )
    for name, tier, industry, counties in CLUSTERS:
        cluster_id = conn.execute(
            sa.text(
                "INSERT INTO clusters (name, tier, industry_code) VALUES (:n, :t, :i) "
                "ON CONFLICT (name) DO UPDATE SET tier = EXCLUDED.tier RETURNING id"
            ),
            {"n": name, "t": tier, "i": industry},
        ).scalar_one()
        for adcode in counties:
            conn.execute(
                sa.text(
                    "INSERT INTO cluster_counties (cluster_id, adcode) VALUES (:c, :a) ON CONFLICT DO NOTHING"
                ),
                {"c": cluster_id, "a": adcode},
            )


def downgrade() -> None:
    names = [c[0] for c in CLUSTERS]
    op.get_bind().execute(sa.text("DELETE FROM clusters WHERE name = ANY(:n)"), {"n": names})
    op.execute("DELETE FROM industries")
