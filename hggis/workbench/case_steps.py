"""Which steps of an idle-land case the procedure allows next, as hggis.idle decides it.

The case page shows a button for each allowed step and none for the others. The rules
that decide it (the state machine, the low-efficiency variant, "record the recovery before
closing", "not idle yet", the caller's scope …) live in ``hggis.idle.cases.transition``;
they are not repeated here. If hggis.idle offers ``allowed_actions(conn, principal,
case_id)`` it is asked directly. Otherwise each step is tried with ``transition`` inside
a SAVEPOINT that is always rolled back: a step refused with ``IllegalTransition`` (or
``Forbidden``) is not allowed; a step refused only for want of input the form will ask
for (a disposal kind, indicators, a date) is allowed. Nothing of a trial survives it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from hggis import clock
from hggis.access.policy import Forbidden, Principal
from hggis.idle import cases
from hggis.idle.cases import ACTIONS, CaseError, Document, IllegalTransition

PROBE_REASON = "（试算：是否允许此步骤）"
PROBE_DOCUMENT = Document("试算", "试算")


def allowed_steps(conn: Connection, principal: Principal, case_id: int, on: dt.date | None = None) -> list[str]:
    """The actions (keys of ``hggis.idle.cases.ACTIONS``) the caller may take next on the case."""
    ask = getattr(cases, "allowed_actions", None)
    if ask is not None:
        return [a for a in ask(conn, principal, case_id)]
    day = on or clock.today()
    allowed: list[str] = []
    for action in ACTIONS:
        trial = conn.begin_nested()
        try:
            cases.transition(conn, principal, case_id, action, day, PROBE_REASON, [PROBE_DOCUMENT])
        except IllegalTransition:
            continue
        except Forbidden:
            return []
        except CaseError:
            allowed.append(action)  # allowed; the form asks for what the trial left out
        else:
            allowed.append(action)
        finally:
            trial.rollback()
    return allowed
