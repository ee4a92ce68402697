"""``hggis bases``: import the 块状经济 bases and members, list them with output, recognise a year.

    hggis bases import bases.xlsx [--dry-run]
    hggis bases list --year 2024
    hggis bases recognise --year 2024 [--base 3] [--reason …]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

bases_app = typer.Typer(no_args_is_help=True, help="块状经济 bases: members, yearly output, recognition (≥ 10 亿).")


@bases_app.command("import")
def import_cmd(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
               dry_run: Annotated[bool, typer.Option("--dry-run")] = False) -> None:
    """Import bases and members (all-or-nothing; every bad row is printed)."""
    from hggis.access.policy import operator
    from hggis.bases.service import import_bases
    from hggis.errors import HggisError
    from hggis.terminal import fail, ready_engine

    try:
        report = import_bases(ready_engine(), operator(), path, dry_run=dry_run)
    except HggisError as exc:
        fail(str(exc))
    for b in report.bad_rows:
        typer.echo(f"{b['sheet']} 第 {b['row']} 行 {b['column']} {b['value']!r}: {b['reason']}")
    if report.status == "refused":
        fail(report.error or "refused")
    typer.echo(f"{report.status}: {report.bases_created} bases created, {report.bases_updated} updated, "
               f"{report.members_set} memberships set")


@bases_app.command("list")
def list_cmd(year: Annotated[int, typer.Option("--year")],
             as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Bases with members, output of the year (亿元) and the recognition in force."""
    from hggis.access.policy import operator
    from hggis.bases.service import base_outputs
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        rows = base_outputs(conn, operator(), year)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    for b in rows:
        d = b["recognition"]
        state = "未认定" if d is None else ("已认定" if d["recognised"] else "未达标")
        typer.echo(f"{b['id']:>3}  {b['name']:<16} {b['county']}  {b['n_reporting']}/{b['n_members']} 家  "
                   f"{b['output_yi']:,.2f} 亿元  {state}")


@bases_app.command("recognise")
def recognise_cmd(year: Annotated[int, typer.Option("--year")],
                  base: Annotated[int | None, typer.Option("--base", help="one base id (default: all)")] = None,
                  reason: Annotated[str | None, typer.Option("--reason")] = None) -> None:
    """Record the year's recognition decision (≥ 10 亿 output) from the members' figures."""
    from hggis.access.policy import operator
    from hggis.bases.service import recognise
    from hggis.errors import HggisError
    from hggis.terminal import fail, ready_engine

    try:
        decided = recognise(ready_engine(), operator(), year, base, reason)
    except HggisError as exc:
        fail(str(exc))
    for d in decided:
        typer.echo(f"base {d['base_id']}: {d['output_yi']:,.4f} 亿元 → {'recognised' if d['recognised'] else 'not recognised'}")
