"""Errors of the OGC API, carried as data so any web framework can render them.

OGC API – Features answers a bad request with 400 and a small JSON document
(``code``, ``description``), not with a framework's own validation format, because GDAL
and QGIS show that description to the user.
"""

from __future__ import annotations


class OGCError(Exception):
    """A refused request: HTTP status, OGC exception code and a readable description."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def document(self) -> dict[str, str]:
        return {"code": self.code, "description": self.description}


def invalid(parameter: str, reason: str) -> OGCError:
    return OGCError(400, "InvalidParameterValue", f"parameter {parameter!r}: {reason}")


def not_found(what: str) -> OGCError:
    return OGCError(404, "NotFound", what)
