"""Exports: formats, CRS, encodings, field-name mapping, scope and the public view; and that
every export imports back to the same geometries."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
import shapely
from sqlalchemy import text

from hggis.access.policy import PUBLIC, Forbidden
from hggis.io.export import ExportError, export_features, export_layer, short_field_names
from hggis.io.parcels_import import ParcelImportOptions, import_parcels
from hggis.io.spatial import read_layer_with_report
from tests.factories import add_parcel, add_park, parcel_code
from tests.io_builders import CITY_ADMIN, HUANGMEI, code, lots, officer, project, write_shapefile


@pytest.fixture
def parcels(clean_db, tmp_path):
    """Parcels in 黄州 (zone 38) and 黄梅 (zone 39), one on offer, imported like a survey delivery."""
    geoms = lots((114.88, 30.45), 3) + lots(HUANGMEI, 2)
    codes = [code(i + 1) for i in range(3)] + [code(i + 1, "421127") for i in range(2)]
    status = ["挂牌出让中", "标准地储备", "已投产", "标准地储备", "已投产"]
    shp = write_shapefile(tmp_path / "src.shp", project(geoms, 4547),
                          {"宗地代码": codes, "状态": status}, 4547, encoding="GBK")
    assert import_parcels(clean_db, CITY_ADMIN, shp).status == "applied"
    with clean_db.begin() as conn:
        add_park(conn, "黄冈高新技术产业开发区", "421102")
    return dict(zip(codes, geoms, strict=True))


def _stored(engine) -> dict[str, shapely.Geometry]:
    with engine.connect() as conn:
        return {c: shapely.from_wkb(bytes(w)) for c, w in conn.execute(text("SELECT code, ST_AsBinary(geom) FROM parcels"))}


def _max_distance_m(a, b) -> float:
    return float(shapely.hausdorff_distance(a, b)) * 110_850.0


@pytest.mark.parametrize(
    "fmt,crs,encoding",
    [("gpkg", 4490, "utf-8"), ("shp", 4547, "gbk"), ("shp", 4526, "utf-8"), ("geojson", 4490, "utf-8"),
     ("geojson", 4548, "utf-8"), ("csv", 4490, "gbk"), ("csv", 4527, "utf-8")],
)
def test_exports_reimport_to_the_same_geometries(clean_db, parcels, tmp_path, fmt, crs, encoding):
    suffix = {"gpkg": ".gpkg", "shp": ".zip", "geojson": ".geojson", "csv": ".csv"}[fmt]
    out = tmp_path / f"parcels{suffix}"
    with clean_db.connect() as conn:
        res = export_layer(conn, CITY_ADMIN, "parcels", out, fmt=fmt, crs=crs, encoding=encoding)
    assert res.features == 5 and res.epsg == crs
    stored = _stored(clean_db)
    gdf, report = read_layer_with_report(out, crs=crs if fmt == "csv" else None)
    if fmt != "csv":
        assert report.crs == f"EPSG:{crs}"
    code_col = "code"
    assert sorted(gdf[code_col]) == sorted(stored)
    for c, g in zip(gdf[code_col], gdf.geometry, strict=True):
        assert _max_distance_m(g, stored[c]) < 0.01, (c, _max_distance_m(g, stored[c]))
    # Chinese text survives the round trip in every encoding
    assert set(gdf["county"]) == {"黄州区", "黄梅县"}
    # and the export imports as a parcel file again (unchanged: same codes, same geometries)
    again = import_parcels(clean_db, CITY_ADMIN, out, ParcelImportOptions(crs=crs if fmt == "csv" else None))
    assert again.status == "applied", again.to_dict()
    assert again.inserted == 0 and _all_within_cm(clean_db, stored)


def _all_within_cm(engine, before) -> bool:
    after = _stored(engine)
    return all(_max_distance_m(after[c], before[c]) < 0.01 for c in before)


def test_shapefile_zip_has_cpg_short_names_and_mapping_file(clean_db, parcels, tmp_path):
    out = tmp_path / "p.zip"
    with clean_db.connect() as conn:
        res = export_layer(conn, CITY_ADMIN, "parcels", out, fmt="shp", crs=4547, encoding="gbk")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"parcels.shp", "parcels.shx", "parcels.dbf", "parcels.prj", "parcels.cpg", "fields.csv"} <= names
        assert zf.read("parcels.cpg").decode().strip() == "GBK"
        dbf = zf.read("parcels.dbf")
        mapping = list(csv.reader(io.StringIO(zf.read("fields.csv").decode("utf-8-sig"))))
    assert "黄州区".encode("gbk") in dbf
    assert mapping[0] == ["字段", "完整名称", "含义"]
    by_name = {row[1]: row for row in mapping[1:]}
    assert all(len(row[0]) <= 10 for row in mapping[1:])
    assert by_name["agreed_completion_date"][0] == "YDJGRQ" and by_name["code"][:3] == ["ZDDM", "code", "宗地代码"]
    assert by_name["land_use"][0] == "DLBM" and by_name["holder"][0] == "QLR"  # the survey standards' names
    assert len({row[0] for row in mapping[1:]}) == len(mapping) - 1
    assert [f["short"] for f in res.fields] == [row[0] for row in mapping[1:]]
    # reading the zip back restores the full names from fields.csv
    gdf, report = read_layer_with_report(out)
    assert "agreed_completion_date" in gdf.columns and "YDJGRQ" not in gdf.columns
    assert any("fields.csv" in n for n in report.notes)


def test_short_field_names_are_unique_and_short():
    names = ["agreed_start_date", "agreed_start_datetime", "a" * 30, "a" * 31, "status_label"]
    short = short_field_names(names)
    assert all(len(v) <= 10 for v in short.values())
    assert len(set(short.values())) == len(names)


def test_anonymous_export_is_the_public_view(clean_db, parcels, tmp_path):
    out = tmp_path / "pub.geojson"
    with clean_db.connect() as conn:
        res = export_layer(conn, PUBLIC, "parcels", out)
        officer_res = export_layer(conn, CITY_ADMIN, "parcels", tmp_path / "all.geojson")
    fc = json.loads(out.read_text())
    props = fc["features"][0]["properties"]
    assert "holder" not in props and "land_price" not in props and "contract_no" not in props
    assert "holder" in {f["name"] for f in officer_res.fields}
    # the public sees no more than the public layer lets it (land on offer only)
    assert res.features == 1 and props["status"] == "on_offer"
    with clean_db.connect() as conn:
        with pytest.raises(Forbidden):
            export_layer(conn, PUBLIC, "cases", tmp_path / "c.gpkg")


def test_county_officer_exports_only_their_county(clean_db, parcels, tmp_path):
    with clean_db.connect() as conn:
        res = export_layer(conn, officer("421127"), "parcels", tmp_path / "hm.gpkg")
        reserves = export_layer(conn, officer("421127"), "reserves", tmp_path / "hm-r.gpkg")
    gdf, _ = read_layer_with_report(res.path)
    assert set(gdf["adcode"]) == {"421127"} and res.features == 2
    assert reserves.features == 1  # 黄梅's one reserve parcel


def test_reserves_parks_and_cases(clean_db, parcels, tmp_path):
    with clean_db.connect() as conn:
        reserves = export_layer(conn, CITY_ADMIN, "reserves", tmp_path / "r.gpkg")
        parks = export_layer(conn, CITY_ADMIN, "parks", tmp_path / "k.gpkg")
        has_cases = conn.execute(text("SELECT to_regclass('idle_cases') IS NOT NULL")).scalar_one()
    assert reserves.features == 3  # two 标准地储备 + one 挂牌出让中
    assert "investment_intensity" in {f["name"] for f in reserves.fields}
    assert parks.features == 1
    if has_cases:
        with clean_db.begin() as conn:
            pid = conn.execute(text("SELECT id FROM parcels WHERE code = :c"), {"c": code(3)}).scalar_one()
            conn.execute(
                text("INSERT INTO idle_cases (parcel_id, basis, opened_on) VALUES (:p, 'holder_fault', DATE '2025-01-02')"),
                {"p": pid},
            )
        with clean_db.connect() as conn:
            cases = export_layer(conn, CITY_ADMIN, "cases", tmp_path / "c.gpkg")
        gdf, _ = read_layer_with_report(cases.path)
        assert list(gdf["code"]) == [code(3)] and "case_state" in gdf.columns


def test_site_finder_results_export(clean_db, tmp_path):
    site = lots((114.88, 30.45), 1)[0]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(site),
         "properties": {"rank": 1, "area_mu": 9.6, "parcel_codes": [parcel_code(1), parcel_code(2)], "说明": "连片"}}]}
    res = export_features(fc, tmp_path / "sites.zip", fmt="shp", crs=4547)
    gdf, _ = read_layer_with_report(res.path)
    assert len(gdf) == 1 and json.loads(gdf["parcel_codes"].iloc[0]) == [parcel_code(1), parcel_code(2)]
    assert _max_distance_m(gdf.geometry.iloc[0], site) < 0.01


def test_bad_export_options_are_refused(clean_db, tmp_path):
    with clean_db.connect() as conn:
        with pytest.raises(ExportError, match="not offered"):
            export_layer(conn, CITY_ADMIN, "parcels", tmp_path / "x.gpkg", crs=3857)
        with pytest.raises(ExportError, match="format"):
            export_layer(conn, CITY_ADMIN, "parcels", tmp_path / "x.kml")
        with pytest.raises(ExportError, match="unknown layer"):
            export_layer(conn, CITY_ADMIN, "users", tmp_path / "x.gpkg")


def test_export_with_factory_parcels(clean_db, tmp_path):
    with clean_db.begin() as conn:
        add_parcel(conn, 1, status="on_offer")
    with clean_db.connect() as conn:
        res = export_layer(conn, CITY_ADMIN, "parcels", tmp_path / "f.csv", crs=4547)
    gdf, report = read_layer_with_report(res.path, crs=4547)
    assert list(gdf["code"]) == [parcel_code(1)] and report.crs == "EPSG:4547"
