"""Uploads wait in the service's own directory, are removed after use, and what a crashed
process left there is swept when the service starts.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from hggis.config import get_settings
from hggis.io import uploads
from tests.access_helpers import make_user
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HGGIS_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def _aged(path: Path, hours: float) -> Path:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def _crashed_upload(root: Path) -> Path:
    """A real process that was receiving an upload when it was killed (kill -9: nothing ran after)."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from hggis.io import uploads\n"
         "d = uploads.new_work_dir(); (d / 'survey.zip').write_bytes(b'half a file')\n"
         "print(d, flush=True); time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "HGGIS_VAR_DIR": str(root.parent)},
    )
    directory = Path(child.stdout.readline().strip())
    child.kill()
    child.wait()
    child.stdout.close()
    assert directory.parent == root and (directory / "survey.zip").is_file()
    return directory


def test_start_up_sweeps_what_dead_processes_left_and_keeps_live_uploads(clean_db, var_dir) -> None:
    root = uploads.uploads_root()
    ours = uploads.new_work_dir()  # this process's upload in progress (made first: making one sweeps)
    crashed = _crashed_upload(root)
    live_child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        # another worker's upload in progress
        other_worker = root / f"work-{live_child.pid}-{secrets.token_hex(4)}-{secrets.token_hex(8)}"
        other_worker.mkdir()
        (other_worker / "a.gpkg").write_bytes(b"x")
        # a work directory hung far longer than any request lasts; a previous life of this process id
        hung = root / f"work-{live_child.pid}-{secrets.token_hex(4)}-{secrets.token_hex(8)}"
        hung.mkdir()
        _aged(hung, get_settings().hggis_upload_stale_hours + 1)
        reused_pid = root / f"work-{os.getpid()}-00000000-{secrets.token_hex(8)}"
        reused_pid.mkdir()
        # workbench slots: one cut short while being received long ago, one awaiting confirmation
        half_received = root / secrets.token_hex(16)
        half_received.mkdir()
        _aged(half_received, get_settings().hggis_upload_stale_hours + 1)
        staged = root / secrets.token_hex(16)
        staged.mkdir()
        (staged / "meta.json").write_text("{}")
        _aged(staged, get_settings().hggis_upload_stale_hours + 1)
        assert crashed.exists()
        with TestClient(create_app(clean_db)) as client:
            assert client.get("/api/health").status_code in (200, 503)
        assert not crashed.exists() and not hung.exists() and not reused_pid.exists() and not half_received.exists()
        assert other_worker.is_dir() and ours.is_dir() and staged.is_dir()
    finally:
        live_child.kill()
        live_child.wait()
    uploads.remove(ours)


def test_uploads_are_kept_under_the_service_directory_and_removed_after_use(clean_db, var_dir, tmp_path,
                                                                           monkeypatch) -> None:
    seen: list[Path] = []
    made = uploads.new_work_dir

    def watched() -> Path:
        seen.append(made())
        return seen[-1]

    monkeypatch.setattr(uploads, "new_work_dir", watched)
    admin = make_user(clean_db, "upl-admin", "city_admin")
    shp = write_shapefile(tmp_path / "s" / "survey.shp", project(lots(HUANGZHOU, 2), 4547),
                          {"宗地代码": [code(1), code(2)]}, 4547)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in shp.parent.iterdir():
            if part.suffix != ".dbf":  # refused: the removal must not depend on success
                zf.write(part, part.name)
    with TestClient(create_app(clean_db)) as client:
        r = client.post("/api/imports/parcels", files={"file": ("a.zip", buf.getvalue())}, headers=admin.headers)
        assert r.status_code == 422
        r = client.post("/api/imports/figures", files={"file": ("b.xlsx", b"not a workbook")}, headers=admin.headers)
        assert r.status_code == 422
    assert len(seen) == 2 and all(d.parent == var_dir / "uploads" for d in seen)
    assert not any(d.exists() for d in seen)
    assert (var_dir / "uploads").stat().st_mode & 0o077 == 0  # private to the service
