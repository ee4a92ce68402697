"""The common reader: formats, encodings, CRS detection and refusals (no database needed)."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pyogrio
import pytest
import shapely

from hggis.io.base import SpatialReadError
from hggis.io.crs import CrsRefused
from hggis.io.spatial import read_layer, read_layer_with_report
from tests.io_builders import (
    HUANGMEI,
    HUANGZHOU,
    WUXUE,
    code,
    from_gcj02,
    lots,
    project,
    swap_xy,
    to_gcj02,
    write_shapefile,
)


def _max_vertex_error_m(a, b) -> float:
    """Discrete Hausdorff distance in metres (over-estimated with the latitude scale) of lon/lat geometries."""
    return float(shapely.hausdorff_distance(a, b)) * 110_850.0


def test_zone38_prefixed_shapefile_reads_into_4490(tmp_path):
    geoms = lots(HUANGZHOU, 3)
    shp = write_shapefile(tmp_path / "z38.shp", project(geoms, 4526), {"ZDDM": [code(i) for i in range(3)]}, 4526)
    gdf, report = read_layer_with_report(shp)
    assert gdf.crs.to_epsg() == 4490
    assert report.crs == "EPSG:4526" and report.gk_zone == 38 and report.zone_prefixed is True
    assert shapely.get_coordinates(project(geoms, 4526)[0])[0, 0] > 38_000_000  # really prefixed
    for got, want in zip(gdf.geometry, geoms, strict=True):
        assert _max_vertex_error_m(got, want) < 0.01


def test_zone39_unprefixed_in_huangmei_and_wuxue(tmp_path):
    geoms = lots(HUANGMEI, 2) + lots(WUXUE, 2)
    shp = write_shapefile(tmp_path / "z39.shp", project(geoms, 4548), {"ZDDM": [code(i, "421127") for i in range(4)]}, 4548)
    gdf, report = read_layer_with_report(shp)
    assert report.crs == "EPSG:4548" and report.gk_zone == 39 and report.zone_prefixed is False
    assert gdf.geometry.iloc[0].centroid.x > 115.5
    assert _max_vertex_error_m(gdf.geometry.iloc[3], geoms[3]) < 0.01


def test_prj_says_4547_but_eastings_are_prefixed_is_detected_and_explained(tmp_path):
    geoms = lots(HUANGZHOU, 2)
    shp = write_shapefile(tmp_path / "mixed.shp", project(geoms, 4526), {"ZDDM": [code(1), code(2)]}, 4547)
    gdf, report = read_layer_with_report(shp)
    assert report.declared_crs == "EPSG:4547"
    assert report.crs == "EPSG:4526" and report.crs_source == "corrected"
    assert any("38xxxxxx" in n and "EPSG:4526" in n for n in report.notes)
    assert _max_vertex_error_m(gdf.geometry.iloc[0], geoms[0]) < 0.01


def test_prefix_of_another_zone_than_the_prj_is_refused(tmp_path):
    geoms = project(lots(HUANGMEI, 1), 4527)  # 39xxxxxx
    shp = write_shapefile(tmp_path / "wrong.shp", geoms, {"ZDDM": [code(1)]}, 4547)
    with pytest.raises(CrsRefused) as err:
        read_layer(shp)
    assert "以 39 开头" in str(err.value) and err.value.proposed_epsg == 4527


def test_gbk_dbf_with_cpg_reads_chinese(tmp_path):
    geoms = project(lots(HUANGZHOU, 2), 4547)
    shp = write_shapefile(
        tmp_path / "gbk.shp", geoms, {"宗地代码": [code(1), code(2)], "地类": ["工业用地", "仓储用地"], "权利人": ["黄冈某某有限公司", "蕲春县药业"]},
        4547, encoding="GBK",
    )
    assert shp.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "工业用地".encode("gbk") in raw and "工业用地".encode() not in raw  # really GBK bytes
    gdf, report = read_layer_with_report(shp)
    assert list(gdf["地类"]) == ["工业用地", "仓储用地"]
    assert list(gdf["权利人"]) == ["黄冈某某有限公司", "蕲春县药业"]
    assert "GBK" in report.encoding_source


def test_gbk_dbf_without_cpg_is_recognised_or_given(tmp_path):
    geoms = project(lots(HUANGZHOU, 1), 4547)
    shp = write_shapefile(tmp_path / "nocpg.shp", geoms, {"宗地代码": [code(1)], "地类": ["工业用地"]}, 4547,
                          encoding="GBK", cpg=False)
    gdf, report = read_layer_with_report(shp)
    assert gdf["地类"].iloc[0] == "工业用地"
    assert "GBK" in report.encoding_source
    gdf = read_layer(shp, encoding="gb18030")
    assert gdf["地类"].iloc[0] == "工业用地"


def test_zipped_shapefile_read_through_vsizip(tmp_path, strict=True):
    geoms = project(lots(HUANGZHOU, 2), 4547)
    shp = write_shapefile(tmp_path / "src" / "宗地.shp", geoms, {"宗地代码": [code(1), code(2)], "地类": ["工业用地"] * 2}, 4547, encoding="GBK")
    zpath = tmp_path / "delivery.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for part in shp.parent.iterdir():
            zf.write(part, f"成果/{part.name}")
    gdf, report = read_layer_with_report(zpath)
    assert len(gdf) == 2 and gdf["地类"].iloc[0] == "工业用地"
    assert report.format == "shapefile" and report.encoding_source.startswith(".cpg")


def test_file_without_crs_is_refused_with_proposed_zone(tmp_path):
    geoms = project(lots(HUANGZHOU, 3), 4547)
    shp = write_shapefile(tmp_path / "noprj.shp", geoms, {"ZDDM": [code(i) for i in range(3)]}, None)
    assert not shp.with_suffix(".prj").exists()
    with pytest.raises(CrsRefused) as err:
        read_layer(shp)
    msg = str(err.value)
    assert "没有坐标系" in msg and "38 带" in msg and "EPSG:4547" in msg
    assert err.value.proposed_epsg == 4547
    gdf = read_layer(shp, crs="4547")  # and the proposal works
    assert gdf.crs.to_epsg() == 4490 and 114.8 < gdf.geometry.iloc[0].centroid.x < 115.0


def test_prefixed_file_without_crs_proposes_4526(tmp_path):
    shp = write_shapefile(tmp_path / "noprj38.shp", project(lots(HUANGZHOU, 2), 4526), {"ZDDM": [code(1), code(2)]}, None)
    with pytest.raises(CrsRefused) as err:
        read_layer(shp)
    assert err.value.proposed_epsg == 4526 and "EPSG:4526" in str(err.value)


def test_swapped_xy_is_refused_with_hint(tmp_path):
    geoms = swap_xy(project(lots(HUANGZHOU, 2), 4547))
    shp = write_shapefile(tmp_path / "swapped.shp", geoms, {"ZDDM": [code(1), code(2)]}, 4547)
    with pytest.raises(CrsRefused) as err:
        read_layer(shp)
    assert "填反" in str(err.value)
    assert "交换" in (err.value.hint or "")
    # also without a CRS
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CrsRefused, match="填反"):
        read_layer(shp)


def test_cgcs2000_geopackage_with_layer_choice(tmp_path):
    gpkg = tmp_path / "survey.gpkg"
    geoms = lots(WUXUE, 2)
    gpd.GeoDataFrame({"宗地代码": [code(1, "421182"), code(2, "421182")]}, geometry=geoms, crs=4490).to_file(gpkg, layer="宗地")
    gpd.GeoDataFrame({"名称": ["红线"]}, geometry=[geoms[0].buffer(0.01)], crs=4490).to_file(gpkg, layer="红线")
    with pytest.raises(SpatialReadError) as err:
        read_layer(gpkg)
    assert "指定图层" in str(err.value) and "宗地" in str(err.value)
    gdf, report = read_layer_with_report(gpkg, layer="宗地")
    assert report.crs == "EPSG:4490" and report.layers == ["宗地", "红线"]
    assert gdf.geometry.iloc[0].equals_exact(geoms[0], 1e-12)


def test_geojson_gcj02_is_converted_with_the_iterative_inverse(tmp_path):
    truth = lots(HUANGZHOU, 2)
    shifted = to_gcj02(truth)
    path = tmp_path / "amap.geojson"
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"宗地代码": code(i)}, "geometry": shapely.geometry.mapping(g)}
                     for i, g in enumerate(shifted)],
    }, ensure_ascii=False), encoding="utf-8")
    plain = read_layer(path)
    assert _max_vertex_error_m(plain.geometry.iloc[0], truth[0]) > 400  # AMap shift ~0.55 km
    gdf, report = read_layer_with_report(path, source_datum="gcj02")
    assert report.source_datum == "gcj02"
    assert _max_vertex_error_m(gdf.geometry.iloc[0], truth[0]) < 0.01
    assert _max_vertex_error_m(gdf.geometry.iloc[1], from_gcj02(shifted)[1]) < 1e-6


def test_geojson_with_projected_metres_and_no_crs_member_is_refused(tmp_path):
    path = tmp_path / "metres.geojson"
    g = project(lots(HUANGZHOU, 1), 4547)[0]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)}]}))
    with pytest.raises(CrsRefused) as err:
        read_layer(path)
    assert err.value.proposed_epsg == 4547


def test_csv_with_wkt_needs_crs_and_reads_gbk(tmp_path):
    geoms = lots(HUANGZHOU, 2)
    path = tmp_path / "excel.csv"
    lines = ["宗地代码,地类,WKT"] + [f'{code(i)},工业用地,"{g.wkt}"' for i, g in enumerate(geoms)]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    with pytest.raises(CrsRefused) as err:
        read_layer(path)
    assert "CSV 文件不带坐标系" in str(err.value) and err.value.proposed_epsg == 4490
    gdf, report = read_layer_with_report(path, crs=4490)
    assert list(gdf["地类"]) == ["工业用地", "工业用地"]
    assert report.encoding == "gb18030"
    assert gdf.geometry.iloc[1].equals_exact(geoms[1], 1e-9)


def test_unsupported_file_is_refused(tmp_path):
    p = tmp_path / "notes.docx"
    p.write_bytes(b"PK\x03\x04")
    with pytest.raises(SpatialReadError, match="不是支持的空间数据文件"):
        read_layer(p)


def test_written_shapefile_has_really_no_prj_when_asked(tmp_path):
    # guard for the builders used above: pyogrio writes .prj/.cpg, the builder removes them
    shp = write_shapefile(tmp_path / "x.shp", project(lots(HUANGZHOU, 1), 4547), {"a": [1]}, None, cpg=False)
    assert not shp.with_suffix(".prj").exists() and not shp.with_suffix(".cpg").exists()
    assert pyogrio.read_info(shp)["crs"] is None


def test_utf8_dbf_with_cut_chinese_field_names_still_reads(tmp_path):
    # QGIS/GDAL cut "宗地代码" (12 bytes in UTF-8) to 10 bytes, in the middle of 码.
    shp = write_shapefile(tmp_path / "utf8.shp", project(lots(HUANGZHOU, 1), 4547),
                          {"宗地代码": [code(1)], "地类": ["工业用地"]}, 4547, encoding="UTF-8")
    gdf, report = read_layer_with_report(shp)
    assert gdf["地类"].iloc[0] == "工业用地"
    (cut,) = [c for c in gdf.columns if c.startswith("宗地代")]
    assert gdf[cut].iloc[0] == code(1)
    assert any("10 字节" in n for n in report.notes)


def test_shapefile_folder_with_layer_choice(tmp_path):
    folder = tmp_path / "成果"
    write_shapefile(folder / "宗地.shp", project(lots(HUANGZHOU, 2), 4547), {"ZDDM": [code(1), code(2)]}, 4547)
    gdf = read_layer(folder)
    assert len(gdf) == 2
    write_shapefile(folder / "界址点.shp", project(lots(HUANGZHOU, 1), 4547), {"ZDDM": [code(3)]}, 4547)
    with pytest.raises(SpatialReadError) as err:
        read_layer(folder)
    assert "指定图层" in str(err.value)
    gdf, report = read_layer_with_report(folder, layer="宗地")
    assert len(gdf) == 2 and report.layer == "宗地" and sorted(report.layers) == ["宗地", "界址点"]
