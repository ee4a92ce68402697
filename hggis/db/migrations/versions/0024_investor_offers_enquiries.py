"""Investor portal: offer terms of land on the market, park 招商 contacts, reference features, enquiries.

- ``parcel_offers``: 起始价 (万元), 供地方式 (挂牌/拍卖/…) and the listing dates of a parcel on
  offer. Kept apart from ``parcels.land_price`` (the contract price, confidential): the
  starting price is published, the deal price is not.
- ``parks``: the 招商 office's contact person, e-mail and address beside the existing office
  name and phone, so the parcel page and sheet show real contacts.
- ``constraint_layers.kind``: reference kinds 铁路, 高速公路出入口 and 机场 beside 道路 and 港口,
  so the existing reference layers (imported like any constraint layer) carry everything
  the parcel page measures its public distance summaries to ("距最近港口 3.2 km").
- ``enquiries``: what an investor sends from a parcel page, for the park's 招商 office.
  The sender's address is kept only as a salted hash (rate limiting), never in clear.

The new tables are audited (history by the statement-level triggers).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from hggis.db.audit import audit_triggers_sql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SUPPLY_METHODS = "('挂牌', '拍卖', '招标', '协议', '先租后让', '弹性年期出让')"
OLD_LAYER_KINDS = "('永久基本农田', '生态保护红线', '洪涝区', '道路', '港口', '河流', '其他')"
NEW_LAYER_KINDS = "('永久基本农田', '生态保护红线', '洪涝区', '道路', '港口', '河流', '铁路', '高速公路出入口', '机场', '其他')"
ENQUIRY_STATUSES = "('open', 'answered', 'closed')"


def _layer_kinds(kinds: str) -> None:
    op.execute("ALTER TABLE constraint_layers DROP CONSTRAINT ck_constraint_layers_kind")
    op.execute(f"ALTER TABLE constraint_layers ADD CONSTRAINT ck_constraint_layers_kind CHECK (kind IN {kinds})")


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
    _layer_kinds(NEW_LAYER_KINDS)
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
    for table, keys in (("parcel_offers", ("parcel_id",)), ("enquiries", ("id",))):
        for statement in audit_triggers_sql(table, keys):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("enquiries")
    op.execute("UPDATE constraint_layers SET kind = '其他' WHERE kind IN ('铁路', '高速公路出入口', '机场')")
    _layer_kinds(OLD_LAYER_KINDS)
    for column in ("contact_person", "contact_email", "contact_address"):
        op.drop_column("parks", column)
    op.drop_table("parcel_offers")
