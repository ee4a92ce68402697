"""People by name: an actor recorded in history shown as 姓名（单位）with the account.

History, cases and flags record who acted as ``username (role)`` (or a program's name); a
reader wants the person: the display name and 单位 of the account, looked up in one query
for all the actors a page shows. Accounts without a name keep the account's words
(``hggis.workbench.words.actor_text``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from hggis.access.tables import User
from hggis.db.expressions import in_array
from hggis.db.models import table_of
from hggis.workbench.words import actor_text

USERS = table_of(User)
_ACCOUNT = re.compile(r"^(?:cli:)?(?P<name>[a-z0-9][a-z0-9_.-]{1,39})(?: \(|$)")


def account_of(actor: str | None) -> str | None:
    m = _ACCOUNT.match(actor or "")
    return m.group("name") if m else None


def people(conn: Connection, actors: Iterable[str | None]) -> dict[str, str]:
    """actor → how a page shows it (姓名（单位）· account), for every actor given."""
    named = {a for a in actors if a}
    accounts = {a: account_of(a) for a in named}
    wanted = sorted({u for u in accounts.values() if u})
    rows = {r.username: r for r in conn.execute(
        select(USERS.c.username, USERS.c.display_name, USERS.c.unit).where(in_array(USERS.c.username, wanted)))} \
        if wanted else {}
    out: dict[str, str] = {}
    for actor in named:
        row = rows.get(accounts[actor] or "")
        if row is not None and row.display_name:
            out[actor] = f"{row.display_name}（{row.unit}）· {row.username}" if row.unit else f"{row.display_name} · {row.username}"
        else:
            out[actor] = actor_text(actor)
    return out
