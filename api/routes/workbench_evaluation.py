"""亩均效益评价 pages: a year's results by group, park and county; one enterprise's explanation;
the comparison with the previous year; the Excel report; running an evaluation; model versions.

Thin: every figure comes from hggis.evaluation (runs, results, aggregates, report, model),
which checks the role and filters to the caller's scope.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection, Engine

from api.deps import connection, engine
from api.workbench import (
    FormUser,
    PageNotFound,
    Pager,
    PageRoute,
    PageUser,
    choice,
    int_param,
    query_pairs,
    require_grant,
    see_other,
    show,
)
from hggis import clock
from hggis.access.choices import industry_choices, place_names, scope_choices
from hggis.access.policy import Principal, grant
from hggis.db.session import transaction
from hggis.evaluation import aggregates, model, report, results, runs
from hggis.evaluation.model import CLASS_LABELS, GROUP_LABELS
from hggis.evaluation.results import ResultFilter
from hggis.inputs import is_row_id
from hggis.workbench.model_form import MODEL_FORM_ERRORS, model_changes, model_form_values
from hggis.workbench.words import plain_text

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=PageRoute)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE = 50
CHANGES_SHOWN = 20
CLASS_CHOICES = [(c, f"{c} {label}") for c, label in CLASS_LABELS.items()]
GROUP_CHOICES = list(GROUP_LABELS.items())
SORT_CHOICES = [("rank", "排名"), ("total_score", "得分"), ("land_mu", "用地面积"), ("name", "企业名称")]


def _options(conn: Connection, principal: Principal) -> dict[str, Any]:
    """Filter choices (parks of the caller's evaluation scope, the five industries) and names for the tables."""
    counties, park_names = place_names(conn)
    return {
        "parks": scope_choices(conn, principal, "evaluation").parks,
        "industries": industry_choices(conn),
        "counties": counties,
        "park_names": park_names,
    }


def _choices(conn: Connection, principal: Principal, all_runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run_choices": [(r["id"], f"{r['year']} 年度 · 批次 #{r['id']}（{clock.display_date(r['created_at'])}）") for r in all_runs],
        "model_choices": [(str(v["id"]), f"#{v['id']} {plain_text(v['name'])}（{v['valid_from']}–{v['valid_to'] or ''}）")
                          for v in model.list_models(conn, principal)],
    }


def _chosen_run(conn: Connection, principal: Principal, all_runs: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any] | None:
    """The run asked for (``run``), else the newest run of ``year``, else the newest run."""
    if not all_runs:
        return None
    by_id = {r["id"]: r for r in all_runs}
    wanted = int_param(params.get("run"), 0, lo=0)
    if wanted in by_id:
        return by_id[wanted]
    year = int_param(params.get("year"), 0, lo=0)
    of_year = [r for r in all_runs if r["year"] == year]
    return (of_year or all_runs)[0]


def _comparison(conn: Connection, principal: Principal, run: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return runs.compare_runs(conn, principal, year_from=run["year"] - 1, run_to=run["id"])
    except runs.RunError:
        return None


@router.get("/evaluation")
def evaluation(request: Request, principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "evaluation")
    params = dict(request.query_params)
    all_runs = runs.list_runs(conn, principal)
    run = _chosen_run(conn, principal, all_runs, params)
    options = _options(conn, principal)
    context: dict[str, Any] = {
        "runs": all_runs, "run": run, "options": options, "may_run": grant(principal, "evaluation", "run") is not None,
        "class_choices": CLASS_CHOICES, "group_choices": GROUP_CHOICES, "sort_choices": SORT_CHOICES,
        "class_labels": CLASS_LABELS, "group_labels": GROUP_LABELS,
        "years": sorted({r["year"] for r in all_runs}, reverse=True),
        "run_values": {"year": "", "reason": ""}, "run_errors": {},
        **_choices(conn, principal, all_runs),
    }
    if run is not None:
        park = params.get("park_id") or ""
        flt = ResultFilter(
            class_code=choice(params.get("class"), CLASS_LABELS),
            size_group=choice(params.get("group"), GROUP_LABELS),
            park_id=int(park) if park in {k for k, _ in options["parks"]} else None,
            industry_code=choice(params.get("industry"), {c for c, _ in options["industries"]}),
        )
        sort = choice(params.get("sort"), dict(SORT_CHOICES), "rank") or "rank"
        page = int_param(params.get("page"), 1)
        listing = results.list_results(conn, principal, run["id"], flt, PAGE, (page - 1) * PAGE, sort)
        keep = {"run": run["id"], "class": flt.class_code, "group": flt.size_group, "park_id": flt.park_id,
                "industry": flt.industry_code, "sort": sort}
        comparison = _comparison(conn, principal, run)
        rank_by = results.run_model(conn, run["id"])[1].parks.rank_by
        context.update({
            "rank_by": rank_by, "rank_label": aggregates.RANK_BY_LABELS.get(rank_by, rank_by),
            "filters": {"class": flt.class_code or "", "group": flt.size_group or "", "park_id": str(flt.park_id or ""),
                        "industry": flt.industry_code or "", "sort": sort},
            "listing": listing,
            "pager": Pager(page, PAGE, listing["numberMatched"], "/evaluation", query_pairs(keep)),
            "parks": aggregates.read_aggregates(conn, principal, run["id"], "park"),
            "counties": aggregates.read_aggregates(conn, principal, run["id"], "county"),
            "comparison": comparison,
            "changes_shown": CHANGES_SHOWN,
        })
    return show(request, conn, "wb_evaluation.html", context)


@router.post("/evaluation/run")
def run_evaluation(
    request: Request,
    year: Annotated[str, Form(max_length=4)] = "",
    model_id: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    proceed: Annotated[str, Form(max_length=3)] = "",
    principal: Principal = FormUser,
    db: Engine = Depends(engine),
) -> Response:
    errors: dict[str, str] = {}
    y = int_param(year, 0, lo=0)
    if not 1990 <= y <= 2100:
        errors["year"] = "请填写评价年度（四位数字，例如 2024）"
    mid = int(model_id) if is_row_id(model_id) else None
    if not errors:
        try:
            summary = runs.run_evaluation(db, principal, y, mid, proceed == "1", reason.strip() or None)
            return see_other(f"/evaluation?run={summary.run_id}&done=1")
        except runs.BlockingQualityErrors as exc:
            errors["_run"] = str(exc).replace("用 --proceed 排除", "勾选“排除有阻断性问题的企业”后")
            errors["blocking"] = "1"
        except (runs.RunError, model.ModelError) as exc:
            errors["_run"] = f"未能评价：{exc}"
    with db.connect() as conn:
        all_runs = runs.list_runs(conn, principal)
        return show(request, conn, "wb_evaluation.html", {
            "runs": all_runs, "run": None, "options": _options(conn, principal), "may_run": True,
            "years": sorted({r["year"] for r in all_runs}, reverse=True),
            "run_values": {"year": year, "reason": reason, "model_id": model_id}, "run_errors": errors,
            "class_labels": CLASS_LABELS, "group_labels": GROUP_LABELS, **_choices(conn, principal, all_runs),
        }, status_code=422)


@router.get("/evaluation/report")
def excel(request: Request, run: str = "", principal: Principal = PageUser, conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "evaluation")
    run_id = int_param(run, 0, lo=0)
    try:
        info = runs.get_run(conn, principal, run_id)
    except runs.RunError:
        raise PageNotFound(f"没有评价批次 {run}") from None
    data = report.report_bytes(conn, principal, run_id)
    name = report.report_filename(info["year"], run_id)
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"evaluation-{info['year']}-{run_id}.xlsx\"; filename*=UTF-8''{quote(name)}"})


@router.get("/evaluation/compare")
def compare(request: Request, run: str = "", page: str | None = None, principal: Principal = PageUser,
            conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "evaluation")
    all_runs = runs.list_runs(conn, principal)
    if not all_runs:
        raise PageNotFound("还没有评价批次：请先运行亩均效益评价")
    chosen = _chosen_run(conn, principal, all_runs, {"run": run})  # no run number: the newest run
    assert chosen is not None  # all_runs is not empty
    if run.strip() and str(chosen["id"]) != run.strip():
        listed = "、".join(f"#{r['id']}" for r in all_runs)
        raise PageNotFound(f"没有评价批次 {run}（现有批次：{listed}）")
    info = runs.get_run(conn, principal, chosen["id"])
    comparison = _comparison(conn, principal, info)
    if comparison is None:
        raise PageNotFound(f"{info['year'] - 1} 年度没有评价结果，无法比较")
    p = int_param(page, 1)
    pager = Pager(p, PAGE, len(comparison["changes"]), "/evaluation/compare", (("run", str(info["id"])),))
    return show(request, conn, "wb_evaluation_compare.html", {
        "run": info, "comparison": comparison, "changes": comparison["changes"][pager.offset:pager.offset + PAGE],
        "pager": pager, "options": _options(conn, principal),
    })


@router.get("/evaluation/enterprises/{enterprise_id}")
def explanation(request: Request, enterprise_id: int, run: str = "", principal: Principal = PageUser,
                conn: Connection = Depends(connection)) -> Response:
    require_grant(principal, "evaluation")
    all_runs = runs.list_runs(conn, principal)
    if not all_runs:
        raise PageNotFound("尚无评价结果")
    run_id = int_param(run, all_runs[0]["id"], lo=1)
    try:
        result = results.explain_result(conn, principal, run_id, enterprise_id)
    except (results.ResultError, runs.RunError):
        raise PageNotFound(f"企业 {enterprise_id} 未列入评价批次 {run_id}") from None
    parcels = results.enterprise_parcels(conn, principal, enterprise_id)
    return show(request, conn, "wb_evaluation_enterprise.html", {
        "r": result, "options": _options(conn, principal), "parcels": parcels,
        "other_runs": [x for x in all_runs if x["id"] != run_id][:6],
    })


# ---- model versions ------------------------------------------------------------------------


@router.get("/evaluation/models")
def models(request: Request, base: str = "", principal: Principal = PageUser,
           conn: Connection = Depends(connection)) -> Response:
    versions = model.list_models(conn, principal)
    return _models_page(request, conn, principal, versions, int_param(base, versions[-1]["id"] if versions else 0, lo=0))


def _models_page(request: Request, conn: Connection, principal: Principal, versions: list[dict[str, Any]],
                 base_id: int, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 status_code: int = 200) -> Response:
    base = next((v for v in versions if v["id"] == base_id), versions[-1] if versions else None)
    params = model.parse_params(base["params"]) if base else None
    return show(request, conn, "wb_models.html", {
        "versions": versions, "base": base, "params": params, "group_labels": GROUP_LABELS,
        "may_write": grant(principal, "evaluation_models", "write") is not None,
        "values": values or (model_form_values(base, params) if base and params else {}), "errors": errors or {},
        "created": request.query_params.get("created"),
    }, status_code=status_code)


@router.post("/evaluation/models")
async def create_model(request: Request, base_id: Annotated[int, Form()], principal: Principal = FormUser,
                       db: Engine = Depends(engine)) -> Response:
    form = {k: str(v)[:500] for k, v in (await request.form()).items() if k != "csrf"}
    with db.connect() as conn:
        base = model.get_model(conn, principal, base_id)
    changes, meta, errors = model_changes(form, model.parse_params(base["params"]))
    if not errors:
        try:
            params = model.derive_params(base["params"], changes)
            with transaction(db, principal.actor, f"新建评价模型版本：{meta['name']}") as conn:
                new_id = model.create_model(conn, principal, meta["name"], meta["valid_from"], params,
                                            meta["valid_to"], meta["note"])
            return see_other(f"/evaluation/models?base={new_id}&created={new_id}")
        except model.ModelError as exc:
            errors["_form"] = MODEL_FORM_ERRORS.format(exc)
    with db.connect() as conn:
        return _models_page(request, conn, principal, model.list_models(conn, principal), base_id, form, errors, 422)

