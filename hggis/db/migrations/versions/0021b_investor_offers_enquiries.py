"""Investor portal: offer terms of land on the market, park 招商 contacts, reference features, enquiries.

- ``parcel_offers``: 起始价 (万元), 供地方式 (挂牌/拍卖/…) and the listing dates of a parcel on
  offer. Kept apart from ``parcels.land_price`` (the contract price, confidential): the
  starting price is published, the deal price is not.
- ``parks``: the 招商 office's contact person, e-mail and address beside the existing office
  name and phone, so the parcel page and sheet show real contacts.
- ``reference_features``: roads, ports, rail stations … (any geometry, EPSG:4490) from which
  the parcel page states public distance summaries ("距最近港口 3.2 km").
- ``enquiries``: what an investor sends from a parcel page, for the park's 招商 office.
  The sender's address is kept only as a salted hash (rate limiting), never in clear.

All four are audited (history by the statement-level triggers).

Revision ID: 0021b
Revises: 0020
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from hggis.db.audit import audit_triggers_sql

revision = "0021b"
down_revision = "0020"
branch_labels = None
depends_on = None

SUPPLY_METHODS = "('挂牌', '拍卖', '招标', '协议', '先租后让', '弹性年期出让')"
FEATURE_KINDS = "('road', 'expressway_exit', 'port', 'rail_station', 'rail_freight', 'airport')"
ENQUIRY_STATUSES = "('open', 'answered', 'closed')"


def upgrade() -> None:
    op.create_table(
        "parcel_offers",
        sa.Column("parcel_id", sa.Integer(), sa.ForeignKey("parcels.id", ondelete="CASCADE",
                                                          name="fk_parcel_offers_parcel_id_parcels"), nullable=False),
        sa.Column("start_price", sa.Numeric(14, 2), nullable=True),
        sa.Column("supply_method", sa.Text(), nullable=True),
        sa.Column("listing_start", sa.Date(), nullable=True),
        sa.Column("listing_end", sa.Date(), nullable=True),
        sa.Column("term_years", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id", name="pk_parcel_offers"),
        sa.CheckConstraint(f"supply_method IS NULL OR supply_method IN {SUPPLY_METHODS}", name="ck_parcel_offers_supply_method"),
        sa.CheckConstraint("start_price IS NULL OR start_price >= 0", name="ck_parcel_offers_start_price_nonneg"),
        sa.CheckConstraint("listing_end IS NULL OR listing_start IS NULL OR listing_end >= listing_start",
                           name="ck_parcel_offers_listing_order"),
        sa.CheckConstraint("term_years IS NULL OR term_years BETWEEN 1 AND 70", name="ck_parcel_offers_term_years"),
    )
    for column in ("contact_person", "contact_email", "contact_address"):
        op.add_column("parks", sa.Column(column, sa.Text(), nullable=True))
    op.create_table(
        "reference_features",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=4490, spatial_index=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reference_features"),
        sa.CheckConstraint(f"kind IN {FEATURE_KINDS}", name="ck_reference_features_kind"),
        sa.CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="ck_reference_features_geom_valid"),
        sa.UniqueConstraint("kind", "name", name="uq_reference_features_kind_name"),
    )
    op.create_index("ix_reference_features_geom", "reference_features", ["geom"], postgresql_using="gist")
    op.create_table(
        "enquiries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parcel_id", sa.Integer(), sa.ForeignKey("parcels.id", name="fk_enquiries_parcel_id_parcels"), nullable=False),
        sa.Column("adcode", sa.String(6), sa.ForeignKey("counties.adcode", name="fk_enquiries_adcode_counties"), nullable=False),
        sa.Column("park_id", sa.Integer(), sa.ForeignKey("parks.id", name="fk_enquiries_park_id_parks"), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("firm", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("land_need_mu", sa.Numeric(10, 2), nullable=True),
        sa.Column("sender_hash", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enquiries"),
        sa.CheckConstraint(f"status IN {ENQUIRY_STATUSES}", name="ck_enquiries_status"),
        sa.CheckConstraint("land_need_mu IS NULL OR land_need_mu > 0", name="ck_enquiries_land_need_positive"),
        sa.CheckConstraint("status = 'open' OR answer IS NOT NULL OR closed_at IS NOT NULL", name="ck_enquiries_answered"),
    )
    op.create_index("ix_enquiries_parcel_id", "enquiries", ["parcel_id"])
    op.create_index("ix_enquiries_park_status", "enquiries", ["park_id", "status"])
    op.create_index("ix_enquiries_sender_created", "enquiries", ["sender_hash", "created_at"])
    op.create_index("ix_enquiries_content_created", "enquiries", ["content_hash", "created_at"])
    for table, keys in (("parcel_offers", ("parcel_id",)), ("reference_features", ("id",)), ("enquiries", ("id",))):
        for statement in audit_triggers_sql(table, keys):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("enquiries")
    op.drop_table("reference_features")
    for column in ("contact_person", "contact_email", "contact_address"):
        op.drop_column("parks", column)
    op.drop_table("parcel_offers")
