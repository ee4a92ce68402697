"""Parcels that make sense: CHECK constraints on values, and a trigger that keeps parcels in their county.

hggis.parcel_integrity and hggis.parcel_values are the rules every writer applies before
writing (with tolerances from the settings, and a report by rule code). This migration
is the safeguard for a path that skips them (a raw SQL write, a future bug):

- CHECK constraints for what needs neither the clock nor a setting: money, investment
  and footprint finite and not negative (float8 and numeric both accept NaN/Infinity),
  completion not before start, halting not before start, dates within 1949–2199, and the
  idle scan's date in the same window;
- a statement-level trigger (transition tables, one query per statement, so a 100 000-row
  import pays once) refusing live parcels whose park lies in another county, or whose
  inner point (ST_PointOnSurface) lies outside their own county's polygon. These two need
  no tolerance, so the database can judge them alone; edges, overlaps and size need the
  settings and stay in the application's check. A constraint trigger was not used: it
  would run per row.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SANE_DATE = "BETWEEN DATE '1949-10-01' AND DATE '2199-12-31'"
PARCEL_DATES = (
    "contract_signed_on", "agreed_start_date", "agreed_completion_date", "started_on", "halted_since",
    "completed_on", "production_stopped_since",
)
CHECKS = {
    "footprint_finite": "built_footprint_m2 IS NULL OR (built_footprint_m2 >= 0 AND built_footprint_m2 < 'Infinity'::float8)",
    "money_sane": " AND ".join(
        f"({c} IS NULL OR ({c} >= 0 AND {c} <> 'NaN'::numeric))"
        for c in ("land_price", "planned_investment", "investment_to_date")
    ),
    "agreed_dates_ordered": "agreed_completion_date IS NULL OR agreed_start_date IS NULL "
    "OR agreed_completion_date >= agreed_start_date",
    "completed_after_start": "completed_on IS NULL OR started_on IS NULL OR completed_on >= started_on",
    "halted_after_start": "halted_since IS NULL OR started_on IS NULL OR halted_since >= started_on",
    "dates_sane": " AND ".join(f"({c} IS NULL OR {c} {SANE_DATE})" for c in PARCEL_DATES),
}

TRIGGER_FUNCTION = r"""
CREATE OR REPLACE FUNCTION hggis_parcels_integrity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.code, n.adcode, n.park_id, k.adcode AS park_adcode INTO bad
  FROM hggis_new_rows n JOIN parks k ON k.id = n.park_id
  WHERE n.retired_at IS NULL AND k.adcode <> n.adcode LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'parcels_park_in_county',
      MESSAGE = format('宗地 %s: park %s is in county %s, the parcel in %s', bad.code, bad.park_id, bad.park_adcode, bad.adcode);
  END IF;
  SELECT n.code, n.adcode INTO bad
  FROM hggis_new_rows n JOIN counties c ON c.adcode = n.adcode
  WHERE n.retired_at IS NULL AND c.boundary IS NOT NULL
    AND NOT ST_Intersects(c.boundary, ST_PointOnSurface(n.geom)) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'parcels_in_own_county',
      MESSAGE = format('宗地 %s: lies outside its county %s', bad.code, bad.adcode);
  END IF;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    for name, condition in CHECKS.items():
        op.execute(f"ALTER TABLE parcels ADD CONSTRAINT ck_parcels_{name} CHECK ({condition})")
    op.execute(f"ALTER TABLE idle_scans ADD CONSTRAINT ck_idle_scans_as_of_sane CHECK (as_of {SANE_DATE})")
    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER parcels_integrity_ins AFTER INSERT ON parcels REFERENCING NEW TABLE AS hggis_new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION hggis_parcels_integrity()"
    )
    op.execute(
        "CREATE TRIGGER parcels_integrity_upd AFTER UPDATE ON parcels REFERENCING NEW TABLE AS hggis_new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION hggis_parcels_integrity()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS parcels_integrity_upd ON parcels")
    op.execute("DROP TRIGGER IF EXISTS parcels_integrity_ins ON parcels")
    op.execute("DROP FUNCTION IF EXISTS hggis_parcels_integrity()")
    op.execute("ALTER TABLE idle_scans DROP CONSTRAINT IF EXISTS ck_idle_scans_as_of_sane")
    for name in reversed(list(CHECKS)):
        op.execute(f"ALTER TABLE parcels DROP CONSTRAINT IF EXISTS ck_parcels_{name}")
