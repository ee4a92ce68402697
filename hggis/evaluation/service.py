"""Small services shared by the API and the CLI: the live quality report, enterprise lookup."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from hggis.access.policy import Principal, grant
from hggis.evaluation.runs import authorize_read, compute_evaluation, prepare
from hggis.identifiers import InvalidIdentifier, validate_credit_code
from hggis.inputs import is_row_id


def scope_mask(principal: Principal, frame: pd.DataFrame, resource: str = "evaluation") -> pd.Series:
    """Rows of ``frame`` (with adcode, park_id) inside the principal's read scope, vectorised."""
    scope = grant(principal, resource, "read")
    if scope in ("all", "public"):
        return pd.Series(True, index=frame.index)
    if scope == "county":
        return frame["adcode"].isin(principal.counties)
    if scope == "park":
        return frame["park_id"].isin(list(principal.parks))
    return pd.Series(False, index=frame.index)


def quality_report(conn: Connection, principal: Principal, year: int, model_id: int | None = None) -> dict[str, Any]:
    """The data-quality findings of ``year`` as a run would see them, without storing anything."""
    authorize_read(principal)
    ev = prepare(conn, year, model_id)
    blocking_before = ev.report.blocking_ids
    compute_evaluation(ev, proceed=True)
    issues = ev.report.issues
    issues = issues[scope_mask(principal, issues)]
    records = [
        {k: (None if pd.isna(v) else (int(v) if k in ("enterprise_id", "park_id") else v)) for k, v in row.items()}
        for row in issues.to_dict(orient="records")
    ]
    blocking = [r for r in records if r["blocking"]]
    return {
        "year": year,
        "model_id": ev.model_id,
        "run_would_start": not blocking_before,
        "summary": {
            "issues": len(records),
            "blocking_issues": len(blocking),
            "blocking_enterprises": len({r["enterprise_id"] for r in blocking}),
        },
        "issues": records,
    }


def enterprise_id_of(conn: Connection, key: str) -> int:
    """An enterprise id from a credit code or a numeric id."""
    if is_row_id(key):  # an 18-character credit code is never a 32-bit id
        return int(key)
    try:
        code = validate_credit_code(key)
    except InvalidIdentifier as exc:
        raise LookupError(str(exc)) from None
    eid = conn.execute(text("SELECT id FROM enterprises WHERE credit_code = :c"), {"c": code}).scalar_one_or_none()
    if eid is None:
        raise LookupError(f"no enterprise with credit code {code}")
    return eid
