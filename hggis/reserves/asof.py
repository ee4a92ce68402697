"""Parcels as they were at a past instant, rebuilt from the audit history in one query.

The history triggers store, for an update, only the changed columns (``before``/``after``)
and, for an insert, the whole new row. A parcel's value of a column at instant T is
therefore the ``before`` value of the *first* change of that column at or after T, or its
current value when it has not changed since. Rolling back from the current row (instead of
replaying forward from the insert) also works for parcels loaded before auditing existed
or with the triggers off: with no history they are taken as they are now.

Geometry values in history are what ``to_jsonb`` made of them: GeoJSON objects with PostGIS
3 (its geometry→json cast), hex EWKB strings with older PostGIS; both are decoded.
"""

from __future__ import annotations

import datetime as dt

ROLLED_BACK = ("status", "geom", "area_mu", "adcode", "park_id", "retired_at")

GEOM_FROM_JSON = (
    "CASE jsonb_typeof({v}) WHEN 'string' THEN ST_SetSRID(({v} #>> '{{}}')::geometry, 4490) "
    "WHEN 'object' THEN ST_SetSRID(ST_GeomFromGeoJSON({v}::text), 4490) END"
)


def current_state_sql() -> str:
    """Live parcels now: the same columns as :func:`state_sql`."""
    return "SELECT p.id, p.code, p.adcode, p.park_id, p.status, p.geom, p.area_mu FROM parcels p WHERE p.retired_at IS NULL"


def state_sql(cutoff_param: str = "cutoff") -> str:
    """Every parcel that existed (and was not retired) just before ``:cutoff``, as it was then.

    Columns: id, code, adcode, park_id, status, geom, area_mu. Changes recorded at or after
    the cutoff are undone; a parcel inserted at or after it is left out.
    """
    keys = ", ".join(f"'{k}'" for k in ROLLED_BACK)
    prior = "r.prior"

    def pick(key: str, current: str, cast: str) -> str:
        return f"CASE WHEN {prior} ? '{key}' THEN ({prior} ->> '{key}'){cast} ELSE {current} END"

    geom_prior = GEOM_FROM_JSON.format(v=f"({prior} -> 'geom')")
    return f"""
        SELECT p.id, p.code,
               {pick('adcode', 'p.adcode', '::varchar')} AS adcode,
               {pick('park_id', 'p.park_id', '::int')} AS park_id,
               {pick('status', 'p.status', '')} AS status,
               CASE WHEN {prior} ? 'geom' THEN {geom_prior} ELSE p.geom END AS geom,
               {pick('area_mu', 'p.area_mu', '::float8')} AS area_mu
        FROM parcels p
        LEFT JOIN (
            SELECT parcel_id, jsonb_object_agg(k, v) AS prior
            FROM (
                SELECT DISTINCT ON (h.object_id, k.k) h.object_id::int AS parcel_id, k.k, h.before -> k.k AS v
                FROM history h CROSS JOIN unnest(ARRAY[{keys}]) AS k(k)
                WHERE h.table_name = 'parcels' AND h.action = 'update'
                  AND h.at >= :{cutoff_param} AND h.before ? k.k
                ORDER BY h.object_id, k.k, h.id
            ) changed
            GROUP BY parcel_id
        ) r ON r.parcel_id = p.id
        LEFT JOIN (
            SELECT object_id::int AS parcel_id, min(at) AS created_at
            FROM history WHERE table_name = 'parcels' AND action = 'insert'
            GROUP BY object_id
        ) c ON c.parcel_id = p.id
        WHERE (c.created_at IS NULL OR c.created_at < :{cutoff_param})
          AND {pick('retired_at', 'p.retired_at', '::timestamptz')} IS NULL
    """


def state_source(cutoff: dt.datetime | None) -> tuple[str, dict[str, object]]:
    """(SQL, params) of the parcels at ``cutoff``; None means now (read from the table itself)."""
    if cutoff is None:
        return current_state_sql(), {}
    return state_sql(), {"cutoff": cutoff}
