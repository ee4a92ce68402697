"""块状经济 bases: import of bases and members, yearly output, recognition decisions.

The plan (附件2, 市级块状经济认定办法) asks for 30 bases with output over 10 亿 by 2025,
recognised once a year. It does not name them, so the bases are data: a city
administrator imports them (sheet 块状经济基地: 基地名称, 县（市、区）, 园区 or 乡镇,
主导产业) with their members (sheet 基地成员: 基地名称, 统一社会信用代码, optional
加入年度 / 退出年度). The import is all-or-nothing: every bad row is named with its sheet,
row, column, value and reason, and nothing is written unless every row passes.

A base's output of a year is Σ 工业总产值 (``enterprise_years.output``, 万元) of the
enterprises that are members that year; a member without figures counts nothing and is
shown as not reporting. Recognition is a decision recorded per base and year (who, when,
the output, the threshold, and the members' figures with their row versions), so the
decision can be traced to the figures it rested on even after they change; deciding a
year again adds a new decision, the newest one is in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, authorize
from hggis.bases.tables import IndustrialBase, IndustrialBaseMember, IndustrialBaseRecognition
from hggis.db.models import County, Enterprise, EnterpriseYear, Park, table_of
from hggis.db.session import transaction
from hggis.errors import Forbidden, Invalid, NotFound
from hggis.identifiers import validate_credit_code
from hggis.io import values as V
from hggis.io.sheets import BadCell, SheetFileError, col_letter

#: the plan's recognition threshold: a 十亿 base has a yearly output of at least 10 亿元
THRESHOLD_YI = Decimal("10")
WAN_PER_YI = Decimal("10000")
BASE_SHEET = "块状经济基地"
MEMBER_SHEET = "基地成员"
BASE_COLUMNS = {
    "name": ("基地名称", "名称"),
    "county": ("县（市、区）", "所属县", "所属县（市、区）", "县市区"),
    "park": ("园区", "所属园区"),
    "township": ("乡镇", "所在乡镇", "乡镇（街道）"),
    "industry": ("主导产业", "产业"),
}
MEMBER_COLUMNS = {
    "base": ("基地名称", "基地"),
    "credit_code": ("统一社会信用代码", "信用代码"),
    "since_year": ("加入年度",),
    "until_year": ("退出年度",),
}
REQUIRED = {BASE_SHEET: ("name", "county", "industry"), MEMBER_SHEET: ("base", "credit_code")}

BASES = table_of(IndustrialBase)
MEMBERS = table_of(IndustrialBaseMember)
RECOGNITIONS = table_of(IndustrialBaseRecognition)
ENTERPRISES = table_of(Enterprise)
YEARS = table_of(EnterpriseYear)


class BaseImportError(Invalid):
    """The base file cannot be read at all (no known sheet, missing columns)."""


@dataclass
class BaseImportReport:
    file_name: str
    status: str = "refused"
    error: str | None = None
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    bases_created: int = 0
    bases_updated: int = 0
    members_set: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: Path, shown_as: str) -> dict[str, list[tuple[int, list[Any]]]]:
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise SheetFileError(f"{shown_as}：无法作为 Excel（.xlsx）工作簿读取：{exc}") from None
    found = {}
    for title in (BASE_SHEET, MEMBER_SHEET):
        if title in wb.sheetnames:
            found[title] = [(i, list(r)) for i, r in enumerate(wb[title].iter_rows(values_only=True), start=1)]
    if not found:
        raise BaseImportError(f"{shown_as}：没有“{BASE_SHEET}”或“{MEMBER_SHEET}”工作表（现有：{'、'.join(wb.sheetnames)}）")
    return found


def _columns(sheet: str, header: list[Any], spec: dict[str, tuple[str, ...]]) -> dict[str, int]:
    names = [str(h).strip() if h is not None else "" for h in header]
    cols = {key: names.index(c) for key, cands in spec.items() for c in cands if c in names}
    missing = [spec[k][0] for k in REQUIRED[sheet] if k not in cols]
    if missing:
        raise BaseImportError(f"工作表“{sheet}”缺少列：{'、'.join(missing)}（现有表头：{'、'.join(n for n in names if n)}）")
    return cols


def _cell(cells: list[Any], cols: dict[str, int], key: str) -> Any:
    i = cols.get(key)
    return cells[i] if i is not None and i < len(cells) else None


def _counties(conn: Connection) -> dict[str, str]:
    c = table_of(County)
    out: dict[str, str] = {}
    for adcode, name in conn.execute(select(c.c.adcode, c.c.name)):
        out[adcode] = out[name] = adcode
        for suffix in ("管理区", "区", "县", "市"):
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                out.setdefault(name[: -len(suffix)], adcode)
    return out


def import_bases(engine: Engine, principal: Principal, path: str | Path, file_name: str | None = None,
                 dry_run: bool = False) -> BaseImportReport:
    """Check every row of both sheets; write bases and memberships only if all pass."""
    authorize(principal, "clusters", "write")
    p = Path(path)
    report = BaseImportReport(file_name or p.name)
    sheets = _read(p, report.file_name)
    bad: list[BadCell] = []
    where: dict[int, str] = {}

    def refuse(sheet: str, row: int, col: str, value: Any, reason: str) -> None:
        cell = BadCell(row, col, value, reason)
        bad.append(cell)
        where[id(cell)] = sheet

    with transaction(engine, principal.actor, f"导入块状经济基地：{report.file_name}") as conn:
        counties = _counties(conn)
        parks = {r.name: (r.id, r.adcode) for r in conn.execute(select(Park.__table__.c.id, Park.__table__.c.name,
                                                                       Park.__table__.c.adcode))}
        bases: dict[str, dict[str, Any]] = {}
        if BASE_SHEET in sheets:
            rows = sheets[BASE_SHEET]
            cols = _columns(BASE_SHEET, rows[0][1] if rows else [], BASE_COLUMNS)
            label = {k: f"{col_letter(i)} {rows[0][1][i]}" for k, i in cols.items()}
            for number, cells in rows[1:]:
                if all(V.is_blank(v) for v in cells):
                    continue
                name = V.as_text(_cell(cells, cols, "name"))
                county = V.as_text(_cell(cells, cols, "county"))
                park = V.as_text(_cell(cells, cols, "park"))
                township = V.as_text(_cell(cells, cols, "township"))
                industry = V.as_text(_cell(cells, cols, "industry"))
                if not name:
                    refuse(BASE_SHEET, number, label["name"], None, "基地名称为空")
                    continue
                if name in bases:
                    refuse(BASE_SHEET, number, label["name"], name, f"基地名称重复（也在第 {bases[name]['row']} 行）")
                adcode = counties.get(county or "")
                if adcode is None:
                    refuse(BASE_SHEET, number, label["county"], county, "不是黄冈市的县（市、区）（例如 麻城市 或 421181）")
                park_id = None
                if park:
                    if park not in parks:
                        refuse(BASE_SHEET, number, label["park"], park, "没有这个园区（园区名称应与系统中一致）")
                    else:
                        park_id, park_county = parks[park]
                        if adcode and park_county != adcode:
                            refuse(BASE_SHEET, number, label["park"], park, f"园区属于 {park_county}，不在 {county}")
                if not park and not township:
                    refuse(BASE_SHEET, number, label["name"], name, "请填写所在园区或乡镇")
                if not industry:
                    refuse(BASE_SHEET, number, label["industry"], None, "主导产业为空")
                bases.setdefault(name, {"row": number, "name": name, "adcode": adcode, "park_id": park_id,
                                        "township": township, "industry": industry})
        known = {r.name: (r.id, r.adcode) for r in conn.execute(select(BASES.c.id, BASES.c.name, BASES.c.adcode))}
        members: dict[str, dict[str, Any]] = {}
        if MEMBER_SHEET in sheets:
            rows = sheets[MEMBER_SHEET]
            cols = _columns(MEMBER_SHEET, rows[0][1] if rows else [], MEMBER_COLUMNS)
            label = {k: f"{col_letter(i)} {rows[0][1][i]}" for k, i in cols.items()}
            raw_codes = [V.as_text(_cell(c, cols, "credit_code")) or "" for _, c in rows[1:]]
            firms = {r.credit_code: (r.id, r.adcode, r.name) for r in conn.execute(
                select(ENTERPRISES.c.id, ENTERPRISES.c.credit_code, ENTERPRISES.c.adcode, ENTERPRISES.c.name)
                .where(ENTERPRISES.c.credit_code.in_(raw_codes)))}
            for number, cells in rows[1:]:
                if all(V.is_blank(v) for v in cells):
                    continue
                base = V.as_text(_cell(cells, cols, "base"))
                raw = V.as_text(_cell(cells, cols, "credit_code")) or ""
                base_adcode = bases[base]["adcode"] if base in bases else known.get(base or "", (None, None))[1]
                if base not in bases and base not in known:
                    refuse(MEMBER_SHEET, number, label["base"], base, "没有这个基地（请先在“块状经济基地”表中列出）")
                try:
                    code = validate_credit_code(raw)
                except ValueError as exc:
                    refuse(MEMBER_SHEET, number, label["credit_code"], raw, str(exc))
                    continue
                if code not in firms:
                    refuse(MEMBER_SHEET, number, label["credit_code"], code, "未登记的企业（先导入宗地或企业年度数据）")
                    continue
                if code in members:
                    refuse(MEMBER_SHEET, number, label["credit_code"], code,
                           f"企业重复（也在第 {members[code]['row']} 行）：一家企业只属于一个基地")
                    continue
                eid, firm_adcode, firm_name = firms[code]
                if base_adcode and firm_adcode != base_adcode:
                    refuse(MEMBER_SHEET, number, label["credit_code"], code,
                           f"{firm_name} 在 {firm_adcode}，基地在 {base_adcode}")
                years = {}
                for key in ("since_year", "until_year"):
                    y, err = V.parse_int(_cell(cells, cols, key))
                    if err or (y is not None and not 1990 <= y <= 2100):
                        refuse(MEMBER_SHEET, number, label[key], _cell(cells, cols, key), err or "年度不在 1990–2100")
                    years[key] = y
                if years["since_year"] and years["until_year"] and years["until_year"] < years["since_year"]:
                    refuse(MEMBER_SHEET, number, label["until_year"], years["until_year"], "退出年度早于加入年度")
                members[code] = {"row": number, "base": base, "enterprise_id": eid, **years}
        report.bad_rows = [{"sheet": where[id(b)], **asdict(b)} for b in sorted(bad, key=lambda b: (where[id(b)], b.row))]
        if bad:
            report.error = f"{len(bad)} 处错误，未写入任何数据"
            return report  # nothing was written yet: the transaction ends empty
        report.status = "dry_run" if dry_run else "applied"
        if dry_run:
            return report
        for b in bases.values():
            values = {k: b[k] for k in ("adcode", "park_id", "township", "industry")}
            if b["name"] in known:
                conn.execute(BASES.update().where(BASES.c.name == b["name"]).values(**values, version=BASES.c.version + 1))
                report.bases_updated += 1
            else:
                conn.execute(BASES.insert().values(name=b["name"], **values))
                report.bases_created += 1
        ids = {r.name: r.id for r in conn.execute(select(BASES.c.id, BASES.c.name))}
        for m in members.values():
            stmt = pg_insert(MEMBERS).values(enterprise_id=m["enterprise_id"], base_id=ids[m["base"]],
                                             since_year=m["since_year"], until_year=m["until_year"])
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[MEMBERS.c.enterprise_id],
                set_={"base_id": stmt.excluded.base_id, "since_year": stmt.excluded.since_year,
                      "until_year": stmt.excluded.until_year, "version": MEMBERS.c.version + 1}))
            report.members_set += 1
    return report


# ----------------------------------------------------------------------------------------
# output and recognition
# ----------------------------------------------------------------------------------------


def _authorize_read(principal: Principal) -> None:
    if principal.is_public:
        raise Forbidden("块状经济基地的产值汇总自企业数据，仅限登录的工作人员查看")
    authorize(principal, "clusters", "read")


def _member_in_year(year: int) -> Any:
    return and_(or_(MEMBERS.c.since_year.is_(None), MEMBERS.c.since_year <= year),
                or_(MEMBERS.c.until_year.is_(None), MEMBERS.c.until_year >= year))


def member_figures(conn: Connection, year: int, base_id: int | None = None) -> Sequence[Any]:
    """The members of the year with their output (万元, NULL without figures) and the figures' row version."""
    q = (select(MEMBERS.c.base_id, ENTERPRISES.c.id.label("enterprise_id"), ENTERPRISES.c.credit_code,
                ENTERPRISES.c.name, YEARS.c.output, YEARS.c.version.label("figures_version"))
         .select_from(MEMBERS.join(ENTERPRISES, ENTERPRISES.c.id == MEMBERS.c.enterprise_id)
                      .outerjoin(YEARS, and_(YEARS.c.enterprise_id == MEMBERS.c.enterprise_id, YEARS.c.year == year)))
         .where(_member_in_year(year)).order_by(MEMBERS.c.base_id, ENTERPRISES.c.credit_code))
    if base_id is not None:
        q = q.where(MEMBERS.c.base_id == base_id)
    return conn.execute(q).all()


def _latest_decisions(conn: Connection, year: int) -> dict[int, Any]:
    latest = (select(func.max(RECOGNITIONS.c.id)).where(RECOGNITIONS.c.year == year)
              .group_by(RECOGNITIONS.c.base_id).scalar_subquery())
    rows = conn.execute(select(RECOGNITIONS).where(RECOGNITIONS.c.id.in_(latest))).all()
    return {r.base_id: r for r in rows}


def base_outputs(conn: Connection, principal: Principal, year: int) -> list[dict[str, Any]]:
    """Every base with its members, output of ``year`` (亿元) and the recognition decision in force."""
    _authorize_read(principal)
    figures: dict[int, list[Any]] = {}
    for m in member_figures(conn, year):
        figures.setdefault(m.base_id, []).append(m)
    decisions = _latest_decisions(conn, year)
    parks = table_of(Park)
    counties = table_of(County)
    rows = conn.execute(
        select(BASES, counties.c.name.label("county_name"), parks.c.name.label("park_name"))
        .select_from(BASES.join(counties, counties.c.adcode == BASES.c.adcode).outerjoin(parks, parks.c.id == BASES.c.park_id))
        .order_by(BASES.c.adcode, BASES.c.name)
    ).all()
    out = []
    for b in rows:
        ms = figures.get(b.id, [])
        output = sum((Decimal(m.output) for m in ms if m.output is not None), Decimal(0))
        d = decisions.get(b.id)
        out.append({
            "id": b.id, "name": b.name, "adcode": b.adcode, "county": b.county_name, "park_id": b.park_id,
            "park": b.park_name, "township": b.township, "industry": b.industry,
            "n_members": len(ms), "n_reporting": sum(1 for m in ms if m.output is not None),
            "output_yi": float(round(output / WAN_PER_YI, 4)), "threshold_yi": float(THRESHOLD_YI),
            "over_threshold": output / WAN_PER_YI >= THRESHOLD_YI,
            "recognition": None if d is None else {
                "id": d.id, "recognised": d.recognised, "output_yi": float(d.output_yi), "decided_by": d.decided_by,
                "decided_at": d.decided_at.isoformat(), "reason": d.reason,
                "stale": float(d.output_yi) != float(round(output / WAN_PER_YI, 4)),
            },
        })
    return out


def recognise(engine: Engine, principal: Principal, year: int, base_id: int | None = None,
              reason: str | None = None) -> list[dict[str, Any]]:
    """Record the year's recognition decision of every base (or one), from the members' figures now."""
    authorize(principal, "clusters", "write")
    if not 1990 <= year <= 2100:
        raise Invalid(f"year {year}: between 1990 and 2100", field="year")
    with transaction(engine, principal.actor, reason or f"{year} 年度块状经济基地认定") as conn:
        q = select(BASES.c.id, BASES.c.adcode)
        if base_id is not None:
            q = q.where(BASES.c.id == base_id)
        bases = conn.execute(q).all()
        if not bases:
            raise NotFound(f"没有块状经济基地 {base_id}" if base_id else "还没有块状经济基地：先导入基地名单", field="base_id")
        figures: dict[int, list[Any]] = {}
        for m in member_figures(conn, year, base_id):
            figures.setdefault(m.base_id, []).append(m)
        decided = []
        for b in bases:
            ms = figures.get(b.id, [])
            output = sum((Decimal(m.output) for m in ms if m.output is not None), Decimal(0)) / WAN_PER_YI
            output = round(output, 4)
            basis = {"members": [{"enterprise_id": m.enterprise_id, "credit_code": m.credit_code, "name": m.name,
                                  "output_10k_yuan": None if m.output is None else float(m.output),
                                  "figures_version": m.figures_version} for m in ms],
                     "figure": "enterprise_years.output（工业总产值，万元）", "year": year}
            rid = conn.execute(RECOGNITIONS.insert().values(
                base_id=b.id, year=year, output_yi=output, threshold_yi=THRESHOLD_YI, recognised=output >= THRESHOLD_YI,
                n_members=len(ms), n_reporting=sum(1 for m in ms if m.output is not None), basis=basis,
                decided_by=principal.actor, reason=reason, adcode=b.adcode,
            ).returning(RECOGNITIONS.c.id)).scalar_one()
            decided.append({"id": rid, "base_id": b.id, "year": year, "output_yi": float(output),
                            "recognised": output >= THRESHOLD_YI})
        return decided


def recognition_history(conn: Connection, principal: Principal, base_id: int) -> list[dict[str, Any]]:
    """Every decision about a base, newest first (with the figures each was based on)."""
    _authorize_read(principal)
    rows = conn.execute(select(RECOGNITIONS).where(RECOGNITIONS.c.base_id == base_id)
                        .order_by(RECOGNITIONS.c.year.desc(), RECOGNITIONS.c.id.desc())).all()
    return [{**{k: (float(v) if isinstance(v, Decimal) else v) for k, v in r._mapping.items()},
             "decided_at": r.decided_at.isoformat()} for r in rows]
