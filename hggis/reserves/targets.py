"""Reserve targets as dated rules: a new target starts on a date, earlier dates keep the old one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal
from hggis.reserves.common import InvalidRequest, known_county, require_city_scope


def add_target(
    conn: Connection,
    principal: Principal,
    min_mu: float,
    max_mu: float,
    valid_from: dt.date,
    edition: str,
    adcode: str | None = None,
    source: str | None = None,
) -> int:
    """Add a target valid from ``valid_from`` (for one county, or every county when None)."""
    require_city_scope(principal, "reserves", "write")
    if min_mu < 0 or max_mu < min_mu:
        raise InvalidRequest("min_mu", f"target range {min_mu:g}–{max_mu:g} 亩 is not a range")
    if not edition.strip():
        raise InvalidRequest("edition", "name the rule the target comes from")
    if adcode is not None:
        known_county(conn, adcode)
    return conn.execute(
        text(
            "INSERT INTO reserve_targets (edition, adcode, min_mu, max_mu, valid_from, source) "
            "VALUES (:e, :a, :lo, :hi, :d, :s) RETURNING id"
        ),
        {"e": edition.strip(), "a": adcode, "lo": min_mu, "hi": max_mu, "d": valid_from, "s": source},
    ).scalar_one()


def list_targets(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(text("SELECT * FROM reserve_targets ORDER BY valid_from, adcode NULLS FIRST, id")).mappings()
    return [dict(r) for r in rows]
