"""Who may read evaluation results, and which rows: shared by runs, results and aggregates."""

from __future__ import annotations

from hggis.access.policy import Forbidden, Principal, grant, scope_clause


def authorize_read(principal: Principal) -> None:
    """Any read grant of ``evaluation`` (the rows themselves are then filtered by scope)."""
    if grant(principal, "evaluation", "read") is None:
        raise Forbidden(f"role {principal.role} may not read evaluation")


def result_scope(principal: Principal, alias: str = "r") -> tuple[str, dict[str, object]]:
    return scope_clause(principal, "evaluation", "read", f"{alias}.adcode", f"{alias}.park_id")
