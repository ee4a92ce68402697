"""The FastAPI application: thin routes over the hggis library."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api import errors as api_errors
from api.admission import AdmissionLimit
from api.assets import mount_assets
from api.compression import Compression
from api.proxies import TrustedProxyMiddleware, parse_networks
from api.reads import PrimaryAfterWrite
from api.request_ids import RequestIds
from api.routes import (
    auth,
    basemap,
    bases,
    dashboard,
    evaluation,
    evaluation_publication,
    health,
    history,
    idle,
    idle_documents,
    imports,
    intensity,
    investor,
    layers,
    maps,
    occupancies,
    ogc,
    pages,
    parcels,
    patrols,
    projects,
    reserves,
    terrain,
    tiles,
    workbench_bases,
    workbench_cases,
    workbench_enquiries,
    workbench_evaluation,
    workbench_imports,
    workbench_intensity,
    workbench_parcels,
    workbench_patrols,
    workbench_projects,
    workbench_publication,
    workbench_reserves,
    workbench_search,
    workbench_users,
    workbench_whatif,
)
from api.security import csrf_guard
from hggis import __version__
from hggis.access.failures import FailureLimiter
from hggis.config import get_settings
from hggis.db.reads import ReadRouter
from hggis.io.importlog import mark_interrupted
from hggis.workbench import staging

STATIC_DIR = Path(__file__).resolve().parent / "static"


log = logging.getLogger(__name__)


def _start_up(engine: Engine) -> None:
    """Clear what a crashed predecessor left: its upload directories, its unfinished import runs.

    Never fatal: a service that cannot sweep (disk, database not up yet) still serves, and
    says why in its log; the import log shows a dead run as interrupted anyway.
    """
    try:
        staging.sweep_all()
    except OSError as exc:
        log.warning("could not sweep stale uploads: %s", exc)
    try:
        interrupted = mark_interrupted(engine)
    except SQLAlchemyError as exc:
        log.warning("could not mark interrupted imports: %s", exc)
    else:
        if interrupted:
            log.warning("imports interrupted by a process that died: %s", ", ".join(f"#{i}" for i in interrupted))


def create_app(
    engine: Engine | None = None, max_concurrent: int | None = None, read_urls: list[str] | None = None
) -> FastAPI:
    """Build the app; ``engine`` defaults to the configured database (embedded or DATABASE_URL).

    ``read_urls`` are the read replicas; by default the configured ones (``DATABASE_READ_URL``
    or the running embedded replica) when ``engine`` is the configured one too, none when an
    engine is given (a caller passing its own primary passes its own replicas).
    """
    from hggis.db.engine import get_engine

    if engine is None:
        from hggis.db.engine import read_urls as configured_read_urls

        engine = get_engine()
        read_urls = configured_read_urls() if read_urls is None else read_urls
    settings = get_settings()
    reads = ReadRouter(engine, [get_engine(url) for url in read_urls or []],
                       settings.hggis_replica_max_lag_s, settings.hggis_replica_check_s)
    slots = max_concurrent or settings.admission_slots()

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_start_up, engine)
        yield

    app = FastAPI(
        title="黄冈市工业用地与园区信息系统 hggis",
        version=__version__,
        description="Parcels, parks, reserves, per-mu evaluation and idle land of 黄冈市. "
        "Geometries in CGCS2000 (EPSG:4490); areas are ellipsoidal, in 亩.",
        docs_url=None,  # served by api.assets from a packaged Swagger UI (offline)
        redoc_url=None,
        dependencies=[Depends(csrf_guard)],  # every cookie-authenticated write, before its route runs
        lifespan=_lifespan,
    )
    app.state.engine = engine
    app.state.reads = reads
    app.state.auth_limiter = FailureLimiter.from_settings()
    app.state.trusted_proxies = parse_networks(get_settings().hggis_trusted_proxies)
    app.add_middleware(TrustedProxyMiddleware)
    if reads.replicas:
        app.add_middleware(PrimaryAfterWrite, sticky_s=reads.sticky_s)

    # Refusals → HTTP, once (api/errors.py); its input guard runs inside the admission limit.
    api_errors.install(app, retry_after_s=max(1, round(settings.hggis_db_pool_timeout_s)))
    app.add_middleware(AdmissionLimit, slots=slots, wait_s=settings.hggis_db_pool_timeout_s)
    app.add_middleware(Compression)  # compresses whatever the app answers
    app.add_middleware(api_errors.UnexpectedErrors)  # a fault is a clean 500 …
    app.add_middleware(RequestIds)  # … outermost, so even that answer and its log line carry the request id

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    mount_assets(app)
    for module in (
        health,
        layers,
        parcels,
        history,
        auth,
        ogc,
        reserves,
        idle,
        idle_documents,
        evaluation,
        imports,
        terrain,
        pages,
        workbench_parcels,
        workbench_search,
        workbench_users,
        workbench_cases,
        workbench_reserves,
        workbench_evaluation,
        workbench_imports,
        maps,
        tiles,
        dashboard,
        occupancies,
        patrols,
        workbench_patrols,
        projects,
        workbench_projects,
        intensity,
        workbench_intensity,
        workbench_whatif,
        investor,
        workbench_enquiries,
        evaluation_publication,
        bases,
        workbench_publication,
        workbench_bases,
        basemap,
    ):
        app.include_router(module.router)
    return app
