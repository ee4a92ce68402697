"""gzip on the wire for clients that ask, identity for the rest, ETags still right."""

from __future__ import annotations

import gzip

import httpx
from sqlalchemy import text

from hggis.db.session import transaction
from tests.access_helpers import make_user
from tests.factories import add_parcel
from tests.live_server import live_server
from tests.maps_helpers import tile_of


def _tile_of_first_parcel(engine) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        centre = "ST_Centroid(ST_Collect(geom))"
        lon, lat = conn.execute(text(f"SELECT ST_X({centre}), ST_Y({centre}) FROM parcels")).one()
    z, x, y = tile_of(lon, lat, 13)
    return f"/tiles/parcels_officer/{z}/{x}/{y}.pbf"


def test_json_and_tiles_are_gzipped_on_request_and_revalidate(clean_db):
    with transaction(clean_db, "test", "setup") as conn:
        for serial in range(1, 61):
            add_parcel(conn, serial, status="reserve", side_m=250)
    admin = make_user(clean_db, "admin", "city_admin").headers
    with live_server(clean_db) as base:
        raw = httpx.get(f"{base}/api/counties", headers={"Accept-Encoding": "identity"})
        assert raw.status_code == 200 and "content-encoding" not in raw.headers
        zipped = httpx.get(f"{base}/api/counties", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and "accept-encoding" in zipped.headers["vary"].lower()
        assert zipped.json() == raw.json()  # httpx decodes: same content
        assert int(zipped.headers["content-length"]) < len(raw.content) / 2

        url = f"{base}{_tile_of_first_parcel(clean_db)}"
        plain = httpx.get(url, headers={**admin, "Accept-Encoding": "identity"})
        packed = httpx.get(url, headers={**admin, "Accept-Encoding": "gzip"})
        assert plain.status_code == packed.status_code == 200, plain.text
        assert len(plain.content) > 1000, len(plain.content)
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["etag"] == "W/" + plain.headers["etag"]  # another representation, weak tag
        with httpx.stream("GET", url, headers={**admin, "Accept-Encoding": "gzip"}) as r:
            assert gzip.decompress(b"".join(r.iter_raw())) == plain.content  # really gzip on the wire
        for tag in (plain.headers["etag"], packed.headers["etag"]):
            again = httpx.get(url, headers={**admin, "If-None-Match": tag, "Accept-Encoding": "gzip"})
            assert again.status_code == 304
