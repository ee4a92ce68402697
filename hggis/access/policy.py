"""The role × resource × action matrix, as data, and the checks that apply it.

The README's access table is rendered from ``POLICY`` (``hggis access matrix``) and the
tests walk the same table, so the documentation, the code and the tests cannot disagree.

A grant is a *scope*: ``"all"`` (anything), ``"county"`` (objects in the principal's
counties), ``"park"`` (objects in the principal's parks) or ``"public"`` (the public view
only: an allow-list of fields, see hggis.features). No entry means refused.
Checks happen in the service layer (``authorize``), so a route that forgets one still
cannot write outside the caller's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hggis.errors import Forbidden  # raised below; importers keep taking it from here

Scope = Literal["all", "county", "park", "public"]
ROLES: tuple[str, ...] = ("public", "park_manager", "county_officer", "city_admin")
ROLE_LABELS = {
    "public": "公众（招商）",
    "park_manager": "园区管理员",
    "county_officer": "县级自然资源干部",
    "city_admin": "市级管理员",
}

# resource -> action -> role -> scope
POLICY: dict[str, dict[str, dict[str, Scope]]] = {
    "counties": {
        "read": {"public": "all", "park_manager": "all", "county_officer": "all", "city_admin": "all"},
        "write": {"city_admin": "all"},
    },
    "clusters": {
        "read": {"public": "all", "park_manager": "all", "county_officer": "all", "city_admin": "all"},
        "write": {"city_admin": "all"},
    },
    "parks": {
        "read": {"public": "public", "park_manager": "all", "county_officer": "all", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "parcels": {
        "read": {"public": "public", "park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
        "flag": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
    },
    "enterprises": {
        "read": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "enterprise_figures": {
        "read": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "reserves": {
        "read": {"public": "public", "park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "idle_cases": {
        "read": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
        "flag": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
    },
    "idle_public_listing": {
        "read": {"public": "all", "park_manager": "all", "county_officer": "all", "city_admin": "all"},
    },
    "evaluation": {
        "read": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "run": {"city_admin": "all"},
    },
    "evaluation_models": {
        "read": {"park_manager": "all", "county_officer": "all", "city_admin": "all"},
        "write": {"city_admin": "all"},
    },
    "land_swap": {  # 腾笼换鸟 what-if: computed, never written
        "simulate": {"park_manager": "park", "city_admin": "all"},
    },
    "imports": {
        "read": {"county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "constraint_layers": {
        "read": {"county_officer": "all", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "history": {
        "read": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
    },
    "projects": {
        "read": {"county_officer": "county", "city_admin": "all"},
        "write": {"county_officer": "county", "city_admin": "all"},
    },
    "chain_links": {
        "read": {"public": "public", "park_manager": "all", "county_officer": "all", "city_admin": "all"},
        "write": {"city_admin": "all"},
    },
    "chain_targets": {
        "read": {"park_manager": "all", "county_officer": "all", "city_admin": "all"},
        "write": {"city_admin": "all"},
    },
    "enquiries": {  # investors send them from the public parcel page; only the 招商 side reads them
        "read": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
        "write": {"park_manager": "park", "county_officer": "county", "city_admin": "all"},
    },
    "users": {
        "read": {"city_admin": "all"},
        "write": {"city_admin": "all"},
    },
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user with a role and scope, or the anonymous public."""

    username: str
    role: str
    counties: frozenset[str] = field(default_factory=frozenset)
    parks: frozenset[int] = field(default_factory=frozenset)
    user_id: int | None = None

    @property
    def is_public(self) -> bool:
        return self.role == "public"

    @property
    def actor(self) -> str:
        """The name written into history."""
        return f"{self.username} ({self.role})"


PUBLIC = Principal(username="anonymous", role="public")


def grant(principal: Principal, resource: str, action: str) -> Scope | None:
    """The scope the principal's role has for ``resource``/``action`` (None: refused)."""
    if resource not in POLICY or action not in POLICY[resource]:
        raise KeyError(f"unknown resource/action {resource}.{action}")
    return POLICY[resource][action].get(principal.role)


def _in_scope(principal: Principal, scope: Scope, adcode: str | None, park_id: int | None) -> bool:
    if scope in ("all", "public"):
        return True
    if scope == "county":
        return adcode is not None and adcode in principal.counties
    if scope == "park":
        return park_id is not None and park_id in principal.parks
    return False


def can(
    principal: Principal, resource: str, action: str, adcode: str | None = None, park_id: int | None = None
) -> bool:
    scope = grant(principal, resource, action)
    return scope is not None and _in_scope(principal, scope, adcode, park_id)


def authorize(
    principal: Principal, resource: str, action: str, adcode: str | None = None, park_id: int | None = None
) -> Scope:
    """Return the granted scope or raise Forbidden naming the refused object."""
    scope = grant(principal, resource, action)
    if scope is None:
        raise Forbidden(f"role {principal.role} may not {action} {resource}")
    if not _in_scope(principal, scope, adcode, park_id):
        where = f"county {adcode}" if scope == "county" else f"park {park_id}"
        raise Forbidden(f"{principal.username} may not {action} {resource} in {where}: outside their {scope} scope")
    return scope


def scope_clause(
    principal: Principal, resource: str, action: str, adcode_sql: str, park_sql: str
) -> tuple[str, dict[str, object]]:
    """A SQL condition restricting a list to the principal's scope (raises if no grant)."""
    scope = grant(principal, resource, action)
    if scope is None:
        raise Forbidden(f"role {principal.role} may not {action} {resource}")
    if scope in ("all", "public"):
        return "TRUE", {}
    if scope == "county":
        return f"{adcode_sql} = ANY(:scope_counties)", {"scope_counties": sorted(principal.counties)}
    return f"{park_sql} = ANY(:scope_parks)", {"scope_parks": sorted(principal.parks)}


def matrix_markdown() -> str:
    """The policy as a Markdown table (pasted into the README by ``hggis access matrix``)."""
    labels = {"all": "all", "county": "own county", "park": "own park(s)", "public": "public view"}
    header = "| resource | action | " + " | ".join(ROLES) + " |"
    lines = [header, "|" + "---|" * (len(ROLES) + 2)]
    for resource, actions in POLICY.items():
        for action, grants in actions.items():
            cells = [labels[grants[r]] if r in grants else "—" for r in ROLES]
            lines.append(f"| {resource} | {action} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def operator() -> Principal:
    """The person at the server's terminal running ``hggis`` commands.

    They hold the database credentials anyway, so the CLI acts with full rights; history
    still names them (``cli:<os user>``).
    """
    import getpass

    return Principal(username=f"cli:{getpass.getuser()}", role="city_admin")


# Field names that must never reach an anonymous caller (checked by the anonymous sweep
# test over every route and page). Values are checked too, with planted sentinels.
CONFIDENTIAL_FIELDS: frozenset[str] = frozenset(
    {
        "tax_paid", "revenue", "value_added", "output", "energy_tce", "electricity_10k_kwh",
        "emissions_t", "rnd_spending", "employees", "score", "total_score", "scores", "rank",
        "grade", "class_code", "evaluation_class", "holder_id", "holder_credit_code",
        "credit_code", "land_price", "planned_investment", "investment_to_date",
        "tax_per_mu_actual", "contract_no", "token_hash", "password_hash", "sender_hash", "content_hash",
        "target_firms", "signed_investment_wan", "investor_credit_code",
    }
)
