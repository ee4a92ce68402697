"""The offline base map's tiles: /basemap/{z}/{x}/{y}.{ext} from the loaded package (hggis.basemap)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request, Response

from api.compression import same_tag
from api.deps import Public
from hggis import basemap

router = APIRouter(prefix="/basemap", tags=["basemap"])

#: Base map tiles change only when an operator loads another package (the ETag then changes).
CACHE = "public, max-age=86400"
# a transparent 1×1 PNG: a raster tile the package does not have (outside its bounds or zooms),
# so the browser draws nothing there instead of logging a failed image
EMPTY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@router.get("/{z}/{x}/{y}.{ext}", dependencies=[Public], summary="A tile of the offline base map package",
            response_class=Response)
def basemap_tile(request: Request, z: int, x: int, y: int, ext: str) -> Response:
    found = basemap.tile(z, x, y)
    if found is None:
        raise HTTPException(404, detail="no base map package is loaded (hggis basemap load FILE)")
    pkg, data = found
    if ext != pkg.ext:
        raise HTTPException(404, detail=f"the base map package holds .{pkg.ext} tiles, not .{ext}")
    tag = '"' + hashlib.sha256(f"{pkg.fingerprint}/{z}/{x}/{y}".encode()).hexdigest()[:20] + '"'
    headers = {"Cache-Control": CACHE, "ETag": tag}
    wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",") if t.strip()]
    if any(same_tag(tag, w) for w in wanted):
        return Response(status_code=304, headers=headers)
    if data is None:
        if pkg.raster:
            return Response(EMPTY_PNG, media_type="image/png", headers=headers)
        return Response(status_code=204, headers=headers)
    if not pkg.raster and basemap.is_gzipped(data):
        headers["Content-Encoding"] = "gzip"  # vector tiles are stored gzipped; the browser inflates them
    return Response(data, media_type=pkg.media_type, headers=headers)
