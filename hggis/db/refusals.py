"""The database's refusals of a value, as the core's errors (naming the column or constraint).

The database is the last line: a check constraint, a foreign key or a type's range refuses
what slipped past the Python checks. That is bad input, not a server fault, so every door
reports it as such (HTTP 4xx, a CLI message) instead of a traceback. Anything else (a lost
connection, a syntax error in our own SQL) is not translated and stays a server error.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError

from hggis.errors import Conflict, HggisError, Invalid

# SQLSTATE class 22 (data exception) and the integrity violations that mean "bad value".
_DATA_EXCEPTION_CLASS = "22"
_FOREIGN_KEY = "23503"
_CHECK = "23514"
_NOT_NULL = "23502"
_UNIQUE = "23505"
_EXCLUSION = "23P01"
_KEY_RX = re.compile(r"^Key \(([\w, ]+)\)=")


def _diag(exc: DBAPIError) -> tuple[str | None, str, str | None, str | None, str | None]:
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    sqlstate = getattr(orig, "sqlstate", None)
    primary = (getattr(diag, "message_primary", None) or str(orig).splitlines()[0]) if orig else str(exc)
    column = getattr(diag, "column_name", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = getattr(diag, "message_detail", None)
    return sqlstate, primary, column, constraint, detail


def refusal(exc: DBAPIError) -> HggisError | None:
    """The refusal ``exc`` stands for, or None if it is not about the caller's input."""
    sqlstate, primary, column, constraint, detail = _diag(exc)
    field = column or _key_column(detail)  # a column the caller sent; a constraint is named in the message
    if sqlstate is None:
        # psycopg refuses NUL in text before sending it: no SQLSTATE, but still bad input.
        if "NUL" in primary:
            return Invalid(f"text must not contain NUL (\\x00) characters: {primary}")
        return None
    if sqlstate.startswith(_DATA_EXCEPTION_CLASS):
        return Invalid(f"a value was refused by the database: {primary}", field=field)
    if sqlstate == _FOREIGN_KEY:
        return Invalid(f"refers to something that does not exist ({constraint}): {detail or primary}", field=field)
    if sqlstate in (_CHECK, _NOT_NULL):
        return Invalid(f"a value breaks a rule of the database ({constraint or column}): {primary}", field=field)
    if sqlstate in (_UNIQUE, _EXCLUSION):
        return Conflict(f"already exists ({constraint}): {detail or primary}", field=field)
    return None


def _key_column(detail: str | None) -> str | None:
    """``Key (holder_id)=(99) is not present …`` → ``holder_id`` (PostgreSQL's message detail)."""
    m = _KEY_RX.match(detail or "")
    return m.group(1) if m else None
