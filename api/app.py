"""The FastAPI application: thin routes over the hggis library."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from api import errors as api_errors
from api.admission import AdmissionLimit
from api.assets import mount_assets
from api.compression import Compression
from api.proxies import TrustedProxyMiddleware, parse_networks
from api.routes import (
    auth,
    dashboard,
    evaluation,
    health,
    history,
    idle,
    idle_documents,
    imports,
    layers,
    maps,
    occupancies,
    patrols,
    ogc,
    pages,
    parcels,
    reserves,
    terrain,
    tiles,
    workbench_cases,
    workbench_evaluation,
    workbench_imports,
    workbench_parcels,
    workbench_patrols,
    workbench_reserves,
    workbench_search,
    workbench_users,
)
from api.security import csrf_guard
from hggis import __version__
from hggis.access.failures import FailureLimiter
from hggis.config import get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(engine: Engine | None = None, max_concurrent: int | None = None) -> FastAPI:
    """Build the app; ``engine`` defaults to the configured database (embedded or DATABASE_URL)."""
    if engine is None:
        from hggis.db.engine import get_engine

        engine = get_engine()
    settings = get_settings()
    slots = max_concurrent or settings.admission_slots()

    app = FastAPI(
        title="黄冈市工业用地与园区信息系统 hggis",
        version=__version__,
        description="Parcels, parks, reserves, per-mu evaluation and idle land of 黄冈市. "
        "Geometries in CGCS2000 (EPSG:4490); areas are ellipsoidal, in 亩.",
        docs_url=None,  # served by api.assets from a packaged Swagger UI (offline)
        redoc_url=None,
        dependencies=[Depends(csrf_guard)],  # every cookie-authenticated write, before its route runs
    )
    app.state.engine = engine
    app.state.auth_limiter = FailureLimiter.from_settings()
    app.state.trusted_proxies = parse_networks(get_settings().hggis_trusted_proxies)
    app.add_middleware(TrustedProxyMiddleware)

    # Refusals → HTTP, once (api/errors.py); its input guard runs inside the admission limit.
    api_errors.install(app, retry_after_s=max(1, round(settings.hggis_db_pool_timeout_s)))
    app.add_middleware(AdmissionLimit, slots=slots, wait_s=settings.hggis_db_pool_timeout_s)
    app.add_middleware(Compression)  # compresses whatever the app answers
    app.add_middleware(api_errors.UnexpectedErrors)  # outermost: a fault is a clean 500

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    mount_assets(app)
    for module in (health, layers, parcels, history, auth, ogc, reserves, idle, idle_documents, evaluation, imports, terrain, pages, workbench_parcels, workbench_search, workbench_users, workbench_cases, workbench_reserves, workbench_evaluation, workbench_imports, maps, tiles, dashboard, occupancies, patrols, workbench_patrols):
        app.include_router(module.router)
    return app
