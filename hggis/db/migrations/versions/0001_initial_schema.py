"""Initial schema: tables, GiST indexes, identifier checks and the audit triggers.

The audit (history) is written by triggers so that no code path can change an audited
row without leaving a record; the actor and reason come from the transaction-local
settings ``hggis.actor`` and ``hggis.reason`` (see ``hggis.db.session``).

Revision ID: 0001
Revises:
Create Date: 2026-11-26 02:56:26.280347
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

AUDITED = {
    "counties": ("adcode",),
    "clusters": ("id",),
    "parks": ("id",),
    "enterprises": ("id",),
    "enterprise_years": ("enterprise_id", "year"),
    "parcels": ("id",),
    "control_indicators": ("parcel_id",),
    "occupancies": ("id",),
}

CREDIT_CODE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION hggis_credit_code_ok(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT length(code) = 18 AND substr(code, 18, 1) = (
    SELECT substr('0123456789ABCDEFGHJKLMNPQRTUWXY',
                  ((31 - sum((strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, i::int, 1)) - 1) * w)::int % 31) % 31) + 1, 1)
    FROM unnest(ARRAY[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28]) WITH ORDINALITY AS t(w, i)
  )
$$;
"""

HISTORY_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION hggis_history_record() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_j jsonb;
  new_j jsonb;
  obj text;
  b jsonb;
  a jsonb;
  who text := coalesce(nullif(current_setting('hggis.actor', true), ''), 'db:' || session_user);
  why text := nullif(current_setting('hggis.reason', true), '');
BEGIN
  IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW); END IF;
  SELECT string_agg(coalesce(new_j, old_j) ->> k, '/' ORDER BY o) INTO obj
    FROM unnest(TG_ARGV) WITH ORDINALITY AS t(k, o);
  IF TG_OP = 'UPDATE' THEN
    SELECT jsonb_object_agg(k, old_j -> k), jsonb_object_agg(k, new_j -> k) INTO b, a
      FROM jsonb_object_keys(new_j) AS k
     WHERE (old_j -> k) IS DISTINCT FROM (new_j -> k) AND k NOT IN ('version', 'updated_at');
    IF b IS NULL THEN
      RETURN NULL;  -- only bookkeeping changed
    END IF;
  ELSE
    b := old_j;
    a := new_j;
  END IF;
  INSERT INTO history (table_name, object_id, action, actor, reason, before, after)
  VALUES (TG_TABLE_NAME, obj, lower(TG_OP), who, why, b, a);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hggis_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'history is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION hggis_parcel_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'parcel % cannot be deleted: retire it instead (retired_at), so its history and lineage stay', OLD.code
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status AND nullif(current_setting('hggis.reason', true), '') IS NULL THEN
    RAISE EXCEPTION 'a reason is required to change the status of parcel % (% -> %)', OLD.code, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
"""


def _create_audit_triggers() -> None:
    for table, keys in AUDITED.items():
        args = ", ".join("'" + k + "'" for k in keys)
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION hggis_history_record({args})"
        )
    op.execute(
        "CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history "
        "FOR EACH ROW EXECUTE FUNCTION hggis_history_append_only()"
    )
    op.execute(
        "CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history "
        "FOR EACH STATEMENT EXECUTE FUNCTION hggis_history_append_only()"
    )
    op.execute(
        "CREATE TRIGGER parcels_guard BEFORE UPDATE OR DELETE ON parcels "
        "FOR EACH ROW EXECUTE FUNCTION hggis_parcel_guard()"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON history FROM PUBLIC")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(CREDIT_CODE_FUNCTION)
    op.execute(HISTORY_FUNCTIONS)
    op.create_table('counties',
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('boundary', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('has_boundary', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("adcode ~ '^4211[0-9]{2}$'", name=op.f('ck_counties_adcode_in_huanggang')),
    sa.PrimaryKeyConstraint('adcode', name=op.f('pk_counties')),
    sa.UniqueConstraint('name', name=op.f('uq_counties_name'))
    )
    op.create_table('dataset_meta',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_dataset_meta'))
    )
    op.create_table('history',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('table_name', sa.Text(), nullable=False),
    sa.Column('object_id', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("action IN ('insert', 'update', 'delete')", name=op.f('ck_history_action')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history')),
    comment='append-only audit trail; UPDATE/DELETE/TRUNCATE are refused by triggers'
    )
    op.create_index('ix_history_object', 'history', ['table_name', 'object_id', 'id'], unique=False)
    op.create_table('industries',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('sort_order', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_thousand_yi_target', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_industries')),
    sa.UniqueConstraint('name', name=op.f('uq_industries_name'))
    )
    op.create_table('clusters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('tier', sa.String(length=4), nullable=False),
    sa.Column('industry_code', sa.String(length=32), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_synthetic', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint("tier IN ('千亿', '百亿', '十亿')", name=op.f('ck_clusters_tier')),
    sa.ForeignKeyConstraint(['industry_code'], ['industries.code'], name=op.f('fk_clusters_industry_code_industries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clusters')),
    sa.UniqueConstraint('name', name=op.f('uq_clusters_name'))
    )
    op.create_table('parks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('level', sa.Text(), server_default='未定级', nullable=False),
    sa.Column('industry_code', sa.String(length=32), nullable=True),
    sa.Column('leading_industries', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('boundary', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('contact_office', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("level IN ('国家级', '省级', '市级', '未定级')", name=op.f('ck_parks_level')),
    sa.ForeignKeyConstraint(['adcode'], ['counties.adcode'], name=op.f('fk_parks_adcode_counties')),
    sa.ForeignKeyConstraint(['industry_code'], ['industries.code'], name=op.f('fk_parks_industry_code_industries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parks')),
    sa.UniqueConstraint('name', name=op.f('uq_parks_name'))
    )
    op.create_table('cluster_counties',
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.ForeignKeyConstraint(['adcode'], ['counties.adcode'], name=op.f('fk_cluster_counties_adcode_counties')),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], name=op.f('fk_cluster_counties_cluster_id_clusters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cluster_id', 'adcode', name=op.f('pk_cluster_counties'))
    )
    op.create_table('cluster_years',
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('target_output_yi', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('actual_output_yi', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], name=op.f('fk_cluster_years_cluster_id_clusters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cluster_id', 'year', name=op.f('pk_cluster_years'))
    )
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('gbt4754_code', sa.String(length=4), nullable=True),
    sa.Column('industry_code', sa.String(length=32), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('park_id', sa.Integer(), nullable=True),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("credit_code ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'", name=op.f('ck_enterprises_credit_code_format')),
    sa.CheckConstraint("gbt4754_code IS NULL OR gbt4754_code ~ '^[0-9]{2,4}$'", name=op.f('ck_enterprises_gbt4754_format')),
    sa.CheckConstraint('hggis_credit_code_ok(credit_code)', name=op.f('ck_enterprises_credit_code_check_char')),
    sa.ForeignKeyConstraint(['adcode'], ['counties.adcode'], name=op.f('fk_enterprises_adcode_counties')),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], name=op.f('fk_enterprises_cluster_id_clusters')),
    sa.ForeignKeyConstraint(['industry_code'], ['industries.code'], name=op.f('fk_enterprises_industry_code_industries')),
    sa.ForeignKeyConstraint(['park_id'], ['parks.id'], name=op.f('fk_enterprises_park_id_parks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    op.create_index(op.f('ix_enterprises_adcode'), 'enterprises', ['adcode'], unique=False)
    op.create_index(op.f('ix_enterprises_park_id'), 'enterprises', ['park_id'], unique=False)
    op.create_table('enterprise_years',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('tax_paid', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('revenue', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('value_added', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('output', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('energy_tce', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('electricity_10k_kwh', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('emissions_t', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.Column('rnd_spending', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('accident', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('utility', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('production_start_year', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('year BETWEEN 1990 AND 2100', name=op.f('ck_enterprise_years_year_range')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_enterprise_years_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enterprise_id', 'year', name=op.f('pk_enterprise_years'))
    )
    op.create_table('parcels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=19), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_mu', sa.Float(), sa.Computed('(ST_Area(geom::geography) / (2000.0 / 3.0))', persisted=True), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('park_id', sa.Integer(), nullable=True),
    sa.Column('land_use', sa.String(length=4), server_default='0601', nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('intended_industry', sa.String(length=32), nullable=True),
    sa.Column('contract_kind', sa.Text(), nullable=True),
    sa.Column('contract_no', sa.Text(), nullable=True),
    sa.Column('contract_signed_on', sa.Date(), nullable=True),
    sa.Column('land_price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('agreed_start_date', sa.Date(), nullable=True),
    sa.Column('agreed_completion_date', sa.Date(), nullable=True),
    sa.Column('planned_investment', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('built_footprint_m2', sa.Float(), nullable=True),
    sa.Column('investment_to_date', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('halted_since', sa.Date(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('production_stopped_since', sa.Date(), nullable=True),
    sa.Column('parent_codes', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[0-9]{12}[GJZ][A-Z][0-9]{5}$'", name=op.f('ck_parcels_code_format')),
    sa.CheckConstraint("contract_kind IS NULL OR contract_kind IN ('出让', '划拨')", name=op.f('ck_parcels_contract_kind')),
    sa.CheckConstraint("land_use ~ '^[0-9]{4}$'", name=op.f('ck_parcels_land_use_format')),
    sa.CheckConstraint("status IN ('reserve', 'on_offer', 'supplied', 'under_construction', 'producing', 'idle_candidate', 'recovered')", name=op.f('ck_parcels_status')),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_parcels_geom_valid')),
    sa.CheckConstraint('built_footprint_m2 IS NULL OR built_footprint_m2 >= 0', name=op.f('ck_parcels_footprint_nonneg')),
    sa.CheckConstraint('substr(code, 1, 6) = adcode', name=op.f('ck_parcels_code_matches_county')),
    sa.ForeignKeyConstraint(['adcode'], ['counties.adcode'], name=op.f('fk_parcels_adcode_counties')),
    sa.ForeignKeyConstraint(['holder_id'], ['enterprises.id'], name=op.f('fk_parcels_holder_id_enterprises')),
    sa.ForeignKeyConstraint(['intended_industry'], ['industries.code'], name=op.f('fk_parcels_intended_industry_industries')),
    sa.ForeignKeyConstraint(['park_id'], ['parks.id'], name=op.f('fk_parcels_park_id_parks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcels')),
    sa.UniqueConstraint('code', name=op.f('uq_parcels_code'))
    )
    op.create_index(op.f('ix_parcels_adcode'), 'parcels', ['adcode'], unique=False)
    op.create_index(op.f('ix_parcels_holder_id'), 'parcels', ['holder_id'], unique=False)
    op.create_index(op.f('ix_parcels_park_id'), 'parcels', ['park_id'], unique=False)
    op.create_index(op.f('ix_parcels_status'), 'parcels', ['status'], unique=False)
    op.create_table('control_indicators',
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('investment_intensity', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('far_min', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('far_max', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('tax_per_mu', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('output_intensity', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('energy_per_output', sa.Numeric(precision=10, scale=4), nullable=True),
    sa.Column('environment_standard', sa.Text(), nullable=True),
    sa.Column('building_coverage_min', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('green_ratio_max', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('admin_ratio_max', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('construction_months', sa.Integer(), nullable=True),
    sa.Column('production_months', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_control_indicators_parcel_id_parcels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('parcel_id', name=op.f('pk_control_indicators'))
    )
    op.create_table('occupancies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('share', sa.Numeric(precision=6, scale=5), nullable=False),
    sa.Column('role', sa.Text(), server_default='holder', nullable=False),
    sa.Column('floor_area_m2', sa.Float(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("role IN ('holder', 'lessee')", name=op.f('ck_occupancies_role')),
    sa.CheckConstraint('share > 0 AND share <= 1', name=op.f('ck_occupancies_share_range')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_occupancies_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_occupancies_parcel_id_parcels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_occupancies')),
    sa.UniqueConstraint('parcel_id', 'enterprise_id', name='uq_occupancies_parcel_enterprise')
    )
    op.create_index(op.f('ix_occupancies_enterprise_id'), 'occupancies', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_occupancies_parcel_id'), 'occupancies', ['parcel_id'], unique=False)
    _create_audit_triggers()


def downgrade() -> None:
    op.drop_table('dataset_meta')
    op.drop_index(op.f('ix_occupancies_parcel_id'), table_name='occupancies')
    op.drop_index(op.f('ix_occupancies_enterprise_id'), table_name='occupancies')
    op.drop_table('occupancies')
    op.drop_table('control_indicators')
    op.drop_index(op.f('ix_parcels_status'), table_name='parcels')
    op.drop_index(op.f('ix_parcels_park_id'), table_name='parcels')
    op.drop_index(op.f('ix_parcels_holder_id'), table_name='parcels')
    op.drop_index(op.f('ix_parcels_adcode'), table_name='parcels')
    op.drop_table('parcels')
    op.drop_table('enterprise_years')
    op.drop_index(op.f('ix_enterprises_park_id'), table_name='enterprises')
    op.drop_index(op.f('ix_enterprises_adcode'), table_name='enterprises')
    op.drop_table('enterprises')
    op.drop_table('cluster_years')
    op.drop_table('cluster_counties')
    op.drop_table('parks')
    op.drop_table('clusters')
    op.drop_table('industries')
    op.drop_index('ix_history_object', table_name='history')
    op.drop_table('history')
    op.drop_table('counties')
    for fn in ("hggis_parcel_guard", "hggis_history_append_only", "hggis_history_record", "hggis_credit_code_ok"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
