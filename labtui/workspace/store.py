"""state.db and its folder: opened, locked, backed up and closed; one transaction or query
at a time. The parts of a workspace (values, journal, runs …) build on this."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from labtui.workspace.errors import WorkspaceError, WorkspaceLocked
from labtui.workspace.files import BACKUP_NAME, private_umask, tighten_modes
from labtui.workspace.lock import WorkspaceLock

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS input_values (
    name TEXT NOT NULL, env TEXT NOT NULL, value TEXT NOT NULL, secret INTEGER NOT NULL,
    PRIMARY KEY (name, env));
CREATE TABLE IF NOT EXISTS outputs (
    step TEXT NOT NULL, env TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    secret INTEGER NOT NULL, PRIMARY KEY (step, env, name));
CREATE TABLE IF NOT EXISTS status (
    step TEXT NOT NULL, env TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (step, env));
CREATE TABLE IF NOT EXISTS checks (
    step TEXT NOT NULL, env TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
    ok INTEGER NOT NULL, message TEXT NOT NULL, hint TEXT NOT NULL, checked REAL NOT NULL,
    PRIMARY KEY (step, env, position));
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, step TEXT NOT NULL, env TEXT NOT NULL,
    kind TEXT NOT NULL, ref TEXT NOT NULL, undo TEXT NOT NULL, created REAL NOT NULL,
    UNIQUE (step, env, kind, ref));
CREATE TABLE IF NOT EXISTS artifacts (
    step TEXT NOT NULL, env TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (step, env, name));
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, step TEXT NOT NULL, env TEXT NOT NULL,
    action TEXT NOT NULL, started REAL NOT NULL, finished REAL, outcome TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS run_logs (
    run_id INTEGER NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, level TEXT NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (run_id, seq));
"""


class StateStore:
    """An attendee's workspace folder and its state.db. Thread-safe."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self._root = path.absolute()  # where it is, even if the process changes directory
        self.read_only = read_only
        self._lock = threading.RLock()
        self._file_lock: WorkspaceLock | None = None
        self._fernet: Any = None
        self._ran = False  # a run started in this session: keep a backup when it closes
        self.lock_broken_from: dict[str, Any] | None = None
        """With --force-unlock: the holder whose lock was taken over (to say so)."""
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"workspace {path} is a file, not a folder: give a folder")
        try:
            if not read_only:
                path.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.chmod(path, 0o700)
                for sub in ("artifacts", "logs"):
                    (path / sub).mkdir(exist_ok=True, mode=0o700)
            elif not (path / "state.db").exists():
                raise WorkspaceError(f"workspace {path} has no state.db yet")
            self._db = self._connect(path / "state.db", read_only)
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"workspace {path}: state.db is not usable ({exc})") from None
        except OSError as exc:
            raise WorkspaceError(
                f"workspace {path} is not writable: {exc.strerror or exc}"
            ) from None

    @staticmethod
    def _connect(db_path: Path, read_only: bool) -> sqlite3.Connection:
        if read_only:
            db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
            # Reading the schema fails now, in one place, if the file is not a database.
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        fresh = not db_path.exists()
        db = sqlite3.connect(db_path, check_same_thread=False, timeout=30)
        if fresh:
            os.chmod(db_path, 0o600)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a journal entry survives a power cut too
        db.executescript(SCHEMA)
        with db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('workspace-id', ?)",
                       (uuid.uuid4().hex,))
        for suffix in ("-wal", "-shm"):
            side = db_path.with_name(db_path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        return db

    @classmethod
    def open(cls, path: Path, *, command: str, force_unlock: bool = False) -> Self:
        """Open `path` for work, taking its lock.

        Raises:
            WorkspaceLocked: another live process holds it.
            WorkspaceError: the folder or its state cannot be used.
        """
        private_umask()  # what this process and its children write from now on is 0600/0700
        workspace = cls(path)
        lock = WorkspaceLock(path / "labtui.lock")
        try:
            lock.acquire(command, force=force_unlock)
        except OSError as exc:
            workspace.close()
            raise WorkspaceError(f"workspace {path}: cannot lock ({exc.strerror})") from None
        except WorkspaceLocked:
            workspace.close()
            raise
        workspace._file_lock = lock
        workspace.lock_broken_from = lock.broken
        return workspace

    @property
    def id(self) -> str | None:
        """This state.db's identity (None in one made by an older labtui, read-only)."""
        rows = self._query("SELECT value FROM meta WHERE key = 'workspace-id'")
        return str(rows[0][0]) if rows else None

    @property
    def backup_path(self) -> Path:
        return self._root / BACKUP_NAME

    def backup(self) -> Path:
        """Copy state.db, consistently (SQLite's online backup), to state.db.bak (0600)."""
        part = self._root / f".{BACKUP_NAME}.part"
        part.unlink(missing_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        with self._lock:
            target = sqlite3.connect(part)
            try:
                self._db.backup(target)
            finally:
                target.close()
        os.replace(part, self.backup_path)
        return self.backup_path

    def holder(self) -> dict[str, Any]:
        """Who holds this workspace's lock right now ({} if nobody)."""
        lock = WorkspaceLock(self.path / "labtui.lock")
        try:
            fd = os.open(lock.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return lock.holder()
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return {}
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._ran and not self.read_only:
                self._ran = False
                try:
                    # Some writers set modes of their own (Hadoop's local file system under
                    # Spark, tar extraction of a container's results): the promise is kept
                    # here, after each session that ran something.
                    tighten_modes(self._root)
                    self.backup()
                except (OSError, sqlite3.Error) as exc:
                    # The work is done and in state.db; only the spare copy is missing.
                    print(f"labtui: could not make {self.path} private or keep a backup "
                          f"of its state.db ({exc})", file=sys.stderr)
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise WorkspaceError(f"workspace {self.path} is open read-only")
        with self._lock:
            try:
                with self._db:
                    yield self._db
            except sqlite3.OperationalError as exc:
                raise WorkspaceError(f"workspace {self.path}: {exc}") from None

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise WorkspaceError(
                    f"workspace {self.path}: state.db is not usable ({exc})") from None
