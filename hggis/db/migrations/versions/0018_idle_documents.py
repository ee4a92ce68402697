"""The legal documents of the 闲置土地处置 procedure: issuing offices, numbers, issued documents.

- ``idle_document_offices``: one issuing office per county (its 自然资源主管部门), with its
  机关代字 and the Gauss-Krüger zone of its 宗地图 coordinates: defaults below, editable data
  (audited). Zone 38 (EPSG:4526, zone-prefixed eastings as registries print them) west of
  115.5°E, zone 39 (EPSG:4527) east of it (domain.md §2); 英山 lies mostly east of the line.
- ``idle_document_sequences``: last number per office and year, taken by an atomic upsert
  (the row lock serialises concurrent issuers of one office-year; other offices do not wait).
- ``idle_documents``: each issued document with its number 机关代字〔年份〕N号, the facts it
  was written from (frozen), and its service (送达). Audited; append-only except that the
  service may be recorded once on a document issued without it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hggis.db.audit import audit_triggers_sql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# adcode -> (office, 机关代字, EPSG of the 宗地图 coordinates)
OFFICES = {
    "421102": ("黄冈市自然资源和规划局黄州分局", "黄州自然资闲", 4526),
    "421121": ("团风县自然资源和规划局", "团风自然资闲", 4526),
    "421122": ("红安县自然资源和规划局", "红安自然资闲", 4526),
    "421123": ("罗田县自然资源和规划局", "罗田自然资闲", 4526),
    "421124": ("英山县自然资源和规划局", "英山自然资闲", 4527),
    "421125": ("浠水县自然资源和规划局", "浠水自然资闲", 4526),
    "421126": ("蕲春县自然资源和规划局", "蕲春自然资闲", 4526),
    "421127": ("黄梅县自然资源和规划局", "黄梅自然资闲", 4527),
    "421171": ("龙感湖管理区自然资源和规划局", "龙感湖自然资闲", 4527),
    "421181": ("麻城市自然资源和规划局", "麻城自然资闲", 4526),
    "421182": ("武穴市自然资源和规划局", "武穴自然资闲", 4527),
}

KINDS = ("investigation_notice", "finding", "situation_notice", "hearing_notice", "fee_decision",
         "recovery_decision", "service_receipt")
METHODS = ("direct", "left_at_address", "post", "entrusted", "electronic", "public_notice")
DUE_KINDS = ("reply", "hearing_request", "payment", "deregistration")
SERVICE_COLUMNS = "ARRAY['served_on', 'service_method', 'served_to', 'due_on', 'due_kind']"

GUARD = f"""
CREATE OR REPLACE FUNCTION hggis_idle_documents_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.served_on IS NULL AND NEW.served_on IS NOT NULL
     AND (to_jsonb(NEW) - {SERVICE_COLUMNS}) = (to_jsonb(OLD) - {SERVICE_COLUMNS}) THEN
    RETURN NEW;  -- the one change allowed: recording the service (送达) once
  END IF;
  RAISE EXCEPTION 'idle document % (%) is an issued legal document: % refused (issue a new document instead)',
    OLD.number, OLD.kind, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("SELECT set_config('hggis.actor', 'migration 0018', true), "
                         "set_config('hggis.reason', '闲置土地处置法律文书：发文机关、文号和已发文书', true)"))
    op.create_table(
        "idle_document_offices",
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("office_name", sa.Text(), nullable=False),
        sa.Column("code_prefix", sa.Text(), nullable=False),
        sa.Column("gk_epsg", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("gk_epsg IN (4526, 4527, 4547, 4548)", name=op.f("ck_idle_document_offices_gk_epsg")),
        sa.CheckConstraint("length(btrim(code_prefix)) > 0 AND length(btrim(office_name)) > 0",
                           name=op.f("ck_idle_document_offices_named")),
        sa.ForeignKeyConstraint(["adcode"], ["counties.adcode"], name=op.f("fk_idle_document_offices_adcode_counties")),
        sa.PrimaryKeyConstraint("adcode", name=op.f("pk_idle_document_offices")),
    )
    op.create_table(
        "idle_document_sequences",
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_serial > 0", name=op.f("ck_idle_document_sequences_positive")),
        sa.ForeignKeyConstraint(["adcode"], ["idle_document_offices.adcode"],
                                name=op.f("fk_idle_document_sequences_adcode_idle_document_offices")),
        sa.PrimaryKeyConstraint("adcode", "year", name=op.f("pk_idle_document_sequences")),
    )
    op.create_table(
        "idle_documents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("adcode", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("proves_document_id", sa.BigInteger(), nullable=True),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("served_on", sa.Date(), nullable=True),
        sa.Column("service_method", sa.Text(), nullable=True),
        sa.Column("served_to", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_kind", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_idle_documents_kind")),
        sa.CheckConstraint("service_method IS NULL OR " + _in("service_method", METHODS),
                           name=op.f("ck_idle_documents_service_method")),
        sa.CheckConstraint("due_kind IS NULL OR " + _in("due_kind", DUE_KINDS), name=op.f("ck_idle_documents_due_kind")),
        sa.CheckConstraint("(served_on IS NULL) = (service_method IS NULL)", name=op.f("ck_idle_documents_service_complete")),
        sa.CheckConstraint("served_on IS NULL OR served_on >= issued_on", name=op.f("ck_idle_documents_served_after_issue")),
        sa.CheckConstraint("(kind = 'service_receipt') = (proves_document_id IS NOT NULL)",
                           name=op.f("ck_idle_documents_receipt_proves")),
        sa.CheckConstraint("length(btrim(reason)) > 0", name=op.f("ck_idle_documents_reason_given")),
        sa.ForeignKeyConstraint(["case_id"], ["idle_cases.id"], name=op.f("fk_idle_documents_case_id_idle_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proves_document_id"], ["idle_documents.id"],
                                name=op.f("fk_idle_documents_proves_document_id_idle_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idle_documents")),
        sa.UniqueConstraint("number", name=op.f("uq_idle_documents_number")),
        sa.UniqueConstraint("adcode", "year", "serial", name="uq_idle_documents_office_year_serial"),
    )
    op.create_index(op.f("ix_idle_documents_case_id"), "idle_documents", ["case_id"], unique=False)
    conn.execute(
        sa.text(
            "INSERT INTO idle_document_offices (adcode, office_name, code_prefix, gk_epsg) "
            "SELECT CAST(:a AS varchar(6)), :n, :p, :e WHERE EXISTS (SELECT 1 FROM counties WHERE adcode = CAST(:a AS varchar(6)))"
        ),
        [{"a": a, "n": n, "p": p, "e": e} for a, (n, p, e) in OFFICES.items()],
    )
    op.execute(GUARD)
    op.execute("REVOKE EXECUTE ON FUNCTION hggis_idle_documents_guard() FROM PUBLIC")
    op.execute("CREATE TRIGGER idle_documents_append_only BEFORE UPDATE OR DELETE ON idle_documents "
               "FOR EACH ROW EXECUTE FUNCTION hggis_idle_documents_guard()")
    for table, keys in (("idle_document_offices", ("adcode",)), ("idle_documents", ("id",))):
        for statement in audit_triggers_sql(table, keys):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("idle_documents")
    op.drop_table("idle_document_sequences")
    op.drop_table("idle_document_offices")
    op.execute("DROP FUNCTION IF EXISTS hggis_idle_documents_guard()")
