"""``hggis projects`` and ``hggis chains``: the project lists and the chain lists at the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

projects_app = typer.Typer(no_args_is_help=True, help="项目库：谋划、前期、新建、续建四张清单。")
chains_app = typer.Typer(no_args_is_help=True, help="锻长板补短板清单：产业链环节与招商目标企业。")
DryRun = Annotated[bool, typer.Option("--dry-run", help="print the full report, change nothing")]
AsJson = Annotated[bool, typer.Option("--json", help="print as JSON")]


@projects_app.command("import")
def import_cmd(file: Annotated[Path, typer.Argument(help="XLSX or CSV with the template's headers (项目名称, 所属县（市、区）, 清单类别 …)")],
               dry_run: DryRun = False, sheet: Annotated[str | None, typer.Option(help="worksheet (default 项目清单)")] = None,
               as_json: AsJson = False) -> None:
    """Import a county's project list; all rows or none, every bad row named."""
    from hggis.io.commands import _sheet_import
    from hggis.io.keyed_sheet import SheetImportOptions
    from hggis.projects.importer import import_projects

    opts = SheetImportOptions(dry_run=dry_run, sheet=sheet)
    _sheet_import(lambda engine, who, path: import_projects(engine, who, path, opts), file, as_json)


@projects_app.command("template")
def template_cmd(out: Annotated[Path, typer.Argument(help="where to write the XLSX")] = Path("项目清单模板.xlsx")) -> None:
    """Write the project-list template."""
    from hggis.projects.template import project_template

    out.write_bytes(project_template())
    typer.echo(str(out))


@projects_app.command("list")
def list_cmd(adcode: Annotated[str | None, typer.Option(help="county adcode")] = None,
             list_kind: Annotated[str | None, typer.Option("--list", help="planning/preparatory/new/continuing")] = None,
             figure: Annotated[str | None, typer.Option(help="a dashboard figure (started, producing, signed …)")] = None,
             year: Annotated[int | None, typer.Option(help="the figure's year")] = None,
             limit: Annotated[int, typer.Option(help="rows to show")] = 50, as_json: AsJson = False) -> None:
    """List projects (the drill-down of a dashboard figure with --figure and --year)."""
    from hggis.access.policy import operator
    from hggis.errors import Invalid
    from hggis.projects.service import ProjectFilter, list_projects
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            found = list_projects(conn, operator(), ProjectFilter(adcode=adcode, list_kind=list_kind, figure=figure,
                                                                  year=year, page_size=limit))
    except Invalid as exc:
        fail(str(exc))
        raise
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=1, default=str))
        return
    typer.echo(f"共 {found['total']} 个项目" + (f"（{found['figure_label']}，{year} 年）" if figure else ""))
    for p in found["items"]:
        money = f"{p['signed_investment_wan']:g} 万元" if p["signed_investment_wan"] is not None else "—"
        typer.echo(f"  #{p['id']} {p['county']} {p['list_label']} {p['name']} 协议投资 {money} "
                   f"开工 {p['started_on'] or '—'} 投产 {p['producing_on'] or '—'}")


@projects_app.command("dashboard")
def dashboard_cmd(year: Annotated[int, typer.Option(help="year")], as_json: AsJson = False) -> None:
    """Starts, productions, signed investment, 资金到位率, 开工率, 履约率 per county against the targets."""
    from hggis.access.policy import operator
    from hggis.dashboard.pipeline import pipeline_dashboard
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        d = pipeline_dashboard(conn, operator(), year)
    if as_json:
        typer.echo(json.dumps(d, ensure_ascii=False, indent=1, default=str))
        return
    t = d["total"]
    typer.echo(f"{year} 年项目推进（截至 {d['reference_day']}）")
    typer.echo(f"  新开工 {t['started']}、新投产 {t['producing']}、协议投资额 {t['signed_investment_yi']} 亿元、"
               f"资金到位率 {t['funds_rate_pct']}%、开工率 {t['start_rate_pct']}%、履约率 {t['performance_rate_pct']}%")
    for key, target in d["targets"].items():
        typer.echo(f"  目标 {target['label']} ≥ {target['target']:g} {target['unit']}（{target['applies_to']}）"
                   f" 实际 {t[key]} {target['status'] or ''}")


@chains_app.command("import")
def chains_import_cmd(file: Annotated[Path, typer.Argument(help="XLSX or CSV: 产业集群, 产业链环节, 链位, 长板/短板 …")],
                      dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Import a 锻长板补短板清单; all rows or none."""
    from hggis.io.commands import _sheet_import
    from hggis.io.keyed_sheet import SheetImportOptions
    from hggis.projects.chains import import_chain_links

    opts = SheetImportOptions(dry_run=dry_run)
    _sheet_import(lambda engine, who, path: import_chain_links(engine, who, path, opts), file, as_json)


@chains_app.command("list")
def chains_list_cmd(as_json: AsJson = False) -> None:
    """The chain links of every cluster, with their target firms."""
    from hggis.access.policy import operator
    from hggis.projects.chains import list_links
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        links = list_links(conn, operator())
    if as_json:
        typer.echo(json.dumps(links, ensure_ascii=False, indent=1, default=str))
        return
    for x in links:
        typer.echo(f"{x['cluster']} · {x['name']}（{x['position_label']}，{x['standing_label']}）"
                   f" 目标企业 {len(x.get('target_firms', []))} 家  {x['land_map_href'] or ''}")
