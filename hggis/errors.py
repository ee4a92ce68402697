"""The refusals of the core, as one small hierarchy that every door maps the same way.

Each class carries an HTTP-neutral ``kind`` (``not_found``, ``invalid``, ``conflict``,
``forbidden``, ``unavailable``); the HTTP door maps a kind to one status code in a single
place (api/errors.py), the CLI prints the message. A refusal names the ``field`` when one
input is at fault, so the caller can tell what to change. Older exception classes of the
packages subclass these, and each kind also subclasses the built-in exception it replaces
(``LookupError``, ``ValueError``, ``PermissionError``), so ``except ValueError`` written
before keeps working.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HggisError(Exception):
    """A request the core refuses; the message says what and why (no traceback to show)."""

    kind: ClassVar[str] = "invalid"
    field: str | None = None  # class defaults too: dataclass subclasses skip __init__
    location: str | None = None

    def __init__(self, message: str = "", *args: Any, field: str | None = None, location: str | None = None) -> None:
        super().__init__(message, *args)
        self.field = field
        self.location = location  # "query", "path", "body" where the caller knows it

    def problems(self) -> list[tuple[str | None, str, str]]:
        """Each fault as (field, message, type code); one refusal may list several."""
        return [(self.field, str(self), "value_error")]

    def extra(self) -> dict[str, Any]:
        """Facts a caller can act on besides the message (e.g. the current version)."""
        return {}


class NotFound(HggisError, LookupError):
    """No such object, or one the caller may not know exists."""

    kind = "not_found"


class Invalid(HggisError, ValueError):
    """An input that breaks a rule; ``field`` names it where one input is at fault."""

    kind = "invalid"


class Conflict(HggisError):
    """The object changed meanwhile, or already exists."""

    kind = "conflict"


class Forbidden(HggisError, PermissionError):
    """The principal may not do this; the message says what and why."""

    kind = "forbidden"


class TooMany(HggisError):
    """The caller sent too much too fast (a rate limit); the message says when to try again."""

    kind = "too_many"


class Unavailable(HggisError, RuntimeError):
    """A dependency (database, cluster, disk) cannot serve the request now."""

    kind = "unavailable"
