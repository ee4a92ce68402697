"""Constraint layers: import from files in other CRSs, replace with history, list, scope, API, demo layers."""

from __future__ import annotations

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point, box
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import Forbidden, Principal
from hggis.db.session import transaction
from hggis.reserves.common import InvalidRequest
from hggis.reserves.constraints import import_layer, layer_features, list_layers, retire_layer
from tests.access_helpers import make_user
from tests.reserves_helpers import ADMIN, ORIGINS, add, gk_box, hand_mu

OX, OY = ORIGINS["421102"]


def _gk_file(tmp_path, name="redline.gpkg", shift=0.0):  # noqa: ANN001, ANN202
    """A GeoPackage in EPSG:4547 (Gauss-Krüger zone 38, no prefix) with two polygons."""
    frame = gpd.GeoDataFrame(
        {"名称": ["红线甲", "红线乙"]},
        geometry=[box(OX + shift, OY, OX + shift + 100, OY + 300), box(OX + 1000, OY, OX + 1100, OY + 100)],
        crs="EPSG:4547",
    )
    path = tmp_path / name
    frame.to_file(path, driver="GPKG")
    return path


def test_import_reprojects_and_the_finder_uses_it(clean_db, tmp_path):
    with transaction(clean_db, "test", "setup") as conn:
        add(conn, gk_box(0, 0, 300, 300))
    with transaction(clean_db, "officer", "导入红线") as conn:
        result = import_layer(conn, ADMIN, _gk_file(tmp_path), name="生态保护红线", kind="生态保护红线")
    assert (result.features, result.version, result.role) == (2, 1, "constraint")
    assert "4547" in (result.source_crs or "")
    with clean_db.connect() as conn:
        x, y, srid = conn.execute(
            text("SELECT ST_XMin(ST_Transform(geom, 4547)), ST_YMin(ST_Transform(geom, 4547)), ST_SRID(geom) "
                 "FROM constraint_features ORDER BY id LIMIT 1")
        ).one()
        props = conn.execute(text("SELECT properties FROM constraint_features ORDER BY id LIMIT 1")).scalar_one()
    assert srid == 4490 and x == pytest.approx(OX, abs=0.01) and y == pytest.approx(OY, abs=0.01)
    assert props == {"名称": "红线甲"}
    from hggis.reserves.sites import SiteQuery, find_sites

    with clean_db.connect() as conn:
        site = find_sites(conn, ADMIN, SiteQuery(min_mu=10, max_mu=500))["results"][0]
    assert site["area_mu"] == pytest.approx(hand_mu(gk_box(100, 0, 200, 300)), abs=0.05)


def test_replace_keeps_the_old_version_inactive_with_history(clean_db, tmp_path):
    with transaction(clean_db, "officer-a", "导入") as conn:
        v1 = import_layer(conn, ADMIN, _gk_file(tmp_path), name="红线", kind="生态保护红线")
    with transaction(clean_db, "officer-b", "2025年调整") as conn:
        v2 = import_layer(conn, ADMIN, _gk_file(tmp_path, "v2.gpkg", shift=50), name="红线", kind="生态保护红线")
    assert (v2.version, v2.replaced_layer_id) == (2, v1.layer_id)
    with clean_db.connect() as conn:
        active = list_layers(conn, ADMIN)
        every = list_layers(conn, ADMIN, include_inactive=True)
        old_features = layer_features(conn, ADMIN, v1.layer_id)
        history = conn.execute(
            text("SELECT object_id, action, actor, reason FROM history WHERE table_name = 'constraint_layers' ORDER BY id")
        ).all()
    assert [(r["id"], r["version"], r["active"]) for r in active] == [(v2.layer_id, 2, True)]
    assert [(r["version"], r["active"]) for r in every] == [(2, True), (1, False)]
    assert every[1]["retired_at"] is not None
    assert old_features["numberMatched"] == 2 and len(old_features["features"]) == 2
    assert [(h.action, h.actor, h.reason) for h in history] == [
        ("insert", "officer-a", "导入"), ("update", "officer-b", "2025年调整"), ("insert", "officer-b", "2025年调整"),
    ]
    with transaction(clean_db, "officer-b", "停用") as conn:
        retire_layer(conn, ADMIN, v2.layer_id)
    with clean_db.connect() as conn:
        assert list_layers(conn, ADMIN) == []


def test_lines_and_points_in_a_constraint_layer_are_skipped(clean_db):
    frame = gpd.GeoDataFrame(
        {"n": [1, 2, 3]},
        geometry=[gk_box(0, 0, 50, 50), LineString([(114.88, 30.45), (114.89, 30.46)]), Point(114.88, 30.45)],
        crs=4490,
    )
    from hggis.reserves.constraints import import_layer_frame

    with transaction(clean_db, "t", "t") as conn:
        result = import_layer_frame(conn, ADMIN, frame, name="农田", kind="永久基本农田")
        assert result.features == 1 and sum(result.skipped.values()) == 2
        ref = import_layer_frame(conn, ADMIN, frame, name="路网", kind="道路")
        assert (ref.role, ref.features) == ("reference", 3)
        with pytest.raises(InvalidRequest, match="no usable feature"):
            import_layer_frame(conn, ADMIN, frame.iloc[1:], name="空", kind="洪涝区")
        with pytest.raises(InvalidRequest) as err:
            import_layer_frame(conn, ADMIN, frame, name="x", kind="湿地")
        assert err.value.field == "kind"


def test_scope_of_layers(clean_db, tmp_path):
    officer = Principal("hz", "county_officer", counties=frozenset({"421102"}))
    manager = Principal("pm", "park_manager", parks=frozenset({1}))
    with transaction(clean_db, "hz", "本县红线") as conn:
        import_layer(conn, officer, _gk_file(tmp_path), name="黄州红线", kind="生态保护红线", adcode="421102")
    with pytest.raises(Forbidden):
        with transaction(clean_db, "hz", "全市") as conn:
            import_layer(conn, officer, _gk_file(tmp_path), name="全市红线", kind="生态保护红线")
    with pytest.raises(Forbidden):
        with transaction(clean_db, "hz", "他县") as conn:
            import_layer(conn, officer, _gk_file(tmp_path), name="麻城红线", kind="生态保护红线", adcode="421181")
    with clean_db.connect() as conn:
        assert [r["name"] for r in list_layers(conn, officer)] == ["黄州红线"]  # read: all layers
        with pytest.raises(Forbidden):
            list_layers(conn, manager)


def test_api_upload_and_list(clean_db, tmp_path):
    client = TestClient(create_app(clean_db))
    admin = make_user(clean_db, "city-admin-l", "city_admin")
    path = _gk_file(tmp_path)
    form = {"name": "上传红线", "kind": "生态保护红线", "reason": "上传"}
    with path.open("rb") as fh:
        assert client.post("/api/constraint-layers", data=form, files={"file": ("r.gpkg", fh)}).status_code == 401
    with path.open("rb") as fh:
        done = client.post("/api/constraint-layers", data=form, files={"file": ("r.gpkg", fh)}, headers=admin.headers)
    assert done.status_code == 201, done.text
    assert done.json()["features"] == 2
    listed = client.get("/api/constraint-layers", headers=admin.headers).json()
    assert [r["name"] for r in listed] == ["上传红线"]
    fc = client.get(f"/api/constraint-layers/{listed[0]['id']}/features", headers=admin.headers).json()
    assert fc["type"] == "FeatureCollection" and fc["features"][0]["geometry"]["type"] == "Polygon"
    bad = tmp_path / "bad.txt"
    bad.write_text("not a layer")
    with bad.open("rb") as fh:
        wrong = client.post("/api/constraint-layers", data=form, files={"file": ("bad.txt", fh)}, headers=admin.headers)
    assert wrong.status_code == 422
    assert client.get("/api/constraint-layers").status_code == 401


def test_demo_layers_clip_a_reserve_block(clean_db):
    from hggis.demo.constraints import add_demo_constraints
    from hggis.demo.loader import load_demo
    from hggis.reserves.sites import SiteQuery, find_sites

    load_demo(clean_db, seed=2023)
    with clean_db.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM constraint_layers")).scalar_one()
    if loaded == 0:  # the loader does not call it (yet): add the layers as it would
        with transaction(clean_db, "hggis demo load", "demo constraints") as conn:
            add_demo_constraints(conn)
    with clean_db.connect() as conn:
        kinds = dict(conn.execute(text("SELECT kind, feature_count FROM constraint_layers")).all())
        clipped = conn.execute(
            text(
                "SELECT count(*) FROM parcels p JOIN constraint_features f ON ST_Intersects(p.geom, f.geom) "
                "JOIN constraint_layers l ON l.id = f.layer_id WHERE l.kind = '生态保护红线' AND p.status = 'reserve'"
            )
        ).scalar_one()
        result = find_sites(conn, ADMIN, SiteQuery(min_mu=20, max_mu=2000, limit=100))
    assert set(kinds) == {"生态保护红线", "永久基本农田", "洪涝区", "河流", "港口"} and kinds["港口"] == 5
    assert clipped >= 1
    assert any("生态保护红线（示例）" in r["excluded_by"] for r in result["results"])


def test_cli_import_and_list(clean_db, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hggis.cli import app
    from hggis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        path = _gk_file(tmp_path)
        first = runner.invoke(app, ["constraints", "import", str(path), "--name", "红线", "--kind", "生态保护红线"])
        assert first.exit_code == 0, first.output
        assert "v1" in first.stdout and "2 feature(s)" in first.stdout
        second = runner.invoke(app, ["constraints", "import", str(path), "--name", "红线", "--kind", "生态保护红线",
                                     "--reason", "更新"])
        assert second.exit_code == 0 and "v2" in second.stdout and "replaces layer" in second.stdout
        listed = runner.invoke(app, ["constraints", "list", "--all"])
        assert len(listed.stdout.splitlines()) == 2 and "  inactive  " in listed.stdout and "  active  " in listed.stdout
        bad = runner.invoke(app, ["constraints", "import", str(path), "--name", "x", "--kind", "湿地"])
        assert bad.exit_code == 1 and "unknown kind" in bad.output
    finally:
        get_settings.cache_clear()
