"""OGC API – Features (Part 1 core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS) over hggis data.

Framework-neutral, in the manner of pygeoapi: these modules take a connection, the
caller (hggis.access.policy.Principal) and the request's query parameters, and return
documents; api/routes/ogc.py only adapts them to FastAPI.

- collections: which collections exist and what each kind of caller sees (registry)
- restricted: idle-land cases and constraint layers (signed-in users only)
- params, crs: parameter parsing, CRS URIs, axis order, bbox in any supported CRS
- items, counting, paging: SQL of feature pages, numberMatched rule, cursors
- documents, openapi: landing page, conformance, collections, feature pages, OAS 3.0
"""

from hggis.ogc import restricted  # noqa: F401  (registers the idle-case and constraint collections)
from hggis.ogc.collections import REGISTRY, Collection, register, source_of, view_of, visible_views
from hggis.ogc.errors import OGCError

__all__ = ["REGISTRY", "Collection", "OGCError", "register", "source_of", "view_of", "visible_views"]
