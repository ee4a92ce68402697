"""The embedded streaming replica (``hggis db up --replica``): a hot standby of the embedded cluster.

Layout under ``$HGGIS_VAR_DIR/pg-replica`` mirrors the primary's (``data/``, ``run/``,
``log/postgresql.log``). ``data/`` is a ``pg_basebackup`` of the running primary with
``standby.signal`` and ``primary_conninfo`` (written by ``pg_basebackup -R``), so the
server streams the primary's WAL and answers read-only queries.

Roles are the primary's (a physical copy), so the service connects as the same non-superuser
app role and every password is read from the primary's files. Streaming itself uses one more
role, ``hggis_replicator``: LOGIN REPLICATION and nothing else (no superuser, no table
privilege, no database it could write), its password in the primary's
``replication-password`` file (mode 600).

Like the primary, the replica runs as the ``postgres`` OS user when we are root, listens on
127.0.0.1 only, and a failed first ``up`` removes what it created.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from hggis.db.cluster import (
    LISTEN_ADDRESS,
    REPLICATION_ROLE,
    ClusterError,
    EmbeddedCluster,
    _find_binaries,
    _one_line,
    _port_free,
    embedded_cluster,
)

if TYPE_CHECKING:  # pragma: no cover
    from hggis.config import Settings

#: standby settings added to the replica's hggis.conf: queries on the standby are not cancelled by
#: the primary's vacuum (the primary keeps the rows they still read), and replay is reported often.
STANDBY_SETTINGS: dict[str, str] = {
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "wal_receiver_status_interval": "1s",
}


class EmbeddedReplica(EmbeddedCluster):
    """A hot standby of ``primary`` rooted at ``data_dir`` (normally ``var/pg-replica``)."""

    def __init__(self, primary: EmbeddedCluster, data_dir: Path, port: int) -> None:
        super().__init__(data_dir, port)
        self.primary = primary

    def __repr__(self) -> str:
        return f"EmbeddedReplica({str(self.root)!r}, port={self.port}, primary={self.primary!r})"

    def password(self, role: str = "hggis") -> str:
        """Roles are the primary's (physical copy): so are their passwords."""
        return self.primary.password(role)

    def _write_role_passwords(self, created: list[Path]) -> None:
        """The replica has no password files of its own."""

    def _configure(self) -> None:
        super()._configure()
        conf = self.pgdata / "hggis.conf"
        extra = [f"{key} = '{value}'" for key, value in STANDBY_SETTINGS.items()]
        conf.write_text(conf.read_text() + "\n".join(extra) + "\n")

    def _ensure_database(self, name: str) -> str:
        """Nothing to create on a standby: the database and PostGIS come with the base backup."""
        return "(replica)"

    # ---------------------------------------------------------------- up

    def _up(self) -> str:
        pid, running_port = self._running_pid() if self.pgdata.exists() and self._data_major() else (None, None)
        if pid is not None:
            return f"replica already running on port {running_port or self.port}"
        if self.primary.status().running is False:
            raise ClusterError("the primary is not running: run `hggis db up` first")
        if self.port == self.primary._effective_port():
            raise ClusterError(f"the replica's port {self.port} is the primary's: set HGGIS_PG_REPLICA_PORT")
        if not _port_free(self.port):
            raise ClusterError(
                f"port {self.port} on {LISTEN_ADDRESS} is already in use by another process: "
                "stop it or set HGGIS_PG_REPLICA_PORT to a free port"
            )
        data_major = self._data_major()
        binaries = _find_binaries(data_major, self.pgdata)
        user = self._os_user()
        if user is not None:
            self._check_traversable(user)
        created: list[Path] = []
        fresh = data_major is None
        started = False
        try:
            for directory in (self.root, self.socket_dir, self.log_file.parent):
                missing = [p for p in (directory, *directory.parents) if not p.exists()]
                for path in reversed(missing):
                    path.mkdir()
                    path.chmod(0o755)
                    created.append(path)
            if user is not None:
                self._chown_tree(user)
            if fresh:
                self._base_backup(binaries)
            self._clear_stale_state()
            self._configure()
            self._start(binaries)
            started = True
        except BaseException:
            if started:
                self._stop(binaries, mode="fast", quiet=True)
            if fresh and self.pgdata.exists():
                shutil.rmtree(self.pgdata, ignore_errors=True)
            for path in reversed(created):
                if path in (self.log_file.parent, *self.log_file.parents) and self.log_file.exists():
                    continue
                shutil.rmtree(path, ignore_errors=True)
            raise
        what = "copied from the primary and started" if fresh else "started"
        return (
            f"replica {what}: streaming from {LISTEN_ADDRESS}:{self.primary._effective_port()} "
            f"on {LISTEN_ADDRESS}:{self.port} (data: {self.pgdata})"
        )

    def _base_backup(self, binaries) -> None:  # noqa: ANN001 - cluster._Binaries
        """pg_basebackup of the running primary as the replication role, standby files written (-R)."""
        password = ensure_replication_role(self.primary)
        conninfo = (
            f"host={LISTEN_ADDRESS} port={self.primary._effective_port()} user={REPLICATION_ROLE} "
            f"password={password} application_name=hggis_replica"
        )
        argv = [
            binaries["pg_basebackup"], "-D", str(self.pgdata), "-d", conninfo,
            "-R", "-X", "stream", "-c", "fast", "-w",
        ]  # fmt: skip
        result = self._run(argv, timeout=1800)
        if result.returncode != 0:
            lines = [ln.strip() for ln in (result.stderr + "\n" + result.stdout).splitlines() if ln.strip()]
            reason = (lines[0] if lines else f"exit code {result.returncode}").replace(password, "***")
            raise ClusterError(f"pg_basebackup from the primary failed: {_one_line(reason)}")
        (self.pgdata / "postgresql.auto.conf").chmod(0o600)  # holds the replication password


def ensure_replication_role(primary: EmbeddedCluster) -> str:
    """Create (or re-password) ``hggis_replicator`` on ``primary`` with the least rights streaming needs.

    LOGIN REPLICATION only: not a superuser, cannot create databases or roles, inherits nothing,
    owns nothing and is granted nothing, so the most its password allows is reading the WAL
    stream (which a replica needs anyway). Returns its password.
    """
    from psycopg import sql

    path = primary.root / "replication-password"
    if not path.exists():
        primary._write_password([], path)
    password = primary.password(REPLICATION_ROLE)
    with primary._connect("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (REPLICATION_ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                    "NOBYPASSRLS PASSWORD {}").format(sql.Identifier(REPLICATION_ROLE), sql.Literal(password))
        )
    return password


def replica_port(settings: Settings) -> int:
    return settings.hggis_pg_replica_port or settings.hggis_pg_port + 1


def embedded_replica(settings: Settings | None = None) -> EmbeddedReplica:
    """The project's replica: ``$HGGIS_VAR_DIR/pg-replica``, a standby of :func:`embedded_cluster`."""
    if settings is None:
        from hggis.config import get_settings

        settings = get_settings()
    return EmbeddedReplica(embedded_cluster(settings), Path(settings.hggis_var_dir) / "pg-replica", replica_port(settings))
