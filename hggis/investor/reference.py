"""Public distance summaries of a parcel on offer to the reference layers (roads, ports, rail …).

The reference data are the existing reference layers of ``hggis.reserves.constraints``
(``constraint_layers`` with role ``reference``, imported by ``hggis constraints import`` or
``POST /api/constraint-layers``); migration 0021b adds the kinds 铁路, 高速公路出入口 and 机场.
The public gets summaries only ("距最近港口 3.2 km（武穴港）"): the kind, the nearest
feature's name and the ellipsoidal distance to 0.1 km; the layers themselves stay readable
by officers only (``constraint_layers.read``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.engine import Connection

from hggis.db.models import Parcel, table_of
from hggis.reserves.tables import ConstraintFeature, ConstraintLayer

# reference-layer kind -> what the summary calls it, in reading order
TRANSPORT_KINDS: dict[str, str] = {
    "道路": "主干道路",
    "高速公路出入口": "高速公路出入口",
    "港口": "港口",
    "铁路": "铁路站场",
    "机场": "机场",
}
NEAREST_WITHIN_KM = 100.0  # farther than this is not "nearby" and is not shown
NAME_KEYS = ("name", "名称", "NAME", "mc", "MC")  # a feature's name in its properties, else the layer's


def nearest(conn: Connection, parcel_id: int) -> list[dict[str, Any]]:
    """Per transport kind, the nearest feature of an active reference layer within NEAREST_WITHIN_KM."""
    p, f, lay = table_of(Parcel), table_of(ConstraintFeature), table_of(ConstraintLayer)
    target = select(func.geography(p.c.geom)).where(p.c.id == parcel_id).scalar_subquery()
    dist = func.ST_Distance(func.geography(f.c.geom), target)
    name = func.coalesce(*(f.c.properties[k].astext for k in NAME_KEYS), lay.c.name)
    ranked = (
        select(lay.c.kind, name.label("name"), dist.label("m"),
               func.row_number().over(partition_by=lay.c.kind, order_by=dist).label("n"))
        .select_from(f.join(lay, and_(lay.c.id == f.c.layer_id, lay.c.active, lay.c.role == "reference",
                                      lay.c.kind.in_(list(TRANSPORT_KINDS)))))
        .where(func.ST_DWithin(func.geography(f.c.geom), target, literal(NEAREST_WITHIN_KM * 1000.0)))
        .subquery()
    )
    rows = conn.execute(select(ranked.c.kind, ranked.c.name, ranked.c.m).where(ranked.c.n == 1)).all()
    order = list(TRANSPORT_KINDS)
    out = [{"kind": r.kind, "kind_label": TRANSPORT_KINDS[r.kind], "name": r.name, "km": round(float(r.m) / 1000.0, 1),
            "summary": f"距最近{TRANSPORT_KINDS[r.kind]} {float(r.m) / 1000.0:.1f} km（{r.name}）"} for r in rows]
    return sorted(out, key=lambda d: order.index(d["kind"]))
