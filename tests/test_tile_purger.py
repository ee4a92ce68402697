"""The purger follows committed history rows: a transaction that commits a lower id late is not skipped."""

from __future__ import annotations

from sqlalchemy import text

from hggis.access.policy import operator
from hggis.db.session import set_actor, transaction
from hggis.tilecache.keys import Box, CacheIndex, cache_file, tiles_touching
from hggis.tilecache.purger import Purger
from tests.factories import add_parcel


def _cached_tile_of(engine, pid: int, cache_dir, log) -> str:
    """Pretend nginx stored the z15 tile of parcel ``pid``: the file and its key log line."""
    with engine.connect() as conn:
        b = conn.execute(text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM parcels "
                              "WHERE id = :i"), {"i": pid}).one()
    z, x, y = sorted(t for t in tiles_touching(Box(*b)) if t[0] == 15)[0]
    key = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    f = cache_file(cache_dir, key)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"tile")
    with log.open("a") as fh:
        fh.write(key + "\n")
    return key


def test_late_commit_of_a_lower_history_id_is_purged_and_restart_resumes(clean_db, tmp_path):
    engine = clean_db
    with transaction(engine, operator().actor, "purger test") as conn:
        a = add_parcel(conn, 1)
        b = add_parcel(conn, 15)
    cache, log, state = tmp_path / "cache", tmp_path / "cache-keys.log", tmp_path / "state.json"
    cache.mkdir()
    purger = Purger(engine, cache, CacheIndex(log), state, repurge_s=0)
    purger.start()
    key_a, key_b = _cached_tile_of(engine, a, cache, log), _cached_tile_of(engine, b, cache, log)

    slow = engine.connect()  # parcel a's edit takes its history id first and commits last
    slow.begin()
    set_actor(slow, operator().actor, "slow edit")
    slow.execute(text("UPDATE parcels SET land_price = 1 WHERE id = :i"), {"i": a})
    with transaction(engine, operator().actor, "quick edit") as conn:
        conn.execute(text("UPDATE parcels SET land_price = 2 WHERE id = :i"), {"i": b})
    purger.poll()
    assert not cache_file(cache, key_b).exists() and cache_file(cache, key_a).exists()
    slow.commit()
    slow.close()
    purger.poll()
    assert not cache_file(cache, key_a).exists()

    # a new purger on the same state resumes after the handled rows; an edit made meanwhile is purged
    key_b = _cached_tile_of(engine, b, cache, log)
    with transaction(engine, operator().actor, "edit while the purger is down") as conn:
        conn.execute(text("UPDATE parcels SET land_price = 3 WHERE id = :i"), {"i": b})
    again = Purger(engine, cache, CacheIndex(log), state, repurge_s=0)
    again.start()
    again.poll()
    assert not cache_file(cache, key_b).exists()
