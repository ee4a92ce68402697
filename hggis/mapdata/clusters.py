"""产业集群分布图: parks by industry and output, the plan's clusters and their counties.

Public. A park's output is the sum of its enterprises' output in the year (亿元); an
anonymous caller sees it only when at least ``HGGIS_PUBLIC_MIN_ENTERPRISES`` enterprises
report, so no single firm's figure can be read off the map. Signed-in users with a read
grant of enterprise figures for the park see it always. Cluster figures (cluster_years)
are the plan's published aggregates and are public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize, grant
from hggis.config import get_settings
from hggis.geo import round_mu_sql
from hggis.mapdata.common import DISPLAY_DECIMALS, MapRequestError, feature_collection


@dataclass(frozen=True)
class ClusterMapData:
    year: int | None
    years: list[int]
    industry: str | None
    parks: dict[str, Any]  # FeatureCollection of park outlines with figures
    markers: dict[str, Any]  # FeatureCollection of park points (same properties)
    clusters: dict[str, dict[str, Any]]  # tier → FeatureCollection of county shapes with the tier's clusters
    cluster_rows: list[dict[str, Any]]


def figure_years(conn: Connection) -> list[int]:
    return list(conn.execute(text("SELECT DISTINCT year FROM enterprise_years ORDER BY year")).scalars())


def _check_industry(conn: Connection, industry: str | None) -> None:
    if industry is not None and conn.execute(text("SELECT 1 FROM industries WHERE code = :c"), {"c": industry}).first() is None:
        raise MapRequestError("industry", f"unknown industry {industry!r}")


def _output_visibility(principal: Principal) -> tuple[str, dict[str, Any]]:
    """SQL deciding per park whether the caller sees its exact output."""
    scope = grant(principal, "enterprise_figures", "read")
    if scope == "all":
        return "TRUE", {}
    if scope == "county":
        return "k.adcode = ANY(:vis_counties)", {"vis_counties": sorted(principal.counties)}
    if scope == "park":
        return "k.id = ANY(:vis_parks)", {"vis_parks": sorted(principal.parks)}
    return "f.reporting >= :min_reporting", {"min_reporting": get_settings().hggis_public_min_enterprises}


def _parks(conn: Connection, principal: Principal, year: int | None, industry: str | None) -> tuple[dict, dict]:
    visible, vparams = _output_visibility(principal)
    base = f"""
        WITH f AS (
            SELECT e.park_id, count(*) AS reporting, sum(y.output) AS output_wan
            FROM enterprises e JOIN enterprise_years y ON y.enterprise_id = e.id AND y.year = :year
            WHERE e.park_id IS NOT NULL AND y.output IS NOT NULL
            GROUP BY e.park_id
        )
        SELECT k.*, i.name AS industry_name, c.name AS county,
               CASE WHEN {visible} THEN round((f.output_wan / 10000.0)::numeric, 1)::float8 END AS output_yi,
               (f.park_id IS NOT NULL AND NOT ({visible})) AS output_withheld
        FROM parks k JOIN counties c ON c.adcode = k.adcode
        LEFT JOIN industries i ON i.code = k.industry_code
        LEFT JOIN f ON f.park_id = k.id
        WHERE (CAST(:industry AS text) IS NULL OR k.industry_code = :industry)
    """
    props = f"""jsonb_build_object('id', q.id, 'name', q.name, 'county', q.county, 'level', q.level,
                  'industry_code', q.industry_code, 'industry', q.industry_name,
                  'leading_industries', array_to_string(q.leading_industries, '、'),
                  'output_yi', q.output_yi, 'output_withheld', q.output_withheld,
                  'area_mu', {round_mu_sql("ST_Area(q.boundary::geography) / (2000.0 / 3)")},
                  'contact_office', q.contact_office, 'details', '/ogc/collections/parks/items/' || q.id)"""
    params = {"year": year or 0, "industry": industry, **vparams}
    outlines = feature_collection(
        conn,
        f"SELECT ST_AsGeoJSON(q.boundary, {DISPLAY_DECIMALS})::json AS geometry, {props} AS properties "
        f"FROM ({base}) q WHERE q.boundary IS NOT NULL ORDER BY q.id",
        params,
    )
    points = feature_collection(
        conn,
        f"SELECT ST_AsGeoJSON(ST_PointOnSurface(q.boundary), {DISPLAY_DECIMALS})::json AS geometry, {props} AS properties "
        f"FROM ({base}) q WHERE q.boundary IS NOT NULL ORDER BY q.id",
        params,
    )
    return outlines, points


def _clusters(conn: Connection, year: int | None, industry: str | None) -> tuple[dict[str, dict], list[dict]]:
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            text(
                """
                SELECT c.id, c.name, c.tier, c.industry_code, i.name AS industry, c.is_synthetic,
                       a.actual_output_yi::float8 AS actual_output_yi,
                       t.target_output_yi::float8 AS target_output_yi, t.year AS target_year,
                       coalesce(array_agg(co.name ORDER BY co.adcode) FILTER (WHERE co.adcode IS NOT NULL), '{}') AS counties
                FROM clusters c LEFT JOIN industries i ON i.code = c.industry_code
                LEFT JOIN cluster_years a ON a.cluster_id = c.id AND a.year = :year
                LEFT JOIN LATERAL (SELECT year, target_output_yi FROM cluster_years
                                   WHERE cluster_id = c.id AND target_output_yi IS NOT NULL
                                   ORDER BY year DESC LIMIT 1) t ON TRUE
                LEFT JOIN cluster_counties cc ON cc.cluster_id = c.id
                LEFT JOIN counties co ON co.adcode = cc.adcode
                WHERE CAST(:industry AS text) IS NULL OR c.industry_code = :industry
                GROUP BY c.id, i.name, a.actual_output_yi, t.target_output_yi, t.year
                ORDER BY c.tier DESC, c.id
                """
            ),
            {"year": year or 0, "industry": industry},
        )
    ]
    by_tier: dict[str, dict] = {}
    for tier in ("百亿", "十亿"):
        by_tier[tier] = feature_collection(
            conn,
            """
            SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(co.boundary, 0.0005), 5)::json AS geometry,
                   jsonb_build_object(
                       'adcode', co.adcode, 'county', co.name, 'tier', CAST(:tier AS text),
                       'industry_code', (array_agg(c.industry_code ORDER BY a.actual_output_yi DESC NULLS LAST, c.id))[1],
                       'clusters', string_agg(c.name || coalesce('（' || i.name || '）', ''), '、' ORDER BY c.id),
                       'output_yi', round(sum(a.actual_output_yi)::numeric, 1)::float8
                   ) AS properties
            FROM clusters c JOIN cluster_counties cc ON cc.cluster_id = c.id
            JOIN counties co ON co.adcode = cc.adcode AND co.boundary IS NOT NULL
            LEFT JOIN industries i ON i.code = c.industry_code
            LEFT JOIN cluster_years a ON a.cluster_id = c.id AND a.year = :year
            WHERE c.tier = :tier AND (CAST(:industry AS text) IS NULL OR c.industry_code = :industry)
            GROUP BY co.adcode, co.name, co.boundary
            ORDER BY co.adcode
            """,
            {"tier": tier, "year": year or 0, "industry": industry},
        )
    return by_tier, rows


def cluster_map(
    conn: Connection, principal: Principal, year: int | None = None, industry: str | None = None
) -> ClusterMapData:
    """Everything the cluster map draws, for ``year`` (default: the latest year with figures)."""
    authorize(principal, "clusters", "read")
    authorize(principal, "parks", "read")
    _check_industry(conn, industry)
    years = figure_years(conn)
    if year is None:
        year = years[-1] if years else None
    elif years and year not in years:
        raise MapRequestError("year", f"no figures for {year} (years: {', '.join(map(str, years))})")
    outlines, points = _parks(conn, principal, year, industry)
    tiers, rows = _clusters(conn, year, industry)
    return ClusterMapData(year=year, years=years, industry=industry, parks=outlines, markers=points,
                          clusters=tiers, cluster_rows=rows)
