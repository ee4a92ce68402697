"""Everything public a buyer needs about one parcel on offer, gathered once for page, API and PDF.

Only land on offer (``status = 'on_offer'``) has an investor view; everything else answers
"not found" to the public, as the public layer does. The view holds no confidential field:
the contract price and holder stay officers' business (``hggis.access.policy.CONFIDENTIAL_FIELDS``),
enterprise figures are never read. The plan's chain links that suit the parcel come from
the providers in ``CHAIN_LINK_PROVIDERS``: today the plan's clusters of the parcel's
意向产业 in its county; a provider over a 招商 chain-link table can be appended without
touching the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Numeric, and_, cast, func, select
from sqlalchemy.engine import Connection

from hggis.db.models import (
    Cluster,
    ClusterCounty,
    ControlIndicators,
    County,
    Enterprise,
    Industry,
    Parcel,
    Park,
    table_of,
)
from hggis.errors import NotFound
from hggis.investor.commitments import commitments, headline_indicators
from hggis.investor.reference import nearest
from hggis.investor.terms import CONTACT_FIELDS, read_offer
from hggis.reserves.indicators import INDICATOR_FIELDS

MAP_MARGIN_DEG = 0.01  # ≈ 1 km of surroundings around the parcel on the page's map
NEIGHBOURS_ON_OFFER = 50


class NotOnOffer(NotFound):
    """No live parcel on offer with this code (the public may not know whether others exist)."""


def _parcel(conn: Connection, code: str) -> dict[str, Any]:
    p, c, i = table_of(Parcel), table_of(County), table_of(Industry)
    row = conn.execute(
        select(p.c.id, p.c.code, p.c.adcode, c.c.name.label("county"), p.c.park_id, p.c.land_use,
               p.c.intended_industry.label("industry_code"), i.c.name.label("intended_industry"),
               cast(p.c.area_mu, Numeric(14, 2)).label("area_mu"),
               func.ST_X(func.ST_Centroid(p.c.geom)).label("lon"), func.ST_Y(func.ST_Centroid(p.c.geom)).label("lat"))
        .select_from(p.join(c, c.c.adcode == p.c.adcode).outerjoin(i, i.c.code == p.c.intended_industry))
        .where(p.c.code == code.strip().upper(), p.c.retired_at.is_(None), p.c.status == "on_offer")
    ).mappings().first()
    if row is None:
        raise NotOnOffer(f"没有挂牌出让中的宗地 {code}")
    out = dict(row)
    out["area_mu"] = float(out["area_mu"])
    return out


def indicator_values(conn: Connection, parcel_id: int) -> dict[str, Any]:
    """The published control indicators (numbers as float), empty when none are set."""
    ci = table_of(ControlIndicators)
    row = conn.execute(select(*(ci.c[k] for k in INDICATOR_FIELDS)).where(ci.c.parcel_id == parcel_id)).mappings().first()
    if row is None:
        return {}
    return {k: (v if v is None or isinstance(v, str | int) else float(v)) for k, v in row.items()}


def park_info(conn: Connection, park_id: int | None) -> dict[str, Any] | None:
    if park_id is None:
        return None
    k, i = table_of(Park), table_of(Industry)
    row = conn.execute(
        select(k.c.id, k.c.name, k.c.level, i.c.name.label("industry"), k.c.leading_industries,
               *(k.c[f] for f in CONTACT_FIELDS))
        .select_from(k.outerjoin(i, i.c.code == k.c.industry_code)).where(k.c.id == park_id)
    ).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["leading_industries"] = list(out["leading_industries"] or [])
    out["has_contacts"] = any(out[f] for f in CONTACT_FIELDS)
    return out


def cluster_links(conn: Connection, parcel: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's clusters of the parcel's 意向产业 that name its county (or the whole city)."""
    if not parcel["industry_code"]:
        return []
    cl, cc = table_of(Cluster), table_of(ClusterCounty)
    in_county = select(cc.c.cluster_id).where(cc.c.adcode == parcel["adcode"])
    rows = conn.execute(
        select(cl.c.name, cl.c.tier, cl.c.description, cl.c.id.in_(in_county).label("local"))
        .where(cl.c.industry_code == parcel["industry_code"], cl.c.is_synthetic.is_(False))
        .order_by(cl.c.id.in_(in_county).desc(), cl.c.tier, cl.c.name)
    ).mappings().all()
    return [{"name": r["name"], "tier": r["tier"], "source": "plan_cluster",
             "why": ("本县（市、区）" if r["local"] else "全市") + f"{r['tier']}级产业集群"} for r in rows]


def peer_firms(conn: Connection, parcel: dict[str, Any]) -> int:
    """How many firms of the same industry are in the parcel's park (a count only: names are not public)."""
    if not parcel["industry_code"] or parcel["park_id"] is None:
        return 0
    e = table_of(Enterprise)
    return conn.execute(select(func.count()).select_from(e).where(
        and_(e.c.park_id == parcel["park_id"], e.c.industry_code == parcel["industry_code"]))).scalar_one()


ChainLinkProvider = Callable[[Connection, dict[str, Any]], list[dict[str, Any]]]
CHAIN_LINK_PROVIDERS: list[ChainLinkProvider] = [cluster_links]


def chain_links(conn: Connection, parcel: dict[str, Any]) -> list[dict[str, Any]]:
    return [link for provider in CHAIN_LINK_PROVIDERS for link in provider(conn, parcel)]


def map_features(conn: Connection, parcel: dict[str, Any]) -> dict[str, Any]:
    """The parcel, other land on offer around it and its park's outline (GeoJSON; public layers only)."""
    p, k = table_of(Parcel), table_of(Park)
    target = select(p.c.geom).where(p.c.id == parcel["id"]).scalar_subquery()
    own = conn.execute(select(func.ST_AsGeoJSON(p.c.geom, 7)).where(p.c.id == parcel["id"])).scalar_one()
    features: list[dict[str, Any]] = [{"type": "Feature", "geometry": json.loads(own),
                                       "properties": {"code": parcel["code"], "self": True}}]
    others = conn.execute(
        select(p.c.code, func.ST_AsGeoJSON(p.c.geom, 6).label("g"))
        .where(p.c.geom.op("&&")(func.ST_Expand(target, MAP_MARGIN_DEG)), p.c.id != parcel["id"],
               p.c.status == "on_offer", p.c.retired_at.is_(None))
        .order_by(func.ST_Distance(p.c.geom, target)).limit(NEIGHBOURS_ON_OFFER)
    ).all()
    features += [{"type": "Feature", "geometry": json.loads(r.g), "properties": {"code": r.code, "self": False}}
                 for r in others]
    if parcel["park_id"] is not None:
        outline = conn.execute(select(func.ST_AsGeoJSON(func.ST_Boundary(k.c.boundary), 6))
                               .where(k.c.id == parcel["park_id"], k.c.boundary.isnot(None))).scalar_one_or_none()
        if outline:
            features.append({"type": "Feature", "geometry": json.loads(outline), "properties": {"outline": True}})
    return {"type": "FeatureCollection", "features": features}


def investor_view(conn: Connection, code: str, mu: float | None = None) -> dict[str, Any]:
    """The public investor view of a parcel on offer; ``mu`` is the project size for the commitments."""
    parcel = _parcel(conn, code)
    values = indicator_values(conn, parcel["id"])
    size = parcel["area_mu"] if mu is None else mu
    offer = read_offer(conn, parcel["id"])
    return {
        "parcel": {k: v for k, v in parcel.items() if k != "id"},
        "indicators": headline_indicators(values),
        "project_mu": size,
        "commitments": commitments(values, size),
        "offer": None if offer is None else {k: v for k, v in offer.items() if k not in ("parcel_id",)},
        "park": park_info(conn, parcel["park_id"]),
        "distances": nearest(conn, parcel["id"]),
        "chain_links": chain_links(conn, parcel),
        "peer_firms": peer_firms(conn, parcel),
        "_parcel_id": parcel["id"],  # for the map and the sheet; never sent (see public_part)
        "_values": values,
    }


def public_part(view: dict[str, Any]) -> dict[str, Any]:
    """The view without its internal keys, as the API sends it."""
    return {k: v for k, v in view.items() if not k.startswith("_")}
