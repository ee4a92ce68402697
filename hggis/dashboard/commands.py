"""``hggis dashboard``: the plan dashboard (考核) in the terminal and as an Excel file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

dashboard_app = typer.Typer(no_args_is_help=True, help="考核看板：行动方案 2025 年目标完成情况。")

YearOpt = Annotated[int | None, typer.Option("--year", help="year of the figures (default: latest)")]


def _load(year: int | None):  # noqa: ANN202
    from hggis.access.policy import operator
    from hggis.dashboard.service import DashboardError, plan_dashboard
    from hggis.summary import dataset_label
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        with engine.connect() as conn:
            return plan_dashboard(conn, operator(), year), dataset_label(conn) is not None
    except DashboardError as exc:
        fail(str(exc))
        raise


@dashboard_app.command("show")
def show(year: YearOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Targets against actual figures (the same numbers as /dashboard)."""
    d, demo = _load(year)
    o = d.output
    if as_json:
        typer.echo(json.dumps({"year": d.year, "scope": d.scope, "output": o, "clusters": d.clusters,
                               "reserve": d.reserve, "projects": d.projects, "above_size": d.above_size,
                               "parks": d.parks}, ensure_ascii=False, default=str, indent=2))
        return
    t = d.target
    lines = [f"考核看板 {d.year} 年（{d.scope_label}）" + ("  示例数据" if demo else "")]
    lines.append(f"规上工业总产值 {o['total_yi']:.1f} 亿元（目标 {t('above_size_output').text() if t('above_size_output') else '—'}，"
                 f"完成 {o['progress_pct']}%）")
    lines.append(f"超千亿县市区 {o['counties_over']} 个；超 500 亿元园区 {d.parks['count_over']} 个")
    last = d.projects["years"][-1]
    lines.append(f"{last['year']} 年新开工 {last['started']} 个、新投产 {last['completed']} 个")
    if d.above_size:
        a = d.above_size[-1]
        lines.append(f"规上企业 {a['enterprises']} 家（增长 {a['growth_pct'] if a['growth_pct'] is not None else '—'}%）")
    lines.append(f"标准地储备达标 {d.reserve['within']}/{len(d.reserve['rows'])} 个县市区")
    for r in o["counties"]:
        lines.append(f"  {r['name']}\t规上 {r['enterprises']} 家\t产值 {r['output_yi']:.1f} 亿元")
    typer.echo("\n".join(lines))


@dashboard_app.command("export")
def export(out: Annotated[Path, typer.Argument(help="the .xlsx file to write")], year: YearOpt = None) -> None:
    """Write the dashboard as an Excel workbook (Chinese sheets)."""
    from hggis.dashboard.excel import workbook_bytes

    d, demo = _load(year)
    out.write_bytes(workbook_bytes(d, demo))
    typer.echo(f"wrote {out} ({d.year})")
