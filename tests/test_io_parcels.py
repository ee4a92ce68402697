"""Parcel imports against a real PostGIS: report, all-or-nothing, history, log, scope."""

from __future__ import annotations

import geopandas as gpd
import pytest
from sqlalchemy import text

from hggis.access.policy import Forbidden, Principal
from hggis.geo import area_mu
from hggis.io.importlog import file_checksum
from hggis.io.parcels_import import ParcelImportOptions, import_parcels
from tests.factories import add_park
from tests.io_builders import (
    CITY_ADMIN,
    HUANGMEI,
    HUANGZHOU,
    WUXUE,
    bowtie,
    code,
    declared_mu,
    lots,
    officer,
    project,
    spiked,
    to_gcj02,
    write_shapefile,
)


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM parcels")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'parcels'")).scalar_one(),
        )


def _stored_areas(engine) -> dict[str, float]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT code, area_mu FROM parcels")).all())


def _survey(tmp_path, name, origin, n, epsg, adcode="421102", **kw):
    geoms = lots(origin, n)
    cols = {"宗地代码": [code(i + 1, adcode) for i in range(n)], "地类": ["0601"] * n, "面积": declared_mu(geoms)}
    cols.update(kw.pop("extra", {}))
    return write_shapefile(tmp_path / name, project(geoms, epsg), cols, epsg, encoding="GBK"), geoms


def test_zone38_prefixed_import_areas_match_declared(clean_db, tmp_path):
    shp, geoms = _survey(tmp_path, "z38.shp", HUANGZHOU, 5, 4526)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "applied", report.to_dict()
    assert (report.inserted, report.updated, report.refused) == (5, 0, 0)
    assert report.read["crs"] == "EPSG:4526"
    stored = _stored_areas(clean_db)
    for i, g in enumerate(geoms):
        declared = round(area_mu(g), 4)
        assert stored[code(i + 1)] == pytest.approx(declared, rel=1e-3)  # within 0.1 %
    ac = report.area_check
    assert ac["unit"] == "mu" and ac["compared"] == 5 and ac["max_abs_diff_pct"] < 0.1
    assert not report.warnings


def test_zone39_unprefixed_in_huangmei_and_wuxue(clean_db, tmp_path):
    geoms = lots(HUANGMEI, 3) + lots(WUXUE, 2)
    codes = [code(i + 1, "421127") for i in range(3)] + [code(i + 1, "421182") for i in range(2)]
    # declared in m² with the unit in the header
    shp = write_shapefile(
        tmp_path / "z39.shp", project(geoms, 4548),
        {"宗地代码": codes, "MJ_m2": [round(area_mu(g) * 2000 / 3, 2) for g in geoms]}, 4548, encoding="GBK",
    )
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "applied", report.to_dict()
    assert report.read["crs"] == "EPSG:4548"
    assert report.area_check["unit"] == "m2" and report.area_check["max_abs_diff_pct"] < 0.1
    with clean_db.connect() as conn:
        by_county = dict(conn.execute(text("SELECT adcode, count(*) FROM parcels GROUP BY adcode")).all())
    assert by_county == {"421127": 3, "421182": 2}
    stored = _stored_areas(clean_db)
    for c, g in zip(codes, geoms, strict=True):
        assert stored[c] == pytest.approx(area_mu(g), rel=1e-3)


def test_gbk_attributes_are_stored_correctly(clean_db, tmp_path):
    with clean_db.begin() as conn:
        k = add_park(conn, "黄冈高新技术产业开发区", "421102")
    shp, _ = _survey(tmp_path, "gbk.shp", HUANGZHOU, 2, 4547, extra={"所属园区": ["黄冈高新技术产业开发区"] * 2, "状态": ["挂牌出让中", "标准地储备"]})
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "applied", report.to_dict()
    with clean_db.connect() as conn:
        rows = conn.execute(text("SELECT code, park_id, status FROM parcels ORDER BY code")).all()
    assert [(r.park_id, r.status) for r in rows] == [(k, "on_offer"), (k, "reserve")]


def test_self_intersecting_polygon_refuses_the_file_and_names_it(clean_db, tmp_path):
    geoms = lots(HUANGZHOU, 3) + [bowtie(HUANGZHOU[0] + 0.01, HUANGZHOU[1])]
    codes = [code(i + 1) for i in range(4)]
    shp = write_shapefile(tmp_path / "bad.shp", project(geoms, 4547), {"宗地代码": codes}, 4547)
    before = _counts(clean_db)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "refused"
    assert report.refused == 1
    (err,) = report.errors
    assert err.index == 3 and err.code == codes[3] and err.kind == "geometry"
    assert "自相交" in err.reason
    assert err.lon == pytest.approx(HUANGZHOU[0] + 0.01, abs=0.01) and err.lat == pytest.approx(HUANGZHOU[1], abs=0.01)
    assert _counts(clean_db) == before  # nothing written, no history


def test_fix_repairs_small_defects_and_still_refuses_large_area_changes(clean_db, tmp_path):
    small = spiked(HUANGZHOU[0], HUANGZHOU[1])
    large = bowtie(HUANGZHOU[0] + 0.01, HUANGZHOU[1])
    shp = write_shapefile(tmp_path / "fix.shp", project([small, large], 4547), {"宗地代码": [code(1), code(2)]}, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp, ParcelImportOptions(fix=True))
    assert report.status == "refused"
    by_index = {r.index: r for r in report.repairs}
    assert by_index[0].accepted and 0 < by_index[0].change_pct < 1.0
    assert not by_index[1].accepted
    assert [e.code for e in report.errors] == [code(2)]
    assert "自动修复" in report.errors[0].reason
    # Without the bad one, --fix writes the repaired polygon, valid, with its area change reported.
    shp2 = write_shapefile(tmp_path / "fix2.shp", project([small], 4547), {"宗地代码": [code(1)]}, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp2, ParcelImportOptions(fix=True))
    assert report.status == "applied" and report.inserted == 1
    assert report.repairs[0].area_before_m2 > 0 and report.repairs[0].area_after_m2 > 0
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT ST_IsValid(geom) FROM parcels WHERE code = :c"), {"c": code(1)}).scalar_one()
    # And without --fix the same file is refused.
    report = import_parcels(clean_db, CITY_ADMIN, shp2)
    assert report.status == "refused" and "自动修复" in report.errors[0].reason


def test_dry_run_changes_nothing_but_reports_and_logs(clean_db, tmp_path):
    shp, _ = _survey(tmp_path, "dry.shp", HUANGZHOU, 4, 4547)
    before = _counts(clean_db)
    report = import_parcels(clean_db, CITY_ADMIN, shp, ParcelImportOptions(dry_run=True))
    assert report.status == "dry_run"
    assert (report.to_insert, report.to_update, report.inserted) == (4, 0, 0)
    assert _counts(clean_db) == before
    with clean_db.connect() as conn:
        row = conn.execute(text("SELECT status, dry_run, inserted FROM imports WHERE id = :i"), {"i": report.import_id}).one()
    assert (row.status, row.dry_run, row.inserted) == ("dry_run", True, 0)


def test_import_log_row_records_file_checksum_who_and_counts(clean_db, tmp_path):
    shp, _ = _survey(tmp_path, "log.shp", HUANGZHOU, 3, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    with clean_db.connect() as conn:
        row = conn.execute(text("SELECT * FROM imports WHERE id = :i"), {"i": report.import_id}).mappings().one()
    assert row["kind"] == "parcels" and row["file_name"] == "log.shp"
    assert row["checksum_sha256"] == file_checksum(shp)[0]
    assert row["actor"] == CITY_ADMIN.actor and row["username"] == "io-admin"
    assert (row["status"], row["dry_run"], row["inserted"], row["updated"], row["refused"]) == ("applied", False, 3, 0, 0)
    assert row["report"]["read"]["crs"] == "EPSG:4547"
    assert row["adcodes"] == ["421102"]


def test_existing_codes_update_with_history_and_new_codes_insert(clean_db, tmp_path):
    shp, geoms = _survey(tmp_path, "first.shp", HUANGZHOU, 2, 4547)
    assert import_parcels(clean_db, CITY_ADMIN, shp).inserted == 2
    moved = [lots((HUANGZHOU[0] + 0.0001, HUANGZHOU[1]), 2)[0], geoms[1]] + lots((HUANGZHOU[0], HUANGZHOU[1] + 0.01), 1)
    shp2 = write_shapefile(
        tmp_path / "second.shp", project(moved, 4547),
        {"宗地代码": [code(1), code(2), code(3)], "地类": ["0601", "0604", "0601"]}, 4547,
    )
    report = import_parcels(clean_db, CITY_ADMIN, shp2)
    assert report.status == "applied"
    assert (report.inserted, report.updated, report.unchanged) == (1, 2, 0)
    with clean_db.connect() as conn:
        hist = conn.execute(
            text("SELECT object_id, action, actor, reason, after FROM history WHERE table_name = 'parcels' AND action = 'update' ORDER BY id")
        ).all()
        land_use = conn.execute(text("SELECT land_use FROM parcels WHERE code = :c"), {"c": code(2)}).scalar_one()
    assert len(hist) == 2
    assert {h.reason for h in hist} == {"导入 second.shp"} and {h.actor for h in hist} == {CITY_ADMIN.actor}
    assert "geom" in hist[0].after and land_use == "0604"
    # the same file again changes nothing
    again = import_parcels(clean_db, CITY_ADMIN, shp2)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)


def test_county_officer_cannot_import_another_countys_parcels(clean_db, tmp_path):
    geoms = lots(HUANGZHOU, 2) + lots(HUANGMEI, 1)
    codes = [code(1), code(2), code(1, "421127")]
    shp = write_shapefile(tmp_path / "mixed.shp", project(geoms, 4547), {"宗地代码": codes}, 4547)
    huangmei = officer("421127")
    report = import_parcels(clean_db, huangmei, shp)
    assert report.status == "refused"
    scope_errors = [e for e in report.errors if e.kind == "scope"]
    assert sorted(e.code for e in scope_errors) == sorted(codes[:2])
    assert all("421102" in e.reason for e in scope_errors)
    assert _counts(clean_db) == (0, 0)
    # their own county only: accepted
    shp_own = write_shapefile(tmp_path / "own.shp", project(geoms[2:], 4548), {"宗地代码": codes[2:]}, 4548)
    assert import_parcels(clean_db, huangmei, shp_own).status == "applied"
    # a role without import rights is refused outright
    with pytest.raises(Forbidden):
        import_parcels(clean_db, Principal(username="pm", role="park_manager", parks=frozenset({1})), shp_own)


def test_outside_huanggang_codes_and_duplicates_are_all_reported(clean_db, tmp_path):
    wuhan = lots((114.30, 30.58), 1)  # 武汉 city centre: not in 黄冈
    geoms = lots(HUANGZHOU, 3) + wuhan
    codes = [code(1), "42110200100GB1", code(1), code(4)]
    shp = write_shapefile(tmp_path / "many.shp", project(geoms, 4547), {"宗地代码": codes}, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "refused" and report.refused == 4
    kinds = {(e.index, e.kind) for e in report.errors}
    assert (1, "code") in kinds and (0, "duplicate") in kinds and (2, "duplicate") in kinds and (3, "location") in kinds
    code_err = next(e for e in report.errors if e.kind == "code")
    assert "宗地代码" in code_err.reason and "应为 19 位" in code_err.reason
    assert _counts(clean_db) == (0, 0)


def test_declared_area_differences_above_half_percent_are_listed(clean_db, tmp_path):
    geoms = lots(HUANGZHOU, 3)
    declared = declared_mu(geoms)
    declared[1] = round(declared[1] * 1.02, 4)  # 2 % too large
    shp = write_shapefile(tmp_path / "area.shp", project(geoms, 4547),
                          {"宗地代码": [code(i + 1) for i in range(3)], "面积_亩": declared}, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "applied"
    (w,) = [i for i in report.warnings if i.kind == "area"]
    assert w.index == 1 and w.code == code(2) and "+2.0" in w.reason
    assert report.area_check["unit_source"].startswith("header")


def test_cgcs2000_geopackage_and_gcj02_source_datum(clean_db, tmp_path):
    truth = lots(WUXUE, 2)
    gpkg = tmp_path / "web.gpkg"
    gpd.GeoDataFrame({"宗地代码": [code(1, "421182"), code(2, "421182")], "用途": ["工业用地", "工业用地"]},
                     geometry=to_gcj02(truth), crs=4490).to_file(gpkg, layer="parcels")
    report = import_parcels(clean_db, CITY_ADMIN, gpkg, ParcelImportOptions(source_datum="gcj02"))
    assert report.status == "applied" and report.read["source_datum"] == "gcj02"
    with clean_db.connect() as conn:
        dist = conn.execute(
            text("SELECT max(ST_HausdorffDistance(geom, ST_GeomFromText(:w, 4490))) FROM parcels WHERE code = :c"),
            {"w": truth[0].wkt, "c": code(1, "421182")},
        ).scalar_one()
        land_use = conn.execute(text("SELECT DISTINCT land_use FROM parcels")).scalars().all()
    assert dist * 110_850 < 0.01  # within 1 cm of the true position
    assert land_use == ["0601"]


def test_file_without_crs_is_refused_and_logged(clean_db, tmp_path):
    shp = write_shapefile(tmp_path / "noprj.shp", project(lots(HUANGZHOU, 2), 4547), {"宗地代码": [code(1), code(2)]}, None)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "refused" and "没有坐标系" in report.error and "EPSG:4547" in report.hint
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT status FROM imports WHERE id = :i"), {"i": report.import_id}).scalar_one() == "refused"
    assert import_parcels(clean_db, CITY_ADMIN, shp, ParcelImportOptions(crs="4547")).status == "applied"


def test_saved_mapping_per_source(clean_db, tmp_path):
    geoms = lots(HUANGZHOU, 2)
    shp = write_shapefile(tmp_path / "odd.shp", project(geoms, 4547),
                          {"BH": [code(1), code(2)], "YT": ["0601", "0604"]}, 4547)
    refused = import_parcels(clean_db, CITY_ADMIN, shp)
    assert refused.status == "refused" and "没有宗地代码列" in refused.error
    opts = ParcelImportOptions(mapping="io-test-source", columns={"code": "BH", "land_use": "YT"})
    assert import_parcels(clean_db, CITY_ADMIN, shp, opts).status == "applied"
    # next delivery from the same source: the saved mapping is enough
    shp2 = write_shapefile(tmp_path / "odd2.shp", project(lots((HUANGZHOU[0], HUANGZHOU[1] + 0.01), 1), 4547),
                           {"BH": [code(3)], "YT": ["0604"]}, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp2, ParcelImportOptions(mapping="io-test-source"))
    assert report.status == "applied" and report.mapping["columns"] == {"code": "BH", "land_use": "YT"}
    with clean_db.begin() as conn:
        assert conn.execute(text("SELECT land_use FROM parcels WHERE code = :c"), {"c": code(3)}).scalar_one() == "0604"
        conn.execute(text("DELETE FROM import_field_mappings WHERE name = 'io-test-source'"))


def test_28_character_unit_codes_are_read_as_parcel_codes(clean_db, tmp_path):
    geoms = lots(HUANGZHOU, 2)
    shp = write_shapefile(tmp_path / "bdc.shp", project(geoms, 4547),
                          {"BDCDYH": [code(1) + "W00000000", code(2) + "F00010001"]}, 4547)
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "applied" and report.inserted == 2
    assert any("不动产单元代码" in n for n in report.notes)
    with clean_db.connect() as conn:
        assert sorted(conn.execute(text("SELECT code FROM parcels")).scalars()) == [code(1), code(2)]
