"""Writing the demo data set into the database (``hggis demo load``).

One transaction, attributed to ``hggis demo load`` so that the audit triggers name it:
either everything is written or nothing is. Rows go in with multi-row INSERTs
(SQLAlchemy's insertmanyvalues batching, RETURNING the new ids in parameter order), never
one round trip per row, so the audit triggers are the main cost.

The loader refuses to mix synthetic with real data: a database that already holds parks,
parcels, enterprises or cluster figures without the demo marker is left alone. A second
load of the same seed finds the marker and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shapely
from sqlalchemy import LargeBinary, bindparam, func, insert, text
from sqlalchemy.engine import Connection, Engine

from hggis.db.maintenance import analyze
from hggis.db.models import (
    Cluster,
    ClusterCounty,
    ClusterYear,
    ControlIndicators,
    DatasetMeta,
    Enterprise,
    EnterpriseYear,
    Occupancy,
    Parcel,
    Park,
    table_of,
)
from hggis.db.session import transaction
from hggis.demo.constraints import add_demo_constraints
from hggis.demo.generator import (
    BLOCK_ECONOMIES,
    GENERATOR_VERSION,
    LABEL,
    REFERENCE_DATE,
    DemoData,
    block_economy_name,
    generate,
)
from hggis.parcel_integrity import check_candidates, stored_candidates

ACTOR = "hggis demo load"


def demo_reason(seed: int) -> str:
    """The history reason of a demo load, in the words pages show."""
    return f"加载合成示例数据（随机种子 {seed}）"
META_KEY = "demo"
ALREADY_LOADED = "already loaded"
LOADED = "loaded"

Progress = Callable[[str], None]


class DemoError(RuntimeError):
    """The demo data cannot be loaded into this database (one-line reason)."""


@dataclass
class DemoSummary:
    """What ``load_demo`` did: status ``loaded`` or ``already loaded``, counts, reserve 亩."""

    seed: int
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    reserve_mu_by_county: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def already_loaded(self) -> bool:
        return self.status == ALREADY_LOADED

    def __str__(self) -> str:
        if self.already_loaded:
            return f"demo data (seed {self.seed}) already loaded: nothing changed"
        c = self.counts
        return (
            f"demo data loaded (synthetic, seed {self.seed}): {c.get('parks', 0)} parks, "
            f"{c.get('parcels', 0)} parcels, {c.get('enterprises', 0)} enterprises, "
            f"{c.get('enterprise_years', 0)} enterprise-years, {c.get('occupancies', 0)} occupancies"
        )


def _guard(conn: Connection, seed: int, data_names: list[str]) -> dict[str, Any] | None:
    """The existing demo marker if this seed is loaded; raise DemoError if loading is unsafe."""
    meta = conn.execute(text("SELECT value FROM dataset_meta WHERE key = :k"), {"k": META_KEY}).scalar_one_or_none()
    if meta is not None:
        if meta.get("seed") == seed and meta.get("generator_version") == GENERATOR_VERSION:
            return meta
        raise DemoError(
            f"demo data with seed {meta.get('seed')} (generator v{meta.get('generator_version')}) is already "
            f"loaded; load seed {seed} into an empty database instead"
        )
    row = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM parks) AS parks, (SELECT count(*) FROM parcels) AS parcels, "
            "(SELECT count(*) FROM enterprises) AS enterprises, (SELECT count(*) FROM cluster_years) AS cluster_years, "
            "(SELECT count(*) FROM clusters WHERE name = ANY(:names)) AS clusters"
        ),
        {"names": data_names},
    ).mappings().one()
    held = {k: v for k, v in row.items() if v}
    if held:
        listed = ", ".join(f"{v} {k}" for k, v in held.items())
        raise DemoError(
            f"the database already holds data that is not the demo ({listed}): refusing to mix synthetic "
            "data with it; load the demo into an empty database"
        )
    return None


def _county_polygons(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(
        text("SELECT adcode, ST_AsBinary(boundary) AS wkb, has_boundary FROM counties ORDER BY adcode")
    ).all()
    missing = [r.adcode for r in rows if r.has_boundary and r.wkb is None]
    if not rows or missing:
        raise DemoError(
            f"county boundaries are not loaded ({', '.join(missing) or 'no counties'}): run `hggis db migrate` first"
        )
    return {r.adcode: shapely.from_wkb(bytes(r.wkb)) for r in rows if r.wkb is not None}


def _geom_insert(table: Any, column: str) -> Any:
    return (
        insert(table)
        .values({column: func.ST_GeomFromWKB(bindparam("wkb", type_=LargeBinary), 4490)})
        .returning(table.c.id, sort_by_parameter_order=True)
    )


def _write(conn: Connection, data: DemoData, say: Progress) -> None:
    say(f"writing {len(data.parks)} parks and {len(data.clusters)} synthetic clusters")
    park_ids = conn.execute(
        _geom_insert(table_of(Park), "boundary"),
        [{**{k: v for k, v in p.items() if k != "boundary"}, "wkb": shapely.to_wkb(p["boundary"])} for p in data.parks],
    ).scalars().all()

    ct = table_of(Cluster)
    new_ids = conn.execute(
        insert(ct).returning(ct.c.id, sort_by_parameter_order=True),
        [{k: c[k] for k in ("name", "tier", "industry_code", "description", "is_synthetic")} for c in data.clusters],
    ).scalars().all()
    conn.execute(
        insert(table_of(ClusterCounty)),
        [{"cluster_id": cid, "adcode": c["adcode"]} for cid, c in zip(new_ids, data.clusters, strict=True)],
    )
    cluster_id = {name: cid for cid, name in conn.execute(text("SELECT id, name FROM clusters"))}

    say(f"writing {len(data.enterprises)} enterprises")
    et = table_of(Enterprise)
    ent_ids = conn.execute(
        insert(et).returning(et.c.id, sort_by_parameter_order=True),
        [
            {
                "credit_code": e["credit_code"],
                "name": e["name"],
                "gbt4754_code": e["gbt4754_code"],
                "industry_code": e["industry_code"],
                "cluster_id": cluster_id[e["cluster"]] if e["cluster"] else None,
                "park_id": park_ids[e["park"]] if e["park"] is not None else None,
                "adcode": e["adcode"],
            }
            for e in data.enterprises
        ],
    ).scalars().all()

    say(f"writing {len(data.parcels)} parcels")
    skip = {"geom", "area_mu", "park", "holder"}
    parcel_ids = conn.execute(
        _geom_insert(table_of(Parcel), "geom"),
        [
            {
                **{k: v for k, v in p.items() if k not in skip},
                "park_id": park_ids[p["park"]],
                "holder_id": ent_ids[p["holder"]] if p["holder"] is not None else None,
                "wkb": shapely.to_wkb(p["geom"]),
            }
            for p in data.parcels
        ],
    ).scalars().all()
    _check_parcels(conn, list(parcel_ids))

    say(f"writing {len(data.occupancies)} occupancies and {len(data.control_indicators)} control indicators")
    conn.execute(
        insert(table_of(Occupancy)),
        [
            {
                "parcel_id": parcel_ids[o["parcel"]],
                "enterprise_id": ent_ids[o["enterprise"]],
                "share": o["share"],
                "role": o["role"],
                "floor_area_m2": o["floor_area_m2"],
            }
            for o in data.occupancies
        ],
    )
    conn.execute(
        insert(table_of(ControlIndicators)),
        [{**{k: v for k, v in c.items() if k != "parcel"}, "parcel_id": parcel_ids[c["parcel"]]} for c in data.control_indicators],
    )

    say(f"writing {len(data.enterprise_years)} enterprise-years and {len(data.cluster_years)} cluster-years")
    conn.execute(
        insert(table_of(EnterpriseYear)),
        [{**{k: v for k, v in y.items() if k != "enterprise"}, "enterprise_id": ent_ids[y["enterprise"]]} for y in data.enterprise_years],
    )
    conn.execute(
        insert(table_of(ClusterYear)),
        [{**{k: v for k, v in y.items() if k != "cluster"}, "cluster_id": cluster_id[y["cluster"]]} for y in data.cluster_years],
    )


def _check_parcels(conn: Connection, ids: list[int]) -> None:
    """The generated parcels pass the same integrity rules as any other writer's (else: generator bug)."""
    found = check_candidates(conn, stored_candidates(ids))
    if found:
        listed = "; ".join(v.message for v in found[:5])
        raise DemoError(f"{len(found)} generated parcels break the parcel rules (a generator bug): {listed}")


def load_demo(engine: Engine, seed: int = 2023, progress: Progress | None = None) -> DemoSummary:
    """Generate the demo data set for ``seed`` and write it in one transaction.

    Returns a summary with status ``already loaded`` (and writes nothing) when this seed
    is in the database already; raises DemoError when the database holds other data or
    lacks the county boundaries.
    """
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    with transaction(engine, ACTOR, demo_reason(seed)) as conn:
        # Two loads at once: the second waits here and then finds the first one's marker.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('hggis demo load'))"))
        names = [block_economy_name(a, label) for a, label, _p in BLOCK_ECONOMIES]
        meta = _guard(conn, seed, names)
        if meta is not None:
            say(f"demo data with seed {seed} already loaded")
            return DemoSummary(
                seed,
                ALREADY_LOADED,
                dict(meta.get("counts", {})),
                dict(meta.get("reserve_mu_by_county", {})),
                time.perf_counter() - started,
            )
        counties = _county_polygons(conn)
        say(f"generating the demo data set (seed {seed})")
        data = generate(seed, counties)
        _write(conn, data, say)
        add_demo_constraints(conn, say)
        counts = data.counts()
        names_by_adcode: dict[str, str] = {a: n for a, n in conn.execute(text("SELECT adcode, name FROM counties"))}
        reserve = {names_by_adcode[a]: v for a, v in sorted(data.reserve_mu_by_county.items())}
        value = {
            "synthetic": True,
            "seed": seed,
            "generator_version": GENERATOR_VERSION,
            "loaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "label": LABEL,
            "reference_date": REFERENCE_DATE.isoformat(),
            "counts": counts,
            "reserve_mu_by_county": reserve,
        }
        conn.execute(insert(table_of(DatasetMeta)), [{"key": META_KEY, "value": value}])
        analyze(conn, "parks", "parcels", "enterprises", "enterprise_years", "occupancies")
    say("done")
    return DemoSummary(seed, LOADED, counts, reserve, time.perf_counter() - started)
