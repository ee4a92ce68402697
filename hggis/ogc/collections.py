"""The feature collections the OGC API serves, and who may see which.

Each collection is built on layers in the style of hggis.features (a FROM clause, a
geometry, and an allow-list of fields), so the OGC API and /api show the same fields:
anonymous callers get the public layer, signed-in users the officer layer filtered to
their scope (hggis.access.policy.scope_clause).

Visibility rule: a collection without a public view (``public=None``) is not listed for
anonymous callers and its URLs answer 404, as if it did not exist; the same holds for a
signed-in user whose role has no read grant on the collection's resource. A collection
whose tables do not exist (its module is not migrated) is skipped.

Adding a collection is one call: ``register(Collection(...))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import PUBLIC, Principal, grant, scope_clause
from hggis.features import LAYERS, Layer

_TABLE = re.compile(r"(?:^\s*|\bJOIN\s+)([a-z_][a-z0-9_]*)\s+([a-z_][a-z0-9_]*)\b", re.I)
_ALIAS_USE = re.compile(r"\b([a-z_][a-z0-9_]*)\.[a-z_]", re.I)


@dataclass(frozen=True)
class Source:
    """A layer split for paging: ``base`` holds what filters need, ``joins`` only decorate a page.

    A page selects ids from ``base`` alone (where the GiST and id indexes work) and joins
    the rest for the page's rows only, so a bbox over a million parcels never drags the
    joins along.
    """

    layer: Layer
    base: str
    joins: str
    tables: tuple[str, ...]  # every table of the layer (all must exist)
    main_table: str  # first table of base: its size decides exact vs estimated extent
    geom_table: str  # table of the geometry column (statistics extent)


def source_of(layer: Layer, base: str | None = None) -> Source:
    """Split ``layer.source`` after ``base`` (default: its first ``table alias``)."""
    tables = _TABLE.findall(layer.source)
    if not tables:
        raise ValueError(f"layer {layer.name}: source must start with '<table> <alias>'")
    if base is None:
        base = f"{tables[0][0]} {tables[0][1]}"
    if not layer.source.startswith(base):
        raise ValueError(f"layer {layer.name}: base {base!r} is not the start of its source")
    joins = layer.source[len(base):].strip()
    base_aliases = {alias: table for table, alias in _TABLE.findall(base)}
    for sql in (layer.where, layer.geom, layer.order_by):
        others = {a for a in _ALIAS_USE.findall(sql) if a not in base_aliases}
        if others:
            raise ValueError(f"layer {layer.name}: {sql!r} uses {others} outside the base {base!r}")
    geom_alias = layer.geom.split(".", 1)[0]
    return Source(layer, base, joins, tuple(t for t, _ in tables), tables[0][0], base_aliases[geom_alias])


@dataclass(frozen=True)
class Collection:
    """One OGC collection: its views per kind of caller and its feature id."""

    id: str
    title: str
    description: str
    resource: str  # POLICY resource that gates reading
    key: str  # SQL of the feature id in the base: unique and indexed (paging order)
    key_type: type  # int or str: how an id in a URL is parsed
    public: Source | None  # what anonymous callers see (None: signed-in users only)
    officer: Source | None = None  # what signed-in users see (None: the public view for everyone)
    adcode_sql: str | None = None  # for scope_clause on the officer view
    park_sql: str | None = None
    keywords: tuple[str, ...] = ()

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(s for s in (self.public, self.officer) if s is not None)


@dataclass(frozen=True)
class View:
    """A collection as one caller sees it: a source plus the caller's scope condition."""

    collection: Collection
    source: Source
    scope_sql: str
    scope_params: dict[str, Any]

    @property
    def layer(self) -> Layer:
        return self.source.layer

    @property
    def base(self) -> str:
        return self.source.base

    @property
    def joins(self) -> str:
        return self.source.joins

    @property
    def fields(self) -> dict[str, str]:
        return self.source.layer.public_fields

    def where(self) -> str:
        return f"({self.layer.where}) AND ({self.scope_sql})"


REGISTRY: dict[str, Collection] = {}


def register(collection: Collection) -> Collection:
    """Add a collection (checked: id unique, key and scope columns in the base, ≤ 45 fields)."""
    if collection.id in REGISTRY:
        raise ValueError(f"collection {collection.id} already registered")
    if not collection.sources:
        raise ValueError(f"collection {collection.id} has no view")
    for source in collection.sources:
        aliases = {alias for _, alias in _TABLE.findall(source.base)}
        for sql in (collection.key, collection.adcode_sql or "", collection.park_sql or ""):
            if set(_ALIAS_USE.findall(sql)) - aliases:
                raise ValueError(f"collection {collection.id}: {sql} is not on the base {source.base!r}")
        if len(source.layer.public_fields) > 45:
            raise ValueError(f"layer {source.layer.name}: at most 45 fields (json_build_object takes 100 arguments)")
    if collection.public is not None and grant(PUBLIC, collection.resource, "read") is None:
        raise ValueError(f"collection {collection.id} has a public view but POLICY refuses the public")
    REGISTRY[collection.id] = collection
    return collection


def _existing_tables(conn: Connection, names: set[str]) -> set[str]:
    rows = conn.execute(
        text("SELECT t FROM unnest(CAST(:names AS text[])) AS t WHERE to_regclass(t) IS NOT NULL"),
        {"names": sorted(names)},
    )
    return set(rows.scalars())


def _view(collection: Collection, principal: Principal) -> View | None:
    if grant(principal, collection.resource, "read") is None:
        return None
    source: Source | None
    clause: tuple[str, dict[str, Any]]
    if principal.is_public:
        if collection.public is None:
            return None
        source, clause = collection.public, ("TRUE", {})
    elif collection.officer is None:
        source, clause = collection.public, ("TRUE", {})  # the public view, the same for everyone
    else:
        source = collection.officer
        clause = scope_clause(
            principal, collection.resource, "read", collection.adcode_sql or "NULL", collection.park_sql or "NULL"
        )
    assert source is not None
    return View(collection, source, clause[0], dict(clause[1]))


def visible_views(conn: Connection, principal: Principal) -> list[View]:
    """The collections this caller may see, in registration order."""
    views = [v for v in (_view(c, principal) for c in REGISTRY.values()) if v is not None]
    present = _existing_tables(conn, {t for v in views for t in v.source.tables})
    return [v for v in views if set(v.source.tables) <= present]


def view_of(conn: Connection, principal: Principal, collection_id: str) -> View | None:
    """One collection as this caller sees it, or None (unknown, hidden, or not migrated)."""
    collection = REGISTRY.get(collection_id)
    view = _view(collection, principal) if collection is not None else None
    if view is None or set(view.source.tables) - _existing_tables(conn, set(view.source.tables)):
        return None
    return view


register(
    Collection(
        id="counties",
        title="县级行政区",
        description="黄冈市 11 个县级单元的边界（龙感湖管理区无独立边界，几何为空）。",
        resource="counties",
        key="c.adcode",
        key_type=str,
        public=source_of(LAYERS["counties"]),
        keywords=("行政区划", "县市区"),
    )
)
register(
    Collection(
        id="parks",
        title="工业园区",
        description="园区边界、级别、主导产业与面积（亩，椭球面积）。",
        resource="parks",
        key="k.id",
        key_type=int,
        public=source_of(LAYERS["parks"]),
        keywords=("园区", "开发区"),
    )
)
register(
    Collection(
        id="available_land",
        title="可供土地（挂牌出让中）",
        description="正在挂牌出让的宗地，面向投资者的公开信息；收回的土地重新挂牌后即出现在此。",
        resource="parcels",
        key="p.code",
        key_type=str,
        public=source_of(LAYERS["parcels"]),
        keywords=("招商", "供地", "标准地"),
    )
)
register(
    Collection(
        id="parcels",
        title="宗地（全部，需登录）",
        description="登录用户在其权限范围内的全部现行宗地，含权利人与合同信息。",
        resource="parcels",
        key="p.code",
        key_type=str,
        public=None,
        officer=source_of(LAYERS["parcels_officer"]),
        adcode_sql="p.adcode",
        park_sql="p.park_id",
        keywords=("宗地", "地籍"),
    )
)
