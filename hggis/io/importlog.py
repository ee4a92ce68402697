"""The import log: every run (applied, dry run or refused) with file name, SHA-256, who,
when and counts, so a figure in the database can be traced to the file it came from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant, scope_clause


def file_checksum(path: str | Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes) of a file, or of every file of a folder in name order."""
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    h = hashlib.sha256()
    size = 0
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
    return h.hexdigest(), size


def require_import_right(principal: Principal) -> None:
    """Refuse early a principal whose role may not import at all (scope is checked per row)."""
    if grant(principal, "imports", "write") is None:
        raise Forbidden(f"role {principal.role} may not import data")


def record_import(
    conn: Connection,
    principal: Principal,
    *,
    kind: str,
    file_name: str,
    checksum: str,
    size_bytes: int,
    dry_run: bool,
    status: str,
    counts: dict[str, int],
    adcodes: list[str],
    report: dict[str, Any],
) -> int:
    return conn.execute(
        text(
            """
            INSERT INTO imports (kind, file_name, checksum_sha256, size_bytes, actor, username, finished_at,
                                 dry_run, status, inserted, updated, unchanged, refused, adcodes, report)
            VALUES (:kind, :file, :sum, :size, :actor, :user, clock_timestamp(), :dry, :status,
                    :ins, :upd, :unch, :ref, :adcodes, CAST(:report AS jsonb))
            RETURNING id
            """
        ),
        {
            "kind": kind,
            "file": file_name,
            "sum": checksum,
            "size": size_bytes,
            "actor": principal.actor,
            "user": principal.username,
            "dry": dry_run,
            "status": status,
            "ins": counts.get("inserted", 0),
            "upd": counts.get("updated", 0),
            "unch": counts.get("unchanged", 0),
            "ref": counts.get("refused", 0),
            "adcodes": sorted(set(adcodes)),
            "report": json.dumps(report, ensure_ascii=False, default=str),
        },
    ).scalar_one()


_LIST_COLUMNS = (
    "id, kind, file_name, checksum_sha256, size_bytes, actor, username, started_at, finished_at, dry_run, "
    "status, inserted, updated, unchanged, refused, adcodes"
)


def _scope(principal: Principal) -> tuple[str, dict[str, Any]]:
    # A county officer sees runs they made and runs that touched their counties.
    cond, params = scope_clause(principal, "imports", "read", "adcodes", "NULL")
    if cond == "TRUE":
        return cond, params
    return "(adcodes && CAST(:scope_counties AS text[]) OR username = :me)", {**params, "me": principal.username}


def list_imports(conn: Connection, principal: Principal, limit: int = 100) -> list[dict[str, Any]]:
    authorize_read(principal)
    cond, params = _scope(principal)
    rows = conn.execute(
        text(f"SELECT {_LIST_COLUMNS} FROM imports WHERE {cond} ORDER BY id DESC LIMIT :lim"),
        {**params, "lim": limit},
    ).mappings()
    return [dict(r) for r in rows]


def get_import(conn: Connection, principal: Principal, import_id: int) -> dict[str, Any] | None:
    authorize_read(principal)
    cond, params = _scope(principal)
    row = conn.execute(
        text(f"SELECT {_LIST_COLUMNS}, report FROM imports WHERE id = :id AND {cond}"),
        {**params, "id": import_id},
    ).mappings().first()
    return dict(row) if row else None


def authorize_read(principal: Principal) -> None:
    if grant(principal, "imports", "read") is None:
        raise Forbidden(f"role {principal.role} may not read the import log")
    # Rows are then filtered to the principal's scope by the SQL condition of _scope().


def import_reason(file_name: str) -> str:
    """The history reason of an import run: the file it came from, in the words pages show."""
    return f"导入 {file_name}"
