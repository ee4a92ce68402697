"""What the system holds, in numbers a home page or a status command can show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.db.models import PARCEL_STATUSES
from hggis.geo import round_mu


def dataset_label(conn: Connection) -> dict[str, Any] | None:
    """The demo marker if the data set is synthetic, else None."""
    row = conn.execute(text("SELECT value FROM dataset_meta WHERE key = 'demo'")).scalar_one_or_none()
    return row


def holdings(conn: Connection) -> dict[str, Any]:
    """Counts of every kind of object and parcels by status with their 亩."""
    counts = conn.execute(
        text(
            """
            SELECT (SELECT count(*) FROM counties) AS counties,
                   (SELECT count(*) FROM counties WHERE boundary IS NOT NULL) AS counties_with_boundary,
                   (SELECT count(*) FROM clusters) AS clusters,
                   (SELECT count(*) FROM parks) AS parks,
                   (SELECT count(*) FROM enterprises) AS enterprises,
                   (SELECT count(*) FROM parcels WHERE retired_at IS NULL) AS parcels,
                   (SELECT coalesce(sum(area_mu), 0) FROM parcels WHERE retired_at IS NULL) AS parcels_mu,
                   (SELECT max(year) FROM enterprise_years) AS latest_year
            """
        )
    ).mappings().one()
    by_status = {
        row.status: {"label": PARCEL_STATUSES[row.status], "count": row.n, "area_mu": round_mu(row.mu)}
        for row in conn.execute(
            text(
                "SELECT status, count(*) AS n, sum(area_mu) AS mu FROM parcels "
                "WHERE retired_at IS NULL GROUP BY status"
            )
        )
    }
    return {
        **{k: v for k, v in counts.items() if k != "parcels_mu"},
        "parcels_mu": round_mu(counts["parcels_mu"]),
        "parcels_by_status": {
            code: by_status.get(code, {"label": label, "count": 0, "area_mu": 0.0})
            for code, label in PARCEL_STATUSES.items()
        },
    }
