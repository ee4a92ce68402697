"""Database access: the embedded PostGIS cluster, the engine and the `hggis db` commands."""
