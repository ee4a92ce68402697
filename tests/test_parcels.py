"""Bad parcels and enterprises are refused with the reason, and nothing is written."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon
from sqlalchemy import text

from hggis.db.session import transaction
from hggis.enterprises import EnterpriseInput, InvalidEnterprise, create_enterprise
from hggis.parcels import InvalidParcel, ParcelInput, create_parcel
from tests.factories import add_parcel, credit_code, parcel_code, square


def _counts(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT (SELECT count(*) FROM parcels), (SELECT count(*) FROM enterprises)")).one()


def test_valid_parcel_is_stored(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        add_parcel(conn, 10)
    assert _counts(clean_db) == (1, 0)


@pytest.mark.parametrize(
    ("code", "geometry", "reason"),
    [
        (parcel_code(11)[:-1] + "X", square(114.88, 30.45, 80), "宗地代码"),
        (  # bow-tie: self-intersecting
            parcel_code(12),
            Polygon([(114.88, 30.45), (114.89, 30.46), (114.89, 30.45), (114.88, 30.46)]),
            "Self-intersection",
        ),
        (parcel_code(13), square(113.0, 23.1, 80), "outside 黄冈市"),  # Guangzhou
        (parcel_code(14), square(3_375_000, 596_000, 80), "not longitude/latitude"),  # projected metres
        (parcel_code(15), Polygon(), "empty geometry"),
    ],
)
def test_bad_parcels_refused_nothing_written(clean_db, code, geometry, reason):
    with pytest.raises(InvalidParcel, match=reason):
        with transaction(clean_db, "test", "bad input") as conn:
            create_parcel(conn, ParcelInput(code=code, geometry=geometry, status="reserve"))
    assert _counts(clean_db) == (0, 0)


def test_duplicate_parcel_code_refused(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        add_parcel(conn, 16)
    with pytest.raises(InvalidParcel, match="already exists"):
        with transaction(clean_db, "test", "again") as conn:
            add_parcel(conn, 16)
    assert _counts(clean_db) == (1, 0)


def test_bad_credit_code_refused(clean_db):
    good = credit_code(7)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(InvalidEnterprise, match="校验码"):
        with transaction(clean_db, "test", "bad") as conn:
            create_enterprise(conn, EnterpriseInput(credit_code=bad, name="测试企业", adcode="421102"))
    with transaction(clean_db, "test", "good") as conn:
        create_enterprise(conn, EnterpriseInput(credit_code=good, name="测试企业", adcode="421102"))
    assert _counts(clean_db) == (0, 1)


def test_a_batch_with_one_bad_parcel_writes_nothing(clean_db):
    with pytest.raises(InvalidParcel):
        with transaction(clean_db, "test", "batch") as conn:
            add_parcel(conn, 20)
            add_parcel(conn, 21)
            create_parcel(conn, ParcelInput(code=parcel_code(22), geometry=square(113.0, 23.1, 80), status="reserve"))
    assert _counts(clean_db) == (0, 0)
