"""The imports page: upload, read the dry-run report, confirm, see the result and the import log.

Thin: ``hggis.io.parcels_import.import_parcels`` and ``hggis.io.figures_import.import_figures``
do the reading, checking and writing (and log every run); the uploaded file waits between
the dry run and the confirmation in ``hggis.workbench.staging``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine
from starlette.concurrency import run_in_threadpool

from api.deps import connection, engine
from api.routes.imports import FIGURE_SUFFIXES, SPATIAL_SUFFIXES, upload_limit
from api.workbench import FormUser, PageNotFound, Pager, PageRoute, PageUser, choice, int_param, see_other, show
from hggis.access.policy import Principal
from hggis.db.models import PARCEL_STATUSES
from hggis.inputs import RowId
from hggis.io.facts_import import import_facts
from hggis.io.fieldmap import DEFAULTS
from hggis.io.figures_import import FiguresImportOptions, import_figures
from hggis.io.importlog import get_import, list_imports, require_import_right
from hggis.io.keyed_sheet import SheetImportOptions
from hggis.io.occupancies_import import import_occupancies
from hggis.io.parcels_import import ParcelImportOptions, import_parcels
from hggis.io.report_text import KIND_TEXT
from hggis.projects.chains import import_chain_links
from hggis.projects.importer import import_projects
from hggis.workbench import staging

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
LOG_PAGE = 30
LOG_MAX = 500
ISSUES_PAGE = 100
KINDS = {"parcels": "宗地（Shapefile .zip、GeoPackage、GeoJSON、CSV+WKT）", "figures": "企业年度数据（Excel 模板 .xlsx 或 CSV）",
         "occupancies": "用地企业表（宗地代码、统一社会信用代码、份额或建筑面积、角色、起止日期；.xlsx 或 CSV）",
         "facts": "开发建设情况表（宗地代码及交地、开工、停工、竣工日期，建筑面积、累计投资、监管号；.xlsx 或 CSV）"}
KINDS["projects"] = "项目清单（谋划、前期、新建、续建；项目清单模板 .xlsx 或 CSV）"
KINDS["chain_links"] = "锻长板补短板清单（产业链环节与目标企业；.xlsx 或 CSV）"
SHEET_IMPORTS = {"occupancies": import_occupancies, "facts": import_facts, "projects": import_projects,
                 "chain_links": import_chain_links}
CRS_CHOICES = [("", "自动识别（按 .prj 和坐标范围）"), ("4490", "CGCS2000 经纬度 EPSG:4490"),
               ("4547", "CGCS2000 3° 高斯-克吕格 38 带（无带号）EPSG:4547"),
               ("4548", "CGCS2000 3° 高斯-克吕格 39 带（无带号）EPSG:4548"),
               ("4526", "CGCS2000 3° 高斯-克吕格 38 带（带号）EPSG:4526"),
               ("4527", "CGCS2000 3° 高斯-克吕格 39 带（带号）EPSG:4527")]
DATUM_CHOICES = [("", "CGCS2000 / WGS84（默认）"), ("gcj02", "GCJ-02（高德、腾讯地图坐标，将转换）")]
STATUS_TEXT = {"applied": "已导入", "dry_run": "试运行：未写入任何数据", "refused": "已拒绝：未写入任何数据",
               "running": "正在导入", "interrupted": "中断：导入进程在途中终止，未写入任何数据"}
CRS_SOURCE_TEXT = {"file": "按文件声明", "--crs": "按指定", "corrected": "按坐标数值更正了文件声明", "implied": "按文件格式默认"}
FIELD_NAMES = {kind: {field: names[0] for field, names in columns.items()} for kind, columns in DEFAULTS.items()}
ENCODING_CHOICES = [("", "自动识别"), ("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030")]


def _form_context(conn: Connection, principal: Principal, page: int, values: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None) -> dict[str, Any]:
    log = list_imports(conn, principal, limit=LOG_MAX)
    pager = Pager(page, LOG_PAGE, len(log), "/imports")
    return {
        "log": log[pager.offset:pager.offset + LOG_PAGE], "pager": pager, "kinds": list(KINDS.items()),
        "crs_choices": CRS_CHOICES, "datum_choices": DATUM_CHOICES, "encoding_choices": ENCODING_CHOICES,
        "status_choices": list(PARCEL_STATUSES.items()), "status_text": STATUS_TEXT,
        "values": values or {"kind": "parcels", "status": "reserve"}, "errors": errors or {},
    }


@router.get("/imports")
def imports(request: Request, page: str | None = None, kind: str | None = None, principal: Principal = PageUser,
            conn: Connection = Depends(connection)) -> Response:
    require_import_right(principal)
    values = {"kind": choice(kind, KINDS, "parcels") or "parcels", "status": "reserve"}
    return show(request, conn, "wb_imports.html", _form_context(conn, principal, int_param(page, 1), values))


def _stored_name(original: str, allowed: tuple[str, ...]) -> str:
    """A safe file name keeping the suffix; ValueError with the Chinese reason if not accepted."""
    name = Path(original or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix == ".shp":
        raise ValueError("Shapefile 请打包为一个 .zip 上传（含 .shp、.shx、.dbf、.prj，最好还有 .cpg）")
    if suffix not in allowed:
        raise ValueError(f"不支持的文件类型 {suffix or '（无扩展名）'}：可上传 {'、'.join(allowed)}")
    stem = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", Path(name).stem)[:100] or "upload"
    return stem + suffix


async def _receive(request: Request, upload: UploadFile, directory: Path, allowed: tuple[str, ...]) -> Path:
    limit = upload_limit(request)
    target = directory / _stored_name(upload.filename or "", allowed)
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ValueError(f"文件超过上传上限 {limit // (1024 * 1024)} MB")
            out.write(chunk)
    if size == 0:
        raise ValueError("文件是空的")
    return target


def _run(db: Engine, principal: Principal, item: staging.Staged, dry_run: bool) -> Any:
    o = item.options
    if item.kind == "parcels":
        opts = ParcelImportOptions(crs=o.get("crs") or None, source_datum=o.get("source_datum") or None,
                                   encoding=o.get("encoding") or None, fix=bool(o.get("fix")), dry_run=dry_run,
                                   default_status=o.get("status") or "reserve", file_name=item.file_name)
        return import_parcels(db, principal, item.path, opts)
    if item.kind in SHEET_IMPORTS:
        sheet_opts = SheetImportOptions(dry_run=dry_run, file_name=item.file_name, encoding=o.get("encoding") or None)
        return SHEET_IMPORTS[item.kind](db, principal, item.path, sheet_opts)
    figure_opts = FiguresImportOptions(skip_bad=bool(o.get("skip_bad")), dry_run=dry_run, file_name=item.file_name,
                                encoding=o.get("encoding") or None)
    return import_figures(db, principal, item.path, figure_opts)


@router.post("/imports/upload")
async def upload(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    kind: Annotated[str, Form(max_length=20)] = "parcels",
    crs: Annotated[str, Form(max_length=10)] = "",
    source_datum: Annotated[str, Form(max_length=10)] = "",
    encoding: Annotated[str, Form(max_length=10)] = "",
    status: Annotated[str, Form(max_length=30)] = "reserve",
    fix: Annotated[str, Form(max_length=3)] = "",
    skip_bad: Annotated[str, Form(max_length=3)] = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    require_import_right(principal)
    kind = choice(kind, KINDS, "parcels") or "parcels"
    options = {
        "crs": choice(crs, {c for c, _ in CRS_CHOICES}, ""), "source_datum": choice(source_datum, {"", "gcj02"}, ""),
        "encoding": choice(encoding, {e for e, _ in ENCODING_CHOICES}, ""),
        "status": choice(status, PARCEL_STATUSES, "reserve"), "fix": fix == "1", "skip_bad": skip_bad == "1",
    }
    values = {"kind": kind, **{k: ("1" if v is True else "" if v is False else str(v)) for k, v in options.items()}}
    if file is None or not file.filename:
        with db.connect() as conn:
            return show(request, conn, "wb_imports.html",
                        _form_context(conn, principal, 1, values, {"file": "请选择要上传的文件"}), status_code=422)
    token, directory = staging.new_slot()
    try:
        stored = await _receive(request, file, directory, SPATIAL_SUFFIXES if kind == "parcels" else FIGURE_SUFFIXES)
    except ValueError as exc:
        staging.discard(token)
        with db.connect() as conn:
            return show(request, conn, "wb_imports.html", _form_context(conn, principal, 1, values, {"file": str(exc)}),
                        status_code=422)
    item = staging.stage(token, principal.username, kind, Path(file.filename).name, stored, options)
    report = await run_in_threadpool(_run, db, principal, item, True)
    staging.remember_dry_run(item, report.import_id)
    return see_other(f"/imports/pending/{token}")


@router.get("/imports/pending/{token}")
def pending(request: Request, token: str, page: str | None = None, principal: Principal = PageUser,
            conn: Connection = Depends(connection)) -> Response:
    require_import_right(principal)
    try:
        item = staging.load(token, principal.username)
    except staging.StagingError as exc:
        raise PageNotFound(str(exc)) from None
    run = get_import(conn, principal, item.dry_run_import_id) if item.dry_run_import_id else None
    if run is None:
        raise PageNotFound("试运行记录不存在")
    return show(request, conn, "wb_import_report.html", _report_context(run, item, int_param(page, 1),
                                                                         f"/imports/pending/{token}"))


def _report_context(run: dict[str, Any], item: staging.Staged | None, page: int, base: str) -> dict[str, Any]:
    report = run["report"] or {}
    if run["kind"] == "parcels":
        findings = report.get("issues") or []
    else:
        findings = (report.get("bad_rows") or []) + (report.get("warnings") or [])
    pager = Pager(page, ISSUES_PAGE, len(findings), base)
    return {
        "run": run, "r": report, "item": item, "kind_text": KIND_TEXT, "status_text": STATUS_TEXT,
        "crs_source_text": CRS_SOURCE_TEXT, "crs_choices": [c for c in CRS_CHOICES if c[0]],
        "can_choose_crs": item is not None and run["kind"] == "parcels" and bool(report.get("crs_refused"))
        and not report.get("swapped_axes"),
        "field_names": FIELD_NAMES.get(run["kind"], {}),
        "findings": findings[pager.offset:pager.offset + ISSUES_PAGE], "pager": pager,
        "can_confirm": item is not None and run["status"] == "dry_run" and run["dry_run"],
    }


@router.post("/imports/pending/{token}/confirm")
async def confirm(token: str, principal: Principal = FormUser, db: Engine = Depends(engine)) -> Response:
    require_import_right(principal)
    try:
        item = staging.load(token, principal.username)
    except staging.StagingError as exc:
        raise PageNotFound(str(exc)) from None
    report = await run_in_threadpool(_run, db, principal, item, False)
    staging.discard(token)
    return see_other(f"/imports/{report.import_id}")


@router.post("/imports/pending/{token}/crs")
async def choose_crs(token: str, crs: Annotated[str, Form(max_length=10)] = "", principal: Principal = FormUser,
                     db: Engine = Depends(engine)) -> Response:
    """Read the same staged file again in the coordinate system the officer chose, as a new dry run.

    A file refused for its CRS is answered on the page, with the same choice the upload form
    offers, rather than with a command-line option.
    """
    require_import_right(principal)
    try:
        item = staging.load(token, principal.username)
    except staging.StagingError as exc:
        raise PageNotFound(str(exc)) from None
    if item.kind == "parcels" and choice(crs, {c for c, _ in CRS_CHOICES if c}) is not None:
        item.options["crs"] = crs
        report = await run_in_threadpool(_run, db, principal, item, True)
        staging.remember_dry_run(item, report.import_id)
    return see_other(f"/imports/pending/{token}")


@router.post("/imports/pending/{token}/discard")
def discard(token: str, principal: Principal = FormUser) -> Response:
    require_import_right(principal)
    try:
        staging.load(token, principal.username)
    except staging.StagingError:
        return see_other("/imports")
    staging.discard(token)
    return see_other("/imports?discarded=1")


@router.get("/imports/{import_id}")
def result(request: Request, import_id: RowId, page: str | None = None, principal: Principal = PageUser,
           conn: Connection = Depends(connection)) -> Response:
    require_import_right(principal)
    run = get_import(conn, principal, import_id)
    if run is None:
        raise PageNotFound(f"没有导入记录 #{import_id}（或不在您的管辖范围内）")
    return show(request, conn, "wb_import_report.html", _report_context(run, None, int_param(page, 1),
                                                                         f"/imports/{import_id}"))
