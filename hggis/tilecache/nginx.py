"""nginx as an unprivileged child process with its own config, pid, logs, temp and cache dirs.

No system service is involved: ``hggis serve --cache`` renders
deploy/nginx/hggis-cache.conf.template into ``HGGIS_VAR_DIR/nginx/nginx.conf`` and runs
``nginx -p <dir> -c nginx.conf -g 'daemon off;'`` in the foreground as its child.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hggis.config import PROJECT_ROOT, Settings
from hggis.tilecache.keys import KEYS_LOG

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "hggis-cache.conf.template"
_PLACEHOLDER = re.compile(r"\$\{(HGGIS_[A-Z0-9_]+)\}")
TEMP_DIRS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxError(RuntimeError):
    """nginx is missing, its config is refused, or it would not start (one-line reason)."""


@dataclass(frozen=True)
class NginxLayout:
    """Where one nginx instance keeps its files."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def keys_log(self) -> Path:
        return self.root / KEYS_LOG

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    @property
    def state_file(self) -> Path:
        return self.root / "purger-state.json"

    def make_dirs(self) -> None:
        for d in (self.cache_dir, self.root / "logs", *(self.root / "temp" / t for t in TEMP_DIRS)):
            d.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # workers run as nobody: they write the cache and temp files
            for d in (self.cache_dir, *(self.root / "temp" / t for t in TEMP_DIRS)):
                shutil.chown(d, "nobody", "nogroup")


def render(template: str, values: dict[str, str]) -> str:
    """The template with its ``${HGGIS_*}`` placeholders filled (nginx's own ``$vars`` untouched)."""
    missing = sorted({m for m in _PLACEHOLDER.findall(template) if m not in values})
    if missing:
        raise NginxError(f"{TEMPLATE.name}: no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def config_values(settings: Settings, layout: NginxLayout, listen: str, upstream: str) -> dict[str, str]:
    return {
        "HGGIS_NGINX_DIR": str(layout.root.resolve()),
        "HGGIS_NGINX_LISTEN": listen,
        "HGGIS_NGINX_UPSTREAM": upstream,
        "HGGIS_NGINX_USER": "nobody nogroup",
        "HGGIS_NGINX_BODY_MB": str(int(settings.hggis_upload_max_mb) + 1),
        "HGGIS_NGINX_CACHE_MB": str(settings.hggis_cache_max_mb),
        "HGGIS_NGINX_TILE_TTL_S": str(settings.hggis_cache_tile_ttl_s),
        "HGGIS_NGINX_PAGE_TTL_S": str(settings.hggis_cache_page_ttl_s),
    }


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise NginxError("nginx is not installed: run scripts/setup-system.sh (Debian package nginx)")
    return found


def write_config(settings: Settings, layout: NginxLayout, listen: str, upstream: str) -> None:
    """Render the config and have nginx check it (``nginx -t``), so a bad one fails before serving."""
    layout.make_dirs()
    layout.conf.write_text(render(TEMPLATE.read_text("utf-8"), config_values(settings, layout, listen, upstream)))
    checked = subprocess.run(_command(layout, "-t", "-q"), capture_output=True, text=True)
    if checked.returncode != 0:
        reason = " ".join((checked.stderr or checked.stdout).split())
        raise NginxError(f"nginx refused {layout.conf}: {reason}")


def _command(layout: NginxLayout, *extra: str) -> list[str]:
    return [nginx_binary(), "-p", str(layout.root.resolve()), "-c", str(layout.conf.resolve()),
            "-e", str(layout.error_log.resolve()), "-g", "daemon off;", *extra]


def start(layout: NginxLayout) -> subprocess.Popen:
    """nginx in the foreground as a child process (its own process group: a Ctrl-C goes to us)."""
    return subprocess.Popen(_command(layout), start_new_session=True)


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Graceful stop (SIGQUIT: finish the requests in flight), then kill."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
