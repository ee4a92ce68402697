"""Terrain from DEMs: slope in degrees and per-parcel zonal statistics (rasterio, windowed).

- ``dem``: opening a DEM in any CRS, pixel sizes in metres (per row for lon/lat grids);
- ``slope``: Horn's 3×3 slope, block by block, into a tiled compressed GeoTIFF;
- ``zonal``: per-parcel mean/max slope and mean elevation with label rasters + bincount;
- ``service``: importing DEMs and refreshing parcels' statistics in the database;
- ``tables``: ``dems`` (audited) and ``parcel_terrain`` (derived, 1:1 with parcels).
"""
