"""``hggis reserves …``, ``hggis sites find``, ``hggis constraints …``: thin calls into hggis.reserves.

The CLI acts as the operator (``operator()``: city administrator, named in history as
``cli:<os user>``). Errors are one line on stderr and exit code 1.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

reserves_app = typer.Typer(no_args_is_help=True, help="标准地储备：台账、控制指标、目标与设置。")
sites_app = typer.Typer(no_args_is_help=True, help="选址：按面积、坡度、参考位置查找连片可用地。")
constraints_app = typer.Typer(no_args_is_help=True, help="约束层与参考层：导入、列表、替换、停用。")


def _date(value: str | None, name: str) -> dt.date | None:
    from hggis.terminal import fail

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--{name}: {value!r} is not a date (YYYY-MM-DD)")
    return None


def _run(fn: Any, *, write: str | None = None) -> Any:
    """Call ``fn(conn)`` on a read connection or, with ``write`` (the reason), in a transaction."""
    from hggis.access.policy import Forbidden, operator
    from hggis.db.session import transaction
    from hggis.reserves.common import InvalidRequest, NotFound
    from hggis.reserves.constraints import LayerReadError
    from hggis.terminal import fail, ready_engine

    engine = ready_engine()
    try:
        if write is None:
            with engine.connect() as conn:
                return fn(conn, operator())
        who = operator()
        with transaction(engine, who.actor, write) as conn:
            return fn(conn, who)
    except (InvalidRequest, NotFound, Forbidden, LayerReadError, LookupError) as exc:
        fail(str(exc))


# ---------------------------------------------------------------------------------------
# hggis reserves
# ---------------------------------------------------------------------------------------


@reserves_app.command("report")
def report(
    as_of: Annotated[str | None, typer.Option("--as-of", help="ledger at the end of this day (YYYY-MM-DD), from history")] = None,
    since: Annotated[str | None, typer.Option("--since", help="show the change since this day")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="also write the ledger as a Chinese Excel workbook")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The county reserve ledger against the 500–1000 亩 target (储备台账)."""
    from hggis.reserves.excel import write_ledger_xlsx
    from hggis.reserves.ledger import reserve_ledger

    a, s = _date(as_of, "as-of"), _date(since, "since")
    ledger = _run(lambda conn, who: reserve_ledger(conn, who, as_of=a, since=s))
    if as_json:
        typer.echo(json.dumps(ledger.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_ledger(ledger)
    if xlsx is not None:
        write_ledger_xlsx(ledger, xlsx)
        typer.echo(f"Excel: {xlsx}")


def _pad(value: str, width: int, right: bool = False) -> str:
    """Pad to a display width (a Chinese character takes two columns in a terminal)."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)
    fill = " " * max(0, width - shown)
    return fill + value if right else value + fill


def _print_ledger(ledger: Any) -> None:
    head = f"标准地储备台账 截至 {ledger.as_of}" + (f"（与 {ledger.since} 比较）" if ledger.since else "")
    typer.echo(head)
    widths = [(7, False), (14, False), (10, True), (6, True), (10, True), (14, True), (12, True), (16, True)]
    headers = ["代码", "名称", "储备(亩)", "宗数", "挂牌(亩)", "最大连片(亩)", "目标", "状态"]
    if ledger.since:
        widths.append((11, True))
        headers.append("变化(亩)")
    typer.echo(" ".join(_pad(h, w, r) for h, (w, r) in zip(headers, widths, strict=True)))
    for r in [*ledger.rows, ledger.total]:
        target = f"{r.target_min_mu:g}–{r.target_max_mu:g}" if r.target_min_mu is not None else "—"
        cells = [r.adcode, r.name, f"{r.reserve_mu:.1f}", str(r.reserve_parcels), f"{r.on_offer_mu:.1f}",
                 f"{r.largest_block_mu:.1f}", target, r.status_label]
        if ledger.since:
            cells.append(f"{r.change_mu:+.1f}")
        typer.echo(" ".join(_pad(c, w, right) for c, (w, right) in zip(cells, widths, strict=True)))


@reserves_app.command("indicators")
def indicators(
    code: Annotated[str, typer.Argument(help="parcel code (宗地代码)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE, e.g. far_min=1.2 (repeatable)")] = None,
    gbt: Annotated[str | None, typer.Option("--gbt", help="GB/T 4754-2017 class the indicators are for, e.g. 2720")] = None,
    defaults: Annotated[bool, typer.Option("--defaults", help="fill unset indicators with the proposed defaults")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="why (required when changing)")] = None,
) -> None:
    """Show a parcel's control indicators and flags, or set them (--set / --defaults)."""
    from hggis.reserves.indicators import parcel_indicators, set_indicators
    from hggis.terminal import fail

    values: dict[str, str] = {}
    for item in set_ or []:
        field, sep, value = item.partition("=")
        if not sep:
            fail(f"--set {item!r}: expected FIELD=VALUE")
        values[field.strip()] = value.strip()
    if values or defaults or gbt:
        if not reason:
            fail("--reason is required when changing indicators")
        data = _run(lambda conn, who: set_indicators(conn, who, code, values, gbt4754_code=gbt, fill_defaults=defaults), write=reason)
    else:
        data = _run(lambda conn, who: parcel_indicators(conn, who, code))
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@reserves_app.command("flags")
def flags(
    county: Annotated[str | None, typer.Option("--county", help="adcode, e.g. 421181")] = None,
    all_: Annotated[bool, typer.Option("--all", help="list unflagged parcels too")] = False,
) -> None:
    """Reserve and on-offer parcels whose indicators are missing or below national minimums."""
    from hggis.reserves.indicators import indicator_flags

    rows = _run(lambda conn, who: indicator_flags(conn, who, adcode=county, flagged_only=not all_))
    for r in rows:
        msgs = "；".join(f["message"] for f in r["flags"]) or "无"
        typer.echo(f"{r['code']}  {r['status']:<9} {r['area_mu']:>8.1f} 亩  {msgs}")
    typer.echo(f"{len(rows)} parcel(s)")


@reserves_app.command("propose")
def propose(
    industry: Annotated[str | None, typer.Option("--industry", help="plan industry code, e.g. pharma_chem")] = None,
    gbt: Annotated[str | None, typer.Option("--gbt", help="GB/T 4754-2017 code, e.g. 2720")] = None,
) -> None:
    """Proposed default indicators for an industry / GB/T class, with their sources."""
    from hggis.reserves.indicators import propose_indicators

    data = _run(lambda conn, who: propose_indicators(conn, industry, gbt))
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@reserves_app.command("setting")
def setting(
    key: Annotated[str, typer.Argument(help="national_norms_edition, adjacency_tolerance_m, site_finder, …")],
    value: Annotated[str | None, typer.Argument(help="new value as JSON (omit to show)")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Show or change a reserves setting (e.g. `hggis reserves setting national_norms_edition '"2023"'`)."""
    from hggis.reserves.common import get_setting, set_setting
    from hggis.terminal import fail

    if value is None:
        typer.echo(json.dumps(_run(lambda conn, who: get_setting(conn, key)), ensure_ascii=False, indent=2))
        return
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if not reason:
        fail("--reason is required when changing a setting")
    _run(lambda conn, who: set_setting(conn, who, key, parsed), write=reason)
    typer.echo(f"{key} = {json.dumps(parsed, ensure_ascii=False)}")


@reserves_app.command("target")
def target(
    min_mu: Annotated[float, typer.Option("--min", help="minimum reserve (亩)")],
    max_mu: Annotated[float, typer.Option("--max", help="maximum reserve (亩)")],
    valid_from: Annotated[str, typer.Option("--from", help="valid from (YYYY-MM-DD)")],
    edition: Annotated[str, typer.Option("--edition", help="name of the rule, e.g. 2026–2028 规划")],
    county: Annotated[str | None, typer.Option("--county", help="only this county (default: every county)")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "储备目标调整",
) -> None:
    """Add a reserve target valid from a date (the old one stays for earlier dates)."""
    from hggis.reserves.targets import add_target

    start = _date(valid_from, "from")
    assert start is not None  # --from is a required option
    tid = _run(lambda conn, who: add_target(conn, who, min_mu, max_mu, start, edition, county), write=reason)
    typer.echo(f"target {tid}: {min_mu:g}–{max_mu:g} 亩 from {start} ({county or '全部县（市、区）'})")


@reserves_app.command("targets")
def targets() -> None:
    """List the reserve targets (dated rules; a county's own row overrides the city-wide one)."""
    from hggis.reserves.targets import list_targets

    for t in _run(lambda conn, who: list_targets(conn)):
        typer.echo(f"{t['id']:>4}  {t['valid_from']}  {t['adcode'] or '全部'}  {float(t['min_mu']):g}–{float(t['max_mu']):g} 亩  "
                   f"{t['edition']}")


# ---------------------------------------------------------------------------------------
# hggis sites find
# ---------------------------------------------------------------------------------------


def _lonlat(value: str) -> tuple[float, float]:
    from hggis.terminal import fail

    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError:
        fail(f"--near {value!r}: expected LON,LAT (e.g. 114.88,30.45)")
    return lon, lat


@sites_app.command("find")
def find(
    min_mu: Annotated[float, typer.Option("--min", help="minimum area (亩)")],
    max_mu: Annotated[float, typer.Option("--max", help="maximum area (亩)")],
    county: Annotated[str | None, typer.Option("--county", help="adcode, e.g. 421181")] = None,
    park: Annotated[int | None, typer.Option("--park", help="park id")] = None,
    industry: Annotated[str | None, typer.Option("--industry", help="plan industry code, e.g. equipment")] = None,
    max_slope: Annotated[float | None, typer.Option("--max-slope", help="maximum mean slope (degrees)")] = None,
    near: Annotated[str | None, typer.Option("--near", help="reference point LON,LAT")] = None,
    near_park: Annotated[int | None, typer.Option("--near-park", help="reference: a park's centre")] = None,
    near_layer: Annotated[int | None, typer.Option("--near-layer", help="reference: nearest feature of a layer")] = None,
    limit: Annotated[int, typer.Option("--limit", help="how many results")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (with geometries)")] = False,
) -> None:
    """Find contiguous candidate sites and rank them (面积契合、坡度、距离)."""
    from hggis.reserves.sites import SiteQuery, find_sites

    q = SiteQuery(
        min_mu=min_mu, max_mu=max_mu, adcode=county, park_id=park, industry=industry, max_slope_deg=max_slope,
        near=_lonlat(near) if near else None, near_park=near_park, near_layer=near_layer, limit=limit,
    )
    result = _run(lambda conn, who: find_sites(conn, who, q))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    st = result["stats"]
    typer.echo(
        f"{st['candidates']} candidate site(s) from {st['blocks']} block(s) "
        f"({st['blocks_below_min']} too small, {st['blocks_above_max']} too large → {st['sub_sites']} sub-sites); "
        f"{result['visibility']}; {st['elapsed_ms']} ms"
    )
    for r in result["results"]:
        slope = "—" if r["mean_slope_deg"] is None else f"{r['mean_slope_deg']:.1f}°/{r['max_slope_deg']:.1f}°"
        dist = "" if r["distance_m"] is None else f"  {r['distance_m'] / 1000:.2f} km"
        typer.echo(
            f"#{r['site_rank']:<3}{r['site_score']:.3f}  {r['county']}  {r['area_mu']:.1f} 亩  {r['parcel_count']} 宗  坡度 {slope}{dist}"
        )
        typer.echo(f"     {', '.join(r['parcels'])}")
        typer.echo(f"     {r['explanation']}")
    for t in result["too_large"]:
        typer.echo(f"过大连片: {t['adcode']} {t['area_mu']:.1f} 亩 ({len(t['parcels'])} 宗) — {t['reason']}")


# ---------------------------------------------------------------------------------------
# hggis constraints
# ---------------------------------------------------------------------------------------


@constraints_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="Shapefile / GeoPackage / GeoJSON / CSV+WKT, any CRS")],
    name: Annotated[str, typer.Option("--name", help="layer name; an active layer of this name is replaced")],
    kind: Annotated[str, typer.Option("--kind", help="永久基本农田 / 生态保护红线 / 洪涝区 / 道路 / 港口 / 河流 / 其他")],
    role: Annotated[str | None, typer.Option("--role", help="constraint (cut out of sites) or reference (distance)")] = None,
    county: Annotated[str | None, typer.Option("--county", help="the county the layer belongs to (default: city-wide)")] = None,
    layer: Annotated[str | None, typer.Option("--layer", help="layer inside a GeoPackage")] = None,
    crs: Annotated[str | None, typer.Option("--crs", help="override the file's CRS, e.g. EPSG:4547")] = None,
    source_datum: Annotated[str | None, typer.Option("--source-datum", help="gcj02 for data taken from AMap")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="attribute encoding (gbk, utf-8)")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "导入约束层",
) -> None:
    """Import a layer, or replace the active layer of the same name (the old version is kept)."""
    from hggis.reserves.constraints import import_layer

    result = _run(
        lambda conn, who: import_layer(
            conn, who, path, name=name, kind=kind, role=role, adcode=county, layer=layer, crs=crs,
            source_datum=source_datum, encoding=encoding,
        ),
        write=reason,
    )
    replaced = f", replaces layer {result.replaced_layer_id}" if result.replaced_layer_id else ""
    typer.echo(f"layer {result.layer_id} {result.name} v{result.version} ({result.kind}, {result.role}): "
               f"{result.features} feature(s) from {result.source_crs}{replaced}")
    for what, n in result.skipped.items():
        typer.echo(f"  skipped {n}: {what}")
    for note in result.notes:
        typer.echo(f"  note: {note}")


@constraints_app.command("list")
def list_cmd(
    all_: Annotated[bool, typer.Option("--all", help="include inactive (replaced or retired) versions")] = False,
) -> None:
    """List constraint and reference layers."""
    from hggis.reserves.constraints import list_layers

    for r in _run(lambda conn, who: list_layers(conn, who, include_inactive=all_)):
        state = "active" if r["active"] else "inactive"
        typer.echo(
            f"{r['id']:>4}  {r['name']}  v{r['version']}  {r['kind']}/{r['role']}  {r['feature_count']} features  "
            f"{r['county'] or '全市'}  {state}  {r['imported_at']:%Y-%m-%d} {r['imported_by']}"
        )


@constraints_app.command("retire")
def retire_cmd(
    layer_id: Annotated[int, typer.Argument(help="layer id")],
    reason: Annotated[str, typer.Option("--reason")] = "停用约束层",
) -> None:
    """Stop using a layer (kept, inactive)."""
    from hggis.reserves.constraints import retire_layer

    _run(lambda conn, who: retire_layer(conn, who, layer_id), write=reason)
    typer.echo(f"layer {layer_id} retired")
