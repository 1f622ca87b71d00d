"""``a0sync backup`` and ``a0sync restore``: a consistent copy of a live database.

* SQLite: the online backup API copies the whole database in one step, inside one
  read transaction, so the copy is the database as it was at one instant, while
  devices keep sending batches (WAL: readers never block the writer). A restore
  checks the file (``PRAGMA quick_check``) before it takes the database's place.
* PostgreSQL: ``pg_dump --format=custom`` (one snapshot, no lock that stops
  ingestion), restored by ``pg_restore`` in a single transaction. Debian installs
  one set of client tools per major version (``/usr/lib/postgresql/<major>/bin``):
  the tools of the server's own major version are used, else the newest installed.

A backup file is written to a private temporary name beside its target and
renamed into place, owner-only: a crash never leaves half a backup under the
final name. Restoring refuses a database that already holds data unless told to
replace it, and a file of the other kind of database. After a restore the change
counters jump ahead, so cursors that went beyond the backup skip nothing, and each
phone learns from ``/devices/me`` which of its operations the server no longer
holds and sends them again. What a backup does not hold, and must be kept apart:
the instance folder's keys (docs/deploy.md).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from a0core.errors import A0Error
from server.security.at_rest import FILE_MODE, protect_sqlite, sqlite_file

SQLITE_MAGIC = b"SQLite format 3\x00"
COUNTER_JUMP = 10**10
PG_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class Done:
    path: Path
    kind: str        # sqlite | postgresql
    seconds: float
    size: int


def _tmp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _publish(tmp: Path, path: Path) -> None:
    tmp.chmod(FILE_MODE)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def backup(engine: Engine, out: Path) -> Done:
    """Copy the live database behind ``engine`` to ``out``."""
    started = time.monotonic()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(out)
    try:
        if engine.dialect.name == "sqlite":
            kind = "sqlite"
            _sqlite_copy(_sqlite_path(engine), tmp)
        elif engine.dialect.name == "postgresql":
            kind = "postgresql"
            _run([_pg_tool(engine, "pg_dump"), "--format=custom", "--compress=1",
                  f"--file={tmp}", *_pg_target(engine)], engine)
        else:
            raise A0Error("backup_database_unsupported", record=engine.dialect.name)
        _publish(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return Done(out, kind, time.monotonic() - started, out.stat().st_size)


def restore(engine: Engine, source: Path, *, replace: bool = False) -> Done:
    """Load a backup file into the (stopped) database behind ``engine``."""
    started = time.monotonic()
    kind = file_kind(source)
    if kind != ("sqlite" if engine.dialect.name == "sqlite" else engine.dialect.name):
        raise A0Error("backup_kind_mismatch", file=source.name, record=engine.dialect.name)
    if not replace and _holds_data(engine):
        raise A0Error("restore_target_not_empty")
    engine.dispose()
    if kind == "sqlite":
        target = _sqlite_path(engine)
        tmp = _tmp_beside(target)
        try:
            _sqlite_copy(source, tmp, check=True)
            for suffix in ("-wal", "-shm", "-journal"):  # of the database replaced
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            _publish(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        _run([_pg_tool(engine, "pg_restore"), "--clean", "--if-exists", "--no-owner",
              "--single-transaction", "--exit-on-error", *_pg_target(engine, "--dbname"),
              str(source)], engine)
    _jump_counters(engine)
    return Done(source, kind, time.monotonic() - started, source.stat().st_size)


def _jump_counters(engine: Engine) -> None:
    """Phones and district systems hold cursors up to where the lost server had come,
    beyond the backup: change numbers given after a restore start above any of them,
    so no later change is skipped by a cursor (a jump of 10^10 a restore leaves room
    for 10^8 restores)."""
    with engine.begin() as conn:
        if "change_counter" in inspect(conn).get_table_names():
            conn.execute(text("UPDATE change_counter SET value = value + :jump"),
                         {"jump": COUNTER_JUMP})


def file_kind(path: Path) -> str:
    """``sqlite`` or ``postgresql`` from the file's first bytes; refused otherwise."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError:
        raise A0Error("backup_file_unreadable", file=path.name) from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise A0Error("backup_file_unreadable", file=path.name)


# ------------------------------------------------------------------- SQLite


def _sqlite_path(engine: Engine) -> Path:
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is None:
        raise A0Error("backup_database_unsupported", record="sqlite (memory)")
    return path


def _sqlite_copy(source: Path, target: Path, check: bool = False) -> None:
    """The online backup API, all pages in one step: one consistent instant."""
    protect_sqlite(f"sqlite:///{target}")  # owner-only before the first byte
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        if check and dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise A0Error("backup_file_unreadable", file=source.name)
    finally:
        src.close()
        dst.close()


def _holds_data(engine: Engine) -> bool:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        return "device" in tables and bool(conn.execute(
            text("SELECT 1 FROM device UNION ALL SELECT 1 FROM household LIMIT 1")).first())


# --------------------------------------------------------------- PostgreSQL


def _pg_target(engine: Engine, flag: str | None = None) -> list[str]:
    """The database as libpq connection options (the password goes in the environment)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    options = [f"--host={url.host}" if url.host else None,
               f"--port={url.port}" if url.port else None,
               f"--username={url.username}" if url.username else None]
    target = f"{flag}={url.database}" if flag else str(url.database)
    return [o for o in options if o] + [target]


def _pg_tool(engine: Engine, name: str) -> str:
    """Debian's ``name`` of the server's major version (a newer one reads older servers)."""
    with engine.connect() as conn:
        major = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    own = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if own.exists():
        return str(own)
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                       key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)))
    newer = [p for p in installed if int(re.search(r"/(\d+)/bin/", p).group(1)) >= major]
    found = newer[-1] if newer else shutil.which(name)
    if found is None:
        raise A0Error("backup_tool_missing", record=f"{name} {major}")
    return found


def _run(command: list[str], engine: Engine) -> None:
    password = make_url(engine.url.render_as_string(hide_password=False)).password
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise A0Error("backup_tool_failed", record=Path(command[0]).name,
                      detail=(done.stderr or done.stdout).strip()[-500:])
