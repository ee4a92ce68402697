"""What every ``hggis`` command shares: how it refuses, and the engine it works on.

Kept apart from ``hggis.cli`` (which assembles the commands) so that each package's
``commands`` module can use these without importing the module that imports it.
"""

from __future__ import annotations

import typer
from sqlalchemy.engine import Engine

from hggis.db.engine import DatabaseUnavailable, Purpose, check_database, ensure_postgis, get_engine, session_url


def fail(message: str, code: int = 1) -> None:
    """One line on stderr and a non-zero exit (for refusals that are not an HggisError)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def ready_engine(create_postgis: bool = False, purpose: Purpose = "cli") -> Engine:
    """The configured engine after checking it is reachable and has PostGIS.

    CLI commands connect as the app role, like the service, so a command can do nothing the
    service could not; only migrations (and backups) use the owner role.
    """
    try:
        engine = get_engine(session_url(purpose=purpose))
        (ensure_postgis if create_postgis else check_database)(engine)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    return engine
