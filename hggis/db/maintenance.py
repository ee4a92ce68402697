"""Planner statistics for tables a transaction has just filled.

Autovacuum analyses a table a while after it changed; a page that reads an evaluation run
or an import right after it was written would otherwise be planned for the table as it
was (an empty ``evaluation_land`` made the 亩均 map take minutes). ANALYZE needs the
table's owner, so the app role calls the owner's ``hggis_analyze`` (migration 0012). Run
inside the writing transaction it samples the transaction's own new rows, and the new
statistics become visible with the commit.
"""

from __future__ import annotations

from sqlalchemy import cast, func, literal, select
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.engine import Connection


def analyze(conn: Connection, *tables: str) -> None:
    """Refresh the statistics of ``tables`` (names of hggis tables) within ``conn``'s transaction."""
    for table in tables:
        conn.execute(select(func.hggis_analyze(cast(literal(table), REGCLASS))))
