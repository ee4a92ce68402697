"""GDAL's own OGC API client (the OAPIF driver QGIS also uses) against a live hggis server."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from sqlalchemy import text

from tests.access_helpers import make_user
from tests.ogc_helpers import SECRET_HOLDER, live_server, seed_land


@pytest.fixture
def served(clean_db):
    land = seed_land(clean_db)
    with live_server(clean_db) as url:
        yield url, land, clean_db


def gdal(*args: str, headers: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDAL_HTTP")}
    env["GDAL_HTTP_TIMEOUT"] = "30"
    if headers:
        env["GDAL_HTTP_HEADERS"] = headers
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=120)


def db_count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_ogrinfo_lists_the_public_collections(served):
    url, _, _ = served
    out = gdal("ogrinfo", "-ro", f"OAPIF:{url}")
    assert out.returncode == 0, out.stderr
    layers = re.findall(r"^\d+: (\w+)", out.stdout, re.M)
    assert layers == ["counties", "parks", "available_land"]


def test_ogrinfo_reads_every_public_collection(served):
    url, _, engine = served
    expected = {
        "counties": db_count(engine, "SELECT count(*) FROM counties"),
        "parks": db_count(engine, "SELECT count(*) FROM parks"),
        "available_land": db_count(engine, "SELECT count(*) FROM parcels WHERE status = 'on_offer'"),
    }
    for layer, count in expected.items():
        out = gdal("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{url}", layer)
        assert out.returncode == 0, out.stderr
        assert f"Feature Count: {count}" in out.stdout, out.stdout
    land = gdal("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{url}", "available_land").stdout
    assert "Multi Polygon" in land and "code: String" in land and "area_mu: Real" in land
    assert "holder" not in land and "contract" not in land


def test_ogr2ogr_pages_through_a_collection(served, tmp_path):
    url, land, engine = served
    target = tmp_path / "land.gpkg"
    out = gdal("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{url}", "available_land",
               "-oo", "PAGE_SIZE=2", "--debug", "on")
    assert out.returncode == 0, out.stderr
    cursor_fetches = re.findall(r"Fetch\(\S*/available_land/items\?\S*cursor=", out.stderr)
    expected = db_count(engine, "SELECT count(*) FROM parcels WHERE status = 'on_offer' AND retired_at IS NULL")
    assert expected == len(land.on_offer) + 1 and len(cursor_fetches) >= expected // 2
    info = gdal("ogrinfo", "-ro", "-al", "-so", str(target))
    assert f"Feature Count: {expected}" in info.stdout, info.stdout
    codes = gdal("ogrinfo", "-ro", "-q", "-sql", "SELECT code FROM available_land ORDER BY code", str(target)).stdout
    assert sorted(re.findall(r"code \(String\) = (\w+)", codes)) == sorted([*land.on_offer, land.wuxue])


def test_gdal_with_a_token_reads_the_restricted_parcels(served, tmp_path):
    url, land, engine = served
    officer = make_user(engine, "ogc.gdal", "county_officer", counties=["421102"])
    header = f"Authorization: Bearer {officer.token}"
    listing = gdal("ogrinfo", "-ro", f"OAPIF:{url}", headers=header)
    assert listing.returncode == 0, listing.stderr
    assert "parcels" in re.findall(r"^\d+: (\w+)", listing.stdout, re.M)
    target = tmp_path / "parcels.gpkg"
    out = gdal("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{url}", "parcels", "-oo", "PAGE_SIZE=3",
               headers=header)
    assert out.returncode == 0, out.stderr
    in_scope = db_count(engine, "SELECT count(*) FROM parcels WHERE adcode = '421102' AND retired_at IS NULL")
    info = gdal("ogrinfo", "-ro", "-al", str(target)).stdout
    assert f"Feature Count: {in_scope}" in info and SECRET_HOLDER in info
    assert land.wuxue not in info
    # without the token the collection is not there
    anonymous = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{url}", "parcels")
    assert anonymous.returncode != 0
    bad = gdal("ogrinfo", "-ro", f"OAPIF:{url}", headers="Authorization: Bearer hggis_bad_token")
    assert bad.returncode != 0
