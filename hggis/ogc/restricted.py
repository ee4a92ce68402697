"""Collections for signed-in users from other modules: idle-land cases and constraint layers.

Their layers are defined here, with explicit field allow-lists, because hggis.idle and
hggis.reserves serve lists, not map layers. Neither has a public view: the public idle
listing (第十一条) has its own page in hggis.idle.listing and could become a public
collection with one more ``register`` call.
"""

from __future__ import annotations

from hggis.features import Layer
from hggis.geo import round_mu_sql
from hggis.idle.cases import BASIS_LABELS, DISPOSAL_LABELS, STATE_LABELS
from hggis.ogc.collections import Collection, register, source_of


def _labels(column: str, labels: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in labels.items())
    return f"CASE {column} {whens} END"


IDLE_CASES = Layer(
    name="idle_cases",
    source=(
        "idle_cases c JOIN parcels p ON p.id = c.parcel_id "
        "JOIN counties co ON co.adcode = p.adcode LEFT JOIN parks k ON k.id = p.park_id "
        "LEFT JOIN enterprises e ON e.id = p.holder_id"
    ),
    geom="p.geom",
    order_by="c.id",
    public_fields={
        "case_id": "c.id",
        "parcel_code": "p.code",
        "area_mu": round_mu_sql("p.area_mu"),
        "adcode": "p.adcode",
        "county": "co.name",
        "park_id": "p.park_id",
        "park": "k.name",
        "holder": "e.name",
        "kind": "c.kind",
        "basis": "c.basis",
        "basis_label": _labels("c.basis", BASIS_LABELS),
        "state": "c.state",
        "state_label": _labels("c.state", STATE_LABELS),
        "source": "c.source",
        "rule_code": "c.rule_code",
        "opened_on": "c.opened_on",
        "idle_since": "c.idle_since",
        "due_on": "c.due_on",
        "due_kind": "c.due_kind",
        "disposal_kind": "c.disposal_kind",
        "disposal_label": _labels("c.disposal_kind", DISPOSAL_LABELS),
        "disposal_on": "c.disposal_on",
        "closed_on": "c.closed_on",
        "updated_at": "c.updated_at",
    },
)

CONSTRAINTS = Layer(
    name="constraints",
    source=(
        "constraint_features f JOIN constraint_layers l ON l.id = f.layer_id "
        "LEFT JOIN counties co ON co.adcode = l.adcode"
    ),
    geom="f.geom",
    order_by="f.id",
    where="l.active",
    public_fields={
        "layer_id": "l.id",
        "layer": "l.name",
        "layer_version": "l.version",
        "kind": "l.kind",
        "role": "l.role",
        "adcode": "l.adcode",
        "county": "co.name",
        "attributes": "f.properties",
    },
)

register(
    Collection(
        id="idle_cases",
        title="闲置与低效用地案件（需登录）",
        description="《闲置土地处置办法》案件与低效用地案件：宗地、状态、期限与处置方式（权限范围内）。",
        resource="idle_cases",
        key="c.id",
        key_type=int,
        public=None,
        officer=source_of(IDLE_CASES, base="idle_cases c JOIN parcels p ON p.id = c.parcel_id"),
        adcode_sql="p.adcode",
        park_sql="p.park_id",
        keywords=("闲置土地", "低效用地", "腾笼换鸟"),
    )
)
register(
    Collection(
        id="constraints",
        title="约束与参考图层（需登录）",
        description="现行版本的约束图层（永久基本农田、生态保护红线、洪涝区等）与参考图层（道路、港口、河流）的要素。",
        resource="constraint_layers",
        key="f.id",
        key_type=int,
        public=None,
        officer=source_of(CONSTRAINTS, base="constraint_features f JOIN constraint_layers l ON l.id = f.layer_id"),
        adcode_sql="l.adcode",
        keywords=("约束", "基本农田", "生态红线"),
    )
)
