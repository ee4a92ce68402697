"""招商地图: land on offer for investors, with filters and the site finder's results.

Public. What an investor sees of a parcel is the public allow-list of
``hggis.features.LAYERS['parcels']`` (land on offer only: standard land put up for sale and
recovered land offered again) plus what is published with it by design: the 标准地
control indicators and the park's contact office. These fields go into the public vector
tiles (hggis.tiles) that the map's popups show; the clusters and the list beside the map
(hggis.mapdata.land_view) carry a subset of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.features import LAYERS
from hggis.geo import round_mu, round_mu_sql
from hggis.mapdata.common import MapRequestError

LAND = LAYERS["parcels"]
LAND_SOURCE = LAND.source + " LEFT JOIN control_indicators ci ON ci.parcel_id = p.id"

#: The public fields of land on offer, plus the published control indicators and contact.
LAND_FIELDS: dict[str, str] = {
    **LAND.public_fields,
    "area_mu": round_mu_sql("p.area_mu"),
    "contact_office": "k.contact_office",
    "investment_intensity": "ci.investment_intensity::float8",
    "far_min": "ci.far_min::float8",
    "far_max": "ci.far_max::float8",
    "tax_per_mu_required": "ci.tax_per_mu::float8",
    "output_intensity": "ci.output_intensity::float8",
    "building_coverage_min": "ci.building_coverage_min::float8",
    "green_ratio_max": "ci.green_ratio_max::float8",
    "construction_months": "ci.construction_months",
}

MAX_SITE_RESULTS = 20


@dataclass(frozen=True)
class LandFilter:
    adcode: str | None = None
    industry: str | None = None
    min_mu: float | None = None
    max_mu: float | None = None
    # the investor's ceiling on what the land demands (标准地 control indicators): land whose
    # required 投资强度 / 亩均税收 exceeds what the project can commit to is left out
    max_intensity: float | None = None
    max_tax: float | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """Conditions on ``p`` (parcels) for the filter; every value is a bound parameter."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.adcode is not None:
            clauses.append("p.adcode = :lf_adcode")
            params["lf_adcode"] = self.adcode
        if self.industry is not None:
            clauses.append("p.intended_industry = :lf_industry")
            params["lf_industry"] = self.industry
        if self.min_mu is not None:
            clauses.append("p.area_mu >= :lf_min")
            params["lf_min"] = self.min_mu
        if self.max_mu is not None:
            clauses.append("p.area_mu <= :lf_max")
            params["lf_max"] = self.max_mu
        for name, column in (("max_intensity", "investment_intensity"), ("max_tax", "tax_per_mu")):
            value = getattr(self, name)
            if value is not None:
                # a parcel without the indicator demands nothing of it
                clauses.append(f"coalesce((SELECT x.{column} FROM control_indicators x WHERE x.parcel_id = p.id), 0)"
                               f" <= :lf_{name}")
                params[f"lf_{name}"] = value
        return (" AND ".join(clauses) or "TRUE"), params

    def query(self) -> dict[str, Any]:
        return {k: v for k, v in (("adcode", self.adcode), ("industry", self.industry),
                                   ("min_mu", self.min_mu), ("max_mu", self.max_mu),
                                   ("max_intensity", self.max_intensity), ("max_tax", self.max_tax)) if v is not None}


def check_filter(conn: Connection, f: LandFilter) -> LandFilter:
    """Validate a filter (MapRequestError with the field and a reason)."""
    if f.adcode is not None and conn.execute(text("SELECT 1 FROM counties WHERE adcode = :a"), {"a": f.adcode}).first() is None:
        raise MapRequestError("adcode", f"unknown county {f.adcode!r}")
    if f.industry is not None and conn.execute(text("SELECT 1 FROM industries WHERE code = :c"), {"c": f.industry}).first() is None:
        raise MapRequestError("industry", f"unknown industry {f.industry!r}")
    for name in ("min_mu", "max_mu"):
        value = getattr(f, name)
        if value is not None and (not math.isfinite(value) or value < 0):
            raise MapRequestError(name, "area in 亩 must be a finite number ≥ 0")
    for name in ("max_intensity", "max_tax"):
        value = getattr(f, name)
        if value is not None and (not math.isfinite(value) or value < 0):
            raise MapRequestError(name, "an indicator ceiling (万元/亩) must be a finite number ≥ 0")
    if f.min_mu is not None and f.max_mu is not None and f.min_mu > f.max_mu:
        raise MapRequestError("min_mu", "the minimum area is larger than the maximum")
    return f


def find_sites_for_map(conn: Connection, principal: Principal, f: LandFilter, limit: int = 10) -> dict[str, Any]:
    """The site finder (hggis.reserves.sites) for the filter's county, industry and area range."""
    from hggis.reserves.sites import SiteQuery, find_sites

    if f.min_mu is None or f.max_mu is None:
        raise MapRequestError("min_mu", "the site finder needs an area range (min_mu and max_mu, 亩)")
    q = SiteQuery(min_mu=f.min_mu, max_mu=f.max_mu, adcode=f.adcode, industry=f.industry,
                  limit=min(limit, MAX_SITE_RESULTS))
    try:
        return find_sites(conn, principal, q)
    except ValueError as exc:  # InvalidRequest carries the field
        raise MapRequestError(getattr(exc, "field", "sites"), str(exc)) from None


def site_features(answer: dict[str, Any]) -> dict[str, Any]:
    """The site finder's results as GeoJSON features (site rank, area, parcels, explanation).

    ``site_rank``/``site_score`` rank sites, not enterprises; the names keep them apart from the
    confidential evaluation ``rank``/``score`` fields.
    """
    features = []
    for r in answer.get("results", []):
        if r.get("geometry") is None:
            continue
        features.append({
            "type": "Feature",
            "geometry": r["geometry"],
            "properties": {
                "site_rank": r["site_rank"], "county": r["county"], "parks": "、".join(r.get("parks") or []),
                "area_mu": round_mu(r["area_mu"]), "parcel_count": r["parcel_count"],
                "parcels": "、".join(r.get("parcels") or []), "site_score": r["site_score"],
                "explanation": r.get("explanation"),
            },
        })
    return {"type": "FeatureCollection", "features": features}
