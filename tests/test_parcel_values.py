"""Values that make no sense are refused (19.4), and holders are named only within reach (19.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from api.app import create_app
from hggis.db.session import transaction
from hggis.enterprises import EnterpriseInput, create_enterprise
from tests.access_helpers import make_user
from tests.factories import HUANGZHOU, credit_code, square

CODE = "421102009009GB00001"


@pytest.fixture
def site(clean_db) -> Iterator[dict]:  # noqa: ANN001
    officer = make_user(clean_db, "val-hz", "county_officer", counties=["421102"])
    with TestClient(create_app(clean_db)) as client:
        r = client.post("/api/parcels", json={"code": CODE, "geometry": mapping(square(*HUANGZHOU, 100)),
                                              "status": "supplied"}, headers=officer.headers)
        assert r.status_code == 201, r.text
        yield {"engine": clean_db, "client": client, "officer": officer}


def _patch(site: dict, body: str | dict):  # noqa: ANN202
    headers = {**site["officer"].headers, "Content-Type": "application/json"}
    version = site["client"].get(f"/api/parcels/{CODE}", headers=site["officer"].headers).json()["properties"]["version"]
    if isinstance(body, dict):
        return site["client"].patch(f"/api/parcels/{CODE}", json={"version": version, **body}, headers=headers)
    return site["client"].patch(f"/api/parcels/{CODE}", content=body.replace("VERSION", str(version)), headers=headers)


def _fields(response) -> set[str]:  # noqa: ANN001
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return {d["loc"][-1] for d in detail}


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "-1"])
def test_nonsense_footprints_are_refused_naming_the_field(site, literal) -> None:  # noqa: ANN001
    r = _patch(site, '{"version": VERSION, "built_footprint_m2": ' + literal + "}")
    assert _fields(r) == {"built_footprint_m2"}
    assert site["client"].get(f"/api/parcels/{CODE}", headers=site["officer"].headers).json()["properties"][
        "built_footprint_m2"] is None


def test_a_footprint_larger_than_the_parcel_is_refused(site) -> None:  # noqa: ANN001
    assert _fields(_patch(site, {"built_footprint_m2": 20_000})) == {"built_footprint_m2"}  # parcel ~10 000 m²
    assert _patch(site, {"built_footprint_m2": 4_000}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"started_on": "2024-05-01", "completed_on": "2024-04-30"}, "completed_on"),
        ({"agreed_start_date": "2024-05-01", "agreed_completion_date": "2023-05-01"}, "agreed_completion_date"),
        ({"started_on": "2024-05-01", "halted_since": "2024-01-01"}, "halted_since"),
        ({"started_on": "9999-12-31"}, "started_on"),
        ({"completed_on": "1900-01-01"}, "completed_on"),
        ({"agreed_completion_date": "2199-01-01"}, "agreed_completion_date"),
    ],
)
def test_dates_out_of_order_or_out_of_the_window_are_refused(site, body, field) -> None:  # noqa: ANN001
    r = _patch(site, body)
    assert field in _fields(r)
    row = site["client"].get(f"/api/parcels/{CODE}", headers=site["officer"].headers).json()["properties"]
    assert row["version"] == 1 and all(row[k] is None for k in body)


def test_an_order_is_judged_against_the_stored_value(site) -> None:  # noqa: ANN001
    assert _patch(site, {"started_on": "2024-05-01"}).status_code == 200
    assert _fields(_patch(site, {"completed_on": "2024-01-01"})) == {"completed_on"}
    assert _patch(site, {"completed_on": "2025-01-01"}).status_code == 200


def test_an_idle_scan_as_of_9999_is_refused(site) -> None:  # noqa: ANN001
    admin = make_user(site["engine"], "val-admin", "city_admin")
    r = site["client"].post("/api/idle/scans", json={"as_of": "9999-12-31"}, headers=admin.headers)
    assert r.status_code == 422 and "as_of" in r.text, r.text
    with site["engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idle_scans")).scalar_one() == 0


def test_the_database_refuses_nonsense_on_its_own(site) -> None:  # noqa: ANN001
    for assignment in ("built_footprint_m2 = 'Infinity'", "built_footprint_m2 = 'NaN'", "land_price = 'NaN'",
                       "started_on = '2024-05-01', completed_on = '2024-01-01'", "halted_since = '9999-12-31'"):
        with pytest.raises(IntegrityError):
            with transaction(site["engine"], "test", "raw write") as conn:
                conn.execute(text(f"UPDATE parcels SET {assignment} WHERE code = :c"), {"c": CODE})


# ---- 19.2: holders --------------------------------------------------------------------------


def test_holder_by_id_only_within_reach_by_credit_code_always(site) -> None:  # noqa: ANN001
    with transaction(site["engine"], "test", "enterprises") as conn:
        own = create_enterprise(conn, EnterpriseInput(credit_code=credit_code(1), name="黄州本地企业", adcode="421102"))
        foreign = create_enterprise(conn, EnterpriseInput(credit_code=credit_code(2), name="麻城秘密企业", adcode="421181"))
    refused = _patch(site, {"holder_id": foreign})
    missing = _patch(site, {"holder_id": foreign + 1000})
    assert _fields(refused) == _fields(missing) == {"holder_id"}
    # the same answer for an id out of reach and an id that does not exist: nothing leaks
    assert refused.status_code == missing.status_code
    assert refused.json()["detail"][0]["msg"].replace(str(foreign), "N") == \
        missing.json()["detail"][0]["msg"].replace(str(foreign + 1000), "N")
    assert "麻城秘密企业" not in refused.text and credit_code(2) not in refused.text
    props = site["client"].get(f"/api/parcels/{CODE}", headers=site["officer"].headers).json()["properties"]
    assert props["holder_id"] is None and props["version"] == 1

    assert _patch(site, {"holder_id": own}).status_code == 200
    # whoever holds the credit code may name that holder (it is on the contract)
    assert _patch(site, {"holder_credit_code": credit_code(2)}).status_code == 200
    props = site["client"].get(f"/api/parcels/{CODE}", headers=site["officer"].headers).json()["properties"]
    assert props["holder_id"] == foreign
    assert _fields(_patch(site, {"holder_credit_code": credit_code(3)})) == {"holder_credit_code"}
