"""Small SQL expressions shared by queries built on the declared tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, Integer, Text, any_, bindparam, column, false, func
from sqlalchemy.sql import ColumnElement, TableValuedAlias
from sqlalchemy.types import TypeEngine


def in_array(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column = ANY(:array)``: one parameter however many values.

    ``column.in_(values)`` sends one bind parameter per value, and PostgreSQL's protocol
    allows at most 65 535, so an import of 100 000 rows cannot use it.
    """
    items = list(values)
    if not items:
        return false()
    kind = Integer() if items and isinstance(items[0], int) else Text()
    return column == any_(bindparam(None, items, type_=ARRAY(kind)))


def unnest_table(name: str, columns: dict[str, tuple[list[Any], TypeEngine[Any]]]) -> TableValuedAlias:
    """The rows given column by column, as ``unnest(:a, :b, …) AS name(a, b, …)``: one parameter per column.

    Lets one UPDATE … FROM or INSERT … SELECT write 100 000 rows in one statement, so the
    statement-level audit and integrity triggers run once instead of once per row (an
    executemany UPDATE is one statement per row).
    """
    args = [bindparam(None, values, type_=ARRAY(kind)) for values, kind in columns.values()]
    cols = (column(c, kind) for c, (_v, kind) in columns.items())
    return func.unnest(*args).table_valued(*cols).render_derived(name=name)
