"""Who uses land and when, and the development facts a land office records.

- ``occupancies.valid_from`` / ``valid_to``: a lease or a share has a period (a lessee
  moves in mid-year, a sub-let ends); NULL means open. The evaluation weights each
  occupancy by the part of the year it covered.
- A deferred constraint trigger refuses any moment at which the shares of one parcel add
  up to more than 100 %, naming the parcel. It runs at commit, so an import that moves a
  share from one firm to another inside one transaction is judged on its end state.
- ``parcels.floor_area_m2`` (总建筑面积, for 容积率 and for shares given as floor area),
  ``delivered_on`` (交地确认书 date) and ``supervision_no`` (合同电子监管号), with CHECKs
  like the other facts (finite, not negative, in the sane date window).
- Import kinds ``occupancies`` and ``facts`` in the import log and the saved mappings.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SHARE_EPSILON = "0.000005"  # half the last digit of numeric(6, 5)

SHARE_TRIGGER = f"""
CREATE FUNCTION hggis_occupancy_shares() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  worst numeric;
  parcel_code text;
BEGIN
  -- The most the shares add up to at any moment: the sum peaks at the start of some period.
  SELECT max(s.total) INTO worst FROM (
    SELECT (SELECT sum(o2.share) FROM occupancies o2
             WHERE o2.parcel_id = NEW.parcel_id
               AND daterange(coalesce(o2.valid_from, '-infinity'), coalesce(o2.valid_to, 'infinity'), '[]')
                   @> coalesce(o1.valid_from, '-infinity'::date)) AS total
    FROM occupancies o1 WHERE o1.parcel_id = NEW.parcel_id
  ) s;
  IF worst > 1 + {SHARE_EPSILON} THEN
    SELECT code INTO parcel_code FROM parcels WHERE id = NEW.parcel_id;
    RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'occupancy_shares_total',
      MESSAGE = format('宗地 %s：各用地企业的份额合计 %s，超过 1（100%%）', parcel_code, round(worst, 5));
  END IF;
  RETURN NULL;
END $$;
"""

SANE_DATE = "BETWEEN DATE '1949-10-01' AND DATE '2199-12-31'"


PARCEL_CHECKS = {
    "floor_area_finite": "floor_area_m2 IS NULL OR (floor_area_m2 >= 0 AND floor_area_m2 < 'Infinity'::float8)",
    "delivered_on_sane": f"delivered_on IS NULL OR delivered_on {SANE_DATE}",
    "supervision_no_format": "supervision_no IS NULL OR supervision_no ~ '^[0-9A-Za-z-]{6,32}$'",
}
OCCUPANCY_CHECKS = {
    "period_order": "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
    "period_sane": f"(valid_from IS NULL OR valid_from {SANE_DATE}) AND (valid_to IS NULL OR valid_to {SANE_DATE})",
    "floor_area_finite": "floor_area_m2 IS NULL OR (floor_area_m2 > 0 AND floor_area_m2 < 'Infinity'::float8)",
}
KINDS_BEFORE = "kind IN ('parcels', 'figures')"
KINDS_AFTER = "kind IN ('parcels', 'figures', 'occupancies', 'facts')"


def _set_kinds(condition: str) -> None:
    for table in ("imports", "import_field_mappings"):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_kind")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_kind CHECK ({condition})")


def upgrade() -> None:
    op.add_column("occupancies", sa.Column("valid_from", sa.Date(), nullable=True))
    op.add_column("occupancies", sa.Column("valid_to", sa.Date(), nullable=True))
    for name, condition in OCCUPANCY_CHECKS.items():
        op.execute(f"ALTER TABLE occupancies ADD CONSTRAINT ck_occupancies_{name} CHECK ({condition})")
    op.execute(SHARE_TRIGGER)
    op.execute(
        "CREATE CONSTRAINT TRIGGER occupancy_shares_total AFTER INSERT OR UPDATE OF share, valid_from, valid_to, "
        "parcel_id ON occupancies DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hggis_occupancy_shares()"
    )
    op.add_column("parcels", sa.Column("floor_area_m2", sa.Float(), nullable=True))
    op.add_column("parcels", sa.Column("delivered_on", sa.Date(), nullable=True))
    op.add_column("parcels", sa.Column("supervision_no", sa.Text(), nullable=True))
    for name, condition in PARCEL_CHECKS.items():
        op.execute(f"ALTER TABLE parcels ADD CONSTRAINT ck_parcels_{name} CHECK ({condition})")
    _set_kinds(KINDS_AFTER)


def downgrade() -> None:
    _set_kinds(KINDS_BEFORE)
    for name in PARCEL_CHECKS:
        op.execute(f"ALTER TABLE parcels DROP CONSTRAINT ck_parcels_{name}")
    for col in ("supervision_no", "delivered_on", "floor_area_m2"):
        op.drop_column("parcels", col)
    op.execute("DROP TRIGGER occupancy_shares_total ON occupancies")
    op.execute("DROP FUNCTION hggis_occupancy_shares()")
    for name in OCCUPANCY_CHECKS:
        op.execute(f"ALTER TABLE occupancies DROP CONSTRAINT ck_occupancies_{name}")
    op.drop_column("occupancies", "valid_to")
    op.drop_column("occupancies", "valid_from")
