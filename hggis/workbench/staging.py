"""Uploaded files kept between the dry run and the confirmation of a web import.

The web import is two steps: the officer uploads a file and reads the dry-run report, then
confirms. The file is kept here in between (under ``HGGIS_VAR_DIR/uploads``, the service's
upload directory of ``hggis.io.uploads``), named by a random token and tied to the user who uploaded it; the confirmation
re-reads exactly these bytes (the checksum is compared with the dry run's) and the file is
removed afterwards. Stale uploads are swept after ``KEEP_HOURS`` (one whose receiving was cut
short, without its meta.json, after ``HGGIS_UPLOAD_STALE_HOURS``), at start-up and before each upload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hggis.config import get_settings
from hggis.errors import NotFound
from hggis.io import uploads

KEEP_HOURS = 24
_TOKEN_RX = re.compile(r"^[0-9a-f]{32}$")


class StagingError(NotFound):
    """No staged upload for this token and user (expired, confirmed already, or someone else's)."""


@dataclass
class Staged:
    token: str
    owner: str
    kind: str  # parcels | figures
    file_name: str  # the name the user knows the file by
    stored_name: str
    checksum: str
    size: int
    options: dict[str, Any]
    created: str
    dry_run_import_id: int | None = None

    @property
    def path(self) -> Path:
        return staging_root() / self.token / self.stored_name


def staging_root() -> Path:
    return uploads.uploads_root()


def _checksum(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def new_slot() -> tuple[str, Path]:
    """A fresh private directory for an upload being received: (token, directory)."""
    sweep_all()
    token = secrets.token_hex(16)
    directory = staging_root() / token
    directory.mkdir(mode=0o700)
    return token, directory


def stage(token: str, owner: str, kind: str, file_name: str, stored: Path, options: dict[str, Any]) -> Staged:
    """Record the received file of slot ``token`` (already written to ``stored``)."""
    checksum, size = _checksum(stored)
    item = Staged(token, owner, kind, file_name, stored.name, checksum, size, options,
                  dt.datetime.now(dt.UTC).isoformat())
    _write_meta(item)
    return item


def _write_meta(item: Staged) -> None:
    (staging_root() / item.token / "meta.json").write_text(json.dumps(asdict(item), ensure_ascii=False), encoding="utf-8")


def remember_dry_run(item: Staged, import_id: int | None) -> None:
    item.dry_run_import_id = import_id
    _write_meta(item)


def load(token: str, owner: str) -> Staged:
    """The staged upload ``token`` of ``owner``, its bytes unchanged since the dry run."""
    if not _TOKEN_RX.match(token or ""):
        raise StagingError("无效的上传编号")
    meta = staging_root() / token / "meta.json"
    if not meta.is_file():
        raise StagingError("上传的文件已不在服务器上（已确认导入、已放弃或超过保留时间），请重新上传")
    item = Staged(**json.loads(meta.read_text(encoding="utf-8")))
    if item.owner != owner:
        raise StagingError("这不是您上传的文件")
    created = dt.datetime.fromisoformat(item.created)
    if dt.datetime.now(dt.UTC) - created > dt.timedelta(hours=KEEP_HOURS):
        discard(token)
        raise StagingError(f"上传的文件已超过 {KEEP_HOURS} 小时保留时间，请重新上传")
    if not item.path.is_file() or _checksum(item.path)[0] != item.checksum:
        discard(token)
        raise StagingError("上传的文件在服务器上已变化，请重新上传")
    return item


def discard(token: str) -> None:
    if _TOKEN_RX.match(token or ""):
        shutil.rmtree(staging_root() / token, ignore_errors=True)


def sweep() -> int:
    """Remove staged uploads past KEEP_HOURS, and half-received ones past the stale limit; returns how many."""
    now = dt.datetime.now().timestamp()
    kept_until = now - KEEP_HOURS * 3600
    received_until = now - get_settings().hggis_upload_stale_hours * 3600
    removed = 0
    for directory in staging_root().iterdir():
        if not (directory.is_dir() and _TOKEN_RX.match(directory.name)):
            continue
        try:
            mtime = directory.stat().st_mtime
        except FileNotFoundError:
            continue
        staged = (directory / "meta.json").is_file()
        if mtime < kept_until or (not staged and mtime < received_until):
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed


def sweep_all() -> int:
    """Both kinds of upload share one root: the request directories of ``uploads`` and the staged files here."""
    return uploads.sweep() + sweep()
