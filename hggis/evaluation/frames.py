"""Bulk transfer between PostgreSQL and pandas, inside the caller's transaction.

A run moves ~10⁵ rows each way. Row-by-row transfer (fetching rows, or COPY, whose
protocol sends one message per row) costs microseconds of Python per row, which at this
size is most of a run. So reads come back column by column as binary arrays
(``read_columns``), and numbers go in as one binary COPY payload built by numpy
(``write_binary``); only small text tables use CSV COPY (``write_frame``). Everything uses
the psycopg connection under the caller's SQLAlchemy connection, so it stays in the one
transaction of the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from psycopg import sql
from sqlalchemy import literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable, FromClause


def _driver(conn: Connection):  # noqa: ANN202
    return conn.connection.driver_connection


_SENTINELS = {"float8": ("'NaN'::float8", ">f8"), "int4": ("0", ">i4"), "bool": ("false", "?")}


def read_columns(
    conn: Connection,
    source: str | FromClause,
    columns: Mapping[str, tuple[str, str]],
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """``SELECT <columns> FROM <source>`` as a DataFrame, transferred column by column.

    Each numeric column comes back as one binary array (``array_send(array_agg(...))``) that
    numpy reads in place: one round trip and no per-row work on either side. NULLs travel
    as sentinels (NaN for float8, 0 for int4, false for bool) and are restored by the
    caller where they matter. ``source`` is a FROM clause (SQL text or a selectable); ``columns`` maps a name to (SQL expression, kind) with kind
    one of float8, int4, bool, text. All aggregates of one query level see the rows in the
    same order, so the columns line up.
    """
    parts = []
    for expr, kind in columns.values():
        if kind == "text":
            parts.append(f"array_agg({expr})")
        else:
            parts.append(f"array_send(coalesce(array_agg(coalesce(({expr})::{kind}, {_SENTINELS[kind][0]})), "
                         f"'{{}}'::{kind}[]))")
    if isinstance(source, str):
        query: Executable = text(f"SELECT {', '.join(parts)} FROM {source}")
    else:  # a selectable built from the declared tables; the expressions name its columns
        query = select(*(literal_column(part) for part in parts)).select_from(source)
    row = conn.execute(query, dict(params or {})).one()
    data: dict[str, Any] = {}
    for (name, (_, kind)), value in zip(columns.items(), row, strict=True):
        if kind == "text":
            data[name] = np.array(value or [], dtype=object)
            continue
        buf = bytes(value)
        ndim = int.from_bytes(buf[0:4], "big")
        if ndim == 0:
            data[name] = np.array([], dtype=_SENTINELS[kind][1].lstrip(">"))
            continue
        body = np.frombuffer(buf, offset=12 + 8 * ndim, dtype=np.dtype([("len", ">i4"), ("v", _SENTINELS[kind][1])]))
        data[name] = body["v"].astype(body["v"].dtype.newbyteorder("="))
    return pd.DataFrame(data)


def write_frame(conn: Connection, table: str, frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """Append ``frame[columns]`` to ``table`` (NaN/None become NULL); returns the row count."""
    if frame.empty:
        return 0
    text = frame[list(columns)].to_csv(header=False, index=False, na_rep="", lineterminator="\n")
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with _driver(conn).cursor() as cur:
        with cur.copy(statement) as copy:
            copy.write(text.encode("utf-8"))
    return len(frame)


_BINARY_TYPES = {"float8": ">f8", "int4": ">i4", "int2": ">i2", "bool": "?"}
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


def write_binary(conn: Connection, table: str, columns: Sequence[tuple[str, str, np.ndarray]]) -> int:
    """Append fixed-width columns to ``table`` with binary COPY, built by numpy without a loop.

    Binary COPY tuples are length-prefixed fields; with fixed-width types and no NULLs every
    tuple has the same layout, so the whole payload is one structured array. NULLs are
    therefore carried as sentinels (NaN, 0) and turned into NULL by the SQL that reads the
    staging table.
    """
    n = len(columns[0][2]) if columns else 0
    if n == 0:
        return 0
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, (_, pgtype, _) in enumerate(columns):
        fields += [(f"l{i}", ">i4"), (f"v{i}", _BINARY_TYPES[pgtype])]
    rec = np.empty(n, dtype=np.dtype(fields))
    rec["count"] = len(columns)
    for i, (_, pgtype, values) in enumerate(columns):
        rec[f"l{i}"] = np.dtype(_BINARY_TYPES[pgtype]).itemsize
        rec[f"v{i}"] = values
    payload = _PGCOPY_HEADER + rec.tobytes() + b"\xff\xff"
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c, _, _ in columns)
    )
    with _driver(conn).cursor() as cur:
        with cur.copy(statement) as copy:
            copy.write(payload)
    return n
