"""The library's SQLite database: connection settings, schema and migrations.

One file, ``library.sqlite``, in the library folder, opened with Python's ``sqlite3``:
WAL journal (readers never block the one writer), a busy timeout (a second writer waits
for the first instead of failing), foreign keys on. Every write is one
``BEGIN IMMEDIATE`` transaction (:func:`transaction`), so two processes adding at once
are serialised by SQLite itself: both land, in some order, each with its own number.

The schema is versioned: ``schema_version`` holds one row, and :data:`MIGRATIONS` lists,
for each version, the statements that bring the previous one to it. Opening a library
runs the missing steps inside one transaction; a library written by a newer Maquette
(a higher version than this code knows) is refused rather than misread.

Times are ISO 8601 UTC strings (``2026-12-03T08:40:00Z``); hashes are lowercase hex
sha256.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import InputError, WorkError

__all__ = ["BUSY_TIMEOUT_S", "MIGRATIONS", "SCHEMA_VERSION", "LibraryBusy", "LibraryError",
           "SchemaError", "connect", "transaction"]

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another one before giving up

# MIGRATIONS[n]: the statements that take a library from schema n - 1 to schema n.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE assets (
               name TEXT PRIMARY KEY,
               created TEXT NOT NULL)""",
        # One row per version of an asset. sha256: the version's content address (the
        # manifest of its files, see engine.library.store.version_sha256); asset_sha256:
        # the main file's own hash; main: its path inside the version folder.
        """CREATE TABLE versions (
               id INTEGER PRIMARY KEY,
               name TEXT NOT NULL REFERENCES assets(name),
               seq INTEGER NOT NULL,
               sha256 TEXT NOT NULL,
               main TEXT NOT NULL,
               asset_sha256 TEXT NOT NULL,
               source_image TEXT,
               generator_model TEXT,
               note TEXT NOT NULL DEFAULT '',
               added TEXT NOT NULL,
               added_by TEXT NOT NULL,
               UNIQUE (name, seq),
               UNIQUE (name, sha256))""",
        "CREATE INDEX versions_asset_sha256 ON versions (asset_sha256)",
        "CREATE INDEX versions_sha256 ON versions (sha256)",
        """CREATE TABLE files (
               version_id INTEGER NOT NULL REFERENCES versions(id),
               path TEXT NOT NULL,
               sha256 TEXT NOT NULL,
               size INTEGER NOT NULL,
               PRIMARY KEY (version_id, path))""",
        # What happened, in order: add, approve (history NAME reads it).
        """CREATE TABLE events (
               id INTEGER PRIMARY KEY,
               time TEXT NOT NULL,
               name TEXT NOT NULL REFERENCES assets(name),
               version_id INTEGER NOT NULL REFERENCES versions(id),
               action TEXT NOT NULL,
               by TEXT NOT NULL,
               note TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX events_name ON events (name, id)",
        # Deliverables (renders, stills, exports) and their provenance records (JSON);
        # deliverable_files: every file of one, by hash, so a file is found by its bytes.
        """CREATE TABLE deliverables (
               id INTEGER PRIMARY KEY,
               time TEXT NOT NULL,
               kind TEXT NOT NULL,
               path TEXT NOT NULL,
               version_id INTEGER REFERENCES versions(id),
               record TEXT NOT NULL)""",
        """CREATE TABLE deliverable_files (
               deliverable_id INTEGER NOT NULL REFERENCES deliverables(id),
               path TEXT NOT NULL,
               sha256 TEXT NOT NULL)""",
        "CREATE INDEX deliverable_files_sha256 ON deliverable_files (sha256)",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)


class LibraryError(InputError):
    """Bad input to the library (exit 2): an unknown name or version, a bad file; the
    message names the file or the name and field."""


class LibraryBusy(WorkError):
    """Another process kept the library locked past the busy timeout (exit 1)."""


class SchemaError(LibraryError):
    """The database is from a newer Maquette, or not a library database."""


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (BEGIN IMMEDIATE: the write lock, waiting up
    to the busy timeout for another writer), committed at the end or rolled back."""
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise LibraryBusy(f"{_db_name(con)}: cannot write to the library: {exc} (another "
                          f"process held it for over {BUSY_TIMEOUT_S:g} s)") from None
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _db_name(con: sqlite3.Connection) -> str:
    row = con.execute("PRAGMA database_list").fetchone()
    return row[2] if row else "library.sqlite"


def _schema_version(con: sqlite3.Connection) -> int:
    exists = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                         "name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = con.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(con: sqlite3.Connection, path: Path) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it was at."""
    before = _schema_version(con)
    if before == SCHEMA_VERSION:
        return before
    with transaction(con):
        current = _schema_version(con)  # (another process may have migrated meanwhile)
        if current > SCHEMA_VERSION:
            raise SchemaError(f"{path}: library schema version {current} is newer than this "
                              f"Maquette knows ({SCHEMA_VERSION}); upgrade Maquette")
        if current == 0:
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            con.execute("DELETE FROM schema_version")
            con.execute("INSERT INTO schema_version VALUES (0)")
        for step in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                con.execute(statement)
            con.execute("UPDATE schema_version SET version = ?", (step,))
    return before


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the library database at `path`, migrated."""
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    con.row_factory = sqlite3.Row
    try:
        _setup(con, path)
    except BaseException:
        con.close()
        raise
    return con


def _setup(con: sqlite3.Connection, path: Path) -> None:
    con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    # Switching to WAL needs a moment of exclusive access; a process creating the same
    # new library at that instant can make it report "locked" without waiting.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise SchemaError(f"{path}: not a Maquette library database ({exc})") from None
    if str(mode).lower() != "wal":  # e.g. a file system without shared memory
        raise SchemaError(f"{path}: SQLite could not use WAL journaling (got {mode!r})")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; safe in WAL
    migrate(con, path)
