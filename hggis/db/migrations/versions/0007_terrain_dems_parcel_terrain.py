"""Terrain: imported DEMs (audited) and per-parcel slope/elevation statistics (derived).

``parcel_terrain`` is 1:1 with ``parcels`` and holds the columns mean_slope_deg,
max_slope_deg, mean_elevation_m, terrain_coverage, terrain_dem_id and terrain_updated_at.
It is derived data, rewritten by imports and refreshes, so it is not audited; the audit
trail of terrain is the ``dems`` table (who imported which file, when, with which CRS).
The view ``parcel_terrain_status`` joins the statistics to live parcels for readers.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-26 03:06:38.109263
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0003'
branch_labels = None
depends_on = None

# Live parcels with their terrain statistics. terrain_status: 'full' (coverage 1),
# 'partial' (0 < coverage < 1: statistics from the valid cells only), 'not_covered' (no DEM
# data on the parcel). terrain_stale: the geometry changed since the statistics were computed.
STATUS_VIEW = """
CREATE VIEW parcel_terrain_status AS
SELECT p.id AS parcel_id, p.code, p.adcode, p.park_id, p.status,
       t.mean_slope_deg, t.max_slope_deg, t.mean_elevation_m, t.terrain_coverage,
       t.terrain_dem_id, t.terrain_updated_at, t.method AS terrain_method,
       CASE WHEN t.parcel_id IS NULL OR t.terrain_coverage = 0 THEN 'not_covered'
            WHEN t.terrain_coverage < 1 THEN 'partial'
            ELSE 'full' END AS terrain_status,
       (t.parcel_id IS NOT NULL AND t.geom_md5 <> md5(ST_AsEWKB(p.geom))) AS terrain_stale
  FROM parcels p LEFT JOIN parcel_terrain t ON t.parcel_id = p.id
 WHERE p.retired_at IS NULL
"""


def upgrade() -> None:
    op.create_table('dems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('source_name', sa.Text(), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('source_bytes', sa.BigInteger(), nullable=False),
    sa.Column('checksum_sha256', sa.String(length=64), nullable=False),
    sa.Column('crs', sa.Text(), nullable=False),
    sa.Column('crs_kind', sa.Text(), nullable=False),
    sa.Column('crs_from_file', sa.Boolean(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('res_x', sa.Float(), nullable=False),
    sa.Column('res_y', sa.Float(), nullable=False),
    sa.Column('pixel_size_m', sa.Float(), nullable=False),
    sa.Column('bounds', geoalchemy2.types.Geometry(geometry_type='POLYGON', srid=4490, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('nodata', sa.Float(), nullable=True),
    sa.Column('valid_fraction', sa.Float(), nullable=False),
    sa.Column('elevation_min_m', sa.Float(), nullable=True),
    sa.Column('elevation_max_m', sa.Float(), nullable=True),
    sa.Column('slope_path', sa.Text(), nullable=False),
    sa.Column('slope_method', sa.Text(), server_default='horn', nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('imported_by', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("checksum_sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_dems_checksum_format')),
    sa.CheckConstraint("crs_kind IN ('projected', 'geographic')", name=op.f('ck_dems_crs_kind')),
    sa.CheckConstraint("slope_method IN ('horn')", name=op.f('ck_dems_slope_method')),
    sa.CheckConstraint('valid_fraction BETWEEN 0 AND 1', name=op.f('ck_dems_valid_fraction_range')),
    sa.CheckConstraint('width > 0 AND height > 0', name=op.f('ck_dems_size_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dems')),
    sa.UniqueConstraint('name', name=op.f('uq_dems_name'))
    )
    op.create_table('parcel_terrain',
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('terrain_dem_id', sa.Integer(), nullable=False),
    sa.Column('mean_slope_deg', sa.Float(), nullable=True),
    sa.Column('max_slope_deg', sa.Float(), nullable=True),
    sa.Column('mean_elevation_m', sa.Float(), nullable=True),
    sa.Column('terrain_coverage', sa.Float(), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('valid_cells', sa.Integer(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('geom_md5', sa.String(length=32), nullable=False),
    sa.Column('terrain_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("method IN ('cells', 'centroid')", name=op.f('ck_parcel_terrain_method')),
    sa.CheckConstraint('cells >= 0 AND valid_cells >= 0', name=op.f('ck_parcel_terrain_cells_nonneg')),
    sa.CheckConstraint('terrain_coverage BETWEEN 0 AND 1', name=op.f('ck_parcel_terrain_coverage_range')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcels.id'], name=op.f('fk_parcel_terrain_parcel_id_parcels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terrain_dem_id'], ['dems.id'], name=op.f('fk_parcel_terrain_terrain_dem_id_dems'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('parcel_id', name=op.f('pk_parcel_terrain'))
    )
    op.create_index(op.f('ix_parcel_terrain_terrain_dem_id'), 'parcel_terrain', ['terrain_dem_id'], unique=False)
    op.execute(
        "CREATE TRIGGER dems_history AFTER INSERT OR UPDATE OR DELETE ON dems "
        "FOR EACH ROW EXECUTE FUNCTION hggis_history_record('id')"
    )
    op.execute(STATUS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS parcel_terrain_status")
    op.drop_index(op.f('ix_parcel_terrain_terrain_dem_id'), table_name='parcel_terrain')
    op.drop_table('parcel_terrain')
    op.drop_table('dems')
