"""The change history of one object (who, when, what, why)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.engine import Connection

from api.deps import SignedIn, connection
from hggis.access.policy import Principal
from hggis.history import readable_history

router = APIRouter(prefix="/api", tags=["history"])


@router.get("/history/{table}/{key}", summary="Change history of one object, oldest first")
def history(table: str, key: str, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> list[dict[str, Any]]:
    return readable_history(conn, principal, table, key)  # NotFound → 404 in api/errors.py
