"""``hggis import …`` and ``hggis export …``: thin wrappers over hggis.io.

The report printed here is the report the API returns (same objects, rendered by
``hggis.io.report_text``). A refused import exits with code 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

import_app = typer.Typer(
    no_args_is_help=True,
    help="导入：宗地图形（Shapefile / GeoPackage / GeoJSON / CSV+WKT）与企业年度数据（XLSX / CSV）。",
)
export_app = typer.Typer(
    no_args_is_help=True,
    help="导出：宗地、园区、储备地、闲置案件、选址结果（GeoPackage / Shapefile.zip / GeoJSON / CSV）。",
)


def _print_report(report: Any, text: str, as_json: bool, quiet: bool = False) -> None:
    """An import's report: stdout when it wrote (or would write) the data, stderr with exit 1 when refused.

    --quiet keeps one line, and for a refusal that line is the reason, not the last row listed.
    """
    refused = report.status == "refused"
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str))
    elif quiet:
        reason = getattr(report, "error", None) if refused else None
        typer.echo(f"error: {reason}" if reason else text.splitlines()[-1], err=refused)
    else:
        typer.echo(text, err=refused)
    if refused:
        raise typer.Exit(1)


def _fail(message: str) -> None:
    from hggis.terminal import fail

    fail(message)


def _engine():  # noqa: ANN202
    from hggis.terminal import ready_engine

    return ready_engine()


def _parse_map(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        fld, sep, col = item.partition("=")
        if not sep or not fld.strip() or not col.strip():
            _fail(f"--map expects FIELD=COLUMN, got {item!r}")
        out[fld.strip()] = col.strip()
    return out


class _Bar:
    """A rich progress bar on stderr, one task per stage (read, stage, write)."""

    LABELS = {"read": "读取文件", "stage": "载入暂存表", "write": "写入宗地"}

    def __init__(self, enabled: bool) -> None:
        self.progress = None
        self.tasks: dict[str, Any] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )

    def __enter__(self) -> _Bar:
        if self.progress:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress:
            self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.progress:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(self.LABELS.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


@import_app.command("parcels")
def import_parcels_cmd(
    file: Annotated[Path, typer.Argument(help="Shapefile (.shp, folder, .zip), .gpkg, .geojson or .csv (WKT)")],
    layer: Annotated[str | None, typer.Option(help="layer of a GeoPackage (or .shp in a folder/zip)")] = None,
    crs: Annotated[str | None, typer.Option(help="EPSG code when the file has no or a wrong CRS, e.g. 4547")] = None,
    source_datum: Annotated[str | None, typer.Option("--source-datum", help="gcj02 for coordinates taken from AMap/高德")] = None,
    encoding: Annotated[str | None, typer.Option(help="attribute encoding, e.g. gbk (default: .cpg or detected)")] = None,
    fix: Annotated[bool, typer.Option("--fix", help="repair invalid polygons with ST_MakeValid (≤ 1 % area change)")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the full report, change nothing")] = False,
    mapping: Annotated[str | None, typer.Option(help="saved field mapping of this data source (saved after a clean run if new)")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN, e.g. code=ZDBH (repeatable)")] = None,
    area_unit: Annotated[str | None, typer.Option("--area-unit", help="unit of the area column: mu, m2 or ha")] = None,
    status: Annotated[str, typer.Option(help="status of NEW parcels when the file has no status column")] = "reserve",
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar; print only the result line")] = False,
) -> None:
    """Import parcels: full report of every refused feature; all or nothing in one transaction."""
    from hggis.access.policy import Forbidden, operator
    from hggis.io.parcels_import import ParcelImportOptions, import_parcels
    from hggis.io.report_text import parcel_report_text

    if not file.exists():
        _fail(f"{file}: no such file or folder")
    if area_unit is not None and area_unit not in ("mu", "m2", "ha"):
        _fail("--area-unit must be mu, m2 or ha")
    engine = _engine()
    opts = ParcelImportOptions(
        layer=layer, crs=crs, source_datum=source_datum, encoding=encoding, fix=fix, dry_run=dry_run,
        mapping=mapping, columns=_parse_map(map_), area_unit=area_unit, default_status=status,
    )
    try:
        with _Bar(not quiet and not as_json) as bar:
            report = import_parcels(engine, operator(), file, opts, progress=bar)
    except (Forbidden, ValueError) as exc:
        _fail(str(exc))
    _print_report(report, parcel_report_text(report), as_json, quiet)


@import_app.command("figures")
def import_figures_cmd(
    file: Annotated[Path, typer.Argument(help="XLSX or CSV with Chinese headers (see `hggis import template`)")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="write the good rows, list the bad ones as skipped")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the full report, change nothing")] = False,
    sheet: Annotated[str | None, typer.Option(help="worksheet name (default 企业年度数据 or the first)")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detected)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import enterprises' annual figures; every bad row is listed with row, column, value and reason."""
    from hggis.access.policy import Forbidden, operator
    from hggis.io.figures_import import FiguresImportOptions, import_figures
    from hggis.io.report_text import figures_report_text

    if not file.exists():
        _fail(f"{file}: no such file")
    engine = _engine()
    opts = FiguresImportOptions(skip_bad=skip_bad, dry_run=dry_run, sheet=sheet, encoding=encoding)
    try:
        report = import_figures(engine, operator(), file, opts)
    except (Forbidden, ValueError) as exc:
        _fail(str(exc))
    _print_report(report, figures_report_text(report), as_json)


def _sheet_import(run: Any, file: Path, as_json: bool) -> None:
    """Run a sheet import keyed by 宗地代码 as the operator and print its report."""
    from hggis.access.policy import Forbidden, operator
    from hggis.io.report_text import sheet_report_text

    if not file.exists():
        _fail(f"{file}: 文件不存在")
    try:
        report = run(_engine(), operator(), file)
    except (Forbidden, ValueError) as exc:
        _fail(str(exc))
    _print_report(report, sheet_report_text(report), as_json)


@import_app.command("occupancies")
def import_occupancies_cmd(
    file: Annotated[Path, typer.Argument(help="XLSX or CSV: 宗地代码, 统一社会信用代码, 份额 or 建筑面积, 角色, 起始日期, 终止日期")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the full report, change nothing")] = False,
    sheet: Annotated[str | None, typer.Option(help="worksheet name (default 用地企业 or the first)")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detected)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import who uses which parcel (lessees, shares); all rows or none, every bad cell listed."""
    from hggis.io.keyed_sheet import SheetImportOptions
    from hggis.io.occupancies_import import import_occupancies

    opts = SheetImportOptions(dry_run=dry_run, sheet=sheet, encoding=encoding)
    _sheet_import(lambda engine, who, path: import_occupancies(engine, who, path, opts), file, as_json)


@import_app.command("facts")
def import_facts_cmd(
    file: Annotated[Path, typer.Argument(help="XLSX or CSV: 宗地代码 and any of 交地日期, 实际开工日期, 停工日期, 竣工日期, "
                                              "建筑占地面积, 总建筑面积, 累计完成投资, 合同电子监管号")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the full report, change nothing")] = False,
    sheet: Annotated[str | None, typer.Option(help="worksheet name (default 开发建设情况 or the first)")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detected)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import development facts per parcel; an empty cell keeps the stored value; all rows or none."""
    from hggis.io.facts_import import import_facts
    from hggis.io.keyed_sheet import SheetImportOptions

    opts = SheetImportOptions(dry_run=dry_run, sheet=sheet, encoding=encoding)
    _sheet_import(lambda engine, who, path: import_facts(engine, who, path, opts), file, as_json)


@import_app.command("template")
def template_cmd(out: Annotated[Path, typer.Argument(help="where to write the .xlsx")]) -> None:
    """Write the Excel template for enterprises' annual figures (Chinese headers with units)."""
    from hggis.io.template import write_template

    if out.suffix.lower() != ".xlsx":
        _fail("the template is an .xlsx file")
    write_template(out)
    typer.echo(f"模板已写入 {out}")


@import_app.command("log")
def log_cmd(limit: Annotated[int, typer.Option(help="how many runs")] = 20) -> None:
    """The latest import runs: file, checksum, who, when, counts."""
    from hggis.access.policy import operator
    from hggis.io.importlog import list_imports

    engine = _engine()
    with engine.connect() as conn:
        rows = list_imports(conn, operator(), limit=limit)
    for r in rows:
        typer.echo(
            f"#{r['id']:<5} {r['started_at']:%Y-%m-%d %H:%M} {r['kind']:<8} {r['status']:<8} "
            f"+{r['inserted']} ~{r['updated']} ={r['unchanged']} ✗{r['refused']}  {r['file_name']}  "
            f"{r['checksum_sha256'][:12]}  {r['actor']}"
        )


@import_app.command("mappings")
def mappings_cmd() -> None:
    """Saved field mappings (the default one and one per data source)."""
    from hggis.io.fieldmap import list_mappings

    engine = _engine()
    with engine.connect() as conn:
        for m in list_mappings(conn):
            cols = ", ".join(f"{k}={v[0] if len(v) == 1 else '/'.join(v[:3]) + '…'}" for k, v in m["columns"].items())
            unit = f" area_unit={m['area_unit']}" if m["area_unit"] else ""
            typer.echo(f"{m['kind']}/{m['name']}{unit}: {cols}")


@import_app.command("save-mapping")
def save_mapping_cmd(
    name: Annotated[str, typer.Argument(help="the data source, e.g. 麻城市不动产登记中心")],
    map_: Annotated[list[str], typer.Option("--map", help="FIELD=COLUMN (repeatable)")],
    area_unit: Annotated[str | None, typer.Option("--area-unit", help="mu, m2 or ha")] = None,
    kind: Annotated[str, typer.Option(help="parcels or figures")] = "parcels",
) -> None:
    """Save the field mapping of one data source, used later with --mapping NAME."""
    from hggis.access.policy import operator
    from hggis.db.session import transaction
    from hggis.io.fieldmap import save_mapping

    engine = _engine()
    op = operator()
    try:
        with transaction(engine, op.actor, f"save field mapping {name}") as conn:
            save_mapping(conn, op, kind, name, _parse_map(map_), area_unit)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(f"mapping {kind}/{name} saved")


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------

FormatOpt = Annotated[str | None, typer.Option("--format", help="gpkg, shp (zip), geojson or csv; default from OUT")]
CrsOpt = Annotated[str, typer.Option(help="4490 (default) or a Gauss-Krüger zone: 4547, 4548, 4526, 4527")]
EncodingOpt = Annotated[str, typer.Option(help="utf-8 (default) or gbk, for Shapefile and CSV")]


def _export(kind: str, out: Path, fmt: str | None, crs: str, encoding: str) -> None:
    from hggis.access.policy import Forbidden, operator
    from hggis.io.export import ExportError, export_layer

    engine = _engine()
    try:
        with engine.connect() as conn:
            res = export_layer(conn, operator(), kind, out, fmt=fmt, crs=crs, encoding=encoding)
    except (ExportError, Forbidden) as exc:
        _fail(str(exc))
    typer.echo(f"{res.features} 个要素已导出到 {res.path}（{res.format}，EPSG:{res.epsg}）")


@export_app.command("parcels")
def export_parcels(out: Path, fmt: FormatOpt = None, crs: CrsOpt = "4490", encoding: EncodingOpt = "utf-8") -> None:
    """All current parcels."""
    _export("parcels", out, fmt, crs, encoding)


@export_app.command("parks")
def export_parks(out: Path, fmt: FormatOpt = None, crs: CrsOpt = "4490", encoding: EncodingOpt = "utf-8") -> None:
    """Industrial parks with their boundaries."""
    _export("parks", out, fmt, crs, encoding)


@export_app.command("reserves")
def export_reserves(out: Path, fmt: FormatOpt = None, crs: CrsOpt = "4490", encoding: EncodingOpt = "utf-8") -> None:
    """Reserve land (标准地储备 and 挂牌出让中) with its control indicators."""
    _export("reserves", out, fmt, crs, encoding)


@export_app.command("cases")
def export_cases(out: Path, fmt: FormatOpt = None, crs: CrsOpt = "4490", encoding: EncodingOpt = "utf-8") -> None:
    """Parcels with an idle-land case (the latest case of each)."""
    _export("cases", out, fmt, crs, encoding)


@export_app.command("sites")
def export_sites(
    source: Annotated[Path, typer.Argument(help="a GeoJSON FeatureCollection, e.g. site-finder results")],
    out: Path,
    fmt: FormatOpt = None,
    crs: CrsOpt = "4490",
    encoding: EncodingOpt = "utf-8",
) -> None:
    """Convert site-finder results (or any FeatureCollection in EPSG:4490) to another format."""
    from hggis.io.export import ExportError, export_features

    try:
        fc = json.loads(source.read_text(encoding="utf-8"))
        res = export_features(fc, out, fmt=fmt, crs=crs, encoding=encoding)
    except (OSError, json.JSONDecodeError, ExportError) as exc:
        _fail(str(exc))
    typer.echo(f"{res.features} 个要素已导出到 {res.path}（{res.format}，EPSG:{res.epsg}）")
