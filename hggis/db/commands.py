"""``hggis db …``: start, stop and inspect the database.

Without ``DATABASE_URL`` these manage the embedded cluster under ``HGGIS_VAR_DIR/pg``.
With it, nothing is started or stopped: the commands only check the external database.
Errors are one line on stderr and exit code 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from hggis.db.backup import BackupError, default_backup_path
from hggis.db.cluster import ClusterError, embedded_cluster
from hggis.db.engine import DatabaseUnavailable, check_database, database_url, get_engine, mask_url
from hggis.db.replica import embedded_replica

db_app = typer.Typer(
    help="Manage the PostGIS database: the embedded cluster under HGGIS_VAR_DIR/pg, or check DATABASE_URL.",
    no_args_is_help=True,
)


def _settings():
    from hggis.config import get_settings

    return get_settings()


def _fail(message: str) -> None:
    line = re.sub(r"\s+", " ", message).strip()
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except (ClusterError, DatabaseUnavailable, BackupError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:  # noqa: BLE001 - the CLI contract is one line, no traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _fail(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


def _check_external(settings, note: str) -> None:
    url = database_url(settings)
    typer.echo(f"DATABASE_URL is set: using the external database {mask_url(url)}; {note}")
    info = check_database(get_engine(url))
    typer.echo(f"reachable: PostgreSQL {info['server_version']}, PostGIS {info['postgis_version']}")


@db_app.command()
def up(
    replica: Annotated[bool, typer.Option(
        "--replica", help="also start a streaming read replica (HGGIS_VAR_DIR/pg-replica, port HGGIS_PG_REPLICA_PORT)"
    )] = False,
) -> None:
    """Start the embedded PostGIS cluster (initialising it on first use), and its replica; idempotent."""
    with _one_line_errors():
        settings = _settings()
        if settings.database_url:
            _check_external(settings, "the embedded cluster is not started")
            if replica:
                _fail("--replica starts the embedded replica only: with DATABASE_URL set DATABASE_READ_URL instead")
            return
        typer.echo(embedded_cluster(settings).up())
        if replica:
            typer.echo(embedded_replica(settings).up())


@db_app.command()
def down() -> None:
    """Stop the embedded cluster and its replica; idempotent."""
    with _one_line_errors():
        settings = _settings()
        if settings.database_url:
            _check_external(settings, "nothing to stop")
            return
        standby = embedded_replica(settings)
        if standby.pgdata.exists():  # the replica first: it would only retry its lost primary
            typer.echo(f"replica: {standby.down()}")
        typer.echo(embedded_cluster(settings).down())


@db_app.command()
def status() -> None:
    """Show whether the database is running/reachable, its port, data dir and version."""
    with _one_line_errors():
        settings = _settings()
        if settings.database_url:
            url = database_url(settings)
            typer.echo(f"external database (DATABASE_URL): {mask_url(url)}")
            info = check_database(get_engine(url))
            typer.echo(f"reachable: PostgreSQL {info['server_version']}, PostGIS {info['postgis_version']}")
            return
        st = embedded_cluster(settings).status()
        state = f"running (pid {st.pid})" if st.running else "stopped"
        if not st.initialized:
            state += " (not initialised: run `hggis db up`)"
        typer.echo(f"embedded cluster: {state}")
        typer.echo(f"port: {st.port}")
        typer.echo(f"data dir: {st.data_dir}")
        typer.echo(f"version: {'PostgreSQL ' + st.version if st.version else '-'}")
        standby = embedded_replica(settings).status()
        if standby.initialized:
            state = f"running (pid {standby.pid})" if standby.running else "stopped"
            typer.echo(f"embedded replica: {state} on port {standby.port} (data: {standby.data_dir})")


@db_app.command()
def backup(
    file: Annotated[Path | None, typer.Argument(help="archive to write (default HGGIS_VAR_DIR/backups/<db>-<UTC time>.dump)")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite FILE if it exists")] = False,
) -> None:
    """Back up the database (pg_dump custom format, as the owner role) with a manifest of its tables."""
    from hggis.db import backup as backups

    with _one_line_errors():
        settings = _settings()
        owner_url = database_url(settings, "owner")
        target = file or default_backup_path(settings.hggis_var_dir, make_url(owner_url).database or "hggis")
        manifest = backups.backup(owner_url, target, overwrite=force)
        typer.echo(
            f"backup written: {target.absolute()} ({manifest.size / 1e6:.1f} MB, sha256 {manifest.sha256}); "
            f"{len(manifest.tables)} tables, {manifest.rows} rows; manifest {backups.manifest_path(target.absolute())}"
        )


@db_app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="archive written by `hggis db backup`")],
    force: Annotated[bool, typer.Option("--force", help="drop what the database holds before restoring")] = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="restore an archive without its manifest (no checksum, no row check)")
    ] = False,
) -> None:
    """Restore a backup into an empty database as the owner role, then grant the app role and verify every table."""
    from hggis.db import backup as backups
    from hggis.db.migrate import app_role_name

    with _one_line_errors():
        settings = _settings()
        report = backups.restore(database_url(settings, "owner"), file, app_role_name(settings), force=force,
                                 verify=not no_verify)
        replaced = f"; {report.replaced} existing objects dropped first" if report.replaced else ""
        checked = "row counts and checksums match the manifest" if report.verified else "not verified (--no-verify)"
        typer.echo(
            f"restored {file} into {report.database}: {report.tables} tables, {report.rows} rows{replaced}; "
            f"{checked}; {report.grants}"
        )
