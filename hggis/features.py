"""GeoJSON feature collections of counties, parks and parcels, built by PostGIS.

Anonymous callers see the public view only: each layer lists the fields it may show
(an allow-list), and the SQL selects exactly those, so a confidential column can never
leak by being forgotten in a filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.db.models import PARCEL_STATUSES
from hggis.geo import round_mu_sql

GEOJSON_DECIMALS = 7  # ≈ 1 cm at 黄冈's latitude
MAX_PAGE = 5000

STATUS_LABEL_SQL = "CASE p.status " + " ".join(
    f"WHEN '{k}' THEN '{v}'" for k, v in PARCEL_STATUSES.items()
) + " END"


PARCEL_SOURCE = (
    "parcels p JOIN counties c ON c.adcode = p.adcode LEFT JOIN parks k ON k.id = p.park_id "
    "LEFT JOIN industries i ON i.code = p.intended_industry"
)
PARCEL_PUBLIC_FIELDS: dict[str, str] = {
    "code": "p.code",
    "area_mu": round_mu_sql("p.area_mu"),
    "status": "p.status",
    "status_label": STATUS_LABEL_SQL,
    "adcode": "p.adcode",
    "county": "c.name",
    "park_id": "p.park_id",
    "park": "k.name",
    "land_use": "p.land_use",
    "intended_industry": "i.name",
}
# What a signed-in user sees in addition, within their scope (never the public).
PARCEL_OFFICER_FIELDS: dict[str, str] = {
    "holder_id": "p.holder_id",
    "holder": "e.name",
    "holder_credit_code": "e.credit_code",
    **{f: f"p.{f}" for f in (
        "contract_kind", "contract_no", "land_price", "agreed_start_date", "agreed_completion_date",
        "planned_investment", "started_on", "built_footprint_m2", "investment_to_date", "halted_since",
        "completed_on", "production_stopped_since", "floor_area_m2", "delivered_on", "supervision_no",
        "parent_codes", "version", "updated_at",
    )},
}


@dataclass(frozen=True)
class Layer:
    """A feature layer: its SQL source, geometry column, stable order and public fields."""

    name: str
    source: str  # FROM ... (with joins), aliased so the fields below resolve
    geom: str
    order_by: str
    public_fields: dict[str, str]  # output name -> SQL expression
    where: str = "TRUE"


LAYERS: dict[str, Layer] = {
    "counties": Layer(
        name="counties",
        source="counties c",
        geom="c.boundary",
        order_by="c.adcode",
        public_fields={"adcode": "c.adcode", "name": "c.name", "has_boundary": "c.has_boundary"},
    ),
    "parks": Layer(
        name="parks",
        source="parks k JOIN counties c ON c.adcode = k.adcode LEFT JOIN industries i ON i.code = k.industry_code",
        geom="k.boundary",
        order_by="k.id",
        public_fields={
            "id": "k.id",
            "name": "k.name",
            "adcode": "k.adcode",
            "county": "c.name",
            "level": "k.level",
            "industry": "i.name",
            "leading_industries": "k.leading_industries",
            "area_mu": round_mu_sql("ST_Area(k.boundary::geography) / (2000.0 / 3)"),
            "contact_office": "k.contact_office",
        },
    ),
    "parcels": Layer(
        name="parcels",
        source=PARCEL_SOURCE,
        geom="p.geom",
        order_by="p.code",
        # Investors see the land on offer only; the rest of the parcels is officers' business.
        where="p.retired_at IS NULL AND p.status = 'on_offer'",
        public_fields=PARCEL_PUBLIC_FIELDS,
    ),
    "parcels_officer": Layer(
        name="parcels_officer",
        source=PARCEL_SOURCE + " LEFT JOIN enterprises e ON e.id = p.holder_id",
        geom="p.geom",
        order_by="p.code",
        where="p.retired_at IS NULL",
        public_fields={**PARCEL_PUBLIC_FIELDS, **PARCEL_OFFICER_FIELDS},
    ),
}


@dataclass(frozen=True)
class Page:
    limit: int = 1000
    offset: int = 0


BBox = tuple[float, float, float, float]


def _filters(
    layer: Layer, bbox: BBox | None, equals: dict[str, Any], scope: tuple[str, dict[str, Any]] | None
) -> tuple[str, dict[str, Any]]:
    clauses = [layer.where]
    params: dict[str, Any] = {}
    if scope is not None:
        clauses.append(scope[0])
        params.update(scope[1])
    if bbox is not None:
        clauses.append(f"{layer.geom} && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4490)")
        params.update(dict(zip(("minx", "miny", "maxx", "maxy"), bbox, strict=True)))
    for i, (field, value) in enumerate(sorted(equals.items())):
        if value is None:
            continue
        if field not in layer.public_fields:
            raise ValueError(f"unknown filter field {field!r} for layer {layer.name}")
        clauses.append(f"{layer.public_fields[field]} = :f{i}")
        params[f"f{i}"] = value
    return " AND ".join(clauses), params


def feature_collection(
    conn: Connection,
    layer_name: str,
    bbox: BBox | None = None,
    page: Page = Page(),
    equals: dict[str, Any] | None = None,
    scope: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A page of a layer as a GeoJSON FeatureCollection with ``numberMatched``/``numberReturned``.

    ``scope`` is a (SQL condition, params) pair from hggis.access.policy.scope_clause.
    """
    layer = LAYERS[layer_name]
    if not 1 <= page.limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if page.offset < 0:
        raise ValueError("offset must be >= 0")
    where, params = _filters(layer, bbox, equals or {}, scope)
    props = ", ".join(f"{expr} AS {name}" for name, expr in layer.public_fields.items())
    sql = f"""
        WITH page AS (
            SELECT {props}, ST_AsGeoJSON({layer.geom}, {GEOJSON_DECIMALS}, 0)::json AS geometry
            FROM {layer.source} WHERE {where}
            ORDER BY {layer.order_by} LIMIT :limit OFFSET :offset
        )
        SELECT coalesce(json_agg(json_build_object(
                   'type', 'Feature', 'geometry', page.geometry,
                   'properties', to_jsonb(page) - 'geometry')), '[]'::json)
        FROM page
    """
    features = conn.execute(text(sql), {**params, "limit": page.limit, "offset": page.offset}).scalar_one()
    matched = conn.execute(text(f"SELECT count(*) FROM {layer.source} WHERE {where}"), params).scalar_one()
    if isinstance(features, str):
        features = json.loads(features)
    return {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(features),
        "features": features,
    }
