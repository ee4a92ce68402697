"""Bounds and text rules every input meets before it reaches SQL, defined once.

The database stores ids as ``integer`` and takes OFFSET/LIMIT as ``bigint``; a value past
those is refused here with the field's name instead of surfacing as a driver error. Codes
are ASCII digits only: Python's ``str.isdigit`` and ``\\d`` (and pydantic's patterns) also
accept full-width and other Unicode digits, which the database's ``[0-9]`` checks refuse.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT4_MAX = 2**31 - 1  # ids are PostgreSQL ``integer``
MAX_OFFSET = INT4_MAX  # far past any real list, well inside OFFSET's ``bigint``
ASCII_DIGITS = frozenset("0123456789")

RowId = Annotated[int, Ge(1), Le(INT4_MAX)]
"""The id of a stored row (serial ``integer``)."""
RowOffset = Annotated[int, Ge(0), Le(MAX_OFFSET)]
"""Rows to skip in a paged list."""


def is_ascii_digits(value: str) -> bool:
    """True for a non-empty string of 0-9 only (unlike ``str.isdigit``)."""
    return bool(value) and all(ch in ASCII_DIGITS for ch in value)


def is_row_id(value: str) -> bool:
    """True if ``value`` spells an id the database can hold (ASCII digits, 1..INT4_MAX)."""
    return is_ascii_digits(value) and 1 <= int(value) <= INT4_MAX


def find_nul(value: object, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path of the first string (key or value) holding NUL inside a decoded JSON value.

    PostgreSQL text cannot hold NUL; the driver refuses it without saying which field.
    """
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return (*path, key)
            found = find_nul(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_nul(item, (*path, i))
            if found is not None:
                return found
    return None
