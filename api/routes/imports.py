"""Web upload of the same imports as the CLI, the import log, the template, and exports.

Uploads are restricted (a signed-in user whose role may import; the per-feature scope is
checked by hggis.io) and limited in size (``HGGIS_UPLOAD_MAX_MB``, default 200). The
body is the same report the CLI prints: 200 for an applied import or a dry run, 422 with
the report when it was refused. Exports respect the caller's scope, and anonymous callers
get the public view.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.engine import Connection, Engine
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.deps import Caller, Public, SignedIn, connection, engine, read_connection
from hggis.access.policy import Principal
from hggis.config import get_settings
from hggis.inputs import RowId
from hggis.io import uploads
from hggis.io.export import EXPORT_KINDS, FORMATS, ExportError, export_features, export_layer
from hggis.io.facts_import import import_facts
from hggis.io.figures_import import FiguresImportOptions, import_figures
from hggis.io.importlog import get_import, list_imports, require_import_right
from hggis.io.keyed_sheet import SheetImportOptions
from hggis.io.occupancies_import import import_occupancies
from hggis.io.parcels_import import ParcelImportOptions, import_parcels
from hggis.io.template import build_template

router = APIRouter(prefix="/api", tags=["imports and exports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPATIAL_SUFFIXES = (".zip", ".gpkg", ".geojson", ".json", ".csv")
FIGURE_SUFFIXES = (".xlsx", ".csv")


def upload_limit(request: Request) -> int:
    """Bytes an upload may have: app.state.upload_max_bytes, else HGGIS_UPLOAD_MAX_MB (default 200)."""
    configured = getattr(request.app.state, "upload_max_bytes", None)
    if configured:
        return int(configured)
    return int(get_settings().hggis_upload_max_mb * 1024 * 1024)


def _safe_name(filename: str | None, allowed: tuple[str, ...]) -> str:
    name = Path(filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix == ".shp":
        raise HTTPException(
            422, detail=[{"loc": ["body", "file"], "msg": "upload a Shapefile as one .zip holding .shp, .shx, .dbf, .prj and .cpg"}]
        )
    if suffix not in allowed:
        raise HTTPException(
            422, detail=[{"loc": ["body", "file"], "msg": f"unsupported file type {suffix or '(none)'}: one of {', '.join(allowed)}"}]
        )
    stem = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", Path(name).stem)[:100] or "upload"
    return stem + suffix


async def _save_upload(request: Request, upload: UploadFile, allowed: tuple[str, ...]) -> tuple[Path, str]:
    """Copy the upload to a private directory of the service (hggis.io.uploads), refusing it (413) beyond the size limit."""
    limit = upload_limit(request)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise HTTPException(413, detail=f"upload larger than the limit of {limit // (1024 * 1024)} MB")
    original = upload.filename or "upload"
    name = _safe_name(original, allowed)
    tmp = uploads.new_work_dir()
    target = tmp / name
    size = 0
    try:
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, detail=f"upload larger than the limit of {limit // (1024 * 1024)} MB")
                out.write(chunk)
    except BaseException:
        uploads.remove(tmp)
        raise
    return target, Path(original).name


def _report_response(report: Any) -> JSONResponse:
    body = report.to_dict()
    return JSONResponse(body, status_code=422 if report.status == "refused" else 200)


@router.post("/imports/parcels", summary="Import parcels from an uploaded file (same report as the CLI)")
async def upload_parcels(
    request: Request,
    file: Annotated[UploadFile, File(description="Shapefile .zip, .gpkg, .geojson or .csv (WKT)")],
    layer: Annotated[str | None, Form(max_length=200)] = None,
    crs: Annotated[str | None, Form(pattern=r"^(EPSG:)?[0-9]{4,6}$")] = None,
    source_datum: Annotated[str | None, Form(pattern=r"^(cgcs2000|wgs84|gcj02)$")] = None,
    encoding: Annotated[str | None, Form(pattern=r"^(utf-8|utf8|gbk|gb18030|cp936)$")] = None,
    fix: Annotated[bool, Form()] = False,
    dry_run: Annotated[bool, Form()] = False,
    mapping: Annotated[str | None, Form(max_length=100)] = None,
    area_unit: Annotated[str | None, Form(pattern=r"^(mu|m2|ha)$")] = None,
    status: Annotated[str, Form(pattern=r"^[a-z_]{3,30}$")] = "reserve",
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token (api.security.csrf_guard checks it)")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> JSONResponse:
    require_import_right(principal)
    path, original = await _save_upload(request, file, SPATIAL_SUFFIXES)
    try:
        opts = ParcelImportOptions(
            layer=layer, crs=crs, source_datum=source_datum, encoding=encoding, fix=fix, dry_run=dry_run,
            mapping=mapping, area_unit=area_unit, default_status=status, file_name=original,
        )
        try:
            report = await run_in_threadpool(import_parcels, db, principal, path, opts)
        except ValueError as exc:
            raise HTTPException(422, detail=[{"loc": ["body"], "msg": str(exc)}]) from None
    finally:
        uploads.remove(path.parent)
    return _report_response(report)


@router.post("/imports/figures", summary="Import enterprises' annual figures from an uploaded XLSX/CSV")
async def upload_figures(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX (the template) or CSV with Chinese headers")],
    skip_bad: Annotated[bool, Form()] = False,
    dry_run: Annotated[bool, Form()] = False,
    sheet: Annotated[str | None, Form(max_length=100)] = None,
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token (api.security.csrf_guard checks it)")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> JSONResponse:
    require_import_right(principal)
    path, original = await _save_upload(request, file, FIGURE_SUFFIXES)
    try:
        opts = FiguresImportOptions(skip_bad=skip_bad, dry_run=dry_run, sheet=sheet, file_name=original)
        report = await run_in_threadpool(import_figures, db, principal, path, opts)
    finally:
        uploads.remove(path.parent)
    return _report_response(report)


async def _sheet_upload(request: Request, file: UploadFile, run: Any, principal: Principal, db: Engine,
                        opts: SheetImportOptions) -> JSONResponse:
    require_import_right(principal)
    path, original = await _save_upload(request, file, FIGURE_SUFFIXES)
    try:
        opts.file_name = original
        report = await run_in_threadpool(run, db, principal, path, opts)
    finally:
        uploads.remove(path.parent)
    return _report_response(report)


@router.post("/imports/occupancies", summary="Import who uses which parcel (宗地代码, 统一社会信用代码, 份额 …) from XLSX/CSV")
async def upload_occupancies(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX or CSV with Chinese headers (宗地代码, 统一社会信用代码, 份额 …)")],
    dry_run: Annotated[bool, Form()] = False,
    sheet: Annotated[str | None, Form(max_length=100)] = None,
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token (api.security.csrf_guard checks it)")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> JSONResponse:
    return await _sheet_upload(request, file, import_occupancies, principal, db,
                               SheetImportOptions(dry_run=dry_run, sheet=sheet))


@router.post("/imports/facts", summary="Import development facts (开工、停工、竣工、建筑面积、投资、交地、监管号) keyed by 宗地代码")
async def upload_facts(
    request: Request,
    file: Annotated[UploadFile, File(description="XLSX or CSV: 宗地代码 and any of 实际开工日期, 停工日期, 竣工日期 …")],
    dry_run: Annotated[bool, Form()] = False,
    sheet: Annotated[str | None, Form(max_length=100)] = None,
    csrf: Annotated[str | None, Form(max_length=100, description="a signed-in browser's CSRF token (api.security.csrf_guard checks it)")] = None,
    principal: Principal = SignedIn,
    db: Engine = Depends(engine),
) -> JSONResponse:
    return await _sheet_upload(request, file, import_facts, principal, db, SheetImportOptions(dry_run=dry_run, sheet=sheet))


@router.get("/imports/template", summary="The Excel template for enterprises' annual figures", dependencies=[Public],
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def template() -> Response:
    return Response(
        build_template(),
        media_type=XLSX,
        headers={"Content-Disposition": "attachment; filename=\"figures-template.xlsx\"; filename*=UTF-8''%E4%BC%81%E4%B8%9A%E5%B9%B4%E5%BA%A6%E6%95%B0%E6%8D%AE%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"},
    )


@router.get("/imports", summary="The import log (runs in the caller's scope)")
def imports_log(
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    principal: Principal = SignedIn,
    conn: Connection = Depends(connection),
) -> list[dict[str, Any]]:
    return list_imports(conn, principal, limit=limit)


@router.get("/imports/{import_id}", summary="One import run with its full report")
def import_detail(import_id: RowId, principal: Principal = SignedIn, conn: Connection = Depends(connection)) -> dict[str, Any]:
    row = get_import(conn, principal, import_id)
    if row is None:
        raise HTTPException(404, detail=f"no import #{import_id} in your scope")
    return row


def _file_response(path: Path, media_type: str, tmp: Path) -> FileResponse:
    return FileResponse(
        path, media_type=media_type, filename=path.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


FormatParam = Annotated[str, Query(pattern="^(" + "|".join(FORMATS) + ")$", description="gpkg, shp (zip), geojson, csv")]
CrsParam = Annotated[int, Query(description="4490 (default), or 4547, 4548, 4526, 4527")]
EncodingParam = Annotated[str, Query(pattern=r"^(utf-8|gbk)$", description="Shapefile/CSV text encoding")]


@router.get("/exports/{kind}", summary="Download a layer (parcels, parks, reserves, cases) as a file")
def export_download(
    kind: str,
    format: FormatParam = "gpkg",  # noqa: A002
    crs: CrsParam = 4490,
    encoding: EncodingParam = "utf-8",
    principal: Principal = Caller,
    conn: Connection = Depends(read_connection),
) -> FileResponse:
    if kind not in EXPORT_KINDS:
        raise HTTPException(404, detail=f"unknown layer {kind!r}: one of {', '.join(EXPORT_KINDS)}")
    tmp = Path(tempfile.mkdtemp(prefix="hggis-export-"))
    out = tmp / f"{kind}-{crs}{FORMATS[format]['suffix']}"
    try:
        res = export_layer(conn, principal, kind, out, fmt=format, crs=crs, encoding=encoding)
    except ExportError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HTTPException(422, detail=[{"loc": ["query"], "msg": str(exc)}]) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _file_response(res.path, res.media_type, tmp)


@router.post("/exports/sites", summary="Convert a FeatureCollection (e.g. site-finder results) to a file")
def export_sites(
    body: dict[str, Any],
    format: FormatParam = "gpkg",  # noqa: A002
    crs: CrsParam = 4490,
    encoding: EncodingParam = "utf-8",
    principal: Principal = SignedIn,
) -> FileResponse:
    tmp = Path(tempfile.mkdtemp(prefix="hggis-export-"))
    out = tmp / f"sites-{crs}{FORMATS[format]['suffix']}"
    try:
        res = export_features(body, out, fmt=format, crs=crs, encoding=encoding)
    except (ExportError, KeyError, TypeError, ValueError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HTTPException(422, detail=[{"loc": ["body"], "msg": str(exc)}]) from None
    return _file_response(res.path, res.media_type, tmp)
