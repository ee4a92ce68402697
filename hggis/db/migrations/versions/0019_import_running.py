"""An import is logged when it starts (status running), so a killed one leaves its entry.

Until now the import log got its row only when a run ended: a process killed mid-import
(kill -9, out of memory, power cut) left no trace, although its file had been received and
read. A run now inserts its row with status ``running`` in its own committed transaction
and holds a session advisory lock on it; the row is updated with the outcome in the same
transaction as the data. A ``running`` row whose lock nobody holds belongs to a process
that died: it is shown, and at start-up marked, ``interrupted`` (中断), with nothing
written (the import's own transaction was rolled back when its connection went).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BEFORE = "status IN ('applied', 'dry_run', 'refused')"
AFTER = "status IN ('applied', 'dry_run', 'refused', 'running', 'interrupted')"


def _set_statuses(condition: str) -> None:
    op.execute("ALTER TABLE imports DROP CONSTRAINT ck_imports_status")
    op.execute(f"ALTER TABLE imports ADD CONSTRAINT ck_imports_status CHECK ({condition})")


def upgrade() -> None:
    _set_statuses(AFTER)


def downgrade() -> None:
    # Runs that never finished are kept as refused ones: nothing of them was written.
    op.execute("UPDATE imports SET status = 'refused', finished_at = COALESCE(finished_at, started_at) "
               "WHERE status IN ('running', 'interrupted')")
    _set_statuses(BEFORE)
