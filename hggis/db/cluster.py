"""The embedded PostGIS cluster the project starts itself (``hggis db up``).

Layout under the cluster root (``$HGGIS_VAR_DIR/pg``)::

    data/                   PGDATA (initdb'd with superuser ``hggis``, scram-sha-256 auth)
    run/                    Unix socket directory
    log/postgresql.log      server log (pg_ctl -l)
    password                the ``hggis`` superuser password, mode 600
    owner-password          password of ``hggis_owner`` (owns the schema; migrations), mode 600
    app-password            password of ``hggis_app`` (DML only; the service), mode 600

The server listens on 127.0.0.1 only.  When we run as root, the tree belongs to the
``postgres`` OS user and ``initdb``/``pg_ctl`` run through ``runuser -u postgres --``
(both refuse to run as root).

Every fault raises :class:`ClusterError` with a one-line reason, and ``up()`` is
transactional: when it fails, whatever it created on disk is removed again (except the
server log, which is kept so the failure can be inspected).
"""

from __future__ import annotations

import errno
import fcntl
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from hggis.config import Settings

SUPERUSER = "hggis"
OWNER_ROLE = "hggis_owner"
APP_ROLE = "hggis_app"
#: streams WAL to the embedded replica (LOGIN REPLICATION, nothing else); see hggis.db.replica
REPLICATION_ROLE = "hggis_replicator"
#: role -> password file name under the cluster root
ROLE_PASSWORD_FILES = {SUPERUSER: "password", OWNER_ROLE: "owner-password", APP_ROLE: "app-password",
                       REPLICATION_ROLE: "replication-password"}
DEFAULT_DATABASE = "hggis"
LISTEN_ADDRESS = "127.0.0.1"
PG_LIB_ROOT = Path("/usr/lib/postgresql")
PG_SHARE_ROOT = Path("/usr/share/postgresql")
OS_USER_WHEN_ROOT = "postgres"

#: Memory and planner settings for a small (2-core) machine.  fsync stays on (default).
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "effective_cache_size": "1GB",
    "max_connections": "50",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    "max_parallel_maintenance_workers": "1",
    "random_page_cost": "1.1",
    "lc_messages": "C",
    "log_timezone": "UTC",
}

_START_TIMEOUT_S = 60
_ORPHAN_WAIT_S = 15.0
_SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


class ClusterError(RuntimeError):
    """The embedded cluster cannot be brought into the requested state (one-line reason)."""


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    port: int
    data_dir: Path
    pid: int | None
    version: str | None
    initialized: bool = False


@dataclass(frozen=True)
class _Binaries:
    major: int
    bindir: Path

    def __getitem__(self, name: str) -> str:
        return str(self.bindir / name)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- processes


def _proc_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (our PID 1 may not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        # no /proc or unreadable: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _is_postgres_process(pid: int) -> bool:
    """Alive and named postgres (guards against a recycled PID in a stale postmaster.pid)."""
    if not _proc_alive(pid):
        return False
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True  # cannot tell: assume it is
    return comm in ("postgres", "postmaster")


def _processes_using(directory: Path) -> list[int]:
    """PIDs whose working directory is ``directory`` (orphaned backends of a killed postmaster)."""
    target = str(directory.resolve())
    pids = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/cwd") == target:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def _port_free(port: int) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Same option PostgreSQL sets, so TIME_WAIT leftovers do not count as "taken".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LISTEN_ADDRESS, port))
        return True
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise ClusterError(f"cannot probe {LISTEN_ADDRESS}:{port}: {exc.strerror or exc}") from None
    finally:
        sock.close()


# --------------------------------------------------------------------------- binaries


def _installed_majors() -> list[int]:
    majors = []
    if PG_LIB_ROOT.is_dir():
        for entry in PG_LIB_ROOT.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "pg_ctl").is_file() and (entry / "bin" / "initdb").is_file():
                majors.append(int(entry.name))
    return sorted(majors, reverse=True)


def _has_postgis(major: int) -> bool:
    return (PG_SHARE_ROOT / str(major) / "extension" / "postgis.control").is_file()


def _find_binaries(data_major: int | None = None, pgdata: Path | None = None) -> _Binaries:
    """Highest installed PostgreSQL with PostGIS, or the data directory's own version."""
    majors = _installed_majors()
    if not majors:
        raise ClusterError(
            f"no PostgreSQL server binaries under {PG_LIB_ROOT}: "
            "apt-get install postgresql-15 postgresql-15-postgis-3"
        )
    with_postgis = [m for m in majors if _has_postgis(m)]
    if data_major is not None:
        if data_major in with_postgis:
            return _Binaries(data_major, PG_LIB_ROOT / str(data_major) / "bin")
        where = f"{pgdata} " if pgdata else ""
        have = ", ".join(f"{m} ({PG_LIB_ROOT / str(m) / 'bin'})" for m in majors)
        if data_major in majors:
            hint = f"apt-get install postgresql-{data_major}-postgis-3"
        else:
            hint = (
                f"install postgresql-{data_major} and postgresql-{data_major}-postgis-3, "
                "or pg_upgrade / dump and restore it"
            )
        if data_major in majors:
            raise ClusterError(f"data directory {where}belongs to PostgreSQL {data_major}, which has no PostGIS here: {hint}")
        raise ClusterError(
            f"data directory {where}belongs to PostgreSQL {data_major} but the installed binaries are "
            f"PostgreSQL {have}: {hint}"
        )
    if not with_postgis:
        top = majors[0]
        raise ClusterError(f"PostGIS for PostgreSQL {top} not installed: apt-get install postgresql-{top}-postgis-3")
    top = with_postgis[0]
    return _Binaries(top, PG_LIB_ROOT / str(top) / "bin")


_version_cache: dict[str, str] = {}


def _binary_version(binaries: _Binaries) -> str:
    key = str(binaries.bindir)
    if key not in _version_cache:
        try:
            out = subprocess.run(
                [binaries["postgres"], "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
            m = re.search(r"\)\s*(\d+(?:\.\d+)*)", out)
            _version_cache[key] = m.group(1) if m else str(binaries.major)
        except (OSError, subprocess.SubprocessError):
            _version_cache[key] = str(binaries.major)
    return _version_cache[key]


def _initdb_locale() -> str:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10).stdout
        names = {line.strip().lower().replace("-", "") for line in out.splitlines()}
        if "c.utf8" in names:
            return "C.UTF-8"
        return "C"
    except (OSError, subprocess.SubprocessError):
        return "C.UTF-8" if Path("/usr/lib/locale/C.utf8").exists() else "C"


# --------------------------------------------------------------------------- the cluster


class EmbeddedCluster:
    """A private PostgreSQL + PostGIS cluster rooted at ``data_dir`` (normally ``var/pg``)."""

    def __init__(self, data_dir: Path, port: int, socket_dir: Path | None = None) -> None:
        self.root = Path(data_dir).absolute()
        self.port = int(port)
        self.pgdata = self.root / "data"
        self.socket_dir = Path(socket_dir).absolute() if socket_dir is not None else self.root / "run"
        self.log_file = self.root / "log" / "postgresql.log"
        self.password_file = self.root / ROLE_PASSWORD_FILES[SUPERUSER]

    def __repr__(self) -> str:
        return f"EmbeddedCluster({str(self.root)!r}, port={self.port})"

    # ---------------------------------------------------------------- OS user handling

    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _os_user(self) -> pwd.struct_passwd | None:
        """The account initdb/pg_ctl run as when we are root (None: run as ourselves)."""
        if not self._as_root():
            return None
        try:
            return pwd.getpwnam(OS_USER_WHEN_ROOT)
        except KeyError:
            raise ClusterError(
                f"running as root needs the '{OS_USER_WHEN_ROOT}' OS user to own the cluster "
                f"(initdb and pg_ctl refuse root): apt-get install postgresql-common, or run as a normal user"
            ) from None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env.pop("LANGUAGE", None)
        return env

    def _run(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        user = self._os_user()
        if user is not None:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            argv = [runuser, "-u", user.pw_name, "--", *argv]
        cwd = self.root if self.root.is_dir() else "/"
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self._env(), cwd=cwd)
        except FileNotFoundError as exc:
            raise ClusterError(f"cannot run {exc.filename}: not found") from None
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{Path(argv[-1]).name if argv else 'command'} timed out after {timeout:.0f}s") from None

    def _check_traversable(self, user: pwd.struct_passwd) -> None:
        """The OS user must be able to search every existing ancestor of the cluster root."""
        groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
        paths = [self.root, *self.root.parents]
        if self.socket_dir != self.root / "run":
            paths += [self.socket_dir, *self.socket_dir.parents]
        for path in sorted({p for p in paths if p.exists()}, key=lambda p: len(p.parts)):
            st = path.stat()
            if st.st_uid == user.pw_uid:
                ok = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid in groups:
                ok = bool(st.st_mode & stat.S_IXGRP)
            else:
                ok = bool(st.st_mode & stat.S_IXOTH)
            if not ok:
                try:
                    owner = pwd.getpwuid(st.st_uid).pw_name
                except KeyError:
                    owner = str(st.st_uid)
                raise ClusterError(
                    f"the '{user.pw_name}' OS user cannot reach {self.root}: {path} is mode "
                    f"{stat.S_IMODE(st.st_mode):03o} (owner {owner}); chmod o+x {path} "
                    f"or set HGGIS_VAR_DIR to a directory it can traverse"
                )

    def _chown_tree(self, user: pwd.struct_passwd) -> None:
        """Give the (small) non-data part of the tree, and PGDATA if needed, to the OS user."""

        def chown(path: Path) -> None:
            st = path.lstat()
            if st.st_uid != user.pw_uid or st.st_gid != user.pw_gid:
                os.lchown(path, user.pw_uid, user.pw_gid)

        for path in (self.root, self.socket_dir, self.log_file.parent):
            if path.exists():
                chown(path)
        for path in (*self._role_password_files(), self.log_file):
            if path.exists():
                chown(path)
        if self.pgdata.exists() and self.pgdata.stat().st_uid != user.pw_uid:
            for dirpath, dirnames, filenames in os.walk(self.pgdata):
                chown(Path(dirpath))
                for name in dirnames + filenames:
                    chown(Path(dirpath) / name)

    # ---------------------------------------------------------------- data directory state

    def _data_major(self) -> int | None:
        """PG_VERSION of the data directory, None if there is no cluster there yet."""
        version_file = self.pgdata / "PG_VERSION"
        try:
            text = version_file.read_text().strip()
        except FileNotFoundError:
            if self.pgdata.exists() and any(self.pgdata.iterdir()):
                raise ClusterError(
                    f"{self.pgdata} exists but is not a PostgreSQL data directory (no PG_VERSION): move it away"
                ) from None
            return None
        except PermissionError:
            raise ClusterError(
                f"cannot read {version_file}: permission denied (the cluster belongs to another user; run as root)"
            ) from None
        try:
            return int(text.split(".")[0])
        except ValueError:
            raise ClusterError(f"{version_file} is unreadable ({text[:20]!r}): not a PostgreSQL data directory") from None

    def _read_pidfile(self) -> list[str] | None:
        try:
            return (self.pgdata / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        except PermissionError:
            raise ClusterError(
                f"cannot read {self.pgdata / 'postmaster.pid'}: permission denied (run as root or as the cluster owner)"
            ) from None

    def _running_pid(self) -> tuple[int | None, int | None]:
        """(postmaster pid, port it listens on) if our postmaster is alive, else (None, None)."""
        lines = self._read_pidfile()
        if not lines:
            return None, None
        try:
            pid = int(lines[0].strip())
        except ValueError:
            return None, None
        if not _is_postgres_process(pid):
            return None, None
        try:  # a recycled PID running some other cluster's postgres is not ours
            if os.readlink(f"/proc/{pid}/cwd") != str(self.pgdata.resolve()):
                return None, None
        except OSError:
            pass
        port = None
        if len(lines) > 3 and lines[3].strip().isdigit():
            port = int(lines[3].strip())
        return pid, port

    def _clear_stale_state(self) -> None:
        """After a crash: wait for orphaned backends, drop the stale pid and socket lock files."""
        deadline = time.monotonic() + _ORPHAN_WAIT_S
        orphans = _processes_using(self.pgdata)
        while orphans and time.monotonic() < deadline:
            time.sleep(0.1)
            orphans = _processes_using(self.pgdata)
        if orphans:
            raise ClusterError(
                f"old server processes (PIDs {', '.join(map(str, orphans[:8]))}) still use {self.pgdata}: "
                "stop them first (kill them) and retry"
            )
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists():
            pidfile.unlink()
        if self.socket_dir.is_dir():
            for lock in self.socket_dir.glob(".s.PGSQL.*.lock"):
                try:
                    owner = int(lock.read_text().splitlines()[0].strip())
                except (OSError, ValueError, IndexError):
                    owner = None
                if owner is None or not _is_postgres_process(owner):
                    lock.unlink(missing_ok=True)
                    sock = lock.with_name(lock.name[: -len(".lock")])
                    sock.unlink(missing_ok=True)

    # ---------------------------------------------------------------- public API

    def status(self) -> ClusterStatus:
        data_major = self._data_major() if self.pgdata.exists() else None
        pid, port = self._running_pid() if data_major is not None else (None, None)
        version = None
        if data_major is not None:
            version = str(data_major)
            try:
                version = _binary_version(_find_binaries(data_major))
            except ClusterError:
                pass
        return ClusterStatus(
            running=pid is not None,
            port=port or self.port,
            data_dir=self.pgdata,
            pid=pid,
            version=version,
            initialized=data_major is not None,
        )

    def password(self, role: str = SUPERUSER) -> str:
        """The password of ``role`` (superuser, owner or app), from its mode-600 file."""
        path = self.root / ROLE_PASSWORD_FILES[role]
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            raise ClusterError(
                f"embedded cluster under {self.root} is not initialised (no {path.name} file): "
                "run `hggis db up`"
            ) from None
        except PermissionError:
            raise ClusterError(f"cannot read {path}: permission denied") from None
        if not text:
            raise ClusterError(f"{path} is empty")
        return text.splitlines()[0]

    def _effective_port(self) -> int:
        """The port the running server listens on (it may predate a port change), else ours."""
        try:
            port = self._running_pid()[1]
        except ClusterError:
            port = None
        return port or self.port

    def url(self, database: str = DEFAULT_DATABASE, role: str = SUPERUSER) -> str:
        """SQLAlchemy URL for ``database`` as ``role`` (default the superuser; contains the password)."""
        return (
            f"postgresql+psycopg://{role}:{quote(self.password(role), safe='')}"
            f"@{LISTEN_ADDRESS}:{self._effective_port()}/{quote(database, safe='')}"
        )

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise up/down of this cluster across processes without creating any file.

        flock() on the nearest existing directory of the cluster root; if that changed while
        we waited (another process created the root), lock the new one instead.
        """

        def anchor() -> Path:
            return next(p for p in (self.root, *self.root.parents) if p.is_dir())

        while True:
            locked = anchor()
            fd = os.open(locked, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                os.close(fd)
                raise
            if anchor() == locked:
                break
            os.close(fd)
        try:
            yield
        finally:
            os.close(fd)

    def up(self) -> str:
        """Start the cluster (initdb on first use); idempotent.  Returns a one-line message."""
        with self._lock():
            return self._up()

    def _up(self) -> str:
        pid, running_port = self._running_pid() if self.pgdata.exists() and self._data_major() else (None, None)
        if pid is not None:
            port = running_port or self.port
            note = "" if port == self.port else f" (configured port is {self.port}: run down and up to apply it)"
            if port == self.port:  # a cluster started by an older hggis gets its roles now
                self._write_role_passwords([])
                self._ensure_database(DEFAULT_DATABASE)
            return f"already running on port {port}{note}"

        # ---- checks that create nothing
        data_major = self._data_major()
        binaries = _find_binaries(data_major, self.pgdata)
        socket_path = self.socket_dir / f".s.PGSQL.{self.port}"
        if len(str(socket_path)) > _SOCKET_PATH_MAX:
            raise ClusterError(
                f"Unix socket path {socket_path} is longer than {_SOCKET_PATH_MAX} bytes: use a shorter HGGIS_VAR_DIR"
            )
        if not 0 < self.port < 65536:
            raise ClusterError(f"invalid port {self.port}")
        if not _port_free(self.port):
            raise ClusterError(
                f"port {self.port} on {LISTEN_ADDRESS} is already in use by another process: "
                "stop it or set HGGIS_PG_PORT to a free port"
            )
        user = self._os_user()
        if user is not None:
            self._check_traversable(user)

        # ---- from here on, undo what we create if anything fails
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
            if fresh:
                self._write_password(created)
            self._write_role_passwords(created)
            if not fresh and not self.password_file.exists():
                raise ClusterError(
                    f"{self.password_file} is missing for the existing cluster in {self.pgdata}: restore it, "
                    "or remove the cluster directory to start over"
                )
            if user is not None:
                self._chown_tree(user)
            if fresh:
                self._initdb(binaries, created)
            self._clear_stale_state()
            self._configure()
            self._start(binaries)
            started = True
            postgis = self._ensure_database(DEFAULT_DATABASE)
        except BaseException:
            if started:
                self._stop(binaries, mode="fast", quiet=True)
            if fresh and self.pgdata.exists():
                shutil.rmtree(self.pgdata, ignore_errors=True)
            if fresh:
                for path in self._role_password_files():
                    path.unlink(missing_ok=True)
            keep_log = self.log_file.exists()
            for path in reversed(created):
                if keep_log and path in (self.log_file.parent, *self.log_file.parents):
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            raise
        what = "initialised and started" if fresh else "started"
        return (
            f"{what} PostgreSQL {_binary_version(binaries)} with PostGIS {postgis} "
            f"on {LISTEN_ADDRESS}:{self.port} (data: {self.pgdata})"
        )

    def down(self) -> str:
        """Stop the cluster (fast shutdown); idempotent."""
        with self._lock():
            return self._down()

    def _down(self) -> str:
        if not self.pgdata.exists() or self._data_major() is None:
            return "not running (no cluster initialised)"
        pid, port = self._running_pid()
        if pid is None:
            return "not running"
        binaries = _find_binaries(self._data_major())
        self._stop(binaries, mode="fast")
        return f"stopped (was on port {port or self.port})"

    def create_database(self, name: str) -> None:
        """Create database ``name`` (if missing) with the postgis extension."""
        self._ensure_database(name)

    def drop_database(self, name: str) -> None:
        if name in ("postgres", "template0", "template1"):
            raise ClusterError(f"refusing to drop system database {name}")
        from psycopg import sql

        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # ---------------------------------------------------------------- steps of up()

    def _role_password_files(self) -> list[Path]:
        return [self.root / name for name in ROLE_PASSWORD_FILES.values()]

    def _write_password(self, created: list[Path], path: Path | None = None) -> None:
        path = path or self.password_file
        password = secrets.token_urlsafe(24)
        existed = path.exists()  # a leftover without a cluster is simply replaced
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if not existed:
            created.append(path)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        os.chmod(path, 0o600)
        user = self._os_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _write_role_passwords(self, created: list[Path]) -> None:
        """Passwords of the owner and app roles: made once, kept (the roles follow the files)."""
        for role in (OWNER_ROLE, APP_ROLE):
            path = self.root / ROLE_PASSWORD_FILES[role]
            if not path.exists():
                self._write_password(created, path)

    def _initdb(self, binaries: _Binaries, created: list[Path]) -> None:
        argv = [
            binaries["initdb"],
            "-D", str(self.pgdata),
            "-U", SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={self.password_file}",
            "-E", "UTF8",
            f"--locale={_initdb_locale()}",
            "--no-instructions",
        ]  # fmt: skip
        pre_existing = self.pgdata.exists()
        result = self._run(argv, timeout=300)
        if not pre_existing and self.pgdata.exists():
            created.append(self.pgdata)
        if result.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            lines = [ln.strip() for ln in (result.stderr + "\n" + result.stdout).splitlines() if ln.strip()]
            relevant = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()] or lines
            reason = relevant[0] if relevant else f"exit code {result.returncode}"
            raise ClusterError(f"initdb failed: {_one_line(reason)}")

    def _configure(self) -> None:
        """(Re)write hggis.conf each start so port and socket dir follow the settings."""

        def q(value: str) -> str:
            return "'" + value.replace("'", "''") + "'"

        lines = [
            "# Written by hggis (hggis/db/cluster.py) on every `hggis db up`; edits are overwritten.",
            f"listen_addresses = {q(LISTEN_ADDRESS)}",
            f"port = {self.port}",
            f"unix_socket_directories = {q(str(self.socket_dir))}",
        ]
        lines += [f"{key} = {q(value)}" for key, value in SERVER_SETTINGS.items()]
        conf = self.pgdata / "hggis.conf"
        conf.write_text("\n".join(lines) + "\n")
        main_conf = self.pgdata / "postgresql.conf"
        include = "include_if_exists = 'hggis.conf'"
        text = main_conf.read_text()
        if include not in text:
            main_conf.write_text(text.rstrip("\n") + f"\n\n# hggis settings\n{include}\n")
        user = self._os_user()
        if user is not None:
            for path in (conf, main_conf):
                os.chown(path, user.pw_uid, user.pw_gid)
        conf.chmod(0o600)

    def _start(self, binaries: _Binaries) -> None:
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        if not self.log_file.exists():
            self.log_file.touch(mode=0o640)
            user = self._os_user()
            if user is not None:
                os.chown(self.log_file, user.pw_uid, user.pw_gid)
        argv = [
            binaries["pg_ctl"], "-D", str(self.pgdata), "-l", str(self.log_file),
            "-w", "-t", str(_START_TIMEOUT_S), "-s", "start",
        ]  # fmt: skip
        result = self._run(argv, timeout=_START_TIMEOUT_S + 30)
        if result.returncode == 0 and self._running_pid()[0] is not None:
            return
        # it may still be starting (timeout): make sure nothing is left behind
        if self._running_pid()[0] is not None:
            self._stop(binaries, mode="immediate", quiet=True)
        reason = self._log_reason(offset) or _one_line(result.stderr or result.stdout) or "unknown reason"
        raise ClusterError(f"server failed to start: {reason} (log: {self.log_file})")

    def _log_reason(self, offset: int) -> str | None:
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as fh:
                fh.seek(offset)
                text = fh.read()
        except OSError:
            return None
        entries = []
        for line in text.splitlines():
            m = re.search(r"\b(PANIC|FATAL|ERROR|WARNING|LOG|DETAIL|HINT):\s+(.*)$", line)
            if m:
                entries.append((m.group(1), m.group(2).strip()))
        fatal = [i for i, (level, _) in enumerate(entries) if level in ("PANIC", "FATAL")]
        if fatal:
            i = fatal[-1]
            level, message = entries[i]
            if "contains errors" in message:
                for prev_level, prev in reversed(entries[:i]):
                    if prev_level in ("LOG", "ERROR"):
                        message = f"{message}: {prev}"
                        break
            return _one_line(f"{level}: {message}")
        errors = [e for e in entries if e[0] == "ERROR"]
        if errors:
            return _one_line(f"ERROR: {errors[-1][1]}")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return _one_line(lines[-1]) if lines else None

    def _stop(self, binaries: _Binaries, mode: str = "fast", quiet: bool = False) -> None:
        argv = [binaries["pg_ctl"], "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "-s", "stop"]
        try:
            result = self._run(argv, timeout=90)
        except ClusterError:
            if quiet:
                return
            raise
        if result.returncode != 0 and self._running_pid()[0] is not None:
            if mode != "immediate":
                self._run([*argv[:4], "immediate", *argv[5:]], timeout=90)
            if not quiet and self._running_pid()[0] is not None:
                raise ClusterError(f"pg_ctl stop failed: {_one_line(result.stderr) or 'server still running'}")

    def _connect(self, database: str):
        import psycopg

        try:
            return psycopg.connect(
                host=LISTEN_ADDRESS,
                port=self._effective_port(),
                user=SUPERUSER,
                password=self.password(),
                dbname=database,
                autocommit=True,
                connect_timeout=10,
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"cannot connect to the embedded cluster: {_one_line(first)}") from None

    def _ensure_database(self, name: str) -> str:
        """Create ``name`` if missing, with PostGIS and the owner and app roles; return the PostGIS version.

        The extension needs the superuser; everything else in the database then belongs to the
        owner role (see ``hggis/db/roles.sql``).
        """
        import psycopg
        from psycopg import sql

        from hggis.db.roles import render_roles_sql

        try:
            with self._connect("postgres") as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            with self._connect(name) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                roles = render_roles_sql(OWNER_ROLE, self.password(OWNER_ROLE), APP_ROLE, self.password(APP_ROLE))
                with conn.transaction():
                    conn.execute(roles)
                row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(f"cannot prepare database {name}: {_one_line(reason)}") from None
        return row[0] if row else "?"


def embedded_cluster(settings: Settings | None = None) -> EmbeddedCluster:
    """The project's cluster: ``$HGGIS_VAR_DIR/pg`` on ``$HGGIS_PG_PORT``."""
    if settings is None:
        from hggis.config import get_settings

        settings = get_settings()
    return EmbeddedCluster(Path(settings.hggis_var_dir) / "pg", settings.hggis_pg_port)
