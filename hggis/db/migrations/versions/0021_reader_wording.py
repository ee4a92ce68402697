"""Seeded texts that readers see no longer point at our design notes.

Rule sets, legal bases, model names and reference notes seeded by earlier migrations said
"domain.md §6" and the like: that file is the developers' notes, not a source a park manager
can look up, and the scan, case and evaluation pages print these texts. The wording now
names what the value is (系统默认值, 县级公开方法) instead. Every text column of the data
tables is rewritten where it holds such a reference; the audit triggers record each change.
The history table itself is left as it was (append-only).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# (old, new), applied in order; LEFTOVER then removes any reference still left.
REPLACEMENTS = (
    ("低效用地阈值为 domain.md §6 的默认值", "低效用地阈值为系统默认值"),
    ("默认阈值见 domain.md §6，", "默认阈值为系统默认值，"),
    ("（domain.md §5 县级公开方法）", "（县级公开方法）"),
    ("取自 domain.md §7（未核实）", "为资料整理值（未核实）"),
    ("本系统默认口径（domain.md §6）", "本系统默认口径"),
)
LEFTOVER = r"\s*[（(]?domain\.md\s*§?\s*[0-9–-]*[）)]?"
Q = "''"  # a quote inside the format() string, which is itself a literal inside the DO block


def _rewritten(column: str) -> str:
    """SQL for the column's text with every replacement applied."""
    expr = f"{column}::text"
    for old, new in REPLACEMENTS:
        expr = f"replace({expr}, {Q}{old}{Q}, {Q}{new}{Q})"
    return f"regexp_replace({expr}, {Q}{LEFTOVER}{Q}, {Q}{Q}, {Q}g{Q})"


def upgrade() -> None:
    op.execute(f"""
DO $$
DECLARE
  col record;
BEGIN
  FOR col IN
    SELECT c.table_name, c.column_name, c.data_type
    FROM information_schema.columns c
    JOIN pg_tables t ON t.schemaname = c.table_schema AND t.tablename = c.table_name
    WHERE c.table_schema = 'public' AND t.tableowner = current_user  -- ours, not PostGIS's spatial_ref_sys
      AND c.data_type IN ('text', 'character varying', 'jsonb')
      AND c.table_name NOT IN ('history', 'alembic_version')
      AND c.is_generated = 'NEVER'
  LOOP
    EXECUTE format(
      'UPDATE %2$I SET %1$I = CAST({_rewritten("%1$I")} AS %3$s) WHERE %1$I::text LIKE {Q}%%domain.md%%{Q}',
      col.column_name, col.table_name, col.data_type);
  END LOOP;
END $$;
""")


def downgrade() -> None:
    """The old wording is not restored: it pointed readers at a file they cannot open."""
