"""Where uploaded files wait while the server reads them: one directory the service owns.

Every upload (an import through the API, a constraint layer, a workbench file awaiting
its confirmation in ``hggis.workbench.staging``) is written under ``HGGIS_VAR_DIR/uploads``,
private to the service (mode 0700), never under the machine's shared temp directory. A
request removes its directory when it is done; a process that dies mid-upload (killed,
out of memory, power cut) cannot, so :func:`sweep` runs when the service starts and
before each upload and removes what no live request can still be using:

- a work directory whose process is gone (its name carries the process id and a token of
  that process's lifetime, so a process id reused after a restart is not mistaken for it);
- a work directory older than ``HGGIS_UPLOAD_STALE_HOURS`` whatever its process;
- staged workbench uploads past their keeping time (``staging.sweep``).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hggis.config import get_settings

log = logging.getLogger(__name__)

_LIFETIME = secrets.token_hex(4)  # this process's: tells its directories from a dead namesake's
_WORK_RX = re.compile(r"^work-(?P<pid>\d+)-(?P<life>[0-9a-f]{8})-[0-9a-f]{16}$")


def uploads_root() -> Path:
    """``HGGIS_VAR_DIR/uploads``, created private to the service."""
    root = Path(get_settings().hggis_var_dir) / "uploads"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def new_work_dir() -> Path:
    """A fresh private directory for one upload being received and read."""
    sweep()
    directory = uploads_root() / f"work-{os.getpid()}-{_LIFETIME}-{secrets.token_hex(8)}"
    directory.mkdir(mode=0o700)
    return directory


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def work_dir() -> Iterator[Path]:
    """A private upload directory, removed when the block ends however it ends."""
    directory = new_work_dir()
    try:
        yield directory
    finally:
        remove(directory)


def _process_alive(pid: int, lifetime: str) -> bool:
    if pid == os.getpid():
        return lifetime == _LIFETIME
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _stale(directory: Path, oldest: float) -> bool:
    match = _WORK_RX.match(directory.name)
    if match is None or not directory.is_dir():
        return False
    if not _process_alive(int(match["pid"]), match["life"]):
        return True
    try:
        return directory.stat().st_mtime < oldest
    except FileNotFoundError:  # removed meanwhile by another worker
        return False


def sweep() -> int:
    """Remove the upload directories no live request can be using; returns how many."""
    oldest = time.time() - get_settings().hggis_upload_stale_hours * 3600
    removed = 0
    for directory in uploads_root().iterdir():
        if _stale(directory, oldest):
            remove(directory)
            removed += 1
    if removed:
        log.info("removed %d stale upload directories under %s", removed, uploads_root())
    return removed
