"""The legal documents of the 闲置土地处置 procedure, written from the case's facts.

《闲置土地处置办法》（国土资源部令第53号） and the 闲置土地处置法律文书示范文本 name the
documents; this module decides, per kind, which facts a document needs (and refuses it,
naming each missing fact, when the case lacks one), numbers it from the issuing office's
sequence (机关代字〔年份〕N号), writes its content as data (title, paragraphs, fact table,
legal basis, 宗地图 snapshot) and records it on the case with its service (送达). The
renderers (hggis.idle.render_docx, hggis.idle.render_pdf) turn the stored content into
files; the content is frozen at issue, so a document reads the same years later.

Deadlines that run from the service date:

- 调查通知书 and 情况告知书: the holder's reply (rule set ``response_days``, 30 by default,
  the value the case steps already use, versioned with the other rule parameters;
  第六条: 使用权人应当在通知规定的期限内提交有关材料);
- 听证权利告知书: the hearing request, ``HGGIS_HEARING_REQUEST_WORKING_DAYS`` working days
  (第十五条 sends the hearing to 《国土资源听证规定》（国土资源部令第22号）, whose request period is
  commonly given as 五个工作日 from receipt of the notice; the article number was not verified
  here, so the document cites the 规定 by name only and the period is a setting);
- 征缴土地闲置费决定书: payment, 收回决定书: deregistration (第十七条: 决定书送达之日起
  三十日内; rule set ``payment_days``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Principal, authorize
from hggis.config import get_settings
from hggis.db.models import County, Enterprise, Parcel, Park, table_of
from hggis.db.session import set_actor
from hggis.idle.calendar import add_working_days, due_within
from hggis.idle.cases import (
    BASIS_LABELS,
    DISPOSAL_LABELS,
    CaseError,
    CaseNotFound,
    Document,
    IllegalTransition,
    _add_event,
    _check_disposal_allowed,
    _idle_since,
)
from hggis.idle.document_tables import (
    DOCUMENT_KINDS,
    SERVICE_METHODS,
    IdleDocument,
    IdleDocumentOffice,
    IdleDocumentSequence,
)
from hggis.idle.parcel_map import map_snapshot
from hggis.idle.rules import rule_set_in_force
from hggis.idle.tables import TERMINAL_STATES, IdleCase

LAW = "《闲置土地处置办法》（国土资源部令第53号）"
HEARING_RULES = "《国土资源听证规定》（国土资源部令第22号）"
KIND_LABELS: dict[str, str] = {
    "investigation_notice": "闲置土地调查通知书",
    "finding": "闲置土地认定书",
    "situation_notice": "闲置土地处置情况告知书",
    "hearing_notice": "听证权利告知书",
    "fee_decision": "征缴土地闲置费决定书",
    "recovery_decision": "收回国有建设用地使用权决定书",
    "service_receipt": "送达回证",
}
ARTICLES: dict[str, str] = {
    "investigation_notice": "第五条、第六条",
    "finding": "第二条、第九条、第十一条",
    "situation_notice": "第九条、第十二条、第十四条",
    "hearing_notice": "第十五条",
    "fee_decision": "第十四条第（一）项、第十六条、第十七条",
    "recovery_decision": "第十四条第（二）项、第十六条、第十七条",
    "service_receipt": "第十六条、第十七条",
}
METHOD_LABELS: dict[str, str] = {
    "direct": "直接送达",
    "left_at_address": "留置送达",
    "post": "邮寄送达",
    "entrusted": "委托送达",
    "electronic": "电子送达",
    "public_notice": "公告送达",
}
DUE_LABELS: dict[str, str] = {
    "reply": "使用权人提交材料、陈述申辩期限",
    "hearing_request": "听证申请期限",
    "payment": "缴纳土地闲置费期限（第十七条）",
    "deregistration": "办理注销登记、交回土地权利证书期限（第十七条）",
}
SANCTIONS = ("fee_collected", "recovery_without_compensation")
# the sanction a scan rule proposes (rule texts of migrations 0005/0015)
RULE_SANCTION = {
    "idle_not_started_1y": "fee_collected",
    "idle_halted": "fee_collected",
    "idle_not_started_2y": "recovery_without_compensation",
    "idle_halted_2y": "recovery_without_compensation",
}
DECISION_DISPOSAL = {"fee_decision": "fee_collected", "recovery_decision": "recovery_without_compensation"}
assert set(KIND_LABELS) == set(DOCUMENT_KINDS) and set(METHOD_LABELS) == set(SERVICE_METHODS)


class DocumentRefused(CaseError):
    """A document the case's facts do not support yet (HTTP 422), naming every missing fact."""

    def __init__(self, kind: str, missing: list[str]) -> None:
        self.document_kind, self.missing = kind, missing  # not ``kind``: that is the error's kind (hggis.errors)
        super().__init__(f"不能出具《{KIND_LABELS[kind]}》：缺少{'；'.join(missing)}")


@dataclass(frozen=True)
class Service:
    """送达: when, how, and who signed for it (defaults to the recipient)."""

    served_on: dt.date
    method: str
    served_to: str | None = None


# ---- facts ----------------------------------------------------------------------------


def _facts(conn: Connection, case_id: int, lock: bool = False) -> Any:
    c, p, co, k, e, o = (table_of(IdleCase), table_of(Parcel), table_of(County), table_of(Park),
                         table_of(Enterprise), table_of(IdleDocumentOffice))
    query = (
        select(
            c.c.id, c.c.parcel_id, c.c.kind.label("case_kind"), c.c.rule_code, c.c.basis, c.c.state, c.c.opened_on,
            c.c.idle_since, c.c.disposal_kind, p.c.code.label("parcel_code"), p.c.adcode, p.c.park_id,
            func.round(cast(p.c.area_mu, Numeric), 4).label("area_mu"),
            p.c.land_use, p.c.contract_kind, p.c.contract_no, p.c.contract_signed_on, p.c.land_price,
            p.c.agreed_start_date, p.c.started_on, p.c.halted_since, p.c.supervision_no,
            co.c.name.label("county"), k.c.name.label("park"), e.c.name.label("holder"),
            e.c.credit_code.label("holder_credit_code"), o.c.office_name, o.c.code_prefix, o.c.gk_epsg,
            o.c.address.label("office_address"), o.c.phone.label("office_phone"),
        )
        .select_from(
            c.join(p, p.c.id == c.c.parcel_id).join(co, co.c.adcode == p.c.adcode)
            .outerjoin(k, k.c.id == p.c.park_id).outerjoin(e, e.c.id == p.c.holder_id)
            .outerjoin(o, o.c.adcode == p.c.adcode)
        )
        .where(c.c.id == case_id)
    )
    if lock:
        query = query.with_for_update(of=c)
    row = conn.execute(query).first()
    if row is None:
        raise CaseNotFound(f"no idle-land case {case_id}")
    return row


def _documents(conn: Connection, case_id: int) -> list[Any]:
    d = table_of(IdleDocument)
    return list(conn.execute(select(d).where(d.c.case_id == case_id).order_by(d.c.id)))


def _latest_served(docs: list[Any], kind: str) -> Any | None:
    served = [x for x in docs if x.kind == kind and x.served_on is not None]
    return served[-1] if served else None


def _proposed_sanction(f: Any, requested: str | None) -> str | None:
    return requested or f.disposal_kind or RULE_SANCTION.get(f.rule_code or "")


# ---- what each kind needs --------------------------------------------------------------


def _missing(conn: Connection, kind: str, f: Any, docs: list[Any], on: dt.date, params: dict[str, Any]) -> list[str]:
    """Every fact the document needs that the case lacks, in Chinese, named for the officer."""
    missing: list[str] = []
    if f.office_name is None:
        missing.append(f"发文机关（{f.county}未登记发文机关和机关代字：idle_document_offices）")
    if kind == "service_receipt":
        proved = next((x for x in docs if x.id == params.get("proves_document_id")), None)
        if params.get("proves_document_id") is None or proved is None:
            missing.append("所证明送达的文书（proves_document_id：本案已出具的一份文书）")
        elif proved.kind == "service_receipt":
            missing.append("所证明送达的文书（送达回证本身不需要送达回证）")
        elif proved.served_on is None:
            missing.append(f"《{KIND_LABELS[proved.kind]}》{proved.number}的送达情况（送达日期和送达方式，须先登记送达）")
        return missing
    if f.holder is None:
        missing.append("国有建设用地使用权人（宗地未登记使用权人 holder）")
    if kind == "investigation_notice":
        if f.agreed_start_date is None and f.halted_since is None:
            missing.append("约定动工开发日期（宗地 agreed_start_date）")
        if not f.contract_no:
            missing.append("出让合同或划拨决定书编号（宗地 contract_no）")
        return missing
    if _latest_served([x for x in docs if x.kind == "investigation_notice"], "investigation_notice") is None:
        if kind == "finding":
            missing.append("已送达的《闲置土地调查通知书》（第五条：先调查核实，后认定）")
    if kind == "finding":
        if f.case_kind == "idle" and f.idle_since is None and _computed_idle_since(conn, f, on) is None:
            missing.append("闲置起算日（合同约定动工开发日期或中止开发建设日期）")
        return missing
    if _latest_served(docs, "finding") is None:
        missing.append("已送达的《闲置土地认定书》（第九条）")
    sanction = _proposed_sanction(f, params.get("proposed_disposal"))
    if kind in ("situation_notice", "hearing_notice") and sanction is None:
        missing.append("拟处置方式（proposed_disposal）")
    if kind == "hearing_notice" and sanction is not None and sanction not in SANCTIONS:
        missing.append(f"拟作出的第十四条处置决定（“{DISPOSAL_LABELS.get(sanction, sanction)}”不是征缴土地闲置费或无偿收回，"
                       "无须告知听证权利）")
    needs_price = kind == "fee_decision" or (kind in ("situation_notice", "hearing_notice") and sanction == "fee_collected")
    if needs_price and f.land_price is None:
        missing.append("出让或划拨价款（宗地 land_price，万元）：无法计算土地闲置费")
    if kind in ("fee_decision", "recovery_decision"):
        hearing = _latest_served(docs, "hearing_notice")
        if hearing is None:
            missing.append("已送达的《听证权利告知书》（第十五条）")
        elif hearing.due_on is not None and on <= hearing.due_on:
            missing.append(f"听证申请期限届满（《听证权利告知书》{hearing.number}的听证申请期限至 {hearing.due_on}，"
                           f"{on} 尚未届满）")
        if f.basis == "government_cause":
            raise IllegalTransition(
                f"案件 #{f.id} 已记录政府原因或不可抗力（第八条）：不得{KIND_LABELS[kind][:-3]}，应依第十二条协商处置"
            )
    return missing


def _computed_idle_since(conn: Connection, f: Any, on: dt.date) -> dt.date | None:
    return _idle_since(conn, f, rule_set_in_force(conn, on), on)


# ---- numbering -------------------------------------------------------------------------


def next_serial(conn: Connection, adcode: str, year: int) -> int:
    """The office-year's next serial: one atomic upsert, so concurrent issuers queue on the row."""
    s = table_of(IdleDocumentSequence)
    upsert = insert(s).values(adcode=adcode, year=year, last_serial=1)
    stmt = upsert.on_conflict_do_update(index_elements=[s.c.adcode, s.c.year],
                                        set_={"last_serial": s.c.last_serial + 1}).returning(s.c.last_serial)
    return conn.execute(stmt).scalar_one()


def format_number(code_prefix: str, year: int, serial: int) -> str:
    return f"{code_prefix}〔{year}〕{serial}号"


# ---- content ---------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{Decimal(value):,.2f} 万元"


def _parcel_sentence(f: Any) -> str:
    where = f"{f.county}{f.park or ''}"
    return (f"你单位以{f.contract_kind or '出让'}方式取得的位于{where}、宗地代码为 {f.parcel_code}、面积 "
            f"{Decimal(f.area_mu):.2f} 亩的国有建设用地使用权（合同或决定书编号：{f.contract_no or '—'}）")


def _fact_rows(f: Any, idle_since: dt.date | None, extra: list[list[str]] | None = None) -> list[list[str]]:
    rows = [
        ["国有建设用地使用权人", f.holder or "—"],
        ["统一社会信用代码", f.holder_credit_code or "—"],
        ["宗地代码", f.parcel_code],
        ["坐落", f"{f.county}{f.park or ''}"],
        ["面积", f"{Decimal(f.area_mu):.2f} 亩"],
        ["合同或划拨决定书编号", f.contract_no or "—"],
        ["合同电子监管号", f.supervision_no or "—"],
        ["约定动工开发日期", clock.display_date(f.agreed_start_date)],
    ]
    if f.halted_since:
        rows.append(["中止开发建设日期", clock.display_date(f.halted_since)])
    if idle_since:
        rows.append(["闲置起算日", clock.display_date(idle_since)])
    return rows + (extra or [])


def _remedy() -> str:
    return ("你单位如对本决定不服，可以自收到本决定书之日起六十日内依法申请行政复议，或者自收到本决定书之日起六个月内"
            "依法向人民法院提起行政诉讼。")


def build_content(conn: Connection, kind: str, f: Any, docs: list[Any], number: str, on: dt.date,
                  recipient: str, params: dict[str, Any]) -> dict[str, Any]:
    """The document as data: everything the renderers print, frozen at issue."""
    rules = rule_set_in_force(conn, on)
    title = KIND_LABELS[kind]
    idle_since = f.idle_since or (_computed_idle_since(conn, f, on) if kind != "service_receipt" else None)
    sanction = _proposed_sanction(f, params.get("proposed_disposal"))
    fee = (Decimal(f.land_price) * rules.fee_rate).quantize(Decimal("0.01")) if f.land_price is not None else None
    fee_pct = f"百分之{_chinese_percent(rules.fee_rate)}"
    p: list[str] = []
    extra: list[list[str]] = []
    cc: list[str] = []
    finding = _latest_served(docs, "finding")
    if kind == "investigation_notice":
        p = [
            f"{_parcel_sentence(f)}，经初步核查，超过约定的动工开发日期未动工开发或者中止开发建设，涉嫌构成闲置土地。",
            f"根据{LAW}第五条的规定，我局决定对该宗地的开发利用情况进行调查核实。",
            f"请你单位自收到本通知书之日起{rules.response_days}日内，按照{LAW}第六条的规定，向我局提交土地开发利用情况、"
            "闲置原因以及相关说明等材料，并配合调查；属于政府、政府有关部门的行为造成动工开发延迟的，应当提供相关证明"
            "材料（第八条）。逾期不提交的，我局将依据调查核实的情况依法认定。",
        ]
    elif kind == "finding":
        p = [
            f"{_parcel_sentence(f)}，经我局调查核实，"
            + (f"自 {clock.display_date(idle_since)} 起构成闲置土地（{BASIS_LABELS[f.basis]}）。" if idle_since
               else "构成闲置土地。"),
            f"根据{LAW}第二条、第九条的规定，现认定该宗地为闲置土地。我局将依照第十一条的规定，将闲置土地的位置、"
            "国有建设用地使用权人名称、闲置时间等信息向社会公开，并依法处置。",
        ]
    elif kind == "situation_notice":
        label = DISPOSAL_LABELS.get(sanction or "", sanction or "")
        p = [
            f"我局已于 {clock.display_date(finding.issued_on if finding else None)} 以"
            f"《闲置土地认定书》（{finding.number if finding else '—'}）认定{_parcel_sentence(f)}为闲置土地。",
            f"根据{LAW}的规定，我局拟按“{label}”方式处置该宗闲置土地"
            + (f"，土地闲置费按出让或者划拨价款的{fee_pct}计 {_money(fee)}" if sanction == "fee_collected" else "")
            + "。",
            f"你单位可自收到本告知书之日起{rules.response_days}日内向我局提出书面陈述和申辩意见；逾期未提出的，视为放弃。",
        ]
        cc = ["抵押权人（闲置土地设有抵押权的）"]
    elif kind == "hearing_notice":
        days = get_settings().hggis_hearing_request_working_days
        what = (f"征缴土地闲置费 {_money(fee)}（按出让或者划拨价款的{fee_pct}）" if sanction == "fee_collected"
                else "无偿收回国有建设用地使用权")
        p = [
            f"经调查认定，{_parcel_sentence(f)}为闲置土地（《闲置土地认定书》{finding.number if finding else '—'}）。"
            f"我局拟依照{LAW}第十四条的规定，报经人民政府批准后，对你单位作出{what}的决定。",
            f"根据{LAW}第十五条和{HEARING_RULES}的规定，你单位有要求举行听证的权利。如要求听证，应当自收到本告知书"
            f"之日起{days}个工作日内向我局提出书面申请；逾期未提出的，视为放弃听证权利。",
        ]
    elif kind == "fee_decision":
        p = [
            f"经调查认定，{_parcel_sentence(f)}构成闲置土地（《闲置土地认定书》{finding.number if finding else '—'}），"
            f"闲置时间自 {clock.display_date(idle_since)} 起已满一年。",
            f"根据{LAW}第十四条第（一）项的规定，经报本级人民政府批准，决定按照土地出让或者划拨价款 "
            f"{_money(f.land_price)} 的{fee_pct}，向你单位征缴土地闲置费 {_money(fee)}。",
            f"依照{LAW}第十七条的规定，你单位应当自本决定书送达之日起{rules.payment_days}日内，按照规定缴纳土地闲置费。"
            "土地闲置费不得列入生产成本。",
            _remedy(),
        ]
        extra = [["出让或划拨价款", _money(f.land_price)], ["土地闲置费", _money(fee)]]
    elif kind == "recovery_decision":
        p = [
            f"经调查认定，{_parcel_sentence(f)}构成闲置土地（《闲置土地认定书》{finding.number if finding else '—'}），"
            f"闲置时间自 {clock.display_date(idle_since)} 起已满两年。",
            f"根据{LAW}第十四条第（二）项、《中华人民共和国土地管理法》第三十八条和《中华人民共和国城市房地产管理法》"
            "第二十六条的规定，经报有批准权的人民政府批准，决定无偿收回你单位该宗地的国有建设用地使用权。",
            f"依照{LAW}第十七条的规定，你单位应当自本决定书送达之日起{rules.payment_days}日内，到不动产登记机构办理"
            "国有建设用地使用权注销登记，交回土地权利证书。",
            _remedy(),
        ]
        cc = ["相关土地抵押权人（闲置土地设有抵押权的）", "不动产登记机构"]
    receipt = None
    if kind == "service_receipt":
        proved = next(x for x in docs if x.id == params["proves_document_id"])
        receipt = [
            ["送达文书名称", f"《{KIND_LABELS[proved.kind]}》"],
            ["文号", proved.number],
            ["受送达人", proved.recipient],
            ["送达地点", params.get("place") or "—"],
            ["送达方式", METHOD_LABELS[proved.service_method]],
            ["送达日期", clock.display_date(proved.served_on)],
            ["收件人签名或盖章", proved.served_to or ""],
            ["送达人", params.get("server") or ""],
            ["备注", "依照" + LAW + "第十六条、第十七条送达"],
        ]
    snapshot = map_snapshot(conn, f.parcel_id, f.gk_epsg) if kind != "service_receipt" else None
    return {
        "kind": kind,
        "title": title,
        "number": number,
        "office": f.office_name,
        "office_address": f.office_address,
        "office_phone": f.office_phone,
        "recipient": recipient,
        "parcel_code": f.parcel_code,
        "holder": f.holder,
        "issued_on": on.isoformat(),
        "date_text": clock.display_date(on),
        "paragraphs": p,
        "facts": _fact_rows(f, idle_since, extra) if kind != "service_receipt" else [],
        "basis": f"{LAW}{ARTICLES[kind]}",
        "articles": ARTICLES[kind],
        "proposed_disposal": sanction if kind in ("situation_notice", "hearing_notice") else None,
        "fee_amount": str(fee) if kind == "fee_decision" else None,
        "cc": cc,
        "receipt": receipt,
        "map": snapshot,
    }


def _chinese_percent(rate: Decimal) -> str:
    pct = int((Decimal(rate) * 100).to_integral_value())
    digits = "零一二三四五六七八九"
    if pct < 10:
        return digits[pct]
    tens, ones = divmod(pct, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "") if pct < 100 else str(pct)


# ---- deadlines -------------------------------------------------------------------------


def deadline_after_service(conn: Connection, kind: str, served_on: dt.date) -> tuple[dt.date | None, str | None]:
    """The period that starts with the service of a document of ``kind``, if any."""
    rules = rule_set_in_force(conn, served_on)
    if kind in ("investigation_notice", "situation_notice"):
        return due_within(served_on, rules.response_days), "reply"
    if kind == "hearing_notice":
        return add_working_days(served_on, get_settings().hggis_hearing_request_working_days), "hearing_request"
    if kind == "fee_decision":
        return due_within(served_on, rules.payment_days), "payment"
    if kind == "recovery_decision":
        return due_within(served_on, rules.payment_days), "deregistration"
    return None, None


def _check_service(service: Service, issued_on: dt.date) -> None:
    if service.method not in SERVICE_METHODS:
        raise CaseError(f"未知的送达方式 {service.method!r}（可选：{'、'.join(f'{k} {v}' for k, v in METHOD_LABELS.items())}）")
    if service.served_on < issued_on:
        raise CaseError(f"送达日期 {service.served_on} 早于文书日期 {issued_on}")
    if service.served_on > clock.today():
        raise CaseError(f"送达日期 {service.served_on} 在今天之后：只能登记已经送达的文书")


# ---- issuing and serving ---------------------------------------------------------------


def issue_document(
    conn: Connection,
    principal: Principal,
    case_id: int,
    kind: str,
    reason: str,
    issued_on: dt.date | None = None,
    recipient: str | None = None,
    service: Service | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Issue one document on a case: check its facts, number it, freeze its content, record it."""
    if kind not in DOCUMENT_KINDS:
        raise CaseError(f"未知的文书种类 {kind!r}（可选：{'、'.join(f'{k} {v}' for k, v in KIND_LABELS.items())}）")
    unknown = sorted(set(params) - {"proves_document_id", "proposed_disposal", "place", "server"})
    if unknown:
        raise CaseError(f"unexpected parameter(s) {', '.join(unknown)}")
    if not reason or not reason.strip():
        raise CaseError("a reason is required to issue a document")
    f = _facts(conn, case_id, lock=True)
    authorize(principal, "idle_cases", "write", f.adcode, f.park_id)
    set_actor(conn, principal.actor, reason)
    on = issued_on or clock.today()
    if on > clock.today():
        raise CaseError(f"文书日期 {on} 在今天之后")
    if on < f.opened_on:
        raise CaseError(f"文书日期 {on} 早于立案日期 {f.opened_on}")
    if f.state in TERMINAL_STATES and kind != "service_receipt":
        raise IllegalTransition(f"案件 #{case_id} 已结案：不能再出具《{KIND_LABELS[kind]}》")
    if f.case_kind != "idle" and kind != "service_receipt":
        raise IllegalTransition(f"案件 #{case_id} 为低效用地案件：不适用{LAW}的处置文书")
    if params.get("proposed_disposal") is not None and params["proposed_disposal"] not in DISPOSAL_LABELS:
        raise CaseError(f"未知的处置方式 {params['proposed_disposal']!r}")
    docs = _documents(conn, case_id)
    missing = _missing(conn, kind, f, docs, on, params)
    if missing:
        raise DocumentRefused(kind, missing)
    if kind in DECISION_DISPOSAL:  # the same checks as deciding the disposal: 满一年 / 满两年, 第八条
        _check_disposal_allowed(conn, f, rule_set_in_force(conn, on), DECISION_DISPOSAL[kind], on)
    if service is not None:
        _check_service(service, on)
    if kind == "service_receipt":
        recipient = recipient or next(x.recipient for x in docs if x.id == params["proves_document_id"])
    recipient = (recipient or f.holder or "").strip()
    serial = next_serial(conn, f.adcode, on.year)
    number = format_number(f.code_prefix, on.year, serial)
    content = build_content(conn, kind, f, docs, number, on, recipient, params)
    due_on, due_kind = deadline_after_service(conn, kind, service.served_on) if service else (None, None)
    d = table_of(IdleDocument)
    doc_id = conn.execute(
        d.insert().values(
            case_id=case_id, kind=kind, adcode=f.adcode, year=on.year, serial=serial, number=number, issued_on=on,
            recipient=recipient, proves_document_id=params.get("proves_document_id"), content=content,
            actor=principal.actor, reason=reason.strip(), served_on=service.served_on if service else None,
            service_method=service.method if service else None,
            served_to=(service.served_to or recipient) if service else None, due_on=due_on, due_kind=due_kind,
        ).returning(d.c.id)
    ).scalar_one()
    _add_event(conn, case_id, "issue_document", f.state, f.state, on, principal.actor, reason.strip(),
               [_event_document(kind, number, on)],
               {"document_id": doc_id, "served_on": service.served_on if service else None,
                "due_on": due_on, "due_kind": due_kind})
    return get_document(conn, principal, case_id, doc_id)


def serve_document(conn: Connection, principal: Principal, case_id: int, doc_id: int, service: Service,
                   reason: str) -> dict[str, Any]:
    """Record the service of a document issued without it (once: a legal record is not rewritten)."""
    f = _facts(conn, case_id, lock=True)
    authorize(principal, "idle_cases", "write", f.adcode, f.park_id)
    set_actor(conn, principal.actor, reason)
    d = table_of(IdleDocument)
    doc = conn.execute(select(d).where(d.c.id == doc_id, d.c.case_id == case_id)).first()
    if doc is None:
        raise CaseNotFound(f"no document {doc_id} on case {case_id}")
    if doc.kind == "service_receipt":
        raise CaseError("送达回证是送达的证明，本身不登记送达")
    if doc.served_on is not None:
        raise IllegalTransition(f"《{KIND_LABELS[doc.kind]}》{doc.number}已于 {doc.served_on} 送达：送达情况不能改写")
    _check_service(service, doc.issued_on)
    due_on, due_kind = deadline_after_service(conn, doc.kind, service.served_on)
    conn.execute(d.update().where(d.c.id == doc_id).values(
        served_on=service.served_on, service_method=service.method, served_to=service.served_to or doc.recipient,
        due_on=due_on, due_kind=due_kind))
    # no case event: its date (the service) would bar the officer from recording an earlier step afterwards;
    # the document row and its history record the service
    return get_document(conn, principal, case_id, doc_id)


def _event_document(kind: str, number: str, on: dt.date) -> Document:
    return Document(KIND_LABELS[kind], number, on)


# ---- issuing offices ------------------------------------------------------------------

OFFICE_FIELDS = ("office_name", "code_prefix", "gk_epsg", "address", "phone")


def list_offices(conn: Connection) -> list[dict[str, Any]]:
    o, co = table_of(IdleDocumentOffice), table_of(County)
    rows = conn.execute(select(o, co.c.name.label("county")).join(co, co.c.adcode == o.c.adcode).order_by(o.c.adcode))
    return [dict(r._mapping) for r in rows]


def update_office(conn: Connection, principal: Principal, adcode: str, changes: dict[str, Any],
                  reason: str) -> dict[str, Any]:
    """Change a county office's name, 机关代字, GK zone or address (its officers or a city administrator).

    Numbers already issued keep their text; the office-year sequence simply continues.
    """
    authorize(principal, "idle_cases", "write", adcode, None)
    unknown = sorted(set(changes) - set(OFFICE_FIELDS))
    if unknown:
        raise CaseError(f"unknown office field(s) {', '.join(unknown)} (known: {', '.join(OFFICE_FIELDS)})")
    if not changes:
        raise CaseError("nothing to change")
    for key in ("office_name", "code_prefix"):
        if key in changes and not str(changes[key] or "").strip():
            raise CaseError(f"{key} 不能为空")
    if "gk_epsg" in changes and changes["gk_epsg"] not in (4526, 4527, 4547, 4548):
        raise CaseError("gk_epsg: 须为 CGCS2000 3°带第38、39带之一（4526、4527 带号；4547、4548 不带号）")
    set_actor(conn, principal.actor, reason)
    o = table_of(IdleDocumentOffice)
    done = conn.execute(o.update().where(o.c.adcode == adcode).values(**changes, version=o.c.version + 1))
    if done.rowcount == 0:
        raise CaseNotFound(f"no document office for county {adcode}")
    return next(x for x in list_offices(conn) if x["adcode"] == adcode)


# ---- reading ---------------------------------------------------------------------------


def _public(row: Any) -> dict[str, Any]:
    out = {k: v for k, v in row._mapping.items() if k != "content"}
    out["kind_label"] = KIND_LABELS[row.kind]
    out["service_method_label"] = METHOD_LABELS.get(row.service_method or "")
    out["due_kind_label"] = DUE_LABELS.get(row.due_kind or "")
    return out


def list_documents(conn: Connection, principal: Principal, case_id: int) -> list[dict[str, Any]]:
    f = _facts(conn, case_id)
    authorize(principal, "idle_cases", "read", f.adcode, f.park_id)
    return [_public(r) for r in _documents(conn, case_id)]


def get_document(conn: Connection, principal: Principal, case_id: int, doc_id: int,
                 with_content: bool = False) -> dict[str, Any]:
    f = _facts(conn, case_id)
    authorize(principal, "idle_cases", "read", f.adcode, f.park_id)
    d = table_of(IdleDocument)
    row = conn.execute(select(d).where(d.c.id == doc_id, d.c.case_id == case_id)).first()
    if row is None:
        raise CaseNotFound(f"no document {doc_id} on case {case_id}")
    out = _public(row)
    if with_content:
        out["content"] = row.content
    return out


__all__ = [
    "DOCUMENT_KINDS", "DocumentRefused", "KIND_LABELS", "METHOD_LABELS", "Service", "format_number",
    "get_document", "issue_document", "list_documents", "list_offices", "next_serial", "serve_document",
    "update_office",
]
