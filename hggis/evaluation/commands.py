"""``hggis evaluate``: run the per-mu evaluation, read its results, manage model versions.

    hggis evaluate --year 2024 [--xlsx out.xlsx] [--proceed] [--model ID]
    hggis evaluate quality --year 2024
    hggis evaluate runs [--year 2024]
    hggis evaluate results --year 2024 [--class D] [--group above] [--park 3]
    hggis evaluate show 91421102MA0000001X --year 2024        (explanation of one result)
    hggis evaluate parks --year 2024 [--counties]
    hggis evaluate compare --from 2023 --to 2024
    hggis evaluate report --year 2024 --xlsx out.xlsx
    hggis evaluate model list | show ID | create --name … --valid-from 2025 --base 1 --set min_land_mu=5
    hggis evaluate policies list | add … | end ID --last-year 2025

Thin: every command parses, calls one hggis.evaluation function as the terminal operator
(``operator()``, a city administrator) and prints. Errors are one line on stderr, exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hggis.evaluation.model import CLASS_LABELS, GROUP_LABELS

evaluate_app = typer.Typer(
    invoke_without_command=True,
    help="亩均效益综合评价: `hggis evaluate --year 2024 [--xlsx out.xlsx]` runs the evaluation.",
)
model_app = typer.Typer(no_args_is_help=True, help="Evaluation model versions (评价模型).")
policies_app = typer.Typer(no_args_is_help=True, help="Differential policies per class (差别化政策).")
evaluate_app.add_typer(model_app, name="model")
evaluate_app.add_typer(policies_app, name="policies")

YearOpt = Annotated[int | None, typer.Option("--year", help="evaluation year (its latest run)")]
RunOpt = Annotated[int | None, typer.Option("--run", help="a run id instead of the year's latest run")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _refusals() -> tuple[type[BaseException], ...]:
    from hggis.errors import HggisError

    return (HggisError, *_errors())


def _errors() -> tuple[type[BaseException], ...]:
    from hggis.access.policy import Forbidden
    from hggis.evaluation.model import ModelError
    from hggis.evaluation.policies import PolicyError
    from hggis.evaluation.results import ResultError
    from hggis.evaluation.runs import RunError

    return (RunError, ModelError, PolicyError, ResultError, Forbidden, ValueError, LookupError)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def _write_report(engine: Any, run_id: int, path: Path) -> None:
    from hggis.access.policy import operator
    from hggis.evaluation.report import report_bytes

    with engine.connect() as conn:
        data = report_bytes(conn, operator(), run_id)
    path.write_bytes(data)
    typer.echo(f"Excel report written: {path} ({len(data) // 1024} KiB)")


@evaluate_app.callback()
def evaluate(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", help="the year to evaluate")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="also write the Excel report here")] = None,
    proceed: Annotated[bool, typer.Option("--proceed", help="exclude enterprises with blocking data-quality findings")] = False,
    model: Annotated[int | None, typer.Option("--model", help="model version id (default: the year's model)")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why this run (kept with the run)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a year (one atomic run); subcommands read results and manage models."""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    from hggis.access.policy import operator
    from hggis.evaluation.runs import BlockingQualityErrors, run_evaluation
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        summary = run_evaluation(engine, operator(), year, model_id=model, proceed=proceed, reason=reason)
    except BlockingQualityErrors as exc:
        for r in exc.report.blocking.itertuples():
            typer.echo(f"{r.credit_code}  {r.name}  {r.field}={r.value}  {r.reason}")
        fail(str(exc))
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(summary.as_dict())
    else:
        typer.echo(
            f"run {summary.run_id}: {year} evaluated with model {summary.model_id} ({summary.model_name}) "
            f"in {summary.duration_ms / 1000:.2f} s"
        )
        typer.echo(f"listed {summary.n_listed}, evaluated {summary.n_evaluated}; not evaluated: "
                   + (", ".join(f"{k} {v}" for k, v in summary.reasons.items()) or "none"))
        for g in ("above", "below"):
            counts = summary.class_counts.get(g, {})
            typer.echo(f"  {GROUP_LABELS[g]}: " + "  ".join(f"{c} {counts.get(c, 0)}" for c in ("A", "B", "C", "D", "T")))
        q = summary.quality
        typer.echo(f"data quality: {q['issues']} findings, {q['blocking_issues']} blocking")
    if xlsx is not None:
        _write_report(engine, summary.run_id, xlsx)


def _run_id(conn: Any, run: int | None, year: int | None) -> int:
    from hggis.evaluation.runs import resolve_run

    return resolve_run(conn, run, year)


@evaluate_app.command("quality")
def quality_cmd(
    year: Annotated[int, typer.Option("--year", help="the year whose figures to check")],
    model: Annotated[int | None, typer.Option("--model")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The data-quality report of a year (nothing is stored)."""
    from hggis.access.policy import operator
    from hggis.evaluation.service import quality_report
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        with engine.connect() as conn:
            report = quality_report(conn, operator(), year, model)
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(report)
        return
    for i in report["issues"]:
        flag = "BLOCKING" if i["blocking"] else "warning "
        typer.echo(f"{flag}  {i['credit_code']}  {i['name']}  {i['field']}={i['value'] or ''}  {i['reason']}")
    s = report["summary"]
    typer.echo(f"{s['issues']} findings, {s['blocking_issues']} blocking ({s['blocking_enterprises']} enterprises)")


@evaluate_app.command("runs")
def runs_cmd(year: YearOpt = None, as_json: JsonOpt = False) -> None:
    """Evaluation runs, newest first."""
    from hggis.access.policy import operator
    from hggis.evaluation.runs import list_runs
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        runs = list_runs(conn, operator(), year)
    if as_json:
        _echo_json(runs)
        return
    for r in runs:
        typer.echo(f"{r['id']:>5}  {r['year']}  model {r['model_id']}  {r['created_at'][:19]}  "
                   f"evaluated {r['n_evaluated']}/{r['n_listed']}  {r['actor']}  {r['reason'] or ''}")


@evaluate_app.command("results")
def results_cmd(
    year: YearOpt = None,
    run: RunOpt = None,
    class_code: Annotated[str | None, typer.Option("--class", help="A, B, C, D or T")] = None,
    group: Annotated[str | None, typer.Option("--group", help="above (规上) or below (规下)")] = None,
    park: Annotated[int | None, typer.Option("--park")] = None,
    county: Annotated[str | None, typer.Option("--county")] = None,
    not_evaluated: Annotated[bool, typer.Option("--not-evaluated", help="list those not evaluated")] = False,
    result_list: Annotated[str | None, typer.Option("--list", help="above (规上), below (规下) or tenant (租赁企业)")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Results of a run (scores, rank, class), best first."""
    from hggis.access.policy import operator
    from hggis.evaluation.results import ResultFilter, list_results
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            rid = _run_id(conn, run, year)
            page = list_results(
                conn, operator(), rid,
                ResultFilter(class_code=class_code, size_group=group, park_id=park, adcode=county,
                             evaluated=False if not_evaluated else None, result_list=result_list),
                limit=limit, sort="enterprise_id" if not_evaluated else "rank",
            )
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(page)
        return
    typer.echo(f"run {page['run_id']} ({page['year']}): {page['numberMatched']} matching, showing {page['numberReturned']}")
    for i in page["items"]:
        if i["evaluated"]:
            typer.echo(f"{GROUP_LABELS[i['size_group']]} {_fmt(i['rank']):>5}/{i['group_size'] or '—'}  {i['class_code']}  "
                       f"{_fmt(i['total_score']):>7}  {_fmt(i['land_mu'])} 亩  {i['credit_code']}  {i['name']}")
        else:
            typer.echo(f"未参评  {i['credit_code']}  {i['name']}  {i['reason']}")


@evaluate_app.command("show")
def show_cmd(
    enterprise: Annotated[str, typer.Argument(help="credit code or enterprise id")],
    year: YearOpt = None,
    run: RunOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why an enterprise got its result: inputs, benchmarks, scores, rules, policies."""
    from hggis.access.policy import operator
    from hggis.evaluation.results import explain_result
    from hggis.evaluation.service import enterprise_id_of
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            rid = _run_id(conn, run, year)
            data = explain_result(conn, operator(), rid, enterprise_id_of(conn, enterprise))
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(data)
        return
    typer.echo(f"{data['name']}（{data['credit_code']}） run {data['run_id']}, {data['year']}, model {data['model_id']}")
    typer.echo(f"用地 {_fmt(data['land_mu'], 4)} 亩（{len(data['land'])} 宗地份额）")
    if not data["evaluated"]:
        typer.echo(f"未参评：{data['reason']}")
        return
    typer.echo(f"{GROUP_LABELS[data['size_group']]}，总分 {_fmt(data['total_score'])}，"
               f"类别 {data['class_code']} {CLASS_LABELS[data['class_code']]}")
    for d in data.get("score_detail", []):
        typer.echo(
            f"  {d['label']}: {_fmt(d['value'], 4)} {d['unit']} / 基准 {_fmt(d['benchmark'], 4)} "
            f"= {_fmt(d['ratio'], 4)} → 得分 {_fmt(d['score'])}（权重 {d['weight']:g}，封顶 {d['cap']:g}倍）"
        )
    if "placement" in data:
        typer.echo("  " + data["placement"]["text"])
    for r in data["rules"]:
        typer.echo(f"  规则：{r['text']}")
    for p in data["policies"]:
        extra = f"（{p['price_delta']:+.2f} {p['price_unit']}" + (
            f"，约 {p['yearly_amount_10k_yuan']:+.2f} 万元/年）" if "yearly_amount_10k_yuan" in p else "）"
        ) if p.get("price_delta") else ""
        typer.echo(f"  政策：{p['category']}：{p['measure']}{extra}")


@evaluate_app.command("parks")
def parks_cmd(
    year: YearOpt = None,
    run: RunOpt = None,
    counties: Annotated[bool, typer.Option("--counties", help="county rows instead of parks")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Park (or county) aggregates and ranking of a run."""
    from hggis.access.policy import operator
    from hggis.evaluation.aggregates import read_aggregates
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            rows = read_aggregates(conn, operator(), _run_id(conn, run, year), "county" if counties else "park")
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(rows)
        return
    for a in rows:
        typer.echo(
            f"{_fmt(a['rank']):>3}  {a['name']:<14}  参评 {a['n_evaluated']:>4}  亩均税收 {_fmt(a['tax_per_mu'])}  "
            f"工业用地亩均税收 {_fmt(a['industrial_tax_per_mu'])}  供应率 {_fmt((a['supply_rate'] or 0) * 100, 1)}%  "
            f"建成率 {_fmt((a['built_rate'] or 0) * 100, 1)}%"
        )


@evaluate_app.command("compare")
def compare_cmd(
    year_from: Annotated[int | None, typer.Option("--from", help="earlier year")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="later year")] = None,
    run_from: Annotated[int | None, typer.Option("--run-from")] = None,
    run_to: Annotated[int | None, typer.Option("--run-to")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Class changes between two years (their latest runs), and who moved to D."""
    from hggis.access.policy import operator
    from hggis.evaluation.runs import compare_runs
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            data = compare_runs(conn, operator(), year_from, year_to, run_from, run_to)
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(data)
        return
    typer.echo(f"{data['year_from']} (run {data['run_from']}) → {data['year_to']} (run {data['run_to']}): "
               f"up {data['counts']['up']}, down {data['counts']['down']}, other changes {data['counts']['changed']}")
    cols = sorted({c for row in data["transitions"].values() for c in row})
    typer.echo("from\\to  " + "  ".join(f"{c:>4}" for c in cols))
    for frm in sorted(data["transitions"]):
        typer.echo(f"{frm:<8} " + "  ".join(f"{data['transitions'][frm].get(c, 0):>4}" for c in cols))
    typer.echo(f"moved to D: {len(data['moved_to_d'])}")
    for item in data["moved_to_d"]:
        typer.echo(f"  {item['credit_code']}  {item['name']}  {item['class_from']} → D")


@evaluate_app.command("report")
def report_cmd(
    xlsx: Annotated[Path, typer.Option("--xlsx", help="where to write the workbook")],
    year: YearOpt = None,
    run: RunOpt = None,
) -> None:
    """Write the Excel report of a run (default: the year's latest)."""
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        with engine.connect() as conn:
            rid = _run_id(conn, run, year)
        _write_report(engine, rid, xlsx)
    except _errors() as exc:
        fail(str(exc))


# ----------------------------------------------------------------------------------------
# model versions
# ----------------------------------------------------------------------------------------


@model_app.command("list")
def model_list(as_json: JsonOpt = False) -> None:
    """Model versions with their years of validity."""
    from hggis.access.policy import operator
    from hggis.evaluation.model import list_models
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        models = list_models(conn, operator())
    if as_json:
        _echo_json(models)
        return
    for m in models:
        span = f"{m['valid_from']}–{m['valid_to'] or ''}"
        typer.echo(f"{m['id']:>4}  {span:<10}  {m['name']}  ({m['created_by']}, {m['created_at'][:10]})")


@model_app.command("show")
def model_show(model_id: Annotated[int, typer.Argument()]) -> None:
    """One version with its parameters as JSON (edit and pass to `create --params`)."""
    from hggis.access.policy import operator
    from hggis.evaluation.model import get_model
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            _echo_json(get_model(conn, operator(), model_id))
    except _errors() as exc:
        fail(str(exc))


def _parse_set(items: list[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise ValueError(f"--set {item!r}: expected path=value, e.g. quotas.0.cumulative=0.3")
        try:
            changes[path] = json.loads(raw)
        except json.JSONDecodeError:
            changes[path] = raw
    return changes


@model_app.command("create")
def model_create(
    name: Annotated[str, typer.Option("--name", help="name of the new version")],
    valid_from: Annotated[int, typer.Option("--valid-from", help="first evaluation year it applies to")],
    valid_to: Annotated[int | None, typer.Option("--valid-to", help="last year (open-ended if omitted)")] = None,
    base: Annotated[int | None, typer.Option("--base", help="start from this version's parameters")] = None,
    params_file: Annotated[Path | None, typer.Option("--params", help="JSON file with all parameters")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="path=value change, repeatable")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Create a new model version (from a file, or a base version with --set changes)."""
    from hggis.access.policy import operator
    from hggis.db.session import transaction
    from hggis.evaluation.model import create_model, default_params, derive_params, get_model
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    principal = operator()
    refusals: tuple[type[BaseException], ...] = (OSError, json.JSONDecodeError, *_errors())
    try:
        if params_file is not None:
            params = json.loads(params_file.read_text(encoding="utf-8"))
        elif base is not None:
            with engine.connect() as conn:
                params = get_model(conn, principal, base)["params"]
        else:
            params = default_params().model_dump(mode="json")
        params = derive_params(params, _parse_set(set_ or []))
        with transaction(engine, principal.actor, reason or f"new evaluation model {name}") as conn:
            new_id = create_model(conn, principal, name, valid_from, params, valid_to, note)
    except refusals as exc:
        fail(str(exc))
    typer.echo(f"model {new_id} created: {name}, valid {valid_from}–{valid_to or ''}")


# ----------------------------------------------------------------------------------------
# differential policies
# ----------------------------------------------------------------------------------------


@policies_app.command("list")
def policies_list(year: YearOpt = None, as_json: JsonOpt = False) -> None:
    """Measures per class (valid in --year, or all)."""
    from hggis.access.policy import operator
    from hggis.evaluation.policies import list_policies
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        rows = list_policies(conn, operator(), year)
    if as_json:
        _echo_json(rows)
        return
    for p in rows:
        price = f"  {p['price_item']} {p['price_delta']:+.4f} {p['price_unit']}" if p["price_delta"] is not None else ""
        typer.echo(f"{p['id']:>4}  {p['class_code']}  {p['valid_from']}–{p['valid_to'] or ''}  {p['category']}：{p['measure']}{price}")


@policies_app.command("add")
def policies_add(
    class_code: Annotated[str, typer.Option("--class")],
    category: Annotated[str, typer.Option("--category", help="e.g. 用地, 电价, 信贷")],
    measure: Annotated[str, typer.Option("--measure")],
    valid_from: Annotated[int, typer.Option("--valid-from")],
    valid_to: Annotated[int | None, typer.Option("--valid-to")] = None,
    price_item: Annotated[str | None, typer.Option("--price-item", help="e.g. 差别化电价")] = None,
    price_delta: Annotated[float | None, typer.Option("--price-delta", help="+ surcharge, − discount")] = None,
    price_unit: Annotated[str | None, typer.Option("--price-unit", help="e.g. 元/千瓦时")] = None,
) -> None:
    """Add a measure for a class."""
    from hggis.access.policy import operator
    from hggis.db.session import transaction
    from hggis.evaluation.policies import add_policy
    from hggis.terminal import fail, ready_engine

    principal = operator()
    try:
        with transaction(ready_engine(), principal.actor, f"policy for class {class_code}") as conn:
            pid = add_policy(conn, principal, class_code, category, measure, valid_from, valid_to, price_item,
                             price_delta, price_unit)
    except _errors() as exc:
        fail(str(exc))
    typer.echo(f"policy {pid} added")


@policies_app.command("end")
def policies_end(
    policy_id: Annotated[int, typer.Argument()],
    last_year: Annotated[int, typer.Option("--last-year")],
) -> None:
    """End a measure after a year (it stays on record for earlier runs)."""
    from hggis.access.policy import operator
    from hggis.db.session import transaction
    from hggis.evaluation.policies import end_policy
    from hggis.terminal import fail, ready_engine

    principal = operator()
    try:
        with transaction(ready_engine(), principal.actor, f"policy {policy_id} ends {last_year}") as conn:
            end_policy(conn, principal, policy_id, last_year)
    except _errors() as exc:
        fail(str(exc))
    typer.echo(f"policy {policy_id} ends after {last_year}")


# ----------------------------------------------------------------------------------------
# stages of a year: land publication, corrections, 公示, objections, final
# ----------------------------------------------------------------------------------------


def _stage_call(fn: Any, *args: Any) -> Any:
    """Run a publication step as the terminal operator; one-line refusal on error."""
    from hggis.access.policy import operator
    from hggis.terminal import fail, ready_engine

    try:
        return fn(ready_engine(), operator(), *args)
    except _refusals() as exc:
        fail(str(exc))


def _principal_for(user: str | None) -> Any:
    """The operator, or a named user's role and scope (so a park manager's objection is theirs)."""
    from hggis.access.policy import operator

    if user is None:
        return operator()
    from hggis.access.users import principal_of_username
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        return principal_of_username(conn, user)


@evaluate_app.command("publish-land")
def publish_land_cmd(
    year: Annotated[int, typer.Option("--year", help="evaluation year")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish every listed firm's land area and figures for checking (before scoring)."""
    from hggis.evaluation.publication import publish_land

    out = _stage_call(publish_land, year, reason)
    if as_json:
        _echo_json(out)
    else:
        typer.echo(f"land list {out['id']}: {out['n_items']} firms, {out['total_land_mu']:,.2f} 亩 published for {year}")


@evaluate_app.command("land-list")
def land_list_cmd(
    year: Annotated[int, typer.Option("--year")],
    park: Annotated[int | None, typer.Option("--park", help="one park's firms")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="write the Chinese XLSX here")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The newest land list of a year (print, or --xlsx for the park's export)."""
    from hggis.access.policy import operator
    from hggis.evaluation.publication import land_list, land_list_workbook
    from hggis.terminal import fail, ready_engine

    try:
        with ready_engine().connect() as conn:
            if xlsx is not None:
                xlsx.write_bytes(land_list_workbook(conn, operator(), year, park))
                typer.echo(f"land list written: {xlsx}")
                return
            data = land_list(conn, operator(), year, park)
    except _refusals() as exc:
        fail(str(exc))
    if as_json:
        _echo_json(data)
        return
    typer.echo(f"land list {data['id']} ({year}), published {data['published_at'][:19]} by {data['published_by']}")
    for i in data["items"]:
        typer.echo(f"{i['result_list'] or '—':<7} {i['credit_code']}  {i['own_land_mu']:>10.4f} 亩  {i['name']}")
    for c in data["corrections"]:
        typer.echo(f"correction #{c['id']} {c['status']}: {c['name']} {c['statement']}")


@evaluate_app.command("correction")
def correction_cmd(
    enterprise: Annotated[str, typer.Argument(help="credit code or enterprise id")],
    year: Annotated[int, typer.Option("--year")],
    statement: Annotated[str, typer.Option("--statement", help="which parcel, what area, on what evidence")],
    claimed: Annotated[float | None, typer.Option("--claimed-mu", help="the area the firm claims (亩)")] = None,
    user: Annotated[str | None, typer.Option("--as", help="record as this user (their scope applies)")] = None,
) -> None:
    """Record a request to correct a published land area."""
    from hggis.evaluation.publication import record_correction
    from hggis.evaluation.service import enterprise_id_of
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        with engine.connect() as conn:
            eid = enterprise_id_of(conn, enterprise)
        out = record_correction(engine, _principal_for(user), year, eid, statement, claimed)
    except _refusals() as exc:
        fail(str(exc))
    typer.echo(f"correction #{out['id']} recorded for {out['name']}")


def _decision(value: str, allowed: tuple[str, ...]) -> str:
    from hggis.terminal import fail

    if value not in allowed:
        fail(f"--decision {value!r}: one of {', '.join(allowed)}")
    return value


@evaluate_app.command("correction-answer")
def correction_answer_cmd(
    correction_id: Annotated[int, typer.Argument()],
    decision: Annotated[str, typer.Option("--decision", help="accepted or rejected")],
    answer: Annotated[str, typer.Option("--answer", help="the reply (what was corrected, or why not)")],
) -> None:
    """Answer a land-area correction request."""
    from hggis.evaluation.publication import answer_correction

    accepted = _decision(decision, ("accepted", "rejected")) == "accepted"
    out = _stage_call(answer_correction, correction_id, accepted, answer)
    typer.echo(f"correction #{out['id']}: {out['status']}")


@evaluate_app.command("notice")
def notice_cmd(
    run: Annotated[int, typer.Option("--run", help="the year's current run")],
    starts_on: Annotated[str | None, typer.Option("--starts-on", help="first day (YYYY-MM-DD, default today)")] = None,
    days: Annotated[int | None, typer.Option("--days", help="length (default HGGIS_EVALUATION_NOTICE_DAYS)")] = None,
) -> None:
    """Put a run's results on 公示."""
    import datetime as dt

    from hggis.evaluation.publication import open_notice
    from hggis.terminal import fail

    try:
        first = dt.date.fromisoformat(starts_on) if starts_on else None
    except ValueError:
        fail(f"--starts-on {starts_on!r}: a date YYYY-MM-DD")
    out = _stage_call(open_notice, run, first, days)
    typer.echo(f"{out['year']} results (run {out['run_id']}) on notice {out['starts_on']} – {out['ends_on']}")


@evaluate_app.command("objection")
def objection_cmd(
    enterprise: Annotated[str, typer.Argument(help="credit code or enterprise id")],
    year: Annotated[int, typer.Option("--year")],
    statement: Annotated[str, typer.Option("--statement")],
    channel: Annotated[str, typer.Option("--channel", help="firm (a firm's written objection) or park")] = "firm",
    subject: Annotated[str, typer.Option("--subject", help="land, figures, classification or other")] = "other",
    received_on: Annotated[str | None, typer.Option("--received-on", help="date the letter was received")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="the firm's contact person")] = None,
    user: Annotated[str | None, typer.Option("--as", help="lodge as this user (their role and scope apply)")] = None,
) -> None:
    """Lodge an objection during the 公示 period (refused outside it, with the dates)."""
    import datetime as dt

    from hggis.evaluation.publication import lodge_objection
    from hggis.evaluation.service import enterprise_id_of
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        day = dt.date.fromisoformat(received_on) if received_on else None
        with engine.connect() as conn:
            eid = enterprise_id_of(conn, enterprise)
        out = lodge_objection(engine, _principal_for(user), year, eid, channel, subject, statement, day, contact)
    except _refusals() as exc:
        fail(str(exc))
    typer.echo(f"objection #{out['id']} lodged for {out['name']} (run {out['run_id']})")


@evaluate_app.command("objection-answer")
def objection_answer_cmd(
    objection_id: Annotated[int, typer.Argument()],
    decision: Annotated[str, typer.Option("--decision", help="upheld or rejected")],
    answer: Annotated[str, typer.Option("--answer", help="the reason")],
) -> None:
    """Answer an objection; an upheld one is corrected through the figure/land imports and re-run."""
    from hggis.evaluation.publication import answer_objection

    upheld = _decision(decision, ("upheld", "rejected")) == "upheld"
    out = _stage_call(answer_objection, objection_id, upheld, answer)
    typer.echo(f"objection #{out['id']}: {out['status']}")


@evaluate_app.command("final")
def final_cmd(year: Annotated[int, typer.Option("--year")]) -> None:
    """Make the year's results final (refused, naming what is open, before the period ends)."""
    from hggis.evaluation.publication import finalise

    out = _stage_call(finalise, year)
    typer.echo(f"{out['year']} results final: run {out['run_id']}")


@evaluate_app.command("status")
def status_cmd(year: Annotated[int, typer.Option("--year")], as_json: JsonOpt = False) -> None:
    """Where a year stands: land list, corrections, run, 公示, objections, what blocks final."""
    from hggis.access.policy import operator
    from hggis.evaluation.publication import year_status
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        data = year_status(conn, operator(), year)
    if as_json:
        _echo_json(data)
        return
    typer.echo(f"{year}: stage {data['stage']}, current run {data['current_run_id'] or '—'}")
    if data["notice"]:
        n = data["notice"]
        typer.echo(f"notice {n['starts_on']} – {n['ends_on']} on run {n['run_id']} ({n['status']})")
    for o in data["objections"]:
        typer.echo(f"objection #{o['id']} {o['status']}: {o['name']} {o['statement']}")
    for p in data["blocking_final"]:
        typer.echo(f"open: {p}")
