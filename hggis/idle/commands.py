"""``hggis idle …``: scans, cases, flags and deadlines at the terminal (acting as the operator)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from hggis import clock

idle_app = typer.Typer(no_args_is_help=True, help="闲置和低效用地：扫描、案件、园区标记、期限（国土资源部令第53号）。")
cases_app = typer.Typer(no_args_is_help=True, help="闲置土地案件：立案、调查通知书、认定书、公开、处置、收回、储备、重新出让。")
flags_app = typer.Typer(no_args_is_help=True, help="园区标记的疑似闲置地块：标记、确认立案、驳回。")
idle_app.add_typer(cases_app, name="cases")
idle_app.add_typer(flags_app, name="flags")

T = TypeVar("T")
DateOpt = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="date (YYYY-MM-DD), default today")]
DateParam = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")]


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value is not None else clock.today()


def _errors() -> tuple[type[Exception], ...]:
    """Library refusals (dates, JSON) that are not hggis's own; hggis's own rise to the CLI's one map."""
    return (LookupError, ValueError)


def _run(work: Callable[[], T]) -> T:
    from hggis.errors import HggisError
    from hggis.terminal import fail

    try:
        return work()
    except HggisError:
        raise
    except _errors() as exc:
        fail(str(exc).splitlines()[0])
        raise  # unreachable: fail exits


@contextmanager
def _write(reason: str) -> Iterator[tuple[Any, Any]]:
    from hggis.access.policy import operator
    from hggis.db.session import transaction
    from hggis.terminal import ready_engine

    op = operator()
    with transaction(ready_engine(), op.actor, reason) as conn:
        yield conn, op


@contextmanager
def _read() -> Iterator[tuple[Any, Any]]:
    from hggis.access.policy import operator
    from hggis.terminal import ready_engine

    with ready_engine().connect() as conn:
        yield conn, operator()


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _table(rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    if not rows:
        typer.echo("（无）")
        return
    typer.echo("\t".join(columns.values()))
    for row in rows:
        typer.echo("\t".join(_show(row.get(k)) for k in columns))


@idle_app.command("scan")
def scan(
    as_of: Annotated[dt.datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="scan date (YYYY-MM-DD)")],
    rule: Annotated[str | None, typer.Option(help="list only this rule's candidates")] = None,
    county: Annotated[str | None, typer.Option(help="list only this county (adcode)")] = None,
    limit: Annotated[int, typer.Option(help="candidates to print (0: summary only)")] = 50,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="write every listed candidate to this CSV")] = None,
) -> None:
    """Scan every contracted parcel as of a date; store and print the candidates."""
    from hggis.idle.scan import run_scan, scan_results

    def work() -> None:
        with _write(f"闲置土地扫描（截至 {as_of.date()}）") as (conn, op):
            summary = run_scan(conn, op, as_of.date())
            _print_summary(summary)
            filters = {"rule_code": rule, "adcode": county}
            result = scan_results(conn, op, summary["id"], filters, limit=max(limit, 1) if not csv_path else 1_000_000)
        if limit:
            typer.echo("")
            _table(result["items"][:limit], SCAN_COLUMNS)
        if csv_path:
            _write_csv(csv_path, result["items"], SCAN_COLUMNS | {"legal_basis": "法律依据"})
            typer.echo(f"wrote {len(result['items'])} rows to {csv_path}")

    _run(work)


SCAN_COLUMNS = {
    "parcel_code": "宗地代码", "county": "县（市、区）", "park": "园区", "holder": "使用权人", "rule_name": "规则",
    "since_date": "闲置/触发起始日", "days": "天数", "fee_amount": "土地闲置费（万元）",
    "threshold_date": "满两年之日", "next_deadline": "下一法定期限", "case_state": "案件状态",
}


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns.values())
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k in columns])


def _print_summary(summary: dict[str, Any]) -> None:
    typer.echo(
        f"scan #{summary['id']} as of {summary['as_of']} ({summary['rule_set']}): "
        f"{summary['parcels_scanned']} parcels with a contract, {summary['candidates']} candidates, "
        f"{summary['parcels_without_start']} without an agreed start date, {summary['seconds']} s"
    )
    typer.echo(f"per-mu evaluation: {summary['evaluation_source']}")
    for r in summary["by_rule"]:
        fee = f"，闲置费合计 {r['fee_total']:,.2f} 万元" if r["fee_total"] else ""
        typer.echo(f"  {r['code']:<24} {r['parcels']:>7}  {r['name_zh']}{fee}")


@idle_app.command("scans")
def scans() -> None:
    """List the stored scans, newest first."""
    from hggis.idle.scan import list_scans

    with _read() as (conn, op):
        rows = list_scans(conn, op)
    _table(rows, {"id": "扫描", "as_of": "截至", "candidates": "疑似地块", "parcels_scanned": "扫描宗地", "actor": "操作人"})


@idle_app.command("diff")
def diff(older: int, newer: int) -> None:
    """Parcels whose fired rules changed between two scans."""
    from hggis.idle.scan import diff_scans

    def work() -> None:
        with _read() as (conn, op):
            rows = diff_scans(conn, op, older, newer)
        for r in rows:
            typer.echo(f"{r['change']:<8} {r['parcel_code']}  {','.join(r['rules_before']) or '—'} -> "
                       f"{','.join(r['rules_after']) or '—'}")
        typer.echo(f"{len(rows)} parcel(s) changed")

    _run(work)


@idle_app.command("rules")
def rules(as_of: DateOpt = None) -> None:
    """The rule set in force on a date: parameters, rules with legal basis, reason codes."""
    from hggis.idle.rules import banned_industries, delay_reasons, rule_catalogue, rule_set_in_force

    def work() -> None:
        with _read() as (conn, _op):
            rs = rule_set_in_force(conn, _day(as_of))
            typer.echo(f"{rs.name} (since {rs.effective_from})")
            for key, value in rs.as_dict().items():
                if key not in ("id", "name", "effective_from"):
                    typer.echo(f"  {key} = {value}")
            for r in rule_catalogue(conn, rs.id):
                typer.echo(f"\n[{r['code']}] {r['name_zh']}{'' if r['enabled'] else '（停用）'}\n  依据：{r['legal_basis']}")
            typer.echo("\n政府原因与不可抗力：")
            for d in delay_reasons(conn):
                typer.echo(f"  {d['code']:<20} {d['name_zh']}（{d['legal_basis']}）")
            typer.echo("\n禁止/淘汰类产业：")
            for b in banned_industries(conn, rs.id):
                typer.echo(f"  {b['gbt4754_prefix']:<6} {b['name_zh']} [{b['category']}]")

    _run(work)


@cases_app.command("list")
def cases_list(
    state: Annotated[str | None, typer.Option(help="only this state")] = None,
    county: Annotated[str | None, typer.Option(help="county adcode")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only open cases")] = False,
) -> None:
    """List cases."""
    from hggis.idle.cases import list_cases

    def work() -> None:
        with _read() as (conn, op):
            result = list_cases(conn, op, {"state": state, "adcode": county}, open_only=open_only, limit=10_000)
        _table(result["items"], {"id": "案件", "parcel_code": "宗地代码", "county": "县（市、区）", "holder": "使用权人",
                                 "state_label": "状态", "basis_label": "性质", "opened_on": "立案", "due_on": "期限"})

    _run(work)


@cases_app.command("show")
def cases_show(case_id: int, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One case with its complete history."""
    from hggis.idle.cases import get_case

    def work() -> None:
        with _read() as (conn, op):
            case = get_case(conn, op, case_id)
        if as_json:
            typer.echo(json.dumps(case, ensure_ascii=False, default=str, indent=2))
            return
        typer.echo(f"案件 #{case['id']} 宗地 {case['parcel_code']}（{case['county']} {case['park'] or ''}）"
                   f" {case['state_label']}；{case['basis_label']}")
        for e in case["events"]:
            docs = "；".join(f"{d['kind']} {d['number']}" for d in e["documents"])
            typer.echo(f"  {e['seq']:>2}. {e['event_date']}  {e['action_label']}  {e['actor']}  {e['reason']}"
                       + (f"  [{docs}]" if docs else ""))

    _run(work)


@cases_app.command("open")
def cases_open(
    parcel: str,
    reason: Annotated[str, typer.Option(help="why the land is suspected idle")],
    on: DateOpt = None,
    kind: Annotated[str, typer.Option(help="idle | low_efficiency")] = "idle",
    rule: Annotated[str | None, typer.Option(help="the rule that fired")] = None,
) -> None:
    """Open a case on a parcel (疑似闲置)."""
    from hggis.idle.cases import open_case

    def work() -> None:
        with _write(reason) as (conn, op):
            case_id = open_case(conn, op, parcel, _day(on), reason, kind=kind, rule_code=rule)
        typer.echo(f"case #{case_id} opened")

    _run(work)


@cases_app.command("from-scan")
def cases_from_scan(
    scan_id: int,
    reason: Annotated[str, typer.Option()],
    on: DateOpt = None,
    rule: Annotated[list[str] | None, typer.Option(help="only these rules (repeatable)")] = None,
) -> None:
    """Open a case for every idle candidate of a scan that has none."""
    from hggis.idle.cases import open_cases_from_scan

    def work() -> None:
        with _write(reason) as (conn, op):
            ids = open_cases_from_scan(conn, op, scan_id, _day(on), reason, rule)
        typer.echo(f"{len(ids)} case(s) opened")

    _run(work)


def _documents(values: list[str] | None) -> list[Any]:
    from hggis.idle.cases import CaseError, Document

    docs = []
    for value in values or []:
        parts = value.split(":")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise CaseError(f"--doc {value!r}: expected 种类:文号[:YYYY-MM-DD]")
        date = dt.date.fromisoformat(parts[2]) if len(parts) > 2 and parts[2] else None
        docs.append(Document(kind=parts[0], number=parts[1], date=date))
    return docs


def _indicators(values: list[str] | None) -> dict[str, str]:
    from hggis.idle.cases import CaseError

    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep:
            raise CaseError(f"--indicator {value!r}: expected name=value")
        out[key.strip()] = val.strip()
    return out


@cases_app.command("step")
def cases_step(
    case_id: int,
    action: Annotated[str, typer.Argument(help="issue_notice | issue_finding | publish | decide_disposal | "
                                               "record_recovery | to_reserve | reoffer | close | close_not_idle")],
    reason: Annotated[str, typer.Option()],
    on: DateOpt = None,
    doc: Annotated[list[str] | None, typer.Option(help="document 种类:文号[:日期] (repeatable)")] = None,
    kind: Annotated[str | None, typer.Option(help="disposal kind for decide_disposal")] = None,
    new_start: DateParam = None,
    new_completion: DateParam = None,
    temporary_until: DateParam = None,
    idle_since: DateParam = None,
    swap_parcel: Annotated[str | None, typer.Option(help="replacement parcel code (land_swap)")] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="control indicator name=value (reoffer)")] = None,
    industry: Annotated[str | None, typer.Option(help="intended industry code (reoffer)")] = None,
) -> None:
    """Apply one step of the procedure to a case."""
    from hggis.idle.cases import transition

    params: dict[str, Any] = {
        "kind": kind,
        "new_start_date": new_start.date() if new_start else None,
        "new_completion_date": new_completion.date() if new_completion else None,
        "temporary_use_until": temporary_until.date() if temporary_until else None,
        "idle_since": idle_since.date() if idle_since else None,
        "swap_parcel_code": swap_parcel,
        "intended_industry": industry,
    }

    def work() -> None:
        extra = {k: v for k, v in params.items() if v is not None}
        if indicator:
            extra["indicators"] = _indicators(indicator)
        with _write(reason) as (conn, op):
            case = transition(conn, op, case_id, action, _day(on), reason, _documents(doc), **extra)
        typer.echo(f"case #{case_id}: {case['state_label']}")

    _run(work)


@cases_app.command("cause")
def cases_cause(
    parcel: str,
    code: Annotated[str, typer.Argument(help="reason code (see `hggis idle rules`)")],
    reason: Annotated[str, typer.Option()],
    on: DateOpt = None,
    evidence: Annotated[str | None, typer.Option(help="evidence document reference")] = None,
) -> None:
    """Record a verified government cause or force majeure (第八条) for a parcel."""
    from hggis.idle.cases import record_cause

    def work() -> None:
        with _write(reason) as (conn, op):
            record_cause(conn, op, parcel, code, _day(on), reason, evidence)
        typer.echo(f"cause {code} recorded for {parcel}")

    _run(work)


@cases_app.command("extend")
def cases_extend(
    parcel: str,
    agreement: Annotated[str, typer.Option(help="supplementary agreement number")],
    new_start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"])],
    reason: Annotated[str, typer.Option()],
    signed: DateOpt = None,
    kind: Annotated[str, typer.Option(help="extension | change_of_use | temporary_use")] = "extension",
) -> None:
    """Record a supplementary agreement with a new start date (the idle clock restarts)."""
    from hggis.idle.cases import record_extension

    def work() -> None:
        with _write(reason) as (conn, op):
            record_extension(conn, op, parcel, agreement, _day(signed), new_start.date(), reason, kind)
        typer.echo(f"agreement {agreement} recorded: {parcel} starts again on {new_start.date()}")

    _run(work)


@flags_app.command("list")
def flags_list(status: Annotated[str | None, typer.Option(help="open | confirmed | dismissed")] = None) -> None:
    """List flags."""
    from hggis.idle.flags import list_flags

    def work() -> None:
        with _read() as (conn, op):
            result = list_flags(conn, op, {"status": status}, limit=10_000)
        _table(result["items"], {"id": "标记", "parcel_code": "宗地代码", "park": "园区", "flagged_on": "日期",
                                 "flagged_by": "标记人", "status_label": "状态", "note": "说明", "case_id": "案件"})

    _run(work)


@flags_app.command("add")
def flags_add(
    parcel: str,
    note: Annotated[str, typer.Option()],
    doc: Annotated[str | None, typer.Option(help="photo or document reference")] = None,
) -> None:
    """Flag a plot as possibly idle."""
    from hggis.idle.flags import flag_parcel

    def work() -> None:
        with _write(note) as (conn, op):
            flag_id = flag_parcel(conn, op, parcel, note, doc)
        typer.echo(f"flag #{flag_id} recorded")

    _run(work)


@flags_app.command("confirm")
def flags_confirm(flag_id: int, reason: Annotated[str, typer.Option()], on: DateOpt = None) -> None:
    """Confirm a flag: opens a case."""
    from hggis.idle.flags import confirm_flag

    def work() -> None:
        with _write(reason) as (conn, op):
            case_id = confirm_flag(conn, op, flag_id, reason, _day(on))
        typer.echo(f"flag #{flag_id} confirmed: case #{case_id}")

    _run(work)


@flags_app.command("dismiss")
def flags_dismiss(flag_id: int, reason: Annotated[str, typer.Option()], on: DateOpt = None) -> None:
    """Dismiss a flag with a reason."""
    from hggis.idle.flags import dismiss_flag

    def work() -> None:
        with _write(reason) as (conn, op):
            dismiss_flag(conn, op, flag_id, reason, _day(on))
        typer.echo(f"flag #{flag_id} dismissed")

    _run(work)


@idle_app.command("deadlines")
def deadlines_cmd(
    as_of: Annotated[dt.datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"])] = None,
    days: Annotated[int | None, typer.Option(help="look-ahead window in days (default from the rules: 90)")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="also write CSV here")] = None,
    xlsx_path: Annotated[Path | None, typer.Option("--xlsx", help="also write XLSX here")] = None,
) -> None:
    """Overdue investigations, thresholds in the next 90 days, cases and flags waiting on the officer."""
    from hggis.idle.deadlines import COLUMNS, deadlines, to_csv, to_xlsx

    day = _day(as_of)

    def work() -> None:
        with _read() as (conn, op):
            rows = deadlines(conn, op, day, days)
        _table(rows, COLUMNS)
        if csv_path:
            csv_path.write_text(to_csv(rows), encoding="utf-8")
            typer.echo(f"wrote {csv_path}")
        if xlsx_path:
            xlsx_path.write_bytes(to_xlsx(rows, day))
            typer.echo(f"wrote {xlsx_path}")

    _run(work)


@idle_app.command("public")
def public(county: Annotated[str | None, typer.Option(help="county adcode")] = None) -> None:
    """The public listing of confirmed idle land (location, holder, idle since)."""
    from hggis.access.policy import PUBLIC
    from hggis.idle.listing import public_listing

    with _read() as (conn, _op):
        rows = public_listing(conn, PUBLIC, county)
    for r in rows:
        loc = r["location"]
        typer.echo(f"{loc['county']} {loc['park'] or ''} {loc['parcel_code']} ({loc['lon']}, {loc['lat']})  "
                   f"{r['holder_name'] or '—'}  闲置起始 {r['idle_since']}")
