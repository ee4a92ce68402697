"""``hggis terrain …``: import DEMs, refresh parcels' slope statistics, report coverage."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from hggis.terrain.dem import DEFAULT_BLOCK_SIZE

terrain_app = typer.Typer(no_args_is_help=True, help="Terrain from DEMs: slope and per-parcel statistics (地形/坡度).")

BlockSize = Annotated[
    int, typer.Option("--block-size", min=16, help="window size in pixels (memory grows with its square)")
]


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr, one task per phase; None when disabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{phase} (windows)", total=total)
            bar.update(tasks[phase], completed=done)

        yield update


def _list(label: str, items: list[str], total: int) -> None:
    if not total:
        return
    more = f" … and {total - len(items)} more" if total > len(items) else ""
    typer.echo(f"  {label} ({total}): {', '.join(items)}{more}")


@terrain_app.command("import")
def import_cmd(
    dem: Annotated[Path, typer.Argument(help="DEM GeoTIFF (or any raster GDAL reads), any CRS")],
    name: Annotated[str | None, typer.Option(help="name of the DEM (default: file name); same name = replace")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS when the file has none, e.g. EPSG:4547")] = None,
    nodata: Annotated[float | None, typer.Option(help="no-data value when the file declares none")] = None,
    block_size: BlockSize = DEFAULT_BLOCK_SIZE,
    reason: Annotated[str | None, typer.Option(help="why (written to the history)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import a DEM: slope raster (degrees) and per-parcel mean/max slope and mean elevation."""
    from hggis.access.policy import Forbidden, operator
    from hggis.terminal import fail, ready_engine
    from hggis.terrain.dem import DemError
    from hggis.terrain.service import import_dem

    engine = ready_engine()
    try:
        with _progress(progress and not as_json) as bar:
            report = import_dem(
                engine, dem, operator(), name=name, crs=crs, nodata=nodata, block_size=block_size,
                reason=reason, progress=bar,
            )
    except (DemError, Forbidden) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False, default=str))
        return
    verb = "replaced" if report.replaced else "imported"
    typer.echo(
        f"DEM {report.name} {verb} (id {report.dem_id}): {report.width}×{report.height}, {report.crs}"
        f"{'' if report.crs_from_file else ' (given with --crs)'}, pixel {report.pixel_size_m:.2f} m, "
        f"valid {report.valid_fraction:.1%}"
    )
    typer.echo(f"  slope raster: {report.slope_path}{' (unchanged, reused)' if report.reused_slope else ''}")
    typer.echo(
        f"  parcels on the DEM: {report.parcels}; full {report.full}, partial {len(report.partial)}, "
        f"not covered {len(report.not_covered)}; smaller than a pixel (centroid value): {report.small}"
    )
    _list("partial (coverage)", [f"{p.code} ({p.coverage:.1%})" for p in report.partial[:20]], len(report.partial))
    _list("not covered (no valid DEM cell)", report.not_covered[:20], len(report.not_covered))
    if report.without_terrain:
        typer.echo(f"  {report.without_terrain} live parcels have no terrain statistics from any DEM (`hggis terrain status`)")
    typer.echo(
        f"  time: slope {report.slope_seconds:.1f} s, statistics {report.zonal_seconds:.1f} s, total {report.seconds:.1f} s"
    )


@terrain_app.command("refresh")
def refresh_cmd(
    parcel: Annotated[list[str] | None, typer.Option("--parcel", help="parcel code (repeatable); default: all")] = None,
    force: Annotated[bool, typer.Option(help="recompute even if the geometry did not change")] = False,
    block_size: BlockSize = DEFAULT_BLOCK_SIZE,
) -> None:
    """Recompute terrain statistics of parcels whose geometry changed (or that have none yet)."""
    from sqlalchemy import text

    from hggis.access.policy import operator
    from hggis.db.session import transaction
    from hggis.terminal import fail, ready_engine
    from hggis.terrain.service import refresh_terrain

    engine = ready_engine()
    principal = operator()
    with transaction(engine, principal.actor, "刷新地形统计") as conn:
        ids = None
        if parcel:
            found: dict[str, int] = {
                c: i for c, i in conn.execute(text("SELECT code, id FROM parcels WHERE code = ANY(:c)"), {"c": parcel})
            }
            unknown = sorted(set(parcel) - set(found))
            if unknown:
                fail(f"unknown parcel code(s): {', '.join(unknown)}")
            ids = list(found.values())
        report = refresh_terrain(conn, ids, force=force, block_size=block_size)
    typer.echo(f"refreshed {report.refreshed} parcels, dropped {report.removed} stale statistics ({report.seconds:.1f} s)")
    _list("partial (coverage)", [f"{p.code} ({p.coverage:.1%})" for p in report.partial[:20]], len(report.partial))
    _list("not covered", report.not_covered[:20], len(report.not_covered))
    for missing in report.missing_files:
        typer.echo(f"  DEM file missing, re-import it: {missing}", err=True)


@terrain_app.command("list")
def list_cmd() -> None:
    """List imported DEMs."""
    from hggis.access.policy import operator
    from hggis.terminal import ready_engine
    from hggis.terrain.service import list_dems

    engine = ready_engine()
    with engine.connect() as conn:
        rows = list_dems(conn, operator())
    if not rows:
        typer.echo("no DEM imported")
    for r in rows:
        typer.echo(
            f"{r['id']:>3}  {r['name']}  {r['crs']}  {r['width']}×{r['height']}  {r['pixel_size_m']:.2f} m  "
            f"valid {r['valid_fraction']:.1%}  parcels {r['parcels']}  {r['imported_at']:%Y-%m-%d %H:%M}  {r['imported_by']}"
        )


@terrain_app.command("status")
def status_cmd(limit: Annotated[int, typer.Option(min=1, help="parcels listed per group")] = 50) -> None:
    """How many live parcels have full, partial, stale or no terrain statistics."""
    from hggis.access.policy import operator
    from hggis.terminal import ready_engine
    from hggis.terrain.service import terrain_status

    engine = ready_engine()
    with engine.connect() as conn:
        st = terrain_status(conn, operator(), limit=limit)
    typer.echo(
        f"live parcels {st.active}: full {st.full}, partial {st.partial}, not covered {st.not_covered}; "
        f"stale (geometry changed, run `hggis terrain refresh`): {st.stale}"
    )
    _list("partial (coverage)", [f"{p.code} ({p.coverage:.1%})" for p in st.partial_parcels], st.partial)
    _list("not covered", st.not_covered_parcels, st.not_covered)
