"""Builders and a live server for the OGC API tests (real rows, real HTTP, real GDAL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.engine import Engine

from hggis.db.session import transaction
from hggis.enterprises import EnterpriseInput, create_enterprise
from hggis.parcels import ParcelInput, create_parcel
from tests.factories import HUANGZHOU, add_park, credit_code, parcel_code, square
from tests.live_server import live_server as shared_live_server

# The domain reference point: 115.0°E 30.5°N is (596001.31, 3375966.96) in EPSG:4547 (E, N).
REF_LON, REF_LAT = 115.0, 30.5
REF_4547_EN = (596001.31, 3375966.96)
REF_CODE = parcel_code(90)
SECRET_HOLDER = "保密测试机电有限公司"
SECRET_CONTRACT = "HT-SECRET-0001"
WUXUE = "421182"  # a point inside 武穴市: 115.56°E 29.87°N


@dataclass
class Land:
    park_id: int
    on_offer: list[str]  # codes of land on offer (public)
    reserve: list[str]  # codes the public must not see
    supplied: str  # a parcel with a holder and a contract
    wuxue: str  # on offer, in another county


def seed_land(engine: Engine, on_offer: int = 7) -> Land:
    """Parcels in 黄州 (on offer, reserve, supplied with a holder) plus one in 武穴 and one at the reference point."""
    with transaction(engine, "test setup", "ogc test data") as conn:
        park = add_park(conn, "OGC测试园区")
        holder = create_enterprise(conn, EnterpriseInput(credit_code(1), SECRET_HOLDER, "421102", park_id=park))
        offer, reserve = [], []
        for serial in range(1, on_offer + 1):
            offer.append(_parcel(conn, serial, "on_offer", park))
        for serial in range(on_offer + 1, on_offer + 4):
            reserve.append(_parcel(conn, serial, "reserve", park))
        supplied = _parcel(
            conn, on_offer + 4, "supplied", park, holder_id=holder, contract_kind="出让",
            contract_no=SECRET_CONTRACT, land_price=Decimal("1234.50"),
        )
        wuxue = parcel_code(1, WUXUE)
        create_parcel(conn, ParcelInput(code=wuxue, geometry=square(115.56, 29.87, 120), status="on_offer"))
        create_parcel(conn, ParcelInput(code=REF_CODE, geometry=square(REF_LON, REF_LAT, 50), status="on_offer"))
    return Land(park, offer + [REF_CODE], reserve, supplied, wuxue)


def _parcel(conn, serial: int, status: str, park: int, **kw) -> str:  # noqa: ANN001
    lon = HUANGZHOU[0] + serial * 0.003
    create_parcel(conn, ParcelInput(code=parcel_code(serial), geometry=square(lon, HUANGZHOU[1], 100),
                                    status=status, park_id=park, **kw))
    return parcel_code(serial)


@contextmanager
def live_server(engine: Engine) -> Iterator[str]:
    """The app on a free loopback port; yields the /ogc URL."""
    with shared_live_server(engine) as base:
        yield f"{base}/ogc"
