"""A killed import leaves its entry in the import log, shown as interrupted, and wrote nothing.

The door is the command line an officer runs on a big survey: ``hggis import parcels``
in its own process, killed with SIGKILL while it writes the parcels (nothing of the
process runs after that signal). Then the log, the service's start-up and the pages.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api.app import create_app
from hggis.access.policy import operator
from hggis.io.importlog import RUN_LOCK_CLASS, list_imports
from tests.io_builders import survey_grid
from tests.workbench_helpers import PASSWORD, add_web_user

HGGIS = str(Path(sys.executable).parent / "hggis")
PATIENCE_S = 300  # generous: the machine may be loaded; no timing is asserted


def _scalar(engine: Engine, sql: str, **params):  # noqa: ANN201
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _wait_for(what: str, probe, child: subprocess.Popen | None = None):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        if child is not None and child.poll() is not None:
            out, err = child.communicate()
            raise AssertionError(f"the import ended (rc {child.returncode}) before {what}: {out[-2000:]} {err[-2000:]}")
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def _run_holder(engine: Engine) -> tuple[int, int] | None:
    """(run id, backend pid) of the running import whose process holds its lock."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT i.id, l.pid FROM imports i JOIN pg_locks l ON l.locktype = 'advisory' AND l.classid = :k "
            "AND l.objid = i.id AND l.objsubid = 2 AND l.granted WHERE i.status = 'running'"), {"k": RUN_LOCK_CLASS}).first()
    return (row[0], row[1]) if row else None


def _parcel_writer(engine: Engine, holder_pid: int) -> int | None:
    """The backend of the import's own transaction once it writes into parcels."""
    return _scalar(engine, "SELECT pid FROM pg_locks WHERE relation = 'parcels'::regclass AND mode = 'RowExclusiveLock' "
                           "AND granted AND pid NOT IN (:h, pg_backend_pid()) LIMIT 1", h=holder_pid)


def test_a_killed_import_is_logged_interrupted_and_left_no_parcels(clean_db, tmp_path) -> None:
    shp = survey_grid(tmp_path / "survey" / "麻城测绘.shp", 20_000)
    env = {**os.environ, "DATABASE_URL": clean_db.url.render_as_string(hide_password=False)}
    child = subprocess.Popen([HGGIS, "import", "parcels", str(shp)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        run_id, holder_pid = _wait_for("the run to be logged as running", lambda: _run_holder(clean_db), child)
        with clean_db.connect() as conn:  # logged, committed, before a single parcel is written
            assert list_imports(conn, operator())[0]["status"] == "running"
        writer = _wait_for("the import to write parcels", lambda: _parcel_writer(clean_db, holder_pid), child)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN (:w, :h)"
    _wait_for("the killed import's sessions to end", lambda: _scalar(clean_db, gone, w=writer, h=holder_pid))

    assert _scalar(clean_db, "SELECT count(*) FROM parcels") == 0
    assert _scalar(clean_db, "SELECT count(*) FROM history WHERE table_name = 'parcels'") == 0
    with clean_db.connect() as conn:
        log = list_imports(conn, operator())
    assert [(r["id"], r["status"], r["file_name"]) for r in log] == [(run_id, "interrupted", "麻城测绘.shp")]
    assert log[0]["finished_at"] is None and log[0]["inserted"] == 0

    # the service's start-up records it, with the time it was found
    with TestClient(create_app(clean_db)) as client:
        stored = _scalar(clean_db, "SELECT status || ' ' || (finished_at IS NOT NULL) FROM imports WHERE id = :i", i=run_id)
        assert stored == "interrupted true"
        user = add_web_user(clean_db, "int-admin", "city_admin")
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf": token, "next": "/"})
        page = client.get("/imports").text
        assert re.search(r"麻城测绘\.shp</td><td>[^<]*</td><td>中断", page), page[-3000:]
        assert "中断" in client.get(f"/imports/{run_id}").text

    # the next run is logged normally beside it
    again = subprocess.run([HGGIS, "import", "parcels", str(shp), "--dry-run"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    listed = subprocess.run([HGGIS, "import", "log"], env=env, capture_output=True, text=True).stdout
    assert re.search(rf"#{run_id}\s.*interrupted", listed) and re.search(r"dry_run", listed), listed


def test_an_import_that_fails_unexpectedly_is_marked_interrupted_and_releases_its_lock(clean_db, tmp_path,
                                                                                        monkeypatch) -> None:
    from hggis.io import parcels_import
    from hggis.io.parcels_import import import_parcels
    from tests.io_builders import CITY_ADMIN

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(parcels_import, "_write", broken)
    shp = survey_grid(tmp_path / "s" / "small.shp", 3)
    with pytest.raises(RuntimeError):
        import_parcels(clean_db, CITY_ADMIN, shp)
    assert _scalar(clean_db, "SELECT status || ' ' || (finished_at IS NOT NULL) FROM imports") == "interrupted true"
    assert _scalar(clean_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :k",
                   k=RUN_LOCK_CLASS) == 0
    assert _scalar(clean_db, "SELECT count(*) FROM parcels") == 0
    monkeypatch.undo()
    report = import_parcels(clean_db, CITY_ADMIN, shp)
    assert report.status == "applied" and report.inserted == 3
    with clean_db.connect() as conn:
        assert [r["status"] for r in list_imports(conn, operator())] == ["applied", "interrupted"]
