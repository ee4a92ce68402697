"""``hggis serve --cache``: nginx on the public port, the app behind it, the purger beside them.

One supervising process owns the three:

- the app (``hggis serve`` on 127.0.0.1:HGGIS_CACHE_APP_PORT, forwarded headers believed
  from 127.0.0.1 only);
- nginx on HGGIS_HOST:HGGIS_PORT (deploy/nginx), restarted with one log line when it dies:
  the app stays reachable on its own port meanwhile, so the service keeps answering
  (uncached) and says so;
- the purger thread, which follows the history and deletes affected cache entries.

Stopping the supervisor (SIGTERM, Ctrl-C) stops both children; the app ending (crash or
signal) stops nginx and the supervisor with it, so a cache never fronts a dead app.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from types import FrameType

from sqlalchemy.exc import SQLAlchemyError

from hggis.config import Settings
from hggis.db.engine import get_engine, session_url
from hggis.logs import configure_logging
from hggis.tilecache import nginx
from hggis.tilecache.keys import CacheIndex, compact_log
from hggis.tilecache.purger import Purger

log = logging.getLogger("hggis.cache")
NGINX_RESTARTS_PER_MINUTE = 5


def _wait_port(host: str, port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise nginx.NginxError(f"the app exited with code {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise nginx.NginxError(f"the app did not listen on {host}:{port} within {timeout:.0f} s")


def _purge_loop(purger: Purger, every_s: float, stop: threading.Event) -> None:
    """Poll the history until stopped; a database outage is one log line, then retries."""
    down = False
    while not stop.is_set():
        try:
            purger.poll()
            if down:
                log.warning("cache purger: database reachable again, purging resumes")
                down = False
        except (SQLAlchemyError, OSError) as exc:
            if not down:
                log.warning("cache purger: cannot read the history (%s); retrying", type(exc).__name__)
                down = True
        stop.wait(every_s)


def _app_command(port: int, workers: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "hggis.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return cmd + (["--workers", str(workers)] if workers else [])


def serve_cached(settings: Settings, host: str, port: int, workers: int | None) -> int:
    """Run app + nginx + purger until stopped; the exit code of the app (0 on a requested stop)."""
    configure_logging()
    layout = nginx.NginxLayout(settings.hggis_var_dir / "nginx")
    app_port = settings.hggis_cache_app_port
    upstream = f"127.0.0.1:{app_port}"
    nginx.write_config(settings, layout, f"{host}:{port}", upstream)
    kept = compact_log(layout.keys_log, layout.cache_dir)
    purger = Purger(get_engine(session_url(settings, "service")), layout.cache_dir, CacheIndex(layout.keys_log),
                    layout.state_file, settings.hggis_cache_repurge_s)
    purger.start()

    env = dict(os.environ)
    env.setdefault("HGGIS_TRUSTED_PROXIES", "127.0.0.1")
    app = subprocess.Popen(_app_command(app_port, workers), env=env, start_new_session=True)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    web: subprocess.Popen | None = None
    try:
        _wait_port("127.0.0.1", app_port, app)
        web = nginx.start(layout)
        log.info("tile cache: nginx on %s:%d in front of the app on %s (%d cached entries kept)", host, port,
                 upstream, kept)
        threading.Thread(target=_purge_loop, args=(purger, settings.hggis_cache_poll_s, stopping),
                         daemon=True, name="cache-purger").start()
        restarts: list[float] = []
        while not stopping.wait(0.2):
            if app.poll() is not None:
                log.error("the app exited with code %s: stopping nginx", app.returncode)
                return app.returncode or 1
            if web.poll() is not None:
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > NGINX_RESTARTS_PER_MINUTE:
                    log.error("nginx exited with code %s again (%d times in a minute): giving up; the app still "
                              "answers on %s, uncached", web.returncode, len(restarts), upstream)
                    stopping.wait()
                    break
                log.warning("nginx exited with code %s: restarting it; the app answers directly on %s meanwhile",
                            web.returncode, upstream)
                web = nginx.start(layout)
        return 0
    finally:
        stopping.set()
        if web is not None:
            nginx.stop(web)
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGTERM)
            try:
                app.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(app.pid, signal.SIGKILL)
                app.wait()
