"""The import log: every run (applied, dry run or refused) with file name, SHA-256, who,
when and counts, so a figure in the database can be traced to the file it came from.

A run is logged when it starts (:func:`running_import`): its row is committed with status
``running`` before any data is touched, and the process holds a session advisory lock on
it until the outcome is written, in the same transaction as the data. A process killed
mid-import cannot write its outcome, but its lock goes with its connection: a ``running``
row nobody holds is shown as ``interrupted`` (中断) at once, and marked so by
:func:`mark_interrupted` (at service start-up and when the next import starts). Its data
transaction was rolled back by the database, so nothing of it was written.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, column, exists, func, insert, literal, select, table, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from hggis.access.policy import Forbidden, Principal, grant, scope_clause
from hggis.db.models import table_of
from hggis.db.session import set_actor
from hggis.io.tables import ImportRun

log = logging.getLogger(__name__)
IMPORTS = table_of(ImportRun)
# Namespace (first key) of the advisory locks running imports hold; the second key is the run's id.
RUN_LOCK_CLASS = 0x494D50  # "IMP"
_PG_LOCKS = table("pg_locks", column("locktype"), column("database"), column("classid"), column("objid"),
                  column("objsubid"), column("granted"))
_PG_DATABASE = table("pg_database", column("oid"), column("datname"))


def _run_alive(run_id: Any) -> ColumnElement[bool]:
    """Some session holds the advisory lock of import run ``run_id`` (its process is alive)."""
    here = select(_PG_DATABASE.c.oid).where(_PG_DATABASE.c.datname == func.current_database()).scalar_subquery()
    return exists().where(
        _PG_LOCKS.c.locktype == "advisory", _PG_LOCKS.c.database == here, _PG_LOCKS.c.classid == RUN_LOCK_CLASS,
        _PG_LOCKS.c.objid == run_id, _PG_LOCKS.c.objsubid == 2, _PG_LOCKS.c.granted,
    )


def _shown_status() -> ColumnElement[str]:
    return case((and_(IMPORTS.c.status == "running", ~_run_alive(IMPORTS.c.id)), literal("interrupted")),
                else_=IMPORTS.c.status)


def mark_interrupted(engine: Engine) -> list[int]:
    """Mark ``interrupted`` the runs whose process died before it wrote the outcome; their ids."""
    with engine.begin() as conn:
        set_actor(conn, "hggis", "导入进程中断")
        return list(conn.execute(
            update(IMPORTS)
            .where(IMPORTS.c.status == "running", ~_run_alive(IMPORTS.c.id))
            .values(status="interrupted", finished_at=func.clock_timestamp())
            .returning(IMPORTS.c.id)
        ).scalars())


@contextmanager
def running_import(engine: Engine, principal: Principal, *, kind: str, file_name: str, checksum: str,
                   size_bytes: int, dry_run: bool) -> Iterator[int]:
    """Log a run as ``running`` before it touches data; yields its id for :func:`record_import`.

    The row and the lock are taken in one transaction on a connection of their own, so no
    other session ever sees the row without its lock. An exception out of the block marks
    the run interrupted at once; a killed process leaves it to :func:`mark_interrupted`.
    """
    mark_interrupted(engine)
    holder = engine.connect()
    try:
        set_actor(holder, principal.actor, import_reason(file_name))
        run_id = holder.execute(
            insert(IMPORTS).values(
                kind=kind, file_name=file_name, checksum_sha256=checksum, size_bytes=size_bytes,
                actor=principal.actor, username=principal.username, dry_run=dry_run, status="running",
                report={"file_name": file_name, "status": "running"},
            ).returning(IMPORTS.c.id)
        ).scalar_one()
        holder.execute(select(func.pg_advisory_lock(RUN_LOCK_CLASS, run_id)))
        holder.commit()  # a session lock outlives the commit; the row is now visible, locked
        try:
            yield run_id
        except BaseException:
            _interrupt(engine, run_id)
            raise
        finally:
            _unlock(holder, run_id)
    finally:
        holder.close()


def _unlock(holder: Connection, run_id: int) -> None:
    """Release the run's lock before the connection goes back to the pool (a session lock would stay)."""
    try:
        holder.execute(select(func.pg_advisory_unlock(RUN_LOCK_CLASS, run_id)))
        holder.commit()
    except SQLAlchemyError as exc:  # the connection is gone, and its lock with it
        holder.invalidate()
        log.warning("could not release the lock of import #%s: %s", run_id, exc)


def _interrupt(engine: Engine, run_id: int) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(update(IMPORTS).where(IMPORTS.c.id == run_id, IMPORTS.c.status == "running")
                         .values(status="interrupted", finished_at=func.clock_timestamp()))
    except SQLAlchemyError as exc:  # the database itself went: the lock goes too, listing shows it
        log.warning("could not mark import #%s interrupted: %s", run_id, exc)


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
    import_id: int | None = None,
) -> int:
    """Write a run's outcome: onto its ``running`` row (``import_id``), else as a new row."""
    if import_id is not None:
        return conn.execute(
            update(IMPORTS).where(IMPORTS.c.id == import_id).values(
                finished_at=func.clock_timestamp(), dry_run=dry_run, status=status,
                inserted=counts.get("inserted", 0), updated=counts.get("updated", 0),
                unchanged=counts.get("unchanged", 0), refused=counts.get("refused", 0),
                adcodes=sorted(set(adcodes)), report=json.loads(json.dumps(report, ensure_ascii=False, default=str)),
            ).returning(IMPORTS.c.id)
        ).scalar_one()
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


_LIST_COLUMNS = ("id", "kind", "file_name", "checksum_sha256", "size_bytes", "actor", "username", "started_at",
                 "finished_at", "dry_run", "inserted", "updated", "unchanged", "refused", "adcodes")


def _runs(cond: str, *extra: Any) -> Any:
    """SELECT of the log's columns, a dead process's ``running`` shown as ``interrupted``."""
    return select(*(IMPORTS.c[c] for c in _LIST_COLUMNS), _shown_status().label("status"), *extra).where(text(cond))


def _scope(principal: Principal) -> tuple[str, dict[str, Any]]:
    # A county officer sees runs they made and runs that touched their counties.
    cond, params = scope_clause(principal, "imports", "read", "adcodes", "NULL")
    if cond == "TRUE":
        return cond, params
    return "(adcodes && CAST(:scope_counties AS text[]) OR username = :me)", {**params, "me": principal.username}


def list_imports(conn: Connection, principal: Principal, limit: int = 100) -> list[dict[str, Any]]:
    authorize_read(principal)
    cond, params = _scope(principal)
    rows = conn.execute(_runs(cond).order_by(IMPORTS.c.id.desc()).limit(limit), params).mappings()
    return [dict(r) for r in rows]


def get_import(conn: Connection, principal: Principal, import_id: int) -> dict[str, Any] | None:
    authorize_read(principal)
    cond, params = _scope(principal)
    row = conn.execute(_runs(cond, IMPORTS.c.report).where(IMPORTS.c.id == import_id), params).mappings().first()
    return dict(row) if row else None


def authorize_read(principal: Principal) -> None:
    if grant(principal, "imports", "read") is None:
        raise Forbidden(f"role {principal.role} may not read the import log")
    # Rows are then filtered to the principal's scope by the SQL condition of _scope().


def import_reason(file_name: str) -> str:
    """The history reason of an import run: the file it came from, in the words pages show."""
    return f"导入 {file_name}"
