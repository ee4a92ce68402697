"""The ``hggis`` command line: what an officer or operator runs in a terminal.

Each command is a thin call into the library; errors are one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from hggis.access.commands import access_app, user_app
from hggis.basemap_commands import basemap_app
from hggis.bases.commands import bases_app
from hggis.dashboard.commands import dashboard_app
from hggis.db.commands import db_app
from hggis.evaluation.commands import evaluate_app
from hggis.idle.commands import idle_app
from hggis.intensity.commands import intensity_app
from hggis.io.commands import export_app, import_app
from hggis.projects.commands import chains_app, projects_app
from hggis.reserves.commands import constraints_app, reserves_app, sites_app
from hggis.terminal import fail, ready_engine
from hggis.terrain.commands import terrain_app


class _Refusals(TyperGroup):
    """The CLI's one error map (the web service's is api/errors.py).

    Commands let hggis's own refusals (HggisError) rise instead of each translating them: here
    they become one line on stderr and exit 1. Anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: Any) -> Any:  # typer.Context; typer vendors its own click
        from hggis.errors import HggisError

        try:
            return super().invoke(ctx)
        except HggisError as exc:
            typer.echo("error: " + "；".join(line.strip() for line in str(exc).splitlines() if line.strip()), err=True)
            raise typer.Exit(1) from None


app = typer.Typer(cls=_Refusals, no_args_is_help=True, help="黄冈市工业用地与园区信息系统 (hggis)")
demo_app = typer.Typer(no_args_is_help=True, help="The synthetic demo data set (示例数据).")
for sub_app, name in (
    (db_app, "db"),
    (user_app, "user"),
    (access_app, "access"),
    (demo_app, "demo"),
    (import_app, "import"),
    (export_app, "export"),
    (evaluate_app, "evaluate"),
    (idle_app, "idle"),
    (reserves_app, "reserves"),
    (sites_app, "sites"),
    (constraints_app, "constraints"),
    (terrain_app, "terrain"),
    (dashboard_app, "dashboard"),
    (projects_app, "projects"),
    (chains_app, "chains"),
    (intensity_app, "intensity"),
    (bases_app, "bases"),
    (basemap_app, "basemap"),
):
    app.add_typer(sub_app, name=name)


@db_app.command("migrate")
def migrate() -> None:
    """Apply Alembic migrations as the owner role, grant the app role its DML, load the county boundaries.

    Idempotent.
    """
    from hggis.boundaries import load_boundaries
    from hggis.db.migrate import current_revisions, describe, grant_app_role, upgrade

    engine = ready_engine(create_postgis=True, purpose="owner")
    before = current_revisions(engine)
    upgrade(engine)
    after = current_revisions(engine)
    grants = grant_app_role(engine)
    changed = load_boundaries(engine)
    moved = f"{describe(before)} -> {describe(after)}" if before != after else f"already at {describe(after)}"
    typer.echo(f"schema {moved}; {grants}; county boundaries updated: {changed}")


@demo_app.command("load")
def demo_load(seed: Annotated[int, typer.Option(help="random seed of the generator")] = 2023) -> None:
    """Load the synthetic demo data set (reproducible; a second load changes nothing)."""
    from hggis.demo.loader import DemoError, load_demo

    engine = ready_engine()
    started = time.perf_counter()
    try:
        summary = load_demo(engine, seed=seed)
    except DemoError as exc:
        fail(str(exc))
    typer.echo(f"{summary} ({time.perf_counter() - started:.1f} s)")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default HGGIS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default HGGIS_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default HGGIS_WORKERS, else one per core)")] = None,
    cache: Annotated[bool, typer.Option("--cache", help="nginx tile cache on the port, the app behind it on "
                                        "HGGIS_CACHE_APP_PORT, purged from the history")] = False,
) -> None:
    """Serve the web pages and the API, in one or more worker processes (with --cache: behind nginx)."""
    import os

    import uvicorn

    from hggis.config import get_settings

    settings = get_settings()
    ready_engine(purpose="service")  # one clear line now if the database is unusable, before workers start
    count = workers or settings.hggis_workers or os.cpu_count() or 1
    if count < 1:
        fail("--workers must be at least 1")
    if cache:
        from hggis.tilecache.nginx import NginxError
        from hggis.tilecache.serve import serve_cached

        try:
            raise typer.Exit(serve_cached(settings, host or settings.hggis_host, port or settings.hggis_port, workers))
        except NginxError as exc:
            fail(str(exc))
    # Each worker process builds its own app, engine and pool (api.app:create_app).
    from hggis.logs import log_config

    uvicorn.run(
        "api.app:create_app", factory=True, workers=count, log_config=log_config(),
        host=host or settings.hggis_host, port=port or settings.hggis_port,
        # proxy_headers off: api.proxies believes forwarded headers from HGGIS_TRUSTED_PROXIES only
        proxy_headers=False,
    )


@app.command()
def history(
    table: Annotated[str, typer.Argument(help="parcels, parks, enterprises, enterprise_years, …")],
    object_id: Annotated[str, typer.Argument(help="the object's key (parcel code or id)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """Print the change history of one object, oldest first."""
    from hggis.history import object_history

    engine = ready_engine()
    with engine.connect() as conn:
        try:
            rows = object_history(conn, table, object_id)
        except LookupError as exc:
            fail(str(exc))
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False, default=str))
        else:
            changed = ", ".join(sorted((row["after"] or row["before"] or {}).keys()))
            typer.echo(f"{row['at']:%Y-%m-%d %H:%M:%S}  {row['action']:<6} {row['actor']}  {row['reason'] or ''}  [{changed}]")


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover - `python -m hggis.cli` (the app behind serve --cache)
    main()
