"""The journal's SQLite file: connections, schema versions, migrations, damage, retention.

Role: the only module that imports ``sqlite3``. :func:`connect` opens the file in
WAL mode with a busy timeout (several processes — a ``watch`` and an ``apply`` of
another project — write at once; each write is one short ``BEGIN IMMEDIATE``
transaction) and brings its schema up to :data:`SCHEMA_VERSION` through
:data:`MIGRATIONS` (the ``schema_version`` table says which ran). A file that is
not a database or is damaged is renamed ``journal.db.corrupt-<UTC time>`` by
:func:`move_aside` and a new one is started; :func:`classify` turns SQLite's
errors into ``ProblemKind`` values; :func:`prune` bounds the file by age and size
(incremental vacuum gives the pages back). Neighbours:
``controller.execution.journal.writer`` and ``controller.execution.journal.query``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from controller.execution.journal.values import MOVED_MARK, ProblemKind

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 2000  # a writer waits this long for another one's transaction

# SQLite's primary result codes (sqlite3 exceptions carry them as sqlite_errorcode)
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26

_V1 = """
CREATE TABLE passes (
    id INTEGER PRIMARY KEY,
    reconcile_id TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL NOT NULL,
    project TEXT NOT NULL,
    runtime TEXT NOT NULL,
    source TEXT NOT NULL,
    triggers TEXT NOT NULL,
    root TEXT,
    commit_id TEXT,
    dirty INTEGER NOT NULL DEFAULT 0,
    ok INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    acted INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    problems TEXT NOT NULL DEFAULT '[]',
    pid INTEGER
);
CREATE INDEX passes_project ON passes (project, runtime, id);
CREATE INDEX passes_finished ON passes (finished);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    pass_id INTEGER NOT NULL,
    at REAL NOT NULL,
    project TEXT NOT NULL,
    runtime TEXT NOT NULL,
    resource TEXT NOT NULL,
    object TEXT NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL,
    cause TEXT NOT NULL,
    reason TEXT NOT NULL,
    changes TEXT NOT NULL DEFAULT '[]',
    duration REAL,
    outcome TEXT NOT NULL,
    error TEXT,
    detail TEXT NOT NULL DEFAULT '',
    retry_after REAL
);
CREATE INDEX entries_at ON entries (at);
CREATE INDEX entries_project ON entries (project, at);
CREATE INDEX entries_resource ON entries (resource, at);
CREATE INDEX entries_name ON entries (name, at);
CREATE TABLE revisions (
    commit_id TEXT PRIMARY KEY,
    author TEXT,
    date TEXT,
    subject TEXT
);
"""

# version -> the statements that bring the schema from version-1 to it
MIGRATIONS: dict[int, str] = {1: _V1}


class NewerSchema(Exception):
    """The journal was written by a newer dockwright (its schema is unknown here)."""


def classify(exc: BaseException) -> ProblemKind:
    """The kind of problem behind an exception met while writing the journal."""
    if isinstance(exc, NewerSchema):
        return ProblemKind.NEWER
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        text = str(exc).lower()
        if code in (_CORRUPT, _NOTADB) or "malformed" in text or "not a database" in text:
            return ProblemKind.CORRUPT
        if code == _FULL or "disk is full" in text:
            return ProblemKind.FULL
        if code in (_BUSY, _LOCKED) or "locked" in text:
            return ProblemKind.LOCKED
        if code in (_READONLY, _CANTOPEN) or "readonly" in text or "unable to open" in text:
            return ProblemKind.READ_ONLY
        return ProblemKind.UNAVAILABLE
    if isinstance(exc, OSError):
        import errno

        if exc.errno == errno.ENOSPC:
            return ProblemKind.FULL
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return ProblemKind.READ_ONLY
    return ProblemKind.UNAVAILABLE


def identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` (None when missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def connect(path: Path, *, timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open (creating the folder and the file, mode 0600) and migrate the journal."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):  # an empty file is an empty database
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = sqlite3.connect(str(path), timeout=timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only before the first table
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never torn
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection, or None when there is no journal (yet)."""
    if not path.exists():
        return None
    try:
        conn = _open_ro(path, "mode=ro")
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
        # WAL readers need the -shm file; in a folder nobody can write (a read-only file
        # system, another user's journal) nobody writes the journal either: read it as is
        conn = _open_ro(path, "mode=ro&immutable=1")
    return conn


def _open_ro(path: Path, flags: str) -> sqlite3.Connection | None:
    conn = sqlite3.connect(f"file:{path}?{flags}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                           isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if version(conn) == 0:
            conn.close()
            return None
    except BaseException:
        conn.close()
        raise
    return conn


def version(conn: sqlite3.Connection) -> int:
    """The schema version of the journal (0: no schema yet)."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                         "name = 'schema_version'").fetchone()
    if found is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> None:
    """Run the missing migrations in one write transaction (several processes opening a
    new journal at once: the first one migrates, the others find it done)."""
    current = version(conn)
    if current == SCHEMA_VERSION:
        return
    if current > SCHEMA_VERSION:
        raise NewerSchema(f"the journal's schema is version {current}, this dockwright knows "
                          f"up to {SCHEMA_VERSION}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                     "applied REAL NOT NULL)")
        current = version(conn)
        for number in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (number, time.time()))
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def move_aside(path: Path, expected: tuple[int, int] | None,
               now: Callable[[], float] = time.time) -> str | None:
    """Rename a damaged journal (and its -wal/-shm) to ``journal.db.corrupt-<UTC time>``;
    return the new name. Nothing is renamed when the file at ``path`` is no longer the
    one found damaged (``expected``: its identity; another process moved it already)."""
    if expected is not None and identity(path) != expected:
        return None
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(now(), UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}{MOVED_MARK}{stamp}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{path}{suffix}", f"{target}{suffix}")
    return str(target)


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any (an error may have ended it already)."""
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def used_bytes(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def prune(conn: sqlite3.Connection, *, max_age: float, max_bytes: int,
          now: float | None = None) -> int:
    """Delete passes (and their entries) older than ``max_age`` seconds, then the oldest
    fifth at a time while the data is larger than ``max_bytes``; give the free pages back
    to the file system. Each step is its own short transaction. Returns passes deleted."""
    cutoff = (time.time() if now is None else now) - max_age
    deleted = _delete_before(conn, cutoff)
    for _ in range(8):
        if used_bytes(conn) <= max_bytes:
            break
        count = conn.execute("SELECT count(*) FROM passes").fetchone()[0]
        if count <= 1:
            break
        row = conn.execute("SELECT finished FROM passes ORDER BY finished LIMIT 1 OFFSET ?",
                           (max(1, count // 5),)).fetchone()
        if row is None:
            break
        deleted += _delete_before(conn, float(row[0]))
    if deleted:
        conn.execute("DELETE FROM revisions WHERE commit_id NOT IN "
                     "(SELECT commit_id FROM passes WHERE commit_id IS NOT NULL)")
        conn.execute("PRAGMA incremental_vacuum")
    return deleted


def _delete_before(conn: sqlite3.Connection, cutoff: float) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM entries WHERE at < ?", (cutoff,))
        deleted = conn.execute("DELETE FROM passes WHERE finished < ?", (cutoff,)).rowcount
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    return int(deleted)
