"""Small SQL expressions shared by queries built on the declared tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, Integer, Text, any_, bindparam, false
from sqlalchemy.sql import ColumnElement


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
