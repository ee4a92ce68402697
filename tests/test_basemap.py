"""The offline base map: a generated package loaded with `hggis basemap load`, served at /basemap/…, drawn by the maps.

Packages are made here by the ``pmtiles`` library: a PMTiles file from its writer (PNG tiles
from PIL, each tile a colour that encodes its z/x/y so a served tile can be told from its
neighbours) and an MBTiles file converted from it by the same library. A broken package is refused by
the command and, when it breaks after loading, leaves the maps without a base map and one
log line saying why.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from hggis import basemap
from hggis.config import get_settings
from tests.maps_helpers import tile_of

HUANGGANG = (114.4, 29.7, 116.2, 31.6)  # west, south, east, north
ZOOMS = range(6, 10)


def _color(z: int, x: int, y: int) -> tuple[int, int, int]:
    return (z * 20 % 256, x % 256, y % 256)


def _png(z: int, x: int, y: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), _color(z, x, y)).save(out, "PNG")
    return out.getvalue()


def _tiles() -> list[tuple[int, int, int]]:
    out = []
    for z in ZOOMS:
        _, x0, y0 = tile_of(HUANGGANG[0], HUANGGANG[3], z)
        _, x1, y1 = tile_of(HUANGGANG[2], HUANGGANG[1], z)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def make_mbtiles(path: Path) -> Path:
    """An MBTiles package as a tile server's toolchain makes it: converted from a PMTiles file."""
    from pmtiles.convert import pmtiles_to_mbtiles

    source = make_pmtiles(path.with_suffix(".source.pmtiles"))
    pmtiles_to_mbtiles(str(source), str(path))
    source.unlink()
    return path


def write_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], *, vector: bool = False,
                  name: str = "测试底图 PMTiles") -> Path:
    """A PMTiles package of the given tiles, written by the ``pmtiles`` library's own writer."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    zooms = [z for z, _x, _y in tiles]
    with path.open("wb") as f:
        writer = Writer(f)
        for (z, x, y), data in sorted(tiles.items(), key=lambda kv: zxy_to_tileid(*kv[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        writer.finalize({
            "tile_type": TileType.MVT if vector else TileType.PNG,
            "tile_compression": Compression.GZIP if vector else Compression.NONE,
            "min_zoom": min(zooms), "max_zoom": max(zooms),
            "min_lon_e7": int(HUANGGANG[0] * 1e7), "min_lat_e7": int(HUANGGANG[1] * 1e7),
            "max_lon_e7": int(HUANGGANG[2] * 1e7), "max_lat_e7": int(HUANGGANG[3] * 1e7),
            "center_zoom": 8, "center_lon_e7": int(115.2e7), "center_lat_e7": int(30.6e7),
        }, {"name": name, "attribution": "测试数据", "format": "pbf" if vector else "png"})
    return path


def make_pmtiles(path: Path) -> Path:
    return write_pmtiles(path, {(z, x, y): _png(z, x, y) for z, x, y in _tiles()})


@pytest.fixture
def var(tmp_path, monkeypatch):
    """A private HGGIS_VAR_DIR for the registry, base map settings unset."""
    monkeypatch.setenv("HGGIS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HGGIS_BASEMAP_PACKAGE", raising=False)
    monkeypatch.setenv("HGGIS_BASEMAP", "auto")
    get_settings.cache_clear()
    basemap._cache.clear()
    yield tmp_path
    get_settings.cache_clear()
    basemap._cache.clear()


def _color_of(data: bytes) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((10, 10))


@pytest.mark.parametrize("make", [make_mbtiles, make_pmtiles], ids=["mbtiles", "pmtiles"])
def test_loaded_package_is_served_and_drawn_under_every_map(cli, clean_db, var, make):
    package = make(var / ("hg." + make.__name__.split("_")[1]))
    result = cli("basemap", "load", str(package))
    assert result.exit_code == 0, result.output
    assert "base map loaded: 测试" in result.output and "zoom 6–9" in result.output
    status = json.loads(cli("basemap", "status").output)
    assert status["usable"] and status["kind"] == "raster" and status["max_zoom"] == 9
    assert status["bounds"] == pytest.approx(list(HUANGGANG), abs=1e-6)

    engine = clean_db
    with TestClient(create_app(engine)) as client:
        z, x, y = tile_of(115.0, 30.5, 8)
        r = client.get(f"/basemap/{z}/{x}/{y}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
        assert _color_of(r.content) == _color(z, x, y)  # this tile, not its TMS mirror
        assert client.get(f"/basemap/{z}/{x}/{y}.png", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        empty = client.get("/basemap/9/0/0.png")  # outside the package: a transparent tile, not an error
        assert empty.status_code == 200 and Image.open(io.BytesIO(empty.content)).size == (1, 1)
        assert client.get(f"/basemap/{z}/{x}/{y}.pbf").status_code == 404
        page = client.get("/maps/land").text
        assert "/basemap/{z}/{x}/{y}.png" in page and "maxNativeZoom\": 9" in page
        assert "/basemap/{z}/{x}/{y}.png" in client.get("/maps/clusters").text

    result = cli("basemap", "remove")
    assert result.exit_code == 0 and "removed" in result.output
    with TestClient(create_app(engine)) as client:
        assert client.get(f"/basemap/{z}/{x}/{y}.png").status_code == 404
        assert "/basemap/" not in client.get("/maps/land").text


def test_broken_packages_are_refused_naming_the_file(cli, var):
    junk = var / "junk.mbtiles"
    junk.write_bytes(b"not a tile package at all")
    result = cli("basemap", "load", str(junk))
    assert result.exit_code == 1 and "junk.mbtiles" in result.output and "neither MBTiles" in result.output
    fake = var / "fake.mbtiles"
    _geopackage_named(fake)
    result = cli("basemap", "load", str(fake))
    assert result.exit_code == 1 and "fake.mbtiles" in result.output and "MBTiles" in result.output
    bad_pm = var / "bad.pmtiles"
    bad_pm.write_bytes(b"PMTiles\x03" + b"\x00" * 40)
    result = cli("basemap", "load", str(bad_pm))
    assert result.exit_code == 1 and "bad.pmtiles" in result.output
    result = cli("basemap", "load", str(var / "missing.mbtiles"))
    assert result.exit_code == 1 and "no such file" in result.output
    assert json.loads(cli("basemap", "status").output) == {"loaded": False}


def _geopackage_named(path: Path) -> None:
    """An SQLite file of another schema (a GeoPackage written by GDAL) under a tile package's name."""
    import geopandas as gpd
    from shapely.geometry import Point

    written = path.with_suffix(".gpkg")
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(115.0, 30.5)], crs="EPSG:4490").to_file(written, driver="GPKG")
    written.rename(path)


def test_package_that_breaks_after_loading_leaves_maps_working_and_one_log_line(cli, clean_db, var, caplog):
    package = make_mbtiles(var / "hg.mbtiles")
    assert cli("basemap", "load", str(package)).exit_code == 0
    package.write_bytes(b"truncated by a failed copy")
    engine = clean_db
    with caplog.at_level(logging.WARNING, logger="hggis.basemap"), TestClient(create_app(engine)) as client:
        for path in ("/maps/land", "/maps/clusters", "/maps/land"):
            r = client.get(path)
            assert r.status_code == 200 and "/basemap/" not in r.text
        assert client.get("/basemap/8/0/0.png").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "hggis.basemap"]
    assert len(lines) == 1 and "hg.mbtiles" in lines[0] and "without a base map" in lines[0]
    result = cli("basemap", "status")
    assert result.exit_code == 1 and json.loads(result.output)["usable"] is False


def test_map_in_the_browser_draws_its_base_layer_from_the_local_package(cli, clean_db, var):
    from playwright.sync_api import sync_playwright

    from tests.live_server import live_server
    from tests.test_maps_browser import ARGS, CHROMIUM

    assert cli("basemap", "load", str(make_mbtiles(var / "hg.mbtiles"))).exit_code == 0
    engine = clean_db
    requested, blocked = [], []
    with live_server(engine) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1000, "height": 700})

        def guard(route) -> None:  # noqa: ANN001
            if route.request.url.startswith(base):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.on("response", lambda r: requested.append((r.url, r.status)) if "/basemap/" in r.url else None)
        page.goto(base + "/maps/clusters", wait_until="networkidle")
        page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
        loaded = page.evaluate("() => Array.from(document.querySelectorAll('img.leaflet-tile-loaded')).map(i => i.src)")
        browser.close()
    assert blocked == []
    assert requested and all(status == 200 for _url, status in requested)
    assert all("/basemap/" in src and src.endswith(".png") for src in loaded)
    zooms = {int(u.split("/basemap/")[1].split("/")[0]) for u, _s in requested}
    assert zooms and zooms <= set(ZOOMS)


def test_vector_package_is_served_gzipped_but_not_drawn(cli, clean_db, var):
    import gzip

    from pmtiles.convert import pmtiles_to_mbtiles

    z, x, y = tile_of(115.0, 30.5, 8)
    body = b"\x1a\x02\x78\x01"  # stands in for a vector tile's protobuf bytes
    source = write_pmtiles(var / "vector.pmtiles", {(z, x, y): gzip.compress(body)}, vector=True, name="矢量底图")
    path = var / "vector.mbtiles"
    pmtiles_to_mbtiles(str(source), str(path))
    result = cli("basemap", "load", str(path))
    assert result.exit_code == 0 and "vector" in result.output and "not drawn" in result.output
    with TestClient(create_app(clean_db)) as client:
        r = client.get(f"/basemap/{z}/{x}/{y}.pbf")
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and r.content == body
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert client.get(f"/basemap/{z}/{x + 1}/{y}.pbf").status_code == 204
        assert "/basemap/" not in client.get("/maps/land").text  # no style renderer: no base layer drawn
