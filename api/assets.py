"""Front-end assets served from packages installed at set-up (never from a CDN).

Leaflet, its plugins, Bootstrap, Font Awesome, Chart.js and Swagger UI (``swagger-ui-dist``)
come from npm (``package.json``/``package-lock.json``, installed into ``node_modules/`` by
``make setup``). Nothing third-party is
committed to this repository, and a government intranet without internet gets every file
from this server. Each npm dependency is served at ``/assets/npm/<package>/…``; only the
packages named in ``package.json`` are exposed, not the whole ``node_modules`` tree.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.deps import Public
from hggis.config import PROJECT_ROOT

log = logging.getLogger(__name__)

NODE_MODULES = PROJECT_ROOT / "node_modules"
NPM_PREFIX = "/assets/npm"
SWAGGER_DIR = NODE_MODULES / "swagger-ui-dist"


def npm_packages() -> list[str]:
    """The npm dependencies named in package.json (the only ones served)."""
    manifest = json.loads((PROJECT_ROOT / "package.json").read_text(encoding="utf-8"))
    return sorted(manifest.get("dependencies", {}))


def asset_mounts() -> dict[str, Path]:
    """URL prefix → directory; ``/assets/leaflet`` is the one Leaflet, from npm."""
    mounts: dict[str, Path] = {
        "/assets/leaflet": NODE_MODULES / "leaflet" / "dist",
        "/assets/swagger-ui": SWAGGER_DIR,
    }
    for package in npm_packages():
        mounts[f"{NPM_PREFIX}/{package}"] = NODE_MODULES / package
    return mounts


ASSET_MOUNTS: dict[str, Path] = asset_mounts()


def mount_assets(app: FastAPI) -> None:
    missing = [str(d) for d in ASSET_MOUNTS.values() if not d.is_dir()]
    if missing:
        log.warning("front-end assets missing (run `make setup` or `npm ci`): %s", ", ".join(missing))
    # Longest prefix first, so /assets/npm/leaflet.vectorgrid is not shadowed by /assets/npm/leaflet.
    for prefix, directory in sorted(ASSET_MOUNTS.items(), key=lambda kv: -len(kv[0])):
        app.mount(prefix, StaticFiles(directory=directory, check_dir=False), name=prefix.strip("/").replace("/", "-"))

    @app.get("/docs", include_in_schema=False, dependencies=[Public])
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – 接口文档",
            swagger_js_url="/assets/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/assets/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/assets/swagger-ui/favicon-32x32.png",
        )
