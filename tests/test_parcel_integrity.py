"""Parcels respect counties, parks and each other, whichever door writes them (issue 19.1).

Each writer gets a test that starts from an empty database, reaches the data through a
door a user has (the demo loader command, the API, the workbench pages, the import
upload) and proves the refusal leaves the data as it was.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping
from sqlalchemy import text

from api.app import create_app
from hggis.config import get_settings
from hggis.demo.loader import load_demo
from tests.access_helpers import make_user
from tests.factories import square
from tests.io_builders import project, write_shapefile
from tests.workbench_helpers import PASSWORD, add_web_user

MACHENG = (115.02, 31.17)  # inside 麻城市 421181
HUANGZHOU = (114.88, 30.45)  # inside 黄州区 421102


def _code(serial: int, adcode: str) -> str:
    return f"{adcode}009009GB{serial:05d}"


def _one(engine, sql: str, **params):  # noqa: ANN001, ANN201
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def _rules(response) -> set[str]:  # noqa: ANN001
    assert response.status_code == 422, response.text
    return {d["type"].removeprefix("parcel_integrity.") for d in response.json()["detail"]}


# ---- on the demo data (loaded by the same function as `hggis demo load`) ---------------------


@pytest.fixture(scope="module")
def demo(engine) -> Iterator[dict]:  # noqa: ANN001
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)  # the generator's parcels pass the same checks (else DemoError)
    users = {
        "mc": make_user(engine, "int-mc", "county_officer", counties=["421181"]),
        "wx": make_user(engine, "int-wx", "county_officer", counties=["421182"]),
        "admin": make_user(engine, "int-admin", "city_admin"),
    }
    add_web_user(engine, "int-hz-web", "county_officer", counties=["421102"])
    with TestClient(create_app(engine)) as client:
        yield {"engine": engine, "client": client, "users": users}
    wipe_data(engine)


def _a_parcel(engine, adcode: str) -> tuple[str, dict, int]:  # noqa: ANN001
    row = _one(engine, "SELECT code, ST_AsGeoJSON(geom)::json, version FROM parcels "
                       "WHERE adcode = :a AND retired_at IS NULL ORDER BY id LIMIT 1", a=adcode)
    return row[0], row[1], row[2]


def _count(engine) -> int:  # noqa: ANN001
    return _one(engine, "SELECT count(*) FROM parcels")[0]


def test_post_refuses_a_parcel_in_another_county_identical_to_an_existing_one(demo) -> None:  # noqa: ANN001
    engine, client, users = demo["engine"], demo["client"], demo["users"]
    _wx_code, wx_geom, _ = _a_parcel(engine, "421182")
    before = _count(engine)
    # 麻城's officer: a 麻城 code on a 武穴 parcel's outline
    r = client.post("/api/parcels", json={"code": _code(1, "421181"), "geometry": wx_geom, "status": "reserve"},
                    headers=users["mc"].headers)
    assert _rules(r) == {"outside_county", "overlap"}
    assert any("武穴" not in d["msg"] and "麻城" in d["msg"] for d in r.json()["detail"])
    # 武穴's own officer, same outline: in the right county, but identical to a live parcel
    r = client.post("/api/parcels", json={"code": _code(1, "421182"), "geometry": wx_geom, "status": "reserve"},
                    headers=users["wx"].headers)
    assert _rules(r) == {"overlap"}
    assert _count(engine) == before


def test_post_refuses_another_countys_park_as_patch_does(demo) -> None:  # noqa: ANN001
    engine, client, users = demo["engine"], demo["client"], demo["users"]
    wx_park = _one(engine, "SELECT id FROM parks WHERE adcode = '421182' ORDER BY id LIMIT 1")[0]
    geom = mapping(square(*MACHENG, 100))
    r = client.post("/api/parcels", json={"code": _code(2, "421181"), "geometry": geom, "status": "reserve",
                                          "park_id": wx_park}, headers=users["admin"].headers)
    assert _rules(r) == {"park_county"}
    assert r.json()["detail"][0]["loc"] == ["body", "park_id"]
    assert _one(engine, "SELECT count(*) FROM parcels WHERE code = :c", c=_code(2, "421181"))[0] == 0


def test_the_278_million_mu_polygon_is_refused(demo) -> None:  # noqa: ANN001
    engine, client, users = demo["engine"], demo["client"], demo["users"]
    before = _count(engine)
    r = client.post("/api/parcels", json={"code": _code(3, "421181"), "geometry": mapping(box(113, 29, 118, 32.5)),
                                          "status": "reserve"}, headers=users["admin"].headers)
    rules = _rules(r)
    assert {"outside_county", "area_too_large"} <= rules
    assert "278,6" in next(d["msg"] for d in r.json()["detail"] if d["type"].endswith("area_too_large"))
    assert _count(engine) == before
    ledger = client.get("/api/reserves/ledger", headers=users["admin"].headers)
    assert ledger.status_code == 200 and "278656" not in ledger.text.replace(",", "")


def test_patch_refuses_moving_a_parcel_into_another_county(demo) -> None:  # noqa: ANN001
    engine, client, users = demo["engine"], demo["client"], demo["users"]
    code, _geom, version = _a_parcel(engine, "421181")
    stored = _one(engine, "SELECT md5(ST_AsBinary(geom)) FROM parcels WHERE code = :c", c=code)[0]
    wuxue = mapping(square(115.56, 29.87, 100))
    r = client.patch(f"/api/parcels/{code}", json={"version": version, "geometry": wuxue},
                     headers=users["mc"].headers)
    assert "outside_county" in _rules(r)
    after = _one(engine, "SELECT version, md5(ST_AsBinary(geom)) FROM parcels WHERE code = :c", c=code)
    assert after == (version, stored)


def test_page_form_refuses_a_park_that_does_not_hold_the_parcel(demo) -> None:  # noqa: ANN001
    engine = demo["engine"]
    code, park_id = _one(engine, "SELECT code, park_id FROM parcels WHERE adcode = '421102' AND retired_at IS NULL "
                                 "AND park_id IS NOT NULL ORDER BY id LIMIT 1")
    other = _one(engine, "SELECT id FROM parks WHERE adcode = '421102' AND id <> :p ORDER BY id LIMIT 1", p=park_id)[0]
    foreign = _one(engine, "SELECT id FROM parks WHERE adcode = '421182' ORDER BY id LIMIT 1")[0]
    client = TestClient(demo["client"].app)
    login = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    client.post("/login", data={"username": "int-hz-web", "password": PASSWORD, "csrf": token, "next": "/"})
    page = client.get(f"/parcels/{code}").text
    form = page.split('id="edit-form"')[1].split("</form>")[0]
    data = dict(re.findall(r'<input id="[^"]*" name="([^"]+)" type="(?:text|date)" value="([^"]*)"', form))
    for name, body in re.findall(r'<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[name] = chosen.group(1) if chosen else ""
    version = int(re.search(r'name="version" value="(\d+)"', form).group(1))
    data.update({"version": str(version), "csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1),
                 "reason": "改划园区"})
    for park, shown in ((other, "超出|outside its park"), (foreign, "园区.*位于")):
        r = client.post(f"/parcels/{code}/edit", data={**data, "park_id": str(park)}, follow_redirects=False)
        assert r.status_code == 422 and "未保存" in r.text and re.search(shown, r.text), r.text[:300]
    assert _one(engine, "SELECT park_id, version FROM parcels WHERE code = :c", c=code) == (park_id, version)


# ---- from an empty database: API writes, import upload, split, merge -------------------------


@pytest.fixture
def empty(clean_db) -> Iterator[dict]:  # noqa: ANN001
    users = {"admin": make_user(clean_db, "int-admin2", "city_admin")}
    with TestClient(create_app(clean_db)) as client:
        yield {"engine": clean_db, "client": client, "users": users}


def _zip(tmp_path, geoms, codes) -> bytes:  # noqa: ANN001
    shp = write_shapefile(tmp_path / "survey.shp", project(geoms, 4547), {"宗地代码": codes}, 4547)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in shp.parent.glob(shp.stem + ".*"):
            zf.write(part, part.name)
    return buf.getvalue()


def test_import_reports_every_offending_feature_by_rule_and_writes_nothing(empty, tmp_path) -> None:  # noqa: ANN001
    engine, client, admin = empty["engine"], empty["client"], empty["users"]["admin"]
    base = square(*HUANGZHOU, 100)
    r = client.post("/api/parcels", json={"code": _code(1, "421102"), "geometry": mapping(base), "status": "reserve"},
                    headers=admin.headers)
    assert r.status_code == 201, r.text
    lon, lat = HUANGZHOU
    far = square(lon + 0.01, lat, 100)
    geoms = [
        square(*MACHENG, 100),  # 0: a 黄州 code in 麻城
        shapely.affinity.translate(base, 0.0002, 0),  # 1: overlaps the stored parcel by ~80 %
        far,  # 2 and 3: overlap each other
        shapely.affinity.translate(far, 0.0003, 0),
        square(lon + 0.02, lat, 10),  # 4: 0.15 亩
        square(lon + 0.03, lat, 100),  # 5: fine
    ]
    codes = [_code(i + 10, "421102") for i in range(len(geoms))]
    r = client.post("/api/imports/parcels", files={"file": ("survey.zip", _zip(tmp_path, geoms, codes))},
                    headers=admin.headers)
    assert r.status_code == 422, r.text
    report = r.json()
    by_feature = {}
    for issue in report["issues"]:
        if issue["severity"] == "error":
            by_feature.setdefault(issue["index"], set()).add(issue["kind"])
    assert by_feature == {0: {"outside_county"}, 1: {"overlap"}, 2: {"overlap"}, 3: {"overlap"},
                          4: {"area_too_small"}}
    assert _one(engine, "SELECT count(*) FROM parcels")[0] == 1


def test_import_keeps_a_sliver_but_reports_it(empty, tmp_path) -> None:  # noqa: ANN001
    engine, client, admin = empty["engine"], empty["client"], empty["users"]["admin"]
    base = square(*HUANGZHOU, 100)
    client.post("/api/parcels", json={"code": _code(1, "421102"), "geometry": mapping(base), "status": "reserve"},
                headers=admin.headers).raise_for_status()
    minx, miny, maxx, maxy = base.bounds
    # a neighbour that reaches 5 mm into the stored parcel along its 100 m east edge: ~0.5 m²
    neighbour = box(maxx - 0.005 / 96_000, miny, maxx + (maxx - minx), maxy)
    r = client.post("/api/imports/parcels", files={"file": ("s.zip", _zip(tmp_path, [neighbour], [_code(2, "421102")]))},
                    headers=admin.headers)
    assert r.status_code == 200, r.text
    slivers = [i for i in r.json()["issues"] if i["kind"] == "sliver"]
    assert len(slivers) == 1 and slivers[0]["severity"] == "warning" and _code(1, "421102") in slivers[0]["reason"]
    assert _one(engine, "SELECT count(*) FROM parcels")[0] == 2


def test_split_refuses_an_implausibly_small_child_but_not_the_parents_own_outline(empty) -> None:  # noqa: ANN001
    engine, client, admin = empty["engine"], empty["client"], empty["users"]["admin"]
    parent = square(*HUANGZHOU, 100)
    code = _code(1, "421102")
    client.post("/api/parcels", json={"code": code, "geometry": mapping(parent), "status": "reserve"},
                headers=admin.headers).raise_for_status()
    minx, miny, maxx, maxy = parent.bounds
    cut = maxx - (maxx - minx) * 0.01  # a 1 m strip: 0.15 亩
    children = [box(minx, miny, cut, maxy), box(cut, miny, maxx, maxy)]
    body = {"version": 1, "reason": "分割", "children": [
        {"code": _code(i + 2, "421102"), "geometry": mapping(g)} for i, g in enumerate(children)]}
    r = client.post(f"/api/parcels/{code}/split", json=body, headers=admin.headers)
    assert _rules(r) == {"area_too_small"}
    assert _one(engine, "SELECT count(*), bool_and(retired_at IS NULL) FROM parcels") == (1, True)
    mid = (minx + maxx) / 2
    body["children"] = [{"code": _code(i + 2, "421102"), "geometry": mapping(g)}
                        for i, g in enumerate([box(minx, miny, mid, maxy), box(mid, miny, maxx, maxy)])]
    r = client.post(f"/api/parcels/{code}/split", json=body, headers=admin.headers)
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text  # the parent is not "overlapped"


def test_merge_refuses_an_implausibly_large_result(empty, monkeypatch) -> None:  # noqa: ANN001
    engine, client, admin = empty["engine"], empty["client"], empty["users"]["admin"]
    a = square(*HUANGZHOU, 100)
    minx, miny, maxx, maxy = a.bounds
    b = box(maxx, miny, maxx + (maxx - minx), maxy)
    for i, g in enumerate((a, b)):
        client.post("/api/parcels", json={"code": _code(i + 1, "421102"), "geometry": mapping(g), "status": "reserve"},
                    headers=admin.headers).raise_for_status()
    monkeypatch.setenv("HGGIS_PARCEL_MAX_MU", "20")  # each is ~15 亩, together ~30
    get_settings.cache_clear()
    try:
        body = {"parcels": {_code(1, "421102"): 1, _code(2, "421102"): 1}, "new_code": _code(3, "421102"),
                "reason": "合并"}
        r = client.post("/api/parcels/merge", json=body, headers=admin.headers)
        assert _rules(r) == {"area_too_large"}
        assert _one(engine, "SELECT count(*), bool_and(retired_at IS NULL) FROM parcels") == (2, True)
    finally:
        monkeypatch.delenv("HGGIS_PARCEL_MAX_MU")
        get_settings.cache_clear()
    r = client.post("/api/parcels/merge", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text  # with the default limit; its parents are not counted as overlaps


def test_the_database_refuses_a_raw_write_into_another_county(empty) -> None:  # noqa: ANN001
    engine = empty["engine"]
    from sqlalchemy.exc import IntegrityError

    wkb = shapely.to_wkb(shapely.MultiPolygon([square(115.56, 29.87, 100)]))
    with pytest.raises(IntegrityError, match="parcels_in_own_county|lies outside its county"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO parcels (code, geom, adcode, status) "
                              "VALUES (:c, ST_GeomFromWKB(:w, 4490), '421181', 'reserve')"),
                         {"c": _code(1, "421181"), "w": wkb})
