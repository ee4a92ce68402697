"""hggis: the domain library of the 黄冈 land and industrial-park GIS.

Business rules live here; ``api/``, ``maps/`` and the CLI only translate requests into
calls of these functions.
"""

__version__ = "0.1.0"
