"""The counties and parks a principal may choose in a form, for one resource.

Every workbench filter and form that offers a county or a park asks here, so a county
officer is offered their counties (and the parks in them), a park manager their parks (and
the counties those parks lie in), and a city administrator everything. Offering a choice
the service layer would then refuse (or answer with nothing) only misleads; the lists
follow ``POLICY`` through ``grant`` so they cannot drift from what the caller may read.

The plan's five industries are not scope-bound: they are a fixed classification (what an
area is meant for), so forms keep all five for every role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from hggis.access.policy import Forbidden, Principal, grant
from hggis.db.models import Cluster, County, Industry, Park


@dataclass(frozen=True)
class ScopeChoices:
    """What the caller may pick: (adcode, name) counties and (id as text, name) parks, in code order."""

    scope: str
    counties: list[tuple[str, str]]
    parks: list[tuple[str, str]]
    park_counties: dict[str, str]  # park id (text) -> adcode, for forms that pair the two

    @property
    def county_codes(self) -> set[str]:
        return {a for a, _ in self.counties}

    @property
    def park_ids(self) -> set[str]:
        return {k for k, _ in self.parks}


def scope_choices(conn: Connection, principal: Principal, resource: str, action: str = "read") -> ScopeChoices:
    """The counties and parks ``principal`` may choose for ``resource``/``action``.

    ``county`` scope: the principal's counties and every park in them. ``park`` scope: the
    principal's parks and their counties. ``all``/``public``: every county and park.
    """
    scope = grant(principal, resource, action)
    if scope is None:
        raise Forbidden(f"role {principal.role} may not {action} {resource}")
    parks_q = select(Park.id, Park.name, Park.adcode).order_by(Park.adcode, Park.name)
    counties_q = select(County.adcode, County.name).order_by(County.adcode)
    if scope == "county":
        wanted = sorted(principal.counties)
        parks_q = parks_q.where(Park.adcode.in_(wanted))
        counties_q = counties_q.where(County.adcode.in_(wanted))
    elif scope == "park":
        parks_q = parks_q.where(Park.id.in_(sorted(principal.parks)))
    parks = conn.execute(parks_q).all()
    if scope == "park":
        counties_q = counties_q.where(County.adcode.in_(sorted({k.adcode for k in parks})))
    counties = conn.execute(counties_q).all()
    return ScopeChoices(
        scope=scope,
        counties=[(c.adcode, c.name) for c in counties],
        parks=[(str(k.id), k.name) for k in parks],
        park_counties={str(k.id): k.adcode for k in parks},
    )


def industry_choices(conn: Connection) -> list[tuple[str, str]]:
    """The plan's five industries as (code, name), in the plan's order: the same for every role."""
    return [(r.code, r.name) for r in conn.execute(select(Industry.code, Industry.name).order_by(Industry.sort_order))]


def place_names(conn: Connection) -> tuple[dict[str, str], dict[int, str]]:
    """Every county's and park's name (adcode → name, park id → name), for labelling rows the caller may read."""
    counties = {r.adcode: r.name for r in conn.execute(select(County.adcode, County.name))}
    parks = {r.id: r.name for r in conn.execute(select(Park.id, Park.name))}
    return counties, parks


def cluster_choices(conn: Connection) -> list[tuple[int, str]]:
    """The plan's clusters as (id, name), in id order: a fixed classification, like the industries."""
    return [(r.id, r.name) for r in conn.execute(select(Cluster.id, Cluster.name).order_by(Cluster.id))]
