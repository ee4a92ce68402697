"""Liveness and readiness: database reachable, PostGIS version, migration head."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from api.deps import Public, engine
from hggis.db.engine import DatabaseUnavailable, check_database
from hggis.db.migrate import current_revisions, describe, head_revisions

router = APIRouter(tags=["health"], dependencies=[Public])


@router.get("/api/health", summary="Service health")
def health(db: Engine = Depends(engine)) -> JSONResponse:
    try:
        info = check_database(db)
        current = current_revisions(db)
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)
    head = head_revisions()
    ok = current == head
    body = {
        "status": "ok" if ok else "error",
        "database": "reachable",
        "postgis_version": info["postgis_version"],
        "server_version": info["server_version"],
        "migration": {"current": describe(current), "head": describe(head), "up_to_date": ok},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
