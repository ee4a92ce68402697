"""Backups of the hggis database and their restore (``hggis db backup`` / ``hggis db restore``).

A backup is a ``pg_dump`` custom-format archive plus a manifest next to it
(``<file>.manifest.json``): the archive's SHA-256 and, per table, the row count and an
order-independent checksum of its rows, taken in the very snapshot the dump was taken in
(``pg_export_snapshot`` / ``pg_dump --snapshot``). Restoring verifies the archive against
the manifest before touching the database and the restored rows against it afterwards, so
a damaged copy is refused and a silent loss is reported rather than found months later.

Both run as the owner role (``DATABASE_OWNER_URL`` or the embedded ``hggis_owner``):
restored objects must belong to the role migrations use, and only the owner can recreate
the history triggers. The restore

- refuses a database that already holds hggis objects unless ``force`` (then it drops them
  first, ``clear_schema.sql``, in the same transaction as the restore);
- needs the database's extensions (PostGIS) to exist already, created by a superuser
  (``hggis db up`` does it for the embedded cluster), and skips the archive's extension
  entries, which a non-superuser could not replay;
- keeps the archive's privileges (the app role's DML, SELECT only on history, the revoked
  EXECUTE on trigger functions), so the roles named in them must exist; it checks that
  first, then grants the configured app role again as ``hggis db migrate`` does;
- runs in one transaction (``psql --single-transaction``): a failure leaves the database
  exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, create_engine, func, literal_column, select, table, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hggis.db.cluster import PG_LIB_ROOT
from hggis.db.engine import mask_url, normalize_url

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
CLEAR_SCHEMA_SQL = Path(__file__).resolve().parent / "clear_schema.sql"

#: Session settings under which a row's text form is the same on every server, so the row
#: checksums of a backup and of its restore can be compared.
_CANONICAL_TEXT = {"TimeZone": "UTC", "DateStyle": "ISO, YMD", "IntervalStyle": "postgres",
                   "extra_float_digits": "1", "bytea_output": "hex"}

_NOT_EXTENSION_MEMBER = """NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass
                                  AND d.objid = {oid} AND d.deptype = 'e')"""

_USER_TABLES = text(
    f"""
    SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       AND {_NOT_EXTENSION_MEMBER.format(catalog='pg_class', oid='c.oid')}
     ORDER BY c.relname
    """
)
_USER_OBJECTS = text(
    f"""
    SELECT kind, name FROM (
      SELECT 'relation' AS kind, c.relname::text AS name FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
         AND {_NOT_EXTENSION_MEMBER.format(catalog='pg_class', oid='c.oid')}
      UNION ALL
      SELECT 'routine', p.proname::text FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND {_NOT_EXTENSION_MEMBER.format(catalog='pg_proc', oid='p.oid')}
    ) o ORDER BY kind, name
    """
)
_EXTENSION_TABLES = text(
    "SELECT n.nspname || '.' || c.relname FROM pg_extension e, unnest(e.extconfig) AS t(oid) "
    "JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace"
)

# A line of `pg_restore --list`: "4333; 0 17747 TABLE DATA public spatial_ref_sys hggis"
_TOC_LINE = re.compile(r"^(?P<dump_id>\d+); \d+ \d+ (?P<desc>.+)$")
# Role names in the privilege statements of an archive (GRANT … TO r, REVOKE … FROM r, FOR ROLE r)
_ACL_ROLE = re.compile(r'\b(?:TO|FROM|FOR ROLE)\s+("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)', re.IGNORECASE)


class BackupError(RuntimeError):
    """A backup or restore cannot be done (one-line reason, never containing a password)."""


@dataclass(frozen=True)
class Manifest:
    """What ``<file>.manifest.json`` records about one backup."""

    file: str
    sha256: str
    size: int
    created_at: str
    database: str
    server_version: str
    revisions: list[str]
    tables: dict[str, dict[str, Any]]

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.tables.values())


@dataclass(frozen=True)
class RestoreReport:
    database: str
    tables: int
    rows: int
    replaced: int
    verified: bool
    grants: str


# --------------------------------------------------------------------------- files


def manifest_path(archive: Path) -> Path:
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(archive: Path, manifest: Manifest) -> Path:
    """Write the manifest atomically, readable by its owner only (it names every table)."""
    target = manifest_path(archive)
    partial = target.with_name(target.name + ".partial")
    _create_private(partial)
    record = {"format": MANIFEST_FORMAT, **manifest.__dict__}
    partial.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, target)
    return target


def read_manifest(archive: Path) -> Manifest:
    path = manifest_path(archive)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"备份 {archive} 缺少清单文件 {path.name}，无法校验 / {archive} has no manifest {path.name}, "
            "so it cannot be verified: restore it with --no-verify only if you trust the file"
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the manifest {path}: {exc}") from None
    if data.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{path}: unknown manifest format {data.get('format')!r}")
    fields = {k: v for k, v in data.items() if k in Manifest.__dataclass_fields__}
    return Manifest(**fields)


def verify_archive(archive: Path, manifest: Manifest) -> None:
    """The archive is byte for byte the one the manifest describes (else it was damaged)."""
    actual = sha256_of(archive)
    if actual != manifest.sha256:
        raise BackupError(
            f"备份文件 {archive} 已损坏或被改动（SHA-256 与清单不符），未做任何恢复 / {archive} does not match its "
            f"manifest (sha256 {actual[:12]}… instead of {manifest.sha256[:12]}…): the file is damaged or altered; "
            "nothing was restored"
        )


def _create_private(path: Path) -> None:
    """Create (or truncate) ``path`` with mode 600: backups hold password hashes and tokens."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    path.chmod(0o600)


# --------------------------------------------------------------------------- PostgreSQL tools


def pg_tool(name: str) -> str:
    """Path of ``pg_dump``/``pg_restore``/``psql`` of the newest installed PostgreSQL.

    pg_dump refuses servers newer than itself, so the newest is the one that fits most.
    """
    majors = sorted((int(p.name) for p in PG_LIB_ROOT.glob("*") if p.name.isdigit()), reverse=True)
    for major in majors:
        candidate = PG_LIB_ROOT / str(major) / "bin" / name
        if candidate.is_file():
            return str(candidate)
    raise BackupError(f"{name} not found under {PG_LIB_ROOT}: apt-get install postgresql-client-15")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and an environment carrying it (not on the command line)."""
    parsed = make_url(normalize_url(url))
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env["PGOPTIONS"] = "-c client_min_messages=warning"
    env["LC_MESSAGES"] = "C"
    return uri, env


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in lines:
        if "ERROR" in line or "FATAL" in line or "error:" in line:
            return re.sub(r"\s+", " ", line)
    return re.sub(r"\s+", " ", lines[0]) if lines else "no message"


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL tool; its stdout, or :class:`BackupError` with its first error line."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise BackupError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed: {_first_error(result.stderr)}")
    return result.stdout


# --------------------------------------------------------------------------- the database side


def _owner_engine(url: str) -> Engine:
    return create_engine(normalize_url(url), poolclass=NullPool, connect_args={"connect_timeout": 10})


def user_tables(conn: Connection) -> list[str]:
    """The schema's own tables (PostGIS' spatial_ref_sys is the extension's, not ours)."""
    return list(conn.execute(_USER_TABLES).scalars())


def table_fingerprints(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per table: its row count and the sum of a 64-bit hash of each row's text form.

    The sum does not depend on the order rows come back in (a restore lays them out anew)
    and needs no sort, so it stays cheap on the largest table (history). Run inside a
    transaction; the session's text settings are pinned for it.
    """
    for name, value in _CANONICAL_TEXT.items():
        conn.execute(select(func.set_config(name, value, True)))
    result = {}
    for name in user_tables(conn):
        rows = table(name).alias("t")
        row_hash = func.hashtextextended(cast(literal_column("t"), Text), 0)
        count, checksum = conn.execute(
            select(func.count(), func.coalesce(func.sum(row_hash), 0)).select_from(rows)
        ).one()
        result[name] = {"rows": int(count), "checksum": str(checksum)}
    return result


def _revisions(conn: Connection) -> list[str]:
    if "alembic_version" not in user_tables(conn):
        return []
    return sorted(conn.execute(select(literal_column("version_num")).select_from(table("alembic_version"))).scalars())


def _connect_error(exc: BaseException, url: str) -> BackupError:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    reason = re.sub(r"\s+", " ", first)
    return BackupError(f"cannot use the database {mask_url(url)}: {reason}")


# --------------------------------------------------------------------------- backup


def default_backup_path(var_dir: Path, database: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(var_dir) / "backups" / f"{database}-{stamp}.dump"


@contextmanager
def _exported_snapshot(engine: Engine) -> Iterator[tuple[Connection, str]]:
    """A read-only repeatable-read transaction and the id other sessions can share its snapshot by."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = conn.execute(select(func.pg_export_snapshot())).scalar_one()
            yield conn, snapshot


def backup(owner_url: str, archive: Path, overwrite: bool = False) -> Manifest:
    """Dump the database to ``archive`` (custom format) and write its manifest; returns it.

    The dump goes to ``<archive>.partial`` first and is renamed only when complete, so a
    file under the final name is always a whole backup.
    """
    archive = Path(archive).absolute()
    if archive.exists() and not overwrite:
        raise BackupError(
            f"{archive} 已存在，未覆盖 / {archive} already exists: choose another name, or add --force to overwrite it"
        )
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    uri, env = _libpq(owner_url)
    engine = _owner_engine(owner_url)
    try:
        with _exported_snapshot(engine) as (conn, snapshot):
            tables = table_fingerprints(conn)
            database = conn.execute(select(func.current_database())).scalar_one()
            server_version = conn.execute(text("SHOW server_version")).scalar_one()
            revisions = _revisions(conn)
            _create_private(partial)
            _run([pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={partial}",
                  f"--dbname={uri}"], env)
        os.replace(partial, archive)
    except SQLAlchemyError as exc:
        raise _connect_error(exc, owner_url) from None
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()
    manifest = Manifest(
        file=archive.name, sha256=sha256_of(archive), size=archive.stat().st_size,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), database=database,
        server_version=str(server_version), revisions=revisions, tables=tables,
    )
    write_manifest(archive, manifest)
    return manifest


# --------------------------------------------------------------------------- restore


def _toc(archive: Path) -> list[str]:
    """The archive's table of contents; fails clearly on anything but a custom-format dump."""
    try:
        listing = _run([pg_tool("pg_restore"), "--list", str(archive)])
    except BackupError as exc:
        raise BackupError(f"{archive} is not a readable pg_dump custom-format archive: {exc}") from None
    return [line for line in listing.splitlines() if _TOC_LINE.match(line)]


def _description(line: str) -> str:
    match = _TOC_LINE.match(line)
    return match.group("desc") if match else ""


def archive_extensions(toc: list[str]) -> list[str]:
    """Extensions the archive creates, e.g. ``["postgis"]`` ("EXTENSION - postgis")."""
    return [_description(line).split()[2] for line in toc if _description(line).startswith("EXTENSION - ")]


def restorable_entries(toc: list[str], extension_tables: set[str]) -> list[str]:
    """The entries an owner role can replay: not the extensions, nor their configuration tables' rows."""
    keep = []
    for line in toc:
        desc = _description(line)
        parts = desc.split()
        if desc.startswith(("EXTENSION ", "COMMENT - EXTENSION ")):
            continue
        if desc.startswith("TABLE DATA ") and len(parts) >= 4 and f"{parts[2]}.{parts[3]}" in extension_tables:
            continue
        keep.append(line)
    return keep


def _acl_roles(archive: Path, toc: list[str]) -> set[str]:
    """Roles the archive's privilege statements name (besides PUBLIC)."""
    acl = [line for line in toc if re.match(r"(?:ACL|DEFAULT ACL) ", _description(line))]
    if not acl:
        return set()
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write("\n".join(acl) + "\n")
    try:
        script = _run([pg_tool("pg_restore"), "--no-owner", f"--use-list={fh.name}", "--file=-", str(archive)])
    finally:
        os.unlink(fh.name)
    roles = set()
    for statement in script.splitlines():
        if statement.startswith(("GRANT ", "REVOKE ", "ALTER DEFAULT PRIVILEGES ")):
            for name in _ACL_ROLE.findall(statement):
                roles.add(name[1:-1].replace('""', '"') if name.startswith('"') else name)
    roles.discard("PUBLIC")
    return roles


def _check_target(conn: Connection, archive: Path, toc: list[str], force: bool) -> tuple[str, list[tuple[str, str]]]:
    """Refuse a target the restore could not or should not write; returns (database, its objects)."""
    database = conn.execute(select(func.current_database())).scalar_one()
    present = set(conn.execute(text("SELECT extname FROM pg_extension")).scalars())
    missing = [name for name in archive_extensions(toc) if name not in present]
    if missing:
        raise BackupError(
            f"数据库 {database} 缺少扩展 {', '.join(missing)} / database {database} lacks the extension(s) "
            f"{', '.join(missing)}: a superuser must run CREATE EXTENSION {missing[0]} first "
            "(`hggis db up` does it for the embedded cluster)"
        )
    if not conn.execute(text("SELECT has_schema_privilege('public', 'CREATE')")).scalar_one():
        me = conn.execute(select(func.current_user())).scalar_one()
        raise BackupError(
            f"恢复须以数据库所有者角色运行 / restore must run as the schema owner, not {me}: "
            "set DATABASE_OWNER_URL (the role `hggis db migrate` uses)"
        )
    objects = [(kind, name) for kind, name in conn.execute(_USER_OBJECTS).all()]
    if objects and not force:
        example = ", ".join(name for _, name in objects[:3])
        raise BackupError(
            f"数据库 {database} 不是空的（已有 {len(objects)} 个对象，如 {example}），未做任何恢复；"
            f"确认要用备份替换其全部内容请加 --force / database {database} is not empty ({len(objects)} objects, "
            f"e.g. {example}): nothing was restored; add --force to drop its contents and restore {archive.name}"
        )
    absent = sorted(role for role in _acl_roles(archive, toc)
                    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None)
    if absent:
        raise BackupError(
            f"备份授权给的角色 {', '.join(absent)} 在此服务器上不存在 / the backup grants privileges to "
            f"{', '.join(absent)}, which do not exist on this server: create them first "
            "(hggis/db/roles.sql, as a superuser)"
        )
    return database, objects


def _replay(archive: Path, entries: list[str], owner_url: str, clear_first: bool) -> None:
    """pg_restore's script of ``entries`` through psql, all in one transaction, stopping at the first error."""
    uri, env = _libpq(owner_url)
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write("\n".join(entries) + "\n")
    psql = [pg_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
            "--output=/dev/null"]
    if clear_first:
        psql.append(f"--file={CLEAR_SCHEMA_SQL}")
    psql += ["--file=-", f"--dbname={uri}"]
    try:
        dump = subprocess.Popen(
            [pg_tool("pg_restore"), "--no-owner", f"--use-list={fh.name}", "--file=-", str(archive)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        assert dump.stdout is not None
        loaded = subprocess.run(psql, stdin=dump.stdout, capture_output=True, text=True, env=env)
        dump.stdout.close()
        dump_err = dump.stderr.read().decode(errors="replace") if dump.stderr else ""
        dump.wait()
    except OSError as exc:
        raise BackupError(f"cannot run the PostgreSQL tools: {exc.strerror or exc}") from None
    finally:
        os.unlink(fh.name)
    if loaded.returncode != 0:
        raise BackupError(f"restore failed, the database is unchanged: {_first_error(loaded.stderr)}")
    if dump.returncode != 0:
        raise BackupError(f"restore failed reading {archive.name}: {_first_error(dump_err)}")


def _compare(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> list[str]:
    """Human-readable differences between the manifest's tables and the restored ones."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None:
            problems.append(f"table {name} {'missing after restore' if got is None else 'not in the backup'}")
        elif want != got:
            detail = f"{got['rows']} rows instead of {want['rows']}" if want["rows"] != got["rows"] else "row checksum differs"
            problems.append(f"table {name}: {detail}")
    return problems


def restore(owner_url: str, archive: Path, app_role: str | None, force: bool = False,
            verify: bool = True) -> RestoreReport:
    """Restore ``archive`` into the (empty, or with ``force`` emptied) database of ``owner_url``.

    Then grant ``app_role`` as a migration would, refresh the planner statistics, and, with
    ``verify``, check every table's row count and row checksum against the manifest.
    """
    from hggis.db.migrate import grant_app_role

    archive = Path(archive).absolute()
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    manifest = read_manifest(archive) if verify else None
    if manifest is not None:
        verify_archive(archive, manifest)
    toc = _toc(archive)
    engine = _owner_engine(owner_url)
    try:
        with engine.connect() as conn:
            database, existing = _check_target(conn, archive, toc, force)
            extension_tables = set(conn.execute(_EXTENSION_TABLES).scalars())
        _replay(archive, restorable_entries(toc, extension_tables), owner_url, clear_first=bool(existing))
        grants = grant_app_role(engine, app_role)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        with engine.begin() as conn:
            restored = table_fingerprints(conn)
    except SQLAlchemyError as exc:
        raise _connect_error(exc, owner_url) from None
    finally:
        engine.dispose()
    if manifest is not None:
        problems = _compare(manifest.tables, restored)
        if problems:
            raise BackupError(
                f"恢复后校验失败 / restored into {database}, but it does not match the backup's manifest: "
                + "; ".join(problems[:5])
            )
    return RestoreReport(database=database, tables=len(restored), rows=sum(t["rows"] for t in restored.values()),
                         replaced=len(existing), verified=manifest is not None, grants=grants)
