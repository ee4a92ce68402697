"""Compressed responses (gzip) for JSON, GeoJSON, HTML and vector tiles.

Why: a dense tile page or an items page is mostly repeated keys and coordinates; gzip cuts
it several-fold on the wire. A gzip body is another representation than the identity
one, so a strong ETag must not be shared between them: compressed responses carry the
weak form of their tag (W/"…"), and revalidation compares tags weakly (RFC 9110 §13.1.2).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIN_SIZE_BYTES = 1000
# Formats that are compressed already: gzip would spend CPU for nothing.
ALREADY_COMPRESSED = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
)


def weak(tag: str) -> str:
    return tag if tag.startswith("W/") else f"W/{tag}"


def same_tag(a: str, b: str) -> bool:
    """Weak comparison: W/"x" and "x" name the same content."""
    return a.removeprefix("W/") == b.removeprefix("W/")


class WeakETagWhenEncoded:
    """Sits inside the gzip middleware's send: an encoded response gets a weak ETag."""

    def __init__(self, send: Send) -> None:
        self.send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            if "content-encoding" in headers and "etag" in headers:
                headers["etag"] = weak(headers["etag"])
        await self.send(message)


class Compression:
    """gzip for clients that accept it (Accept-Encoding), identity for the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.gzip = GZipMiddleware(
            app, minimum_size=MIN_SIZE_BYTES,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *ALREADY_COMPRESSED),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gzip(scope, receive, WeakETagWhenEncoded(send))
