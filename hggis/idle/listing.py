"""The public listing of confirmed idle land (第十一条).

After the 认定书 the authority publishes the parcel's location, the holder's name and how
long it has been idle, and keeps it published until the disposal is complete. Here that is
every *idle* case (never a low-efficiency one) in state ``publicly_listed`` or
``disposal_decided``: a case that is closed, or whose land has been recovered, drops off.

Anonymous callers may read it (policy ``idle_public_listing``). The SQL selects exactly
the fields below, an allow-list, so no confidential column (land price, fee, enterprise
figures, case notes) can appear by accident.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize

LISTED_STATES = ("publicly_listed", "disposal_decided")
PUBLIC_FIELDS = ("location", "holder_name", "idle_since")
LOCATION_FIELDS = ("county", "park", "parcel_code", "lon", "lat")


def public_listing(conn: Connection, principal: Principal, adcode: str | None = None) -> list[dict[str, Any]]:
    """Listed idle parcels: ``{location: {county, park, parcel_code, lon, lat}, holder_name, idle_since}``."""
    authorize(principal, "idle_public_listing", "read")
    rows = conn.execute(
        text(
            """
            SELECT co.name AS county, k.name AS park, p.code AS parcel_code,
                   round(ST_X(ST_PointOnSurface(p.geom))::numeric, 6) AS lon,
                   round(ST_Y(ST_PointOnSurface(p.geom))::numeric, 6) AS lat,
                   e.name AS holder_name, c.idle_since
              FROM idle_cases c
              JOIN parcels p ON p.id = c.parcel_id
              JOIN counties co ON co.adcode = p.adcode
              LEFT JOIN parks k ON k.id = p.park_id
              LEFT JOIN enterprises e ON e.id = p.holder_id
             WHERE c.kind = 'idle' AND c.state IN ('publicly_listed', 'disposal_decided')
               AND (CAST(:adcode AS text) IS NULL OR p.adcode = :adcode)
             ORDER BY c.idle_since, p.code
            """
        ),
        {"adcode": adcode},
    )
    return [
        {
            "location": {k: (float(r._mapping[k]) if k in ("lon", "lat") else r._mapping[k]) for k in LOCATION_FIELDS},
            "holder_name": r.holder_name,
            "idle_since": r.idle_since,
        }
        for r in rows
    ]
