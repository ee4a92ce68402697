"""Front-end assets served from Python packages installed at set-up (never from a CDN).

Leaflet comes from ``xstatic-leaflet`` and Swagger UI from ``swagger-ui-bundle-v2``; nothing
third-party is committed to this repository, and a government intranet without internet
gets every file from this server.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
import xstatic.pkg.leaflet as xs_leaflet
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.deps import Public

LEAFLET_DIR = Path(xs_leaflet.BASE_DIR)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
ASSET_MOUNTS: dict[str, Path] = {"/assets/leaflet": LEAFLET_DIR, "/assets/swagger-ui": SWAGGER_DIR}


def mount_assets(app: FastAPI) -> None:
    for prefix, directory in ASSET_MOUNTS.items():
        app.mount(prefix, StaticFiles(directory=directory), name=prefix.strip("/").replace("/", "-"))

    @app.get("/docs", include_in_schema=False, dependencies=[Public])
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – 接口文档",
            swagger_js_url="/assets/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/assets/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/assets/swagger-ui/favicon-32x32.png",
        )
