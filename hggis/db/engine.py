"""Which database hggis talks to, as which role, and whether it is usable.

``DATABASE_URL`` wins when set (an external PostGIS); otherwise the embedded cluster under
``HGGIS_VAR_DIR/pg``.  Nothing here starts a cluster: that is ``hggis db up``.

Two roles (see ``hggis.db.roles``): the *app* role (``DATABASE_URL``, or ``hggis_app`` of the
embedded cluster) for the service and the CLI's data commands, and the *owner* role
(``DATABASE_OWNER_URL``, or ``hggis_owner``) for migrations. Each
session carries its bounds as connection options: the service's statements are cut off
after ``HGGIS_STATEMENT_TIMEOUT_S``, the CLI's after ``HGGIS_CLI_STATEMENT_TIMEOUT_S``, both
end a transaction left idle for ``HGGIS_IDLE_IN_TRANSACTION_TIMEOUT_S``; owner sessions
(migrations) are unbounded.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Literal

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hggis.db.cluster import APP_ROLE, OWNER_ROLE, ClusterError, embedded_cluster
from hggis.errors import Unavailable

if TYPE_CHECKING:  # pragma: no cover
    from hggis.config import Settings

log = logging.getLogger("hggis.db")
DRIVER_SCHEME = "postgresql+psycopg"
CONNECT_TIMEOUT_S = 10


class DatabaseUnavailable(Unavailable):
    """The configured database cannot be used (one-line reason, never containing a password)."""


def normalize_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` (libpq style) -> ``postgresql+psycopg://``."""
    url = url.strip()
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return f"{DRIVER_SCHEME}://{url[len(scheme):]}"
    return url


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


Role = Literal["app", "owner"]
#: who connects: the web service, a CLI command, or migrations (the owner role)
Purpose = Literal["service", "cli", "owner"]


def _settings(settings: Settings | None) -> Settings:
    if settings is None:
        from hggis.config import get_settings

        return get_settings()
    return settings


def database_url(settings: Settings | None = None, role: Role = "app") -> str:
    """SQLAlchemy URL of the database as ``role``; never starts the embedded cluster.

    Without ``DATABASE_OWNER_URL`` an external database has a single role: the owner URL is
    ``DATABASE_URL`` (the deployment before least privilege; the README says how to split it).
    """
    settings = _settings(settings)
    if settings.database_url:
        if role == "owner" and settings.database_owner_url:
            return normalize_url(settings.database_owner_url)
        return normalize_url(settings.database_url)
    if settings.database_owner_url:
        raise DatabaseUnavailable("DATABASE_OWNER_URL is set without DATABASE_URL: set both, or neither")
    try:
        return embedded_cluster(settings).url(role=OWNER_ROLE if role == "owner" else APP_ROLE)
    except ClusterError as exc:
        raise DatabaseUnavailable(str(exc)) from None


def with_session_limits(url: str, statement_timeout_s: float, idle_in_transaction_s: float) -> str:
    """``url`` whose sessions cancel statements and end idle transactions after these times (0: never).

    Passed as libpq ``options`` so every pooled connection has them from its first statement,
    whichever role or server; options already in the URL are kept (ours come last and win).
    """
    limits = (
        f"-c statement_timeout={int(statement_timeout_s * 1000)} "
        f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_s * 1000)}"
    )
    parsed = make_url(normalize_url(url))
    given = parsed.query.get("options")
    if isinstance(given, tuple):
        given = " ".join(given)
    options = f"{given} {limits}" if given else limits
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def session_url(settings: Settings | None = None, purpose: Purpose = "service") -> str:
    """The URL for ``purpose``: its role and its statement and idle-transaction bounds."""
    settings = _settings(settings)
    if purpose == "owner":
        return with_session_limits(database_url(settings, "owner"), 0, 0)
    timeout = settings.hggis_statement_timeout_s if purpose == "service" else settings.hggis_cli_statement_timeout_s
    return with_session_limits(database_url(settings, "app"), timeout, settings.hggis_idle_in_transaction_timeout_s)


def split_session_limits(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its libpq ``-c name=value`` options, and those settings.

    PgBouncer does not forward the ``options`` startup parameter; behind it the same bounds
    are set at the start of every transaction (:func:`_apply_limits_per_transaction`).
    """
    parsed = make_url(normalize_url(url))
    given = parsed.query.get("options") or ""
    if isinstance(given, tuple):
        given = " ".join(given)
    limits = dict(re.findall(r"-c\s*([a-z_]+)=(\S+)", given))
    rest = parsed.difference_update_query(["options"])
    return rest.render_as_string(hide_password=False), limits


def _apply_limits_per_transaction(engine: Engine, limits: dict[str, str]) -> None:
    """Each transaction starts with ``set_config(name, value, true)`` (transaction-local)."""
    if not limits:
        return
    sql = "SELECT " + ", ".join(f"set_config('{name}', %s, true)" for name in limits)
    values = tuple(limits.values())

    @event.listens_for(engine, "begin")
    def _limits(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql(sql, values)


def _log_lost_connections(engine: Engine) -> None:
    """One log line when a pooled connection is found dead (database or PgBouncer restarted)."""

    @event.listens_for(engine, "invalidate")
    def _lost(_dbapi_conn, _record, exc) -> None:  # noqa: ANN001
        if exc is not None:
            reason = " ".join(str(exc).split())[:160]
            log.warning("database connection lost (%s: %s); reconnecting", type(exc).__name__, reason)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the service's, :func:`session_url`), created once."""
    url = normalize_url(url) if url else session_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            from hggis.config import get_settings

            settings = get_settings()
            connect_args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_S}
            limits: dict[str, str] = {}
            target = url
            if settings.hggis_db_pgbouncer:
                target, limits = split_session_limits(url)
                connect_args["prepare_threshold"] = None  # transaction pooling: no server-side prepared statements
            engine = create_engine(
                target,
                pool_size=settings.hggis_db_pool_size,
                max_overflow=settings.hggis_db_max_overflow,
                pool_timeout=settings.hggis_db_pool_timeout_s,
                # Checked on checkout: after a database restart stale connections are
                # replaced instead of failing the next requests.
                pool_pre_ping=True,
                connect_args=connect_args,
            )
            _apply_limits_per_transaction(engine, limits)
            _log_lost_connections(engine)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close and forget every cached engine (tests; after `hggis db down`)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _short_reason(exc: BaseException, password: str | None) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    reason = lines[0] if lines else type(orig).__name__
    reason = re.sub(r"^connection failed:\s*", "", reason)
    # libpq: 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
    m = re.match(r"connection to server (?:at|on) .*? failed:\s*(.*)$", reason)
    if m and m.group(1):
        reason = m.group(1)
    reason = re.sub(r"^(FATAL|ERROR):\s+", "", reason)
    reason = re.sub(r"\s+", " ", reason).strip()
    if password:
        reason = reason.replace(password, "***")
    return reason or type(orig).__name__


def check_database(engine: Engine) -> dict[str, str]:
    """``{"postgis_version", "server_version"}`` of a reachable database with PostGIS.

    Raises :class:`DatabaseUnavailable` (one line, no password) when the server cannot be
    reached or the database lacks the postgis extension.
    """
    url = engine.url
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = ",".join(host)
    where = f"{host}:{url.port or 5432}"
    database = url.database or url.username or "?"
    try:
        with engine.connect() as conn:
            server_version = conn.execute(text("SHOW server_version")).scalar_one()
            postgis_version = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar_one_or_none()
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {where} (database {database}): {_short_reason(exc, url.password)}"
        ) from None
    if postgis_version is None:
        raise DatabaseUnavailable(
            f"database {database} has no PostGIS extension: CREATE EXTENSION postgis"
        )
    return {"postgis_version": str(postgis_version), "server_version": str(server_version)}


def ensure_postgis(engine: Engine) -> dict[str, str]:
    """Create the postgis extension if missing (needs the privilege), then check the database.

    ``hggis db migrate`` calls this so a fresh external database needs no manual step when
    its role may create extensions; otherwise the one-line error says what to run.
    """
    try:
        with engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first() is None:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except SQLAlchemyError as exc:
        database = engine.url.database or "?"
        raise DatabaseUnavailable(
            f"database {database} has no PostGIS extension and it could not be created "
            f"({_short_reason(exc, engine.url.password)}): ask an administrator to run CREATE EXTENSION postgis"
        ) from None
    except OSError:
        pass  # unreachable: check_database below gives the one-line reason
    return check_database(engine)


def read_urls(settings: Settings | None = None) -> list[str]:
    """The service's read replicas (app role, service bounds): ``DATABASE_READ_URL``, or the embedded one.

    Without ``DATABASE_READ_URL`` and without ``DATABASE_URL`` the embedded replica counts when
    ``hggis db up --replica`` has it running; otherwise there is none and the primary reads.
    """
    settings = _settings(settings)
    if settings.database_read_url.strip():
        urls = [normalize_url(u) for u in settings.database_read_url.split(",") if u.strip()]
    elif settings.database_url:
        urls = []
    else:
        from hggis.db.replica import embedded_replica

        try:
            replica = embedded_replica(settings)
            urls = [replica.url(role=APP_ROLE)] if replica.status().running else []
        except ClusterError:
            urls = []
    timeout = settings.hggis_statement_timeout_s
    return [with_session_limits(u, timeout, settings.hggis_idle_in_transaction_timeout_s) for u in urls]
