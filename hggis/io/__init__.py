"""Files in and out: spatial layers and Excel sheets → checked rows in PostGIS, and back.

One module per format behind one interface (``base.FormatHandler``), a common reader
(``spatial.read_layer``: any layer in EPSG:4490 with a report of what was detected), the
importers (``parcels_import``, ``figures_import``) and ``export``. See the modules'
docstrings for the rules each applies.
"""
