"""Schema migrations (Alembic) and the reference data loaded with them.

Work on separate capabilities may add sibling branches; ``upgrade`` applies every head,
and a merge revision joins them when they settle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from hggis.db.roles import grant_app_privileges, role_exists

if TYPE_CHECKING:  # pragma: no cover
    from hggis.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revisions() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("postgresql://")).get_heads()))


def current_revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def describe(revisions: tuple[str, ...]) -> str:
    return "+".join(revisions) if revisions else "empty"


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision``; safe to run on every start (a no-op when current)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def app_role_name(settings: Settings | None = None) -> str | None:
    """The role the service connects as: the user of DATABASE_URL, or the embedded ``hggis_app``."""
    from hggis.db.engine import database_url

    return make_url(database_url(settings, "app")).username


def grant_app_role(engine: Engine, app_role: str | None = None) -> str:
    """After a migration, as the owner: give the app role its privileges; a one-line account.

    A deployment whose service and migrations share one role (no DATABASE_OWNER_URL) has
    nothing to grant; the message says so rather than failing.
    """
    app_role = app_role or app_role_name()
    with engine.begin() as conn:
        me = conn.execute(text("SELECT current_user")).scalar_one()
        if not app_role or app_role == me:
            return f"service and migrations share role {me} (set DATABASE_OWNER_URL to separate them)"
        if not role_exists(conn, app_role):
            return f"app role {app_role} does not exist: nothing granted"
        n = grant_app_privileges(conn, app_role)
    return f"app role {app_role} granted DML on {n} relations"
