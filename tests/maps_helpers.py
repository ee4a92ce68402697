"""Builders shared by the map, tile, dashboard and browser tests."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy.engine import Engine

from hggis.access.policy import operator
from hggis.access.users import create_user, issue_token, start_session
from hggis.db.session import transaction
from hggis.demo.loader import load_demo
from hggis.evaluation.runs import run_evaluation
from hggis.idle.cases import open_cases_from_scan
from hggis.idle.scan import run_scan

SCAN_DAY = dt.date(2025, 6, 30)
EVAL_YEAR = 2024


def load_maps_demo(engine: Engine) -> None:
    """The demo data set with what the restricted maps show: an evaluation run, a scan and cases."""
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    run_evaluation(engine, operator(), EVAL_YEAR, proceed=True, reason="map tests")
    with transaction(engine, operator().actor, "map tests: idle scan") as conn:
        summary = run_scan(conn, operator(), SCAN_DAY)
        open_cases_from_scan(conn, operator(), summary["id"], SCAN_DAY, "map tests: cases from the scan")


def add_user(engine: Engine, name: str, role: str, counties: list[str] | None = None,
             parks: list[int] | None = None) -> tuple[str, str]:
    """A user with an API token and a web session: (token, session id)."""
    with transaction(engine, operator().actor, f"map tests: user {name}") as conn:
        uid = create_user(conn, operator(), name, role, counties=counties, parks=parks)
        token = issue_token(conn, uid).token
        sid, _csrf = start_session(conn, uid)
    return token, sid


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile containing a lon/lat point."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, x, y


def tile_lonlat(z: int, x: float, y: float) -> tuple[float, float]:
    """Lon/lat of a (fractional) tile position."""
    n = 1 << z
    lon = x / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lon, lat
