"""Each cluster's 锻长板补短板清单 (the plan's 三 (二)): chain links and the target firms to court.

A link is public (its name, place in the chain, strength or gap, notes, which land suits it):
the 招商地图 shows it to investors. Target firms, their status and notes are confidential
(who is being courted is negotiating position), visible to signed-in officers only
(``chain_targets`` grant). A link leads to land: its industry (the link's own, else its
cluster's) filters the site finder and the investor land map, and its GB/T 4754 classes
select the control indicators that apply (hggis.reserves.indicators).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from hggis.access.policy import Principal, authorize, can
from hggis.db.models import Cluster, Industry
from hggis.errors import Conflict, Invalid, NotFound
from hggis.io import values as V
from hggis.io.keyed_sheet import (
    BadCell,
    SheetColumn,
    SheetImportOptions,
    SheetImportReport,
    SheetSpec,
    accept_rows,
    run_sheet_import,
)
from hggis.projects.tables import CHAIN_POSITIONS, CHAIN_STANDINGS, TARGET_STATUSES, chain_links, chain_targets

L, T = chain_links.c, chain_targets.c
SHEET_NAME = "锻长板补短板清单"
LAND_MAP = "/maps/land"  # the investor land map; it reads ?industry=<plan industry code>
LINK_FIELDS = ("position", "standing", "industry_code", "gbt4754_codes", "notes")
LINK_EDITABLE = ("name", *LINK_FIELDS)
TARGET_EDITABLE = ("name", "status", "notes")
POSITION_BY_WORD = {**{v: k for k, v in CHAIN_POSITIONS.items()}, **{k: k for k in CHAIN_POSITIONS}}
STANDING_BY_WORD = {**{v: k for k, v in CHAIN_STANDINGS.items()}, **{k: k for k in CHAIN_STANDINGS},
                    "锻长板": "strength", "补短板": "gap"}
STATUS_BY_WORD = {**{v: k for k, v in TARGET_STATUSES.items()}, **{k: k for k in TARGET_STATUSES}}


def land_links(link_id: int, industry: str | None) -> dict[str, str | None]:
    """Where a link leads: the land map filtered to its industry, the site finder started from it."""
    return {"land_map_href": f"{LAND_MAP}?industry={industry}" if industry else None,
            "site_finder_href": f"/reserves?chain_link={link_id}",
            "sites_api_href": f"/api/sites?chain_link={link_id}"}


def _links_select():  # noqa: ANN202 - a Select
    return (select(L.id, L.cluster_id, Cluster.name.label("cluster"), L.name, L.position, L.standing,
                   func.coalesce(L.industry_code, Cluster.industry_code).label("industry_code"),
                   Industry.name.label("industry"), L.gbt4754_codes, L.notes, L.version)
            .join(Cluster, Cluster.id == L.cluster_id)
            .outerjoin(Industry, Industry.code == func.coalesce(L.industry_code, Cluster.industry_code)))


def _link(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    d["position_label"] = CHAIN_POSITIONS[d["position"]]
    d["standing_label"] = CHAIN_STANDINGS[d["standing"]]
    d.update(land_links(d["id"], d["industry_code"]))
    return d


def list_links(conn: Connection, principal: Principal, cluster_id: int | None = None) -> list[dict[str, Any]]:
    """The links (all clusters or one); target firms only for those who may read them."""
    authorize(principal, "chain_links", "read")
    q = _links_select().order_by(L.cluster_id, L.position, L.id)
    if cluster_id is not None:
        q = q.where(L.cluster_id == cluster_id)
    links = [_link(r) for r in conn.execute(q)]
    if links and can(principal, "chain_targets", "read"):
        firms: dict[int, list[dict[str, Any]]] = {}
        for t in conn.execute(select(chain_targets).where(T.link_id.in_([x["id"] for x in links])).order_by(T.id)):
            firms.setdefault(t.link_id, []).append(_target(t))
        for x in links:
            x["target_firms"] = firms.get(x["id"], [])
    return links


def _target(t: Any) -> dict[str, Any]:
    d = dict(t._mapping)
    d["status_label"] = TARGET_STATUSES[d["status"]]
    return d


def get_link(conn: Connection, principal: Principal, link_id: int) -> dict[str, Any]:
    authorize(principal, "chain_links", "read")
    r = conn.execute(_links_select().where(L.id == link_id)).first()
    if r is None:
        raise NotFound(f"chain link {link_id} not found")
    out = _link(r)
    if can(principal, "chain_targets", "read"):
        out["target_firms"] = [_target(t) for t in conn.execute(
            select(chain_targets).where(T.link_id == link_id).order_by(T.id))]
    return out


def link_industry(conn: Connection, link_id: int) -> tuple[str | None, list[str], str]:
    """(plan industry code, GB/T 4754 classes, name) of a link: what the site finder filters by."""
    r = conn.execute(select(func.coalesce(L.industry_code, Cluster.industry_code), L.gbt4754_codes, L.name)
                     .join(Cluster, Cluster.id == L.cluster_id).where(L.id == link_id)).first()
    if r is None:
        raise NotFound(f"chain link {link_id} not found")
    return r[0], list(r[1] or []), r[2]


def _check_link(values: dict[str, Any]) -> None:
    for f, allowed in (("position", CHAIN_POSITIONS), ("standing", CHAIN_STANDINGS)):
        if f in values and values[f] not in allowed:
            raise Invalid(f"{f} must be one of {', '.join(allowed)}", field=f)
    if "name" in values and not str(values["name"] or "").strip():
        raise Invalid("name is empty", field="name")


def create_link(conn: Connection, principal: Principal, cluster_id: int, values: dict[str, Any]) -> dict[str, Any]:
    authorize(principal, "chain_links", "write")
    _check_link({"position": None, "standing": None, "name": None, **values})
    if conn.execute(select(Cluster.id).where(Cluster.id == cluster_id)).first() is None:
        raise Invalid(f"no cluster {cluster_id}", field="cluster_id")
    if conn.execute(select(L.id).where(L.cluster_id == cluster_id, L.name == values["name"])).first():
        raise Conflict(f"the cluster already has a link named {values['name']!r}")
    new_id = conn.execute(insert(chain_links).values(cluster_id=cluster_id, **values).returning(L.id)).scalar_one()
    return get_link(conn, principal, new_id)


def update_link(conn: Connection, principal: Principal, link_id: int, changes: dict[str, Any],
                expected_version: int) -> dict[str, Any]:
    authorize(principal, "chain_links", "write")
    row = conn.execute(select(chain_links).where(L.id == link_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"chain link {link_id} not found")
    if row.version != expected_version:
        raise Conflict(f"chain link {link_id} is at version {row.version}, you edited version {expected_version}")
    _check_link(changes)
    if changes:
        conn.execute(update(chain_links).where(L.id == link_id).values(**changes, version=L.version + 1))
    return get_link(conn, principal, link_id)


def add_target(conn: Connection, principal: Principal, link_id: int, values: dict[str, Any]) -> dict[str, Any]:
    authorize(principal, "chain_targets", "write")
    link_industry(conn, link_id)
    if values.get("status", "listed") not in TARGET_STATUSES:
        raise Invalid(f"status must be one of {', '.join(TARGET_STATUSES)}", field="status")
    if conn.execute(select(T.id).where(T.link_id == link_id, T.name == values["name"])).first():
        raise Conflict(f"the link already lists {values['name']!r}")
    r = conn.execute(insert(chain_targets).values(link_id=link_id, **values).returning(chain_targets)).one()
    return _target(r)


def update_target(conn: Connection, principal: Principal, target_id: int, changes: dict[str, Any],
                  expected_version: int) -> dict[str, Any]:
    authorize(principal, "chain_targets", "write")
    row = conn.execute(select(chain_targets).where(T.id == target_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"target firm {target_id} not found")
    if row.version != expected_version:
        raise Conflict(f"target firm {target_id} is at version {row.version}, you edited version {expected_version}")
    if "status" in changes and changes["status"] not in TARGET_STATUSES:
        raise Invalid(f"status must be one of {', '.join(TARGET_STATUSES)}", field="status")
    if changes:
        conn.execute(update(chain_targets).where(T.id == target_id).values(**changes, version=T.version + 1))
    return _target(conn.execute(select(chain_targets).where(T.id == target_id)).one())


# ---------------------------------------------------------------------------------------
# Import (XLSX/CSV): one row per link, or per link and target firm
# ---------------------------------------------------------------------------------------

HEADERS: dict[str, list[str]] = {
    "cluster": ["产业集群", "集群", "cluster"],
    "name": ["产业链环节", "环节", "链条环节", "name"],
    "position": ["链位", "上中下游", "position"],
    "standing": ["长板/短板", "长板短板", "类型", "standing"],
    "industry": ["所属产业", "产业", "industry_code"],
    "gbt4754_codes": ["国民经济行业代码", "行业代码", "gbt4754_codes"],
    "notes": ["说明", "环节说明", "notes"],
    "target": ["目标企业", "招商目标企业", "target"],
    "target_status": ["对接状态", "状态", "target_status"],
    "target_notes": ["目标企业备注", "target_notes"],
}
REQUIRED = ("cluster", "name", "position", "standing")


def _word(table: dict[str, str], what: str) -> Any:
    def parse(raw: Any, _col: SheetColumn) -> str | None:
        t = V.as_text(raw)
        if t is None:
            return None
        if t not in table:
            raise ValueError(f"{what} {t!r} 不可识别（可填：{'、'.join(k for k in table if not k.isascii())}）")
        return table[t]
    return parse


def _text(raw: Any, _col: SheetColumn) -> str | None:
    return V.as_text(raw)


def _gbt(raw: Any, _col: SheetColumn) -> list[str] | None:
    t = V.as_text(raw)
    if t is None:
        return None
    codes = [c for c in t.replace("，", "、").replace(",", "、").replace(" ", "、").split("、") if c]
    for c in codes:
        if not (c.isdigit() and 2 <= len(c) <= 4):
            raise ValueError(f"行业代码 {c!r} 不是 GB/T 4754 代码（2–4 位数字）")
    return codes


PARSERS = {"cluster": _text, "name": _text, "position": _word(POSITION_BY_WORD, "链位"),
           "standing": _word(STANDING_BY_WORD, "长板/短板"), "industry": _text, "gbt4754_codes": _gbt,
           "notes": _text, "target": _text, "target_status": _word(STATUS_BY_WORD, "对接状态"),
           "target_notes": _text}
SPEC = SheetSpec("chain_links", SHEET_NAME, HEADERS, REQUIRED, PARSERS)


def _resolve(conn: Connection, rows: list[tuple[int, dict[str, Any]]], cols: dict[str, SheetColumn],
             bad: list[BadCell]) -> list[dict[str, Any]]:
    clusters = dict(conn.execute(select(Cluster.name, Cluster.id)).all())
    industries = {**{n: c for c, n in conn.execute(select(Industry.code, Industry.name))},
                  **{c: c for c in conn.execute(select(Industry.code)).scalars()}}
    label = {f: c.label for f, c in cols.items()}
    first: dict[tuple[int, str], tuple[int, dict[str, Any]]] = {}
    firms: dict[tuple[int, str, str], int] = {}
    out = []
    for number, r in rows:
        problems = [(f, "必填") for f in REQUIRED if f in r and not r.get(f)]
        cid = clusters.get(r.get("cluster") or "")
        if r.get("cluster") and cid is None:
            problems.append(("cluster", f"产业集群 {r['cluster']!r} 不在系统中"))
        industry = industries.get(r["industry"]) if r.get("industry") else None
        if r.get("industry") and industry is None:
            problems.append(("industry", f"产业 {r['industry']!r} 不可识别"))
        link = {"position": r.get("position"), "standing": r.get("standing"), "industry_code": industry,
                "gbt4754_codes": r.get("gbt4754_codes") or [], "notes": r.get("notes")}
        if cid is not None and r.get("name"):
            key = (cid, r["name"])
            if key in first and first[key][1] != link:
                problems.append(("name", f"与第 {first[key][0]} 行同一环节，但环节信息不一致"))
            first.setdefault(key, (number, link))
            if r.get("target"):
                fk = (cid, r["name"], r["target"])
                if fk in firms:
                    problems.append(("target", f"与第 {firms[fk]} 行重复（同一环节同一目标企业）"))
                firms.setdefault(fk, number)
        if (r.get("target_status") or r.get("target_notes")) and not r.get("target"):
            problems.append(("target", "填写了对接状态或备注，但没有目标企业"))
        if problems:
            for f, why in problems:
                bad.append(BadCell(number, label.get(f, f), r.get(f), why))
            continue
        out.append({"row": number, "cluster_id": cid, "name": r["name"], "link": link, "target": r.get("target"),
                    "target_status": r.get("target_status") or "listed", "target_notes": r.get("target_notes"),
                    "adcode": "city"})
    return out


def _write(conn: Connection, rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    stored = {(s.cluster_id, s.name): s for s in conn.execute(select(chain_links))}
    inserted = updated = unchanged = 0
    ids: dict[tuple[int, str], int] = {}
    for r in rows:
        key = (r["cluster_id"], r["name"])
        if key in ids:
            continue
        old = stored.get(key)
        if old is None:
            ids[key] = conn.execute(insert(chain_links).values(cluster_id=key[0], name=key[1], **r["link"])
                                    .returning(L.id)).scalar_one()
            inserted += 1
        elif any(getattr(old, k) != v for k, v in r["link"].items()):
            conn.execute(update(chain_links).where(L.id == old.id).values(**r["link"], version=L.version + 1))
            ids[key] = old.id
            updated += 1
        else:
            ids[key] = old.id
            unchanged += 1
    firms = {(t.link_id, t.name): t for t in conn.execute(select(chain_targets).where(T.link_id.in_(list(ids.values()))))}
    for r in rows:
        if not r["target"]:
            continue
        lid = ids[(r["cluster_id"], r["name"])]
        old = firms.get((lid, r["target"]))
        values = {"status": r["target_status"], "notes": r["target_notes"]}
        if old is None:
            conn.execute(insert(chain_targets).values(link_id=lid, name=r["target"], **values))
        elif (old.status, old.notes) != (values["status"], values["notes"]):
            conn.execute(update(chain_targets).where(T.id == old.id).values(**values, version=T.version + 1))
    return inserted, updated, unchanged


def _apply(conn: Connection, principal: Principal, report: SheetImportReport, cols: dict[str, SheetColumn],
           parsed: list[tuple[int, dict[str, Any]]]) -> None:
    authorize(principal, "chain_links", "write")
    rows = _resolve(conn, parsed, cols, report.bad_rows)
    accept_rows(report, rows)
    report.adcodes = []  # the lists are the city's, not a county's
    report.inserted, report.updated, report.unchanged = _write(conn, rows)


def import_chain_links(engine: Engine, principal: Principal, path: str | Path,
                       options: SheetImportOptions | None = None) -> SheetImportReport:
    """Check every row of a 锻长板补短板清单, then write all links and target firms (or none)."""
    authorize(principal, "chain_links", "write")
    return run_sheet_import(engine, principal, path, SPEC, options or SheetImportOptions(), _apply)


def link_brief(conn: Connection, link_id: int) -> dict[str, Any]:
    """What the site finder says about the link it started from: industry, classes, the indicators
    that apply to land for it (hggis.reserves.indicators), the land map filtered to it."""
    from hggis.reserves.indicators import propose_indicators

    industry, classes, name = link_industry(conn, link_id)
    indicators = None
    if industry or classes:
        indicators = propose_indicators(conn, industry, classes[0] if classes else None)
    return {"id": link_id, "name": name, "industry_code": industry, "gbt4754_codes": classes,
            "indicators": indicators, **land_links(link_id, industry)}
