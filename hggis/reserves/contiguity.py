"""Contiguous blocks of land: the one definition of "adjacent" used by the ledger and the finder.

Two pieces of land are adjacent when their boundaries touch or are at most the tolerance
apart (setting ``adjacency_tolerance_m``, default 0.5 m, for survey slivers between
neighbouring 宗地). Pieces merely near each other (1 m apart, across a road) are not.
A block is a connected component of that relation, found by ``ST_ClusterDBSCAN`` with
``minpoints = 1`` (which is exactly "connected through links of length ≤ eps") in the
county's Gauss-Krüger plane, so eps is in metres. Blocks never cross a county line: land
is reserved and offered by one county.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from hggis.reserves.common import get_setting, gk_srid_sql


def tolerance_m(conn: Connection) -> float:
    return float(get_setting(conn, "adjacency_tolerance_m"))


def with_zone_sql(rows_sql: str, geom: str = "geom", partition: str = "adcode") -> str:
    """``rows_sql`` plus ``gk_srid``: the GK zone of the partition's mean longitude."""
    mean_lon = f"avg(ST_X(ST_Centroid(y.{geom}))) OVER (PARTITION BY y.{partition})"
    return f"SELECT y.*, {gk_srid_sql(mean_lon)} AS gk_srid FROM ({rows_sql}) y"


def components_sql(rows_sql: str, geom: str = "geom", partition: str = "adcode", tol_param: str = "tol") -> str:
    """``rows_sql`` plus ``gk_srid`` and ``cid``, the block number within the partition."""
    return f"""
        SELECT z.*, ST_ClusterDBSCAN(ST_Transform(z.{geom}, z.gk_srid), eps := :{tol_param}, minpoints := 1)
                        OVER (PARTITION BY z.{partition}) AS cid
        FROM ({with_zone_sql(rows_sql, geom, partition)}) z
    """
