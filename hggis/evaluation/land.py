"""Land per enterprise, in 亩, and the evaluation unit each enterprise's figures count for.

**Land.** An enterprise's land is Σ share × ``parcels.area_mu`` over its land uses of the
year (``hggis.land_uses``: the parcels it holds, with the share nobody else uses, plus its
occupancies weighted by the part of the year they covered) on non-retired parcels whose
status is one of the model's ``land_statuses`` (default: supplied, under construction,
producing, suspected idle: land that is held; reserve, on-offer and recovered parcels are
the government's). ``area_mu`` is the generated ellipsoidal area, so no area is computed
here. A parcel's holder (宗地权利人) is ``parcels.holder_id``, or when that is empty its
holder-role occupant with the largest share.

**Lessees** (domain.md §5: "the default rule merges a lessee into the parcel holder's
evaluation"). The model's ``lessee_rule``:

- ``merge_into_holder`` (default). An enterprise whose every counted occupancy is a lessee
  occupancy, and that holds no counted parcel itself, is *merged* into the holder of the
  parcel where it leases the most land (ties: the holder with the smaller id). Merged
  means: the lessee is listed as not evaluated with the reason "承租企业，并入宗地权利人
  X 评价"; all its land (its shares of the parcels it leases) counts for the holder; its
  figures (tax, revenue, value added, output, energy, electricity, emissions, R&D,
  employees) are added to the holder's, and an accident of the lessee counts for the unit.
  A merged figure is NULL when any member that reported figures left it NULL (so missing
  emissions stay missing). Merging needs a holder that has its own figures for the year
  and neither side excluded for data quality; otherwise the lessee is evaluated on its own
  share (the alternative rule) so that nobody's figures vanish. An enterprise that holds
  land of its own and also leases elsewhere keeps its figures and is evaluated on all its
  own shares.
- ``own_share``: every enterprise is evaluated on its own shares, lessees included.

Scoring lessees per m² of floor area (another local practice) is not implemented; the
occupancy's ``floor_area_m2`` is kept for it.

The work is two set-based queries (COPY into pandas) and vectorised group-bys: no query per
enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

from hggis.db.models import Parcel, table_of
from hggis.evaluation.frames import read_columns
from hggis.evaluation.model import FIGURES, ModelParams
from hggis.land_uses import land_uses_in_year

PARCELS = table_of(Parcel)

FIGURE_COLUMNS = tuple(FIGURES)

OCCUPANCY_COLUMNS = {
    "parcel_id": ("land_uses.parcel_id", "int4"),
    "occupant_id": ("land_uses.occupant_id", "int4"),
    "is_lessee": ("land_uses.role = 'lessee'", "bool"),
    "share": ("land_uses.share", "float8"),
    "parcel_area_mu": ("parcels.area_mu", "float8"),
    "parcel_holder_id": ("parcels.holder_id", "int4"),
    "parcel_code": ("parcels.code", "text"),
}


def occupancy_source(year: int, params: ModelParams) -> FromClause:
    """The year's land uses (hggis.land_uses: holders by default, occupancies weighted by period) on held land."""
    uses = land_uses_in_year(year, list(params.land_statuses))
    return uses.join(PARCELS, PARCELS.c.id == uses.c.parcel_id)


DECLARED_SQL = "CASE {0}.above_size WHEN true THEN 1 WHEN false THEN 2 END"

# Every enterprise with its figures of the year and its revenue of the year before; the
# listed ones (figures, or counted land) are selected in pandas, which already has the land.
FIRMS_SOURCE = (
    "enterprises e "
    "LEFT JOIN enterprise_years y ON y.enterprise_id = e.id AND y.year = :year "
    "LEFT JOIN enterprise_years py ON py.enterprise_id = e.id AND py.year = :year - 1"
)
FIRMS_COLUMNS = {
    "enterprise_id": ("e.id", "int4"),
    "credit_code": ("e.credit_code", "text"),
    "name": ("e.name", "text"),
    "park_id": ("e.park_id", "int4"),
    "adcode": ("e.adcode", "text"),
    "industry_code": ("e.industry_code", "text"),
    "has_figures": ("y.enterprise_id IS NOT NULL", "bool"),
    **{c: (f"y.{c}", "float8") for c in FIGURES},
    "accident": ("y.accident", "bool"),
    "utility": ("y.utility", "bool"),
    "production_start_year": ("y.production_start_year", "int4"),
    "prev_revenue": ("py.revenue", "float8"),
    # the 规上 list status of the year and the year before: 1 on it, 2 not on it, 0 not stated
    "above_size": (DECLARED_SQL.format("y"), "int4"),
    "prev_above_size": (DECLARED_SQL.format("py"), "int4"),
}


@dataclass
class Inputs:
    """What a run reads: counted occupancies and the listed enterprises with their figures."""

    year: int
    occupancies: pd.DataFrame
    firms: pd.DataFrame


@dataclass
class Units:
    """Every listed enterprise with the land and figures of the unit it is evaluated as."""

    frame: pd.DataFrame  # one row per listed enterprise, indexed by enterprise_id
    land: pd.DataFrame  # occupancy rows with the unit (enterprise_id) their land counts for
    members: dict[int, list[int]] = field(default_factory=dict)  # holder -> merged lessees


def read_inputs(conn: Connection, year: int, params: ModelParams) -> Inputs:
    occ = read_columns(conn, occupancy_source(year, params), OCCUPANCY_COLUMNS)
    occ["role"] = np.where(occ["is_lessee"], "lessee", "holder")
    occ["parcel_holder_id"] = occ["parcel_holder_id"].astype("Int64").replace(0, pd.NA)
    missing = occ["parcel_holder_id"].isna()
    if missing.any():  # no holder_id on the parcel: its holder-role occupant with the largest share
        top = (occ[~occ["is_lessee"]].sort_values(["parcel_id", "share", "occupant_id"], ascending=[True, False, True])
               .drop_duplicates("parcel_id").set_index("parcel_id")["occupant_id"])
        occ.loc[missing, "parcel_holder_id"] = occ.loc[missing, "parcel_id"].map(top).astype("Int64")
    firms = read_columns(conn, FIRMS_SOURCE, FIRMS_COLUMNS, {"year": year})
    firms = firms[firms["has_figures"] | firms["enterprise_id"].isin(occ["occupant_id"])].copy()
    for col in ("park_id", "production_start_year"):
        firms[col] = firms[col].astype("Int64").replace(0, pd.NA)
    firms["enterprise_id"] = firms["enterprise_id"].astype("int64")
    occ["occupant_id"] = occ["occupant_id"].astype("int64")
    occ = occ.sort_values(["parcel_id", "occupant_id"], ignore_index=True)
    return Inputs(year=year, occupancies=occ, firms=firms.set_index("enterprise_id", drop=False).sort_index())


def tenants(occ: pd.DataFrame) -> pd.Index:
    """Enterprises without land of their own: every counted use is a lessee use and they hold no parcel.

    These are the third result list of practice (租赁企业, "tenants without their own
    industrial land"); hggis.land_uses says who holds and who uses.
    """
    if occ.empty:
        return pd.Index([], dtype="int64")
    holders = set(occ.loc[occ["role"] == "holder", "occupant_id"]) | set(occ["parcel_holder_id"].dropna().astype(int))
    only_lessee = (occ["role"] == "lessee").groupby(occ["occupant_id"]).all()
    return only_lessee.index[only_lessee.to_numpy() & ~only_lessee.index.isin(list(holders))]


def merge_targets(occ: pd.DataFrame) -> pd.Series:
    """Lessee-only enterprise -> the holder of the parcel where it leases most land."""
    if occ.empty:
        return pd.Series(dtype="int64")
    holders = set(occ.loc[occ["role"] == "holder", "occupant_id"]) | set(occ["parcel_holder_id"].dropna().astype(int))
    only_lessee = (occ["role"] == "lessee").groupby(occ["occupant_id"]).all()
    lessee_only = only_lessee.index[only_lessee.to_numpy() & ~only_lessee.index.isin(list(holders))]
    cand = occ[occ["occupant_id"].isin(lessee_only) & occ["parcel_holder_id"].notna()].copy()
    cand = cand[cand["parcel_holder_id"].astype("int64") != cand["occupant_id"]]
    if cand.empty:
        return pd.Series(dtype="int64")
    cand["leased_mu"] = cand["share"] * cand["parcel_area_mu"]
    cand["holder"] = cand["parcel_holder_id"].astype("int64")
    cand = cand.sort_values(["occupant_id", "leased_mu", "holder"], ascending=[True, False, True])
    first = cand.drop_duplicates("occupant_id")
    return pd.Series(first["holder"].to_numpy(), index=first["occupant_id"].to_numpy(), dtype="int64")


def attribute(inputs: Inputs, params: ModelParams, excluded: set[int] | frozenset[int] = frozenset()) -> Units:
    """Decide each enterprise's unit, then sum land and figures per unit (vectorised)."""
    firms = inputs.firms.copy()
    occ = inputs.occupancies.copy()
    ids = firms.index.to_numpy()
    unit = pd.Series(ids, index=firms.index, dtype="int64")
    merged_into = pd.Series(pd.NA, index=firms.index, dtype="Int64")
    if params.lessee_rule == "merge_into_holder":
        targets = merge_targets(occ)
        if not targets.empty:
            has_fig = firms["has_figures"]
            ok = targets[
                targets.index.isin(firms.index)
                & targets.isin(firms.index[has_fig])
                & ~targets.index.isin(list(excluded))
                & ~targets.isin(list(excluded))
            ]
            unit.loc[ok.index] = ok.to_numpy()
            merged_into.loc[ok.index] = ok.to_numpy()
    firms["unit_id"] = unit
    firms["merged_into"] = merged_into

    # land: every counted occupancy counts for its occupant's unit
    occ["enterprise_id"] = occ["occupant_id"].map(unit).fillna(occ["occupant_id"]).astype("int64")
    occ["land_mu"] = occ["share"] * occ["parcel_area_mu"]
    own_land = occ.groupby("occupant_id")["land_mu"].sum()
    unit_land = occ.groupby("enterprise_id")["land_mu"].sum()

    # figures: members that reported figures, summed; NULL if any of them left the figure NULL
    reporting = firms[firms["has_figures"]]
    grouped = reporting.groupby("unit_id")
    n_reporting = grouped.size()
    sums = pd.DataFrame(index=n_reporting.index)
    for col in FIGURE_COLUMNS:
        # rounded: the stored figures have ≤ 3 decimals, so this only removes float noise of the sum
        sums[col] = grouped[col].sum(min_count=1).where(grouped[col].count() == n_reporting).round(6)
    sums["accident"] = grouped["accident"].any()
    sums = sums.reindex(firms.index)

    frame = firms.copy()
    is_unit = frame["merged_into"].isna()
    frame["own_land_mu"] = frame.index.map(own_land).fillna(0.0).astype(float)
    frame["land_mu"] = frame["own_land_mu"].where(~is_unit, frame.index.map(unit_land).fillna(0.0).astype(float))
    for col in FIGURE_COLUMNS:
        frame[col] = frame[col].where(~is_unit, sums[col])
    frame["accident"] = frame["accident"].where(~is_unit, sums["accident"].fillna(False).astype(bool)).astype(bool)
    frame["own_revenue"] = inputs.firms["revenue"]
    frame["tenant"] = frame.index.isin(tenants(occ))
    members: dict[int, list[int]] = {}
    merged = frame[frame["merged_into"].notna()]
    for lessee, holder in zip(merged.index, merged["merged_into"].astype("int64"), strict=True):
        members.setdefault(int(holder), []).append(int(lessee))
    return Units(frame=frame, land=occ, members=members)
