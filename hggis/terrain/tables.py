"""Tables of the terrain module: imported DEMs and the per-parcel statistics derived from them.

Terrain statistics live in their own 1:1 table (``parcel_terrain``) rather than on
``parcels``: they are derived data that a DEM import or a refresh rewrites in bulk, and
writing them onto ``parcels`` would flood the parcels' audit history with recomputations.
What was imported, by whom and when is audited on ``dems`` instead.

Readers join ``parcel_terrain`` on ``parcel_id`` (``LEFT JOIN parcel_terrain t ON
t.parcel_id = p.id``), or read the view ``parcel_terrain_status`` (migration 0007), which
adds ``terrain_status`` ('full', 'partial', 'not_covered') and ``terrain_stale``.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import SRID, Base, _in

CRS_KINDS = ("projected", "geographic")
SLOPE_METHODS = ("horn",)
ZONAL_METHODS = ("cells", "centroid")


class Dem(Base):
    """One imported digital elevation model and the slope raster computed from it."""

    __tablename__ = "dems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    source_name: Mapped[str] = mapped_column(Text)  # file name as given to the import
    source_path: Mapped[str] = mapped_column(Text)  # absolute path at import (read again by refresh)
    source_bytes: Mapped[int] = mapped_column(BigInteger)
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    crs: Mapped[str] = mapped_column(Text)  # "EPSG:4547", or WKT when no EPSG code matches
    crs_kind: Mapped[str] = mapped_column(Text)
    crs_from_file: Mapped[bool] = mapped_column()  # False: given with --crs
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    res_x: Mapped[float] = mapped_column(Float)  # in CRS units (metres or degrees)
    res_y: Mapped[float] = mapped_column(Float)
    pixel_size_m: Mapped[float] = mapped_column(Float)  # east-west pixel size at the DEM centre
    bounds = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=True), nullable=False)
    nodata: Mapped[float | None] = mapped_column(Float)
    valid_fraction: Mapped[float] = mapped_column(Float)
    elevation_min_m: Mapped[float | None] = mapped_column(Float)
    elevation_max_m: Mapped[float | None] = mapped_column(Float)
    slope_path: Mapped[str] = mapped_column(Text)
    slope_method: Mapped[str] = mapped_column(Text, server_default="horn")
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    imported_by: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint("checksum_sha256 ~ '^[0-9a-f]{64}$'", name="checksum_format"),
        CheckConstraint(_in("crs_kind", CRS_KINDS), name="crs_kind"),
        CheckConstraint(_in("slope_method", SLOPE_METHODS), name="slope_method"),
        CheckConstraint("width > 0 AND height > 0", name="size_positive"),
        CheckConstraint("valid_fraction BETWEEN 0 AND 1", name="valid_fraction_range"),
    )


class ParcelTerrain(Base):
    """Slope and elevation statistics of one parcel, from the DEM that covers it best."""

    __tablename__ = "parcel_terrain"

    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id", ondelete="CASCADE"), primary_key=True)
    terrain_dem_id: Mapped[int] = mapped_column(ForeignKey("dems.id", ondelete="CASCADE"), index=True)
    mean_slope_deg: Mapped[float | None] = mapped_column(Float)
    max_slope_deg: Mapped[float | None] = mapped_column(Float)
    mean_elevation_m: Mapped[float | None] = mapped_column(Float)
    # Fraction of the parcel's cells with valid DEM values; < 1: partial statistics.
    terrain_coverage: Mapped[float] = mapped_column(Float)
    cells: Mapped[int] = mapped_column(Integer)  # pixel centres inside the parcel (0: smaller than a pixel)
    valid_cells: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(Text)
    geom_md5: Mapped[str] = mapped_column(String(32))  # md5(ST_AsEWKB(geom)) the statistics were computed for
    terrain_updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("terrain_coverage BETWEEN 0 AND 1", name="coverage_range"),
        CheckConstraint(_in("method", ZONAL_METHODS), name="method"),
        CheckConstraint("cells >= 0 AND valid_cells >= 0", name="cells_nonneg"),
    )
