"""`hggis basemap load|status|remove`: the offline base map package (hggis.basemap)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hggis import basemap

basemap_app = typer.Typer(no_args_is_help=True, help="The offline base map package (MBTiles or PMTiles).")


@basemap_app.command("load")
def load(path: Annotated[Path, typer.Argument(help="an .mbtiles or .pmtiles file (raster or vector tiles)")]) -> None:
    """Validate a package and make it the base map of every map page."""
    try:
        pkg = basemap.load(path)
    except basemap.PackageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    w, s, e, n = pkg.bounds
    kind = "raster" if pkg.raster else "vector (served at /basemap/…pbf, not drawn: no style renderer)"
    typer.echo(f"base map loaded: {pkg.name} ({pkg.container}, {pkg.tile_format}, {kind}), zoom {pkg.min_zoom}–"
               f"{pkg.max_zoom}, bounds {w:.4f},{s:.4f},{e:.4f},{n:.4f}; tiles at {pkg.url_template()}")


@basemap_app.command("status")
def status() -> None:
    """The registered package and whether it is usable now (JSON)."""
    path = basemap.registered_path()
    if path is None:
        typer.echo(json.dumps({"loaded": False}))
        return
    try:
        out = {"loaded": True, "usable": True, **basemap.inspect(path).describe()}
    except basemap.PackageError as exc:
        out = {"loaded": True, "usable": False, "path": str(path), "reason": str(exc)}
    typer.echo(json.dumps(out, ensure_ascii=False))
    if not out["usable"]:
        raise typer.Exit(1)


@basemap_app.command("remove")
def remove() -> None:
    """Stop using the base map package (the file is left where it is)."""
    typer.echo("base map removed" if basemap.remove() else "no base map was loaded")
