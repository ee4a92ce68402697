"""标准地 control indicators: proposed defaults, reading and setting them, and national-minimum flags.

Defaults come from two tables, both versioned data:

- the national 《工业项目建设用地控制指标》 (edition from the setting ``national_norms_edition``):
  建筑系数 minimum, 行政办公及生活服务设施用地 and 绿地率 maxima, and the minimum 容积率 by
  GB/T 4754-2017 division/group (longest prefix wins: 2921 → group 292 塑料制品 before 29);
- local defaults per plan industry (``industry_indicator_defaults``, edition from the setting
  ``indicator_defaults_edition``): investment, 亩均税收, output, energy, environment standard,
  the 容积率 span and the construction/production months, and the GB/T class that stands for
  the industry when a parcel has no class of its own.

A parcel is flagged when its indicators are looser than the national edition allows:
far_min below the minimum of its GB/T class (``control_indicator_classes``) or, when it has
none, below the *lowest* minimum among the divisions its plan industry covers (setting
``industry_gbt_divisions``: a 医药化工 parcel may be a chemical plant at 0.6, so 0.65 is not
flagged until someone records that it is for pharmaceuticals, 0.7), building_coverage_min below the national minimum,
admin_ratio_max or green_ratio_max above the national maximum (the last two are ceilings,
so "below the national standard" means a larger allowance). Investment intensity is not
flagged: its national minimum depends on the land grade (土地等别), which we do not hold.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, authorize, scope_clause
from hggis.history import object_history
from hggis.inputs import is_ascii_digits
from hggis.reserves.common import AVAILABLE_STATUSES, PUBLIC_STATUSES, InvalidRequest, NotFound, get_setting, list_scope

INDICATOR_FIELDS: dict[str, tuple[str, str]] = {
    # field -> (Chinese label, unit)
    "investment_intensity": ("固定资产投资强度", "万元/亩"),
    "far_min": ("容积率下限", ""),
    "far_max": ("容积率上限", ""),
    "tax_per_mu": ("亩均税收", "万元/亩"),
    "output_intensity": ("产出强度", "万元/亩"),
    "energy_per_output": ("单位产出能耗", "吨标准煤/万元"),
    "environment_standard": ("环境标准", ""),
    "building_coverage_min": ("建筑系数下限", "%"),
    "green_ratio_max": ("绿地率上限", "%"),
    "admin_ratio_max": ("行政办公及生活服务设施用地比例上限", "%"),
    "construction_months": ("建设期", "月"),
    "production_months": ("投产期", "月"),
}
NUMERIC_LIMITS: dict[str, tuple[float, float]] = {
    "investment_intensity": (0, 100_000),
    "far_min": (0, 20),
    "far_max": (0, 20),
    "tax_per_mu": (0, 10_000),
    "output_intensity": (0, 1_000_000),
    "energy_per_output": (0, 100),
    "building_coverage_min": (0, 100),
    "green_ratio_max": (0, 100),
    "admin_ratio_max": (0, 100),
    "construction_months": (1, 240),
    "production_months": (1, 240),
}


def editions(conn: Connection) -> tuple[str, str]:
    """(national norms edition, local defaults edition) in force."""
    return str(get_setting(conn, "national_norms_edition")), str(get_setting(conn, "indicator_defaults_edition"))


def industry_divisions(conn: Connection) -> dict[str, list[str]]:
    """GB/T 4754-2017 divisions each plan industry covers (setting ``industry_gbt_divisions``)."""
    try:
        return dict(get_setting(conn, "industry_gbt_divisions"))
    except LookupError:  # a database migrated before the setting existed: no industry-wide check
        return {}


def national_norms(conn: Connection, edition: str | None = None) -> dict[str, Any]:
    edition = edition or editions(conn)[0]
    row = conn.execute(text("SELECT * FROM national_land_norms WHERE edition = :e"), {"e": edition}).mappings().first()
    if row is None:
        raise LookupError(f"no national norms of edition {edition!r}")
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def national_far_min(conn: Connection, gbt_code: str, edition: str | None = None) -> dict[str, Any] | None:
    """The minimum 容积率 of the most specific category containing a GB/T 4754-2017 code."""
    edition = edition or editions(conn)[0]
    row = conn.execute(
        text(
            "SELECT gbt_prefix, category, far_min FROM national_far_minimums "
            "WHERE edition = :e AND :code LIKE gbt_prefix || '%' ORDER BY length(gbt_prefix) DESC LIMIT 1"
        ),
        {"e": edition, "code": gbt_code},
    ).first()
    if row is None:
        return None
    return {"gbt_prefix": row.gbt_prefix, "category": row.category, "far_min": float(row.far_min), "edition": edition}


def _check_gbt(code: str | None) -> str | None:
    if code is None:
        return None
    code = code.strip()
    if not (is_ascii_digits(code) and 2 <= len(code) <= 4):
        raise InvalidRequest("gbt4754_code", f"{code!r} is not a GB/T 4754-2017 code (2–4 digits, e.g. 2720)")
    return code


def propose_indicators(conn: Connection, industry: str | None = None, gbt4754_code: str | None = None) -> dict[str, Any]:
    """Default indicators for an intended industry and/or GB/T class, each with its source."""
    gbt4754_code = _check_gbt(gbt4754_code)
    if industry is None and gbt4754_code is None:
        raise InvalidRequest("industry", "give an industry (e.g. pharma_chem) or a GB/T 4754 code")
    national_edition, local_edition = editions(conn)
    local = None
    if industry is not None:
        local = conn.execute(
            text(
                "SELECT d.*, i.name AS industry_name FROM industries i LEFT JOIN industry_indicator_defaults d "
                "ON d.industry_code = i.code AND d.edition = :e WHERE i.code = :i"
            ),
            {"e": local_edition, "i": industry},
        ).mappings().first()
        if local is None:
            raise InvalidRequest("industry", f"unknown industry {industry!r}")
    code = gbt4754_code or (local["gbt_code"] if local and local["gbt_code"] else None)
    norms = national_norms(conn, national_edition)
    far = national_far_min(conn, code, national_edition) if code else None
    values: dict[str, Any] = {
        "building_coverage_min": norms["building_coverage_min"],
        "admin_ratio_max": norms["admin_ratio_max"],
        "green_ratio_max": norms["green_ratio_max"],
    }
    sources = {k: f"{norms['title']}" for k in values}
    if far:
        values["far_min"] = far["far_min"]
        sources["far_min"] = f"{norms['title']}：{far['category']}（{far['gbt_prefix']}）≥ {far['far_min']:g}"
    if local and local["edition"] is not None:
        for key in ("investment_intensity", "tax_per_mu", "output_intensity", "energy_per_output",
                    "environment_standard", "construction_months", "production_months"):
            value = local[key]
            values[key] = float(value) if isinstance(value, Decimal) else value
            sources[key] = f"本地默认值 {local_edition}（{local['industry_name']}）"
        if "far_min" in values:
            values["far_max"] = round(values["far_min"] + float(local["far_span"]), 2)
            sources["far_max"] = f"容积率下限 + {float(local['far_span']):g}（本地默认值 {local_edition}）"
    return {
        "industry": industry,
        "gbt4754_code": code,
        "national_edition": national_edition,
        "national_verified": norms["verified"],
        "local_edition": local_edition if local else None,
        "far_category": far,
        "values": values,
        "sources": sources,
    }


# ---------------------------------------------------------------------------------------
# Flags (set-based over all reserve and on-offer parcels in scope)
# ---------------------------------------------------------------------------------------

FLAGS_SQL = """
WITH p AS (
    SELECT p.id, p.code, p.adcode, p.park_id, p.status, p.intended_industry, p.area_mu
    FROM parcels p
    WHERE p.retired_at IS NULL AND p.status = ANY(:statuses) AND {where}
),
cls AS (
    SELECT p.id, cc.gbt4754_code AS own_gbt, d.gbt_code AS industry_gbt,
           coalesce(cc.gbt4754_code, d.gbt_code) AS gbt
    FROM p
    LEFT JOIN control_indicator_classes cc ON cc.parcel_id = p.id
    LEFT JOIN industry_indicator_defaults d ON d.edition = :local_edition AND d.industry_code = p.intended_industry
),
own_far AS (
    SELECT DISTINCT ON (cls.id) cls.id, f.far_min AS national_far_min, f.category AS far_category, f.gbt_prefix
    FROM cls JOIN national_far_minimums f ON f.edition = :edition AND cls.own_gbt LIKE f.gbt_prefix || '%'
    ORDER BY cls.id, length(f.gbt_prefix) DESC
),
industry_far AS (
    SELECT DISTINCT ON (p.id) p.id, f.far_min AS national_far_min,
           f.category || '（' || i.name || '各门类中最低）' AS far_category, f.gbt_prefix
    FROM p
    JOIN industries i ON i.code = p.intended_industry
    JOIN national_far_minimums f ON f.edition = :edition
     AND left(f.gbt_prefix, 2) IN (SELECT jsonb_array_elements_text(CAST(:divisions AS jsonb) -> p.intended_industry))
    WHERE NOT EXISTS (SELECT 1 FROM own_far o WHERE o.id = p.id)
    ORDER BY p.id, f.far_min, f.gbt_prefix
),
far AS (SELECT * FROM own_far UNION ALL SELECT * FROM industry_far)
SELECT p.id, p.code, p.adcode, p.park_id, p.status, p.intended_industry, p.area_mu,
       cls.gbt, cls.own_gbt IS NOT NULL AS gbt_is_own,
       ci.parcel_id IS NOT NULL AS has_indicators, ci.version AS indicators_version,
       ci.investment_intensity, ci.far_min, ci.far_max, ci.tax_per_mu, ci.output_intensity,
       ci.energy_per_output, ci.environment_standard, ci.building_coverage_min, ci.green_ratio_max,
       ci.admin_ratio_max, ci.construction_months, ci.production_months,
       far.national_far_min, far.far_category, far.gbt_prefix,
       n.building_coverage_min AS national_coverage_min, n.admin_ratio_max AS national_admin_max,
       n.green_ratio_max AS national_green_max
FROM p
JOIN cls ON cls.id = p.id
LEFT JOIN far ON far.id = p.id
LEFT JOIN control_indicators ci ON ci.parcel_id = p.id
CROSS JOIN (SELECT * FROM national_land_norms WHERE edition = :edition) n
WHERE {extra}
ORDER BY p.code
"""


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def flags_of(row: Any) -> list[dict[str, Any]]:
    """The national-minimum flags of one row of FLAGS_SQL, with Chinese messages."""
    flags: list[dict[str, Any]] = []
    if not row["has_indicators"]:
        return [{"code": "indicators_missing", "field": None, "message": "未设置控制指标"}]
    checks = (
        ("far_min", "national_far_min", "lt", "far_min_below_national", "容积率下限 {v:g} 低于国家标准（{cat}）≥ {n:g}"),
        ("building_coverage_min", "national_coverage_min", "lt", "building_coverage_below_national",
         "建筑系数下限 {v:g}% 低于国家标准 ≥ {n:g}%"),
        ("admin_ratio_max", "national_admin_max", "gt", "admin_ratio_above_national",
         "行政办公及生活服务设施用地比例上限 {v:g}% 超过国家标准 ≤ {n:g}%"),
        ("green_ratio_max", "national_green_max", "gt", "green_ratio_above_national", "绿地率上限 {v:g}% 超过国家标准 ≤ {n:g}%"),
    )
    for field, nfield, op, code, template in checks:
        value, national = _f(row[field]), _f(row[nfield])
        if value is None:
            flags.append({"code": "field_missing", "field": field, "message": f"未设置{INDICATOR_FIELDS[field][0]}"})
            continue
        if national is None:
            continue
        if (op == "lt" and value < national) or (op == "gt" and value > national):
            flags.append({
                "code": code,
                "field": field,
                "value": value,
                "national": national,
                "message": template.format(v=value, n=national, cat=row.get("far_category") or ""),
            })
    return flags


def _flag_rows(conn: Connection, principal: Principal, extra: str = "TRUE", params: dict | None = None) -> list[dict[str, Any]]:
    scope = list_scope(principal, "reserves", "read")
    where, scope_params = scope_clause(principal, "reserves", "read", "p.adcode", "p.park_id")
    statuses = list(PUBLIC_STATUSES if scope == "public" else AVAILABLE_STATUSES)
    edition, local_edition = editions(conn)
    rows = conn.execute(
        text(FLAGS_SQL.format(where=where, extra=extra)),
        {**scope_params, **(params or {}), "statuses": statuses, "edition": edition, "local_edition": local_edition,
         "divisions": json.dumps(industry_divisions(conn))},
    ).mappings()
    out = []
    for r in rows:
        d = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
        d["flags"] = flags_of(r)
        d["national_edition"] = edition
        out.append(d)
    return out


def indicator_flags(
    conn: Connection, principal: Principal, adcode: str | None = None, flagged_only: bool = False
) -> list[dict[str, Any]]:
    """Every reserve/on-offer parcel in the caller's scope with its indicators and flags."""
    extra, params = ("p.adcode = :adcode", {"adcode": adcode}) if adcode else ("TRUE", {})
    rows = _flag_rows(conn, principal, extra, params)
    return [r for r in rows if r["flags"]] if flagged_only else rows


# ---------------------------------------------------------------------------------------
# One parcel: read, set, history
# ---------------------------------------------------------------------------------------


def _parcel(conn: Connection, code: str) -> Any:
    row = conn.execute(
        text("SELECT id, code, adcode, park_id, status, intended_industry FROM parcels WHERE code = :c AND retired_at IS NULL"),
        {"c": code.strip().upper()},
    ).first()
    if row is None:
        raise NotFound(f"no parcel {code}")
    return row


def parcel_indicators(conn: Connection, principal: Principal, code: str) -> dict[str, Any]:
    """A parcel's indicators, flags and the proposed defaults for its intended industry.

    Anonymous callers may read the indicators of land on offer: publishing them before sale
    is what 标准地 means. Reserve land is not public; it answers 'not found' to them.
    """
    parcel = _parcel(conn, code)
    scope = authorize(principal, "reserves", "read", adcode=parcel.adcode, park_id=parcel.park_id)
    visible = PUBLIC_STATUSES if scope == "public" else AVAILABLE_STATUSES
    if parcel.status not in visible:
        raise NotFound(f"parcel {parcel.code} is not reserve or on-offer land" if scope != "public" else f"no parcel {code}")
    rows = _flag_rows(conn, principal, "p.id = :pid", {"pid": parcel.id})
    row = rows[0]
    indicators = {k: row[k] for k in INDICATOR_FIELDS}
    proposal = None
    if parcel.intended_industry or row["gbt"]:
        proposal = propose_indicators(conn, parcel.intended_industry, row["gbt"] if row["gbt_is_own"] else None)
    return {
        "code": parcel.code,
        "adcode": parcel.adcode,
        "park_id": parcel.park_id,
        "status": parcel.status,
        "intended_industry": parcel.intended_industry,
        "gbt4754_code": row["gbt"],
        "gbt4754_code_is_own": row["gbt_is_own"],
        "has_indicators": row["has_indicators"],
        "version": row["indicators_version"],
        "indicators": indicators,
        "national": {
            "edition": row["national_edition"],
            "far_min": row["national_far_min"],
            "far_category": row["far_category"],
            "building_coverage_min": row["national_coverage_min"],
            "admin_ratio_max": row["national_admin_max"],
            "green_ratio_max": row["national_green_max"],
        },
        "flags": row["flags"],
        "proposed": proposal,
    }


def _clean_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(INDICATOR_FIELDS))
    if unknown:
        raise InvalidRequest(unknown[0], f"unknown indicator (one of {', '.join(INDICATOR_FIELDS)})")
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or key == "environment_standard":
            clean[key] = value if value is None else str(value).strip() or None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidRequest(key, f"{value!r} is not a number") from None
        lo, hi = NUMERIC_LIMITS[key]
        if not lo <= number <= hi:
            raise InvalidRequest(key, f"{number:g} outside [{lo:g}, {hi:g}] {INDICATOR_FIELDS[key][1]}".strip())
        if key.endswith("_months"):
            if number != int(number):
                raise InvalidRequest(key, "months must be a whole number")
            number = int(number)
        clean[key] = number
    return clean


def set_indicators(
    conn: Connection,
    principal: Principal,
    code: str,
    values: dict[str, Any],
    gbt4754_code: str | None = None,
    fill_defaults: bool = False,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Set (some of) a reserve/on-offer parcel's indicators; the transaction names actor and reason.

    ``fill_defaults`` first fills every indicator not given (and not yet set) from
    :func:`propose_indicators`. ``expected_version`` guards against overwriting a change
    someone else made meanwhile.
    """
    parcel = _parcel(conn, code)
    authorize(principal, "reserves", "write", adcode=parcel.adcode, park_id=parcel.park_id)
    if parcel.status not in AVAILABLE_STATUSES:
        raise InvalidRequest("code", f"parcel {parcel.code} has status {parcel.status}: indicators are set on reserve or on-offer land")
    gbt4754_code = _check_gbt(gbt4754_code)
    clean = _clean_values(values)
    current = conn.execute(
        text("SELECT * FROM control_indicators WHERE parcel_id = :p FOR UPDATE"), {"p": parcel.id}
    ).mappings().first()
    if expected_version is not None and (current["version"] if current else 0) != expected_version:
        raise InvalidRequest("version", f"indicators of {parcel.code} changed meanwhile (now version {current['version'] if current else 0})")
    merged = {k: (current[k] if current else None) for k in INDICATOR_FIELDS}
    if fill_defaults:
        gbt_for_defaults = gbt4754_code or conn.execute(
            text("SELECT gbt4754_code FROM control_indicator_classes WHERE parcel_id = :p"), {"p": parcel.id}
        ).scalar_one_or_none()
        if parcel.intended_industry is None and gbt_for_defaults is None:
            raise InvalidRequest("fill_defaults", f"parcel {parcel.code} has no intended industry or GB/T class to propose defaults from")
        proposal = propose_indicators(conn, parcel.intended_industry, gbt_for_defaults)
        for k, v in proposal["values"].items():
            if merged.get(k) is None:
                merged[k] = v
    merged.update(clean)
    far_min, far_max = merged.get("far_min"), merged.get("far_max")
    if far_min is not None and far_max is not None and float(far_min) > float(far_max):
        raise InvalidRequest("far_min", f"容积率下限 {float(far_min):g} is above the upper limit {float(far_max):g}")
    cols = list(INDICATOR_FIELDS)
    conn.execute(
        text(
            f"""
            INSERT INTO control_indicators (parcel_id, {', '.join(cols)})
            VALUES (:parcel_id, {', '.join(':' + c for c in cols)})
            ON CONFLICT (parcel_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)},
                version = control_indicators.version + 1
            """
        ),
        {"parcel_id": parcel.id, **merged},
    )
    if gbt4754_code is not None:
        conn.execute(
            text(
                "INSERT INTO control_indicator_classes (parcel_id, gbt4754_code) VALUES (:p, :g) "
                "ON CONFLICT (parcel_id) DO UPDATE SET gbt4754_code = EXCLUDED.gbt4754_code, "
                "version = control_indicator_classes.version + 1"
            ),
            {"p": parcel.id, "g": gbt4754_code},
        )
    return parcel_indicators(conn, principal, parcel.code)


def indicator_history(conn: Connection, principal: Principal, code: str) -> list[dict[str, Any]]:
    """Every recorded change of the parcel's indicators and GB/T class, oldest first."""
    parcel = _parcel(conn, code)
    scope = authorize(principal, "reserves", "read", adcode=parcel.adcode, park_id=parcel.park_id)
    if scope == "public":
        authorize(principal, "history", "read")  # raises: history is not public
    rows = object_history(conn, "control_indicators", str(parcel.id))
    rows += object_history(conn, "control_indicator_classes", str(parcel.id))
    return sorted(rows, key=lambda r: r["id"])
