"""Lessees listed in a parcels file (承租企业 columns), written with the parcels.

A survey or 供地 ledger often carries who else uses a parcel beside its holder. The columns
(统一社会信用代码 of the users, their shares, optionally their names) may list several users
in one cell, separated by ；/;/、 in the same order. They become lessee occupancies of the
parcel through the same upsert and 100 % check as the occupancy import; a file that would
push a parcel above 100 % is refused with the feature named. An unknown credit code is
registered as an enterprise (name from the name column, else the placeholder the figures
import replaces), in the parcel's county and park.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from hggis.db.expressions import in_array
from hggis.enterprises import PENDING_NAME_PREFIX
from hggis.identifiers import validate_credit_code
from hggis.io import values as V
from hggis.io.facts import OCCUPANT_HEADERS
from hggis.io.occupancies_import import _register_enterprises, _write
from hggis.occupancies import ENTERPRISES, PARCELS, share_overflows

__all__ = ["OCCUPANT_HEADERS", "Occupant", "parse_occupants", "write_occupants"]

_SPLIT = re.compile(r"[；;、,，]")


@dataclass
class Occupant:
    credit_code: str
    share: float
    name: str | None


def _cells(value: Any) -> list[str]:
    text = V.as_text(value)
    return [p.strip() for p in _SPLIT.split(text)] if text else []


def _share(text: str) -> float:
    percent = text.endswith(("%", "％"))
    number, why = V.parse_number(text.rstrip("%％"))
    if why or number is None:
        raise ValueError(f"承租份额 {text!r} 不是数字")
    share = float(number) / (100.0 if percent or float(number) > 1 else 1.0)
    if not 0 < share <= 1:
        raise ValueError(f"承租份额 {text!r} 须大于 0 且不超过 100%")
    return round(share, 5)


def parse_occupants(columns: dict[str, pd.Series | None]) -> tuple[dict[int, list[Occupant]], dict[int, str]]:
    """Per feature index, its listed users; and the reason of each feature whose cells are wrong."""
    codes, shares, names = (columns.get(k) for k in ("occupant_code", "occupant_share", "occupant_name"))
    found: dict[int, list[Occupant]] = {}
    errors: dict[int, str] = {}
    if codes is None:
        return found, errors
    share_cells = shares.tolist() if shares is not None else [None] * len(codes)
    name_cells = names.tolist() if names is not None else [None] * len(codes)
    for i, (c, s, n) in enumerate(zip(codes.tolist(), share_cells, name_cells, strict=True)):
        listed, parts, labels = _cells(c), _cells(s), _cells(n)
        if not listed:
            continue
        try:
            if len(parts) != len(listed):
                raise ValueError(f"列出 {len(listed)} 个承租企业，却有 {len(parts)} 个承租份额")
            users = [Occupant(validate_credit_code(code), _share(part), labels[k] if k < len(labels) else None)
                     for k, (code, part) in enumerate(zip(listed, parts, strict=True))]
            if sum(u.share for u in users) > 1 + 1e-6:
                raise ValueError("承租份额合计超过 100%")
        except ValueError as exc:
            errors[i] = str(exc)
            continue
        found[i] = users
    return found, errors


def write_occupants(conn: Connection, found: dict[int, list[Occupant]], codes: list[str | None]) -> dict[int, str]:
    """Upsert the listed users as lessees of the written parcels; {feature: reason} where 100 % is exceeded."""
    if not found:
        return {}
    wanted = sorted({c for i in found if (c := codes[i])})
    parcels = {p.code: p for p in conn.execute(
        select(PARCELS.c.id, PARCELS.c.code, PARCELS.c.adcode, PARCELS.c.park_id).where(in_array(PARCELS.c.code, wanted)))}
    credits = sorted({u.credit_code for users in found.values() for u in users})
    firms = dict(conn.execute(select(ENTERPRISES.c.credit_code, ENTERPRISES.c.id)
                              .where(in_array(ENTERPRISES.c.credit_code, credits))).all())
    rows = []
    for i, users in found.items():
        p = parcels[codes[i] or ""]
        for u in users:
            rows.append({"row": i, "parcel_id": p.id, "parcel_code": p.code, "adcode": p.adcode, "park_id": p.park_id,
                         "credit_code": u.credit_code, "name": u.name or PENDING_NAME_PREFIX + u.credit_code,
                         "enterprise_id": firms.get(u.credit_code), "share": u.share, "role": "lessee",
                         "floor_area_m2": None, "valid_from": None, "valid_to": None})
    _register_enterprises(conn, rows)
    _write(conn, rows)
    over = dict(share_overflows(conn, {r["parcel_id"] for r in rows}))
    return {i: f"宗地 {codes[i]} 各用地企业的份额合计 {over[codes[i]]:.5g}，超过 1（100%）"  # type: ignore[index]
            for i in found if codes[i] in over}
