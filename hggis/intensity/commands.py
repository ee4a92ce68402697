"""``hggis intensity``: run the park land-intensity evaluation, list runs, show a year, write the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

intensity_app = typer.Typer(no_args_is_help=True, help="开发区土地集约利用评价（TD/T 1029）。")

YearOpt = Annotated[int | None, typer.Option("--year", min=1990, max=2100, help="evaluation year")]


def _engine():  # noqa: ANN202
    from hggis.terminal import ready_engine

    return ready_engine()


@contextmanager
def _refusals() -> Iterator[None]:
    """A refusal of the core is one line on stderr and exit code 1, like every hggis command."""
    from hggis.errors import HggisError
    from hggis.terminal import fail

    try:
        yield
    except HggisError as exc:
        fail(str(exc))


@intensity_app.command("run")
def run(year: Annotated[int, typer.Option("--year", min=1990, max=2100, help="evaluation year")],
        model: Annotated[int | None, typer.Option("--model", help="model version id (default: the year's)")] = None,
        xlsx: Annotated[Path | None, typer.Option("--xlsx", help="also write the report here")] = None,
        reason: Annotated[str | None, typer.Option("--reason")] = None) -> None:
    """Evaluate every park for YEAR in one transaction, and print the scores."""
    from hggis.access.policy import operator
    from hggis.intensity.report import report_bytes
    from hggis.intensity.runs import read_results, run_intensity

    engine = _engine()
    with _refusals():
        summary = run_intensity(engine, operator(), year, model, reason)
    typer.echo(f"开发区土地集约利用评价 {year} 年：批次 #{summary.run_id}，{summary.n_parks} 个园区，"
               f"参数版本 #{summary.model_id}，用时 {summary.duration_ms / 1000:.2f} 秒")
    with engine.connect() as conn:
        for r in read_results(conn, operator(), summary.run_id):
            score = f"{r['score']:.2f}" if r["score"] is not None else "—（无宗地）"
            years = r["potentials"].get("supply_years")
            typer.echo(f"  {r['rank'] or '—'}\t{r['name']}\t集约度 {score}\t尚可供地 "
                       f"{r['potentials']['expansion_mu']:.1f} 亩（{years if years is not None else '—'} 年）")
        if xlsx is not None:
            xlsx.write_bytes(report_bytes(conn, operator(), summary.run_id))
            typer.echo(f"报告已写入 {xlsx}")


@intensity_app.command("runs")
def runs(year: YearOpt = None) -> None:
    """The runs, newest first."""
    from hggis.access.policy import operator
    from hggis.intensity.runs import list_runs

    with _engine().connect() as conn:
        for r in list_runs(conn, operator(), year):
            typer.echo(f"#{r['id']}\t{r['year']}\t{r['n_parks']} 个园区\t{r['created_at']}\t{r['actor']}")


@intensity_app.command("show")
def show(year: YearOpt = None, run_id: Annotated[int | None, typer.Option("--run")] = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The parks of a run (default: the newest run of YEAR, or the newest run)."""
    from hggis.access.policy import operator
    from hggis.intensity.runs import get_run, read_results

    with _engine().connect() as conn, _refusals():
        run_row = get_run(conn, operator(), run_id, year)
        rows = read_results(conn, operator(), run_row["id"])
    if as_json:
        typer.echo(json.dumps({"run": run_row, "results": rows}, ensure_ascii=False, default=str, indent=2))
        return
    typer.echo(f"{run_row['year']} 年度 · 批次 #{run_row['id']}")
    for r in rows:
        typer.echo(f"  {r['rank'] or '—'}\t{r['name']}\t{r['score'] if r['score'] is not None else '—'}")


@intensity_app.command("report")
def report(out: Annotated[Path, typer.Argument(help="the .xlsx file to write")], year: YearOpt = None,
           run_id: Annotated[int | None, typer.Option("--run")] = None) -> None:
    """Write the yearly report (XLSX, Chinese) of a run."""
    from hggis.access.policy import operator
    from hggis.intensity.report import report_bytes
    from hggis.intensity.runs import get_run

    with _engine().connect() as conn, _refusals():
        run_row = get_run(conn, operator(), run_id, year)
        out.write_bytes(report_bytes(conn, operator(), run_row["id"]))
    typer.echo(f"报告已写入 {out}")
