"""`hggis serve --cache`: nginx in front, public tiles cached, purged exactly from the history.

Runs the real thing: the `hggis serve --cache` command (nginx from the Debian package as a
child process, the app behind it) on the test database; edits go through the API.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from hggis.tilecache.keys import Box, cache_file, tiles_touching
from tests.live_server import free_port
from tests.maps_helpers import add_user, tile_of
from tests.mvt import decode

Z = 14


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture(scope="module")
def cached(engine):
    from hggis.config import PROJECT_ROOT
    from hggis.demo.loader import load_demo
    from tests.conftest import wipe_data

    wipe_data(engine)
    load_demo(engine, seed=2023)
    # under var/ (not pytest's root-only tmp): nginx's workers run as nobody when started as root
    var = PROJECT_ROOT / "var" / f"test-cache-{os.getpid()}"
    var.mkdir(parents=True, exist_ok=True)
    port, app_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False), "HGGIS_VAR_DIR": str(var),
           "HGGIS_PORT": str(port), "HGGIS_CACHE_APP_PORT": str(app_port), "HGGIS_WORKERS": "1",
           "HGGIS_CACHE_POLL_S": "0.1"}
    logfile = (var / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "hggis.cli", "serve", "--cache"], env=env,
                            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/api/health")
        yield base, engine, var, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        logfile.close()
        wipe_data(engine)
        shutil.rmtree(var, ignore_errors=True)


def _two_far_parcels(engine) -> list[tuple[str, tuple[int, int, int], Box]]:
    """Two parcels on offer whose z14 tiles are far apart (neither touches the other's tile)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat, "
            "ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1 "
            "FROM parcels WHERE status = 'on_offer' ORDER BY id"
        )).all()
    first = rows[0]
    a = (first.code, tile_of(first.lon, first.lat, Z), Box(first.x0, first.y0, first.x1, first.y1))
    for r in rows[1:]:
        t = tile_of(r.lon, r.lat, Z)
        if abs(t[1] - a[1][1]) > 3 and t not in tiles_touching(a[2]):
            return [a, (r.code, t, Box(r.x0, r.y0, r.x1, r.y1))]
    raise AssertionError("no second parcel far enough")


def _url(tile: tuple[int, int, int]) -> str:
    z, x, y = tile
    return f"/tiles/parcels/{z}/{x}/{y}.pbf"


def _industry_in(content: bytes, code: str) -> str | None:
    for f in decode(content)["parcels"].features:
        if f.properties["code"] == code:
            return f.properties.get("intended_industry")
    raise AssertionError(f"{code} not in the tile")


def test_edit_purges_exactly_the_affected_tiles(cached):
    base, engine, var, _proc = cached
    (code_a, tile_a, _box_a), (_code_b, tile_b, _box_b) = _two_far_parcels(engine)
    for tile in (tile_a, tile_b):
        assert httpx.get(base + _url(tile)).headers["x-cache-status"] == "MISS"
        again = httpx.get(base + _url(tile))
        assert again.headers["x-cache-status"] == "HIT" and again.headers["etag"]
    # a browser's revalidation is answered from the cache
    tag = httpx.get(base + _url(tile_a)).headers["etag"]
    assert httpx.get(base + _url(tile_a), headers={"If-None-Match": tag}).status_code == 304
    # the file nginx stored is where the purger computes it
    assert cache_file(var / "nginx" / "cache", _url(tile_a)).exists()

    before = _industry_in(httpx.get(base + _url(tile_a)).content, code_a)
    token, _sid = add_user(engine, "cache_officer", "city_admin")
    with engine.connect() as conn:
        other = conn.execute(text("SELECT intended_industry FROM parcels WHERE intended_industry IS NOT NULL AND "
                                  "intended_industry IS DISTINCT FROM :i LIMIT 1"), {"i": before}).scalar_one()
    auth = {"Authorization": f"Bearer {token}"}
    version = httpx.get(f"{base}/api/parcels/{code_a}", headers=auth).headers["etag"].strip('"')
    r = httpx.patch(f"{base}/api/parcels/{code_a}", headers=auth,
                    json={"intended_industry": other, "version": int(version), "reason": "缓存测试"})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while cache_file(var / "nginx" / "cache", _url(tile_a)).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    fresh = httpx.get(base + _url(tile_a))
    assert fresh.headers["x-cache-status"] == "MISS"
    assert _industry_in(fresh.content, code_a) not in (None, before)  # the new industry's label
    assert fresh.headers["etag"] != tag
    assert httpx.get(base + _url(tile_b)).headers["x-cache-status"] == "HIT"  # untouched tile kept


def test_signed_in_requests_bypass_the_cache_and_private_tiles_are_never_stored(cached):
    base, engine, var, _proc = cached
    token, sid = add_user(engine, "cache_staff", "city_admin")
    (_code, tile, _box), _ = _two_far_parcels(engine)
    z, x, y = tile
    private = f"/tiles/parcels_officer/{z}/{x}/{y}.pbf"
    staff = httpx.get(base + private, headers={"Authorization": f"Bearer {token}"})
    assert staff.status_code == 200 and len(staff.content) > 0
    assert "x-cache-status" not in staff.headers
    assert not cache_file(var / "nginx" / "cache", private).exists()
    assert httpx.get(base + private).status_code == 401  # anonymous: never the staff's tile
    # a signed-in visitor of the public layer neither reads nor fills the cache
    public = f"/tiles/parcels/{z}/{x}/{y}.pbf?shift=gcj02"
    for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": f"hggis_session={sid}"}):
        assert httpx.get(base + public, headers=headers).headers["x-cache-status"] == "BYPASS"
    assert not cache_file(var / "nginx" / "cache", public).exists()
    assert httpx.get(base + public).headers["x-cache-status"] == "MISS"


def test_nginx_killed_is_restarted_with_a_log_line(cached):
    base, _engine, var, proc = cached
    pid = int((var / "nginx" / "nginx.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30  # the supervisor notices on its next poll, later on a loaded machine
    log = ""
    while time.monotonic() < deadline and "restarting" not in log:
        time.sleep(0.2)
        log = Path(var / "serve.log").read_text()
    _wait(f"{base}/api/health", timeout=20)
    assert proc.poll() is None
    assert "nginx exited with code" in log and "restarting" in log


def test_touched_tiles_are_exactly_those_postgis_reads_the_parcel_for(engine):
    """tiles_touching == the tiles whose buffered envelope && the box, as hggis.tiles filters (plain and GCJ-02)."""
    from hggis.tiles import BUFFER, EXTENT, gcj_offset

    box = Box(114.8712, 30.4531, 114.8791, 30.4583)  # ~750 m × 580 m near 黄州
    for shift in ("none", "gcj02"):
        ours = tiles_touching(box, shift)
        with engine.connect() as conn:
            for z in (12, 15, 17):
                _, cx, cy = tile_of((box.xmin + box.xmax) / 2, (box.ymin + box.ymax) / 2, z)
                span = 6 if z < 17 else 12
                expected = set()
                for x in range(cx - span, cx + span + 1):
                    for y in range(cy - span, cy + span + 1):
                        dx, dy = gcj_offset(z, x, y) if shift == "gcj02" else (0.0, 0.0)
                        hit = conn.execute(text(
                            "SELECT ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490) && ST_Translate(ST_Transform("
                            "ST_TileEnvelope(:z, :x, :y, margin => :m), 4490), -:dx, -:dy)"),
                            {"x0": box.xmin, "y0": box.ymin, "x1": box.xmax, "y1": box.ymax, "z": z, "x": x, "y": y,
                             "m": BUFFER / EXTENT, "dx": dx, "dy": dy}).scalar_one()
                        if hit:
                            expected.add((z, x, y))
                assert {t for t in ours if t[0] == z} == expected, (shift, z)
