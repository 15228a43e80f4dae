"""The workspace: one folder per attendee holding everything labtui knows about their lab.

`state.db` (SQLite, WAL) keeps values, step outputs, the result files steps published, step
status, the last verify's checks, the journal of created resources and the history of runs with
their (masked) logs. Secret values and
outputs are encrypted with a key kept in the workspace (0600). The folder is 0700 and its files
0600 (`private_umask` makes everything written while it is open so, child processes too). A
lock file names the process that holds the workspace; a second process is refused.

Each state.db carries a workspace id (`Workspace.id`), which a target's record of what it
created names as its owner: a state.db that was emptied, deleted or replaced has a new id, so
its loss is noticed instead of silently adopting what the old journal recorded. After each
session that ran something, a copy of state.db is kept as `state.db.bak`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import stat
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtui.journal import (
    DamagedRecord,
    JournalEntry,
    Record,
    RecordKindError,
    UnknownKind,
    decode,
)

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


class WorkspaceError(Exception):
    """The workspace cannot be used (not writable, corrupt …); the message says why."""


class SealedValueError(WorkspaceError):
    """A stored secret cannot be decrypted (secret.key is missing or is another key).

    `name` is the value (an input name, or "output NAME of STEP") and `reason` says why, in
    words an attendee can act on."""

    def __init__(self, path: Path, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"workspace {path}: the stored {name} {reason}")


class WorkspaceLocked(WorkspaceError):
    """Another process holds the workspace; the message names it."""

    def __init__(self, path: Path, holder: Mapping[str, Any]) -> None:
        self.holder = dict(holder)
        started = holder.get("started")
        when = time.strftime("%H:%M:%S", time.localtime(started)) if started else "?"
        super().__init__(
            f"workspace {path} is in use by pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')} ({holder.get('command', '?')!s}, since {when}); "
            "wait for it, or use --force-unlock if that process is gone"
        )


BACKUP_NAME = "state.db.bak"
"""The copy of state.db labtui keeps after each session that ran something."""

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Make every file and folder this process (and its children: Spark, git, MLflow) creates
    from now on private to the user: files 0600 at most, folders 0700."""
    os.umask(PRIVATE_UMASK)


def tighten_modes(root: Path) -> int:
    """Take group and other permissions off everything under `root` (files keep their own
    user bits, so a read-only git object stays read-only); return how many were changed.
    Symbolic links are not followed: what they point to is not the workspace's."""
    changed = 0
    for folder, dirs, files in os.walk(root):
        for name in (folder, *(os.path.join(folder, d) for d in dirs),
                     *(os.path.join(folder, f) for f in files)):
            try:
                mode = os.lstat(name).st_mode
            except FileNotFoundError:
                continue  # removed while we walked (a running step's temporary file)
            if stat.S_ISLNK(mode) or not mode & 0o077:
                continue
            os.chmod(name, stat.S_IMODE(mode) & 0o700)
            changed += 1
    return changed


def default_workspace() -> Path:
    """The workspace used when neither --workspace nor LABTUI_WORKSPACE is given."""
    env = os.environ.get("LABTUI_WORKSPACE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("labtui", appauthor=False)) / "workspace"


def _env_key(env: str | None) -> str:
    return env or ""


def _env_of(key: str) -> str | None:
    return key or None


@dataclass(frozen=True)
class StatusRecord:
    """The recorded status of one unit: not-started, done, failed, drift, cancelled."""

    status: str
    message: str
    updated: float


@dataclass(frozen=True)
class ArtifactRecord:
    """A result file a unit published ("junit", "coverage", "metrics" …), and when."""

    name: str
    path: Path
    at: float


@dataclass(frozen=True)
class JournalRow:
    """A journal entry as stored: `undo` is its JSON text, which may be damaged."""

    seq: int
    step: str
    env: str | None
    kind: str
    ref: str
    undo: str
    created: float

    @property
    def unit(self) -> str:
        return f"{self.step} [{self.env}]" if self.env else self.step


def journal_record_of(seq: int, kind: str, ref: str, undo: str) -> Record:
    """The typed record of a stored entry.

    Raises:
        WorkspaceError: it is damaged or of an unknown kind, with the way out.
    """
    try:
        payload = json.loads(undo)
    except ValueError:
        payload = None
    try:
        return decode(kind, ref, payload)
    except RecordKindError as exc:  # a plugin's records module is broken
        raise WorkspaceError(f"journal entry {seq} ({kind} {ref}): {exc}") from None
    except UnknownKind as exc:
        raise WorkspaceError(
            f"journal entry {seq} ({kind} {ref}) cannot be removed: {exc} (install the plugin "
            f"that made it again, or remove it by hand and drop the entry with "
            f"`labtui journal forget {seq}`)") from None
    except DamagedRecord as exc:
        raise WorkspaceError(
            f"journal entry {seq} ({kind} {ref}) is damaged, so labtui cannot remove it: "
            f"{exc}; remove it by hand, then drop the entry with "
            f"`labtui journal forget {seq}`") from None


@dataclass(frozen=True)
class RunRecord:
    """One past run / verify / rollback of a unit, with its masked log."""

    id: int
    step: str
    env: str | None
    action: str
    started: float
    finished: float | None
    outcome: str | None
    message: str | None
    lines: tuple[str, ...]


class WorkspaceLock:
    """An exclusive, advisory lock on a workspace that names its holder.

    The kernel releases the lock when its holder dies (even by SIGKILL), so a stale lock file
    from a crashed process never blocks anyone; `force` takes a lock whose holder cannot be
    seen from here (another host) after checking it is not a live local process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.broken: dict[str, Any] | None = None
        """The holder whose lock `acquire(force=True)` broke, else None."""

    def holder(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self, command: str, *, force: bool = False) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            os.close(fd)
            if force and not _is_local_live(holder):
                self.path.unlink(missing_ok=True)
                self.acquire(command)
                self.broken = holder
                return
            raise WorkspaceLocked(self.path.parent, holder) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": time.time()}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def describe_holder(holder: Mapping[str, Any]) -> str:
    """A lock holder in words: "pid 4242 on host-b (labtui --all --headless, since 09:12:03)"."""
    started = holder.get("started")
    when = (time.strftime("%H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "?")
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"({holder.get('command', '?')!s}, since {when})")


def _is_local_live(holder: Mapping[str, Any]) -> bool:
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Workspace:
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

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, command: str, force_unlock: bool = False) -> Workspace:
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

    def __enter__(self) -> Workspace:
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

    # -- secrets at rest -------------------------------------------------------------------

    def _sealed_names(self) -> list[str]:
        """The stored values secret.key seals, as an attendee knows them."""
        names = [f"{name}{f' [{env}]' if env else ''}" for name, env in self._query(
            "SELECT name, env FROM input_values WHERE secret = 1 ORDER BY name, env")]
        names += [f"output {name} of {step}{f' [{env}]' if env else ''}"
                  for step, env, name in self._query(
                      "SELECT step, env, name FROM outputs WHERE secret = 1 "
                      "ORDER BY step, env, name")]
        return names

    def _missing_key_reason(self) -> str:
        return (f"cannot be decrypted: {self.path / 'secret.key'} is missing (put it back "
                "if you kept a copy; else give the value again)")

    def _cipher(self, *, for_sealing: bool = False) -> Any:
        """The workspace's key. A missing key is created only while no stored value needs the
        old one: a new key would open none of them, and later say the key had "changed"."""
        if self._fernet is None:
            from cryptography.fernet import Fernet

            key_path = self.path / "secret.key"
            if not key_path.exists():
                sealed = self._sealed_names()
                if sealed and not for_sealing:
                    raise SealedValueError(self.path, "secret", self._missing_key_reason())
                if sealed:
                    shown = ", ".join(sealed[:5]) + (" …" if len(sealed) > 5 else "")
                    raise WorkspaceError(
                        f"workspace {self.path}: {key_path} is missing, and it is the only key "
                        f"to {len(sealed)} stored secret value{'s' if len(sealed) != 1 else ''}"
                        f" ({shown}): put it back, or drop them with `labtui recover "
                        "--forget-secrets` and give them again")
                if self.read_only:
                    raise WorkspaceError(f"workspace {self.path} has no secret.key")
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key())
                    handle.flush()
                    os.fsync(handle.fileno())
            try:
                self._fernet = Fernet(key_path.read_bytes())
            except ValueError:
                raise WorkspaceError(
                    f"workspace {self.path}: {key_path} is not a valid key (was it replaced? "
                    "restore it, or start a new workspace)") from None
        return self._fernet

    def _seal(self, value: str, secret: bool) -> str:
        return (self._cipher(for_sealing=True).encrypt(value.encode()).decode() if secret
                else value)

    def _open_sealed(self, value: str, secret: bool, name: str = "secret") -> str:
        """Decrypt a stored value.

        Raises:
            SealedValueError: naming `name`, when the key is missing or not the one that sealed it.
        """
        if not secret:
            return value
        from cryptography.fernet import InvalidToken

        if self._fernet is None and not (self.path / "secret.key").exists():
            raise SealedValueError(self.path, name, self._missing_key_reason())
        try:
            return str(self._cipher().decrypt(value.encode()).decode())
        except InvalidToken:
            raise SealedValueError(
                self.path, name, f"cannot be decrypted with {self.path / 'secret.key'} (it is "
                "not the key that sealed it; put the old key back, or give the value again)"
            ) from None

    def forget_unreadable_secrets(self) -> list[str]:
        """Drop every stored secret value and output the key cannot open (the key is lost for
        good); return their names. The inputs can then be given again, the outputs made again
        by running their step."""
        dropped = []
        for name, env, value in self._query(
                "SELECT name, env, value FROM input_values WHERE secret = 1"):
            label = f"{name}{f' [{env}]' if env else ''}"
            try:
                self._open_sealed(value, True, label)
            except SealedValueError:
                with self._tx() as db:
                    db.execute("DELETE FROM input_values WHERE name = ? AND env = ?",
                               (name, env))
                dropped.append(label)
        for step, env, name, value in self._query(
                "SELECT step, env, name, value FROM outputs WHERE secret = 1"):
            label = f"output {name} of {step}{f' [{env}]' if env else ''}"
            try:
                self._open_sealed(value, True, label)
            except SealedValueError:
                with self._tx() as db:
                    db.execute("DELETE FROM outputs WHERE step = ? AND env = ? AND name = ?",
                               (step, env, name))
                dropped.append(label)
        return dropped

    # -- values ----------------------------------------------------------------------------

    def set_value(self, name: str, env: str | None, value: str, *, secret: bool) -> None:
        if secret and self._fernet is None and not (self.path / "secret.key").exists():
            label = f"{name}{f' [{env}]' if env else ''}"
            if self._sealed_names() == [label]:
                # The value given again is the only one the lost key sealed: it replaces it,
                # so a new key seals no value it cannot open.
                self.delete_value(name, env)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO input_values VALUES (?, ?, ?, ?)",
                (name, _env_key(env), self._seal(value, secret), int(secret)),
            )

    def get_value(self, name: str, env: str | None) -> str | None:
        rows = self._query(
            "SELECT value, secret FROM input_values WHERE name = ? AND env = ?",
            (name, _env_key(env)),
        )
        label = f"{name}{f' [{env}]' if env else ''}"
        return self._open_sealed(rows[0][0], bool(rows[0][1]), label) if rows else None

    def delete_value(self, name: str, env: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM input_values WHERE name = ? AND env = ?",
                       (name, _env_key(env)))

    def secret_values(self) -> list[str]:
        """Every secret value and secret output held here that can be decrypted (for the
        masker). One that cannot is left out: nobody can read it, so nothing can leak it, and
        the command that needs it says so by name."""
        rows = self._query("SELECT value FROM input_values WHERE secret = 1")
        rows += self._query("SELECT value FROM outputs WHERE secret = 1")
        values = []
        for (value,) in rows:
            with contextlib.suppress(SealedValueError):
                values.append(self._open_sealed(value, True))
        return values

    # -- outputs ---------------------------------------------------------------------------

    def set_output(self, step: str, env: str | None, name: str, value: str, *,
                   secret: bool) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)",
                (step, _env_key(env), name, self._seal(value, secret), int(secret)),
            )

    def get_output(self, step: str, env: str | None, name: str) -> str | None:
        rows = self._query(
            "SELECT value, secret FROM outputs WHERE step = ? AND env = ? AND name = ?",
            (step, _env_key(env), name),
        )
        label = f"output {name} of {step}{f' [{env}]' if env else ''}"
        return self._open_sealed(rows[0][0], bool(rows[0][1]), label) if rows else None

    def outputs(self, step: str, env: str | None) -> dict[str, tuple[str, bool]]:
        """name -> (value, secret) for one unit."""
        rows = self._query(
            "SELECT name, value, secret FROM outputs WHERE step = ? AND env = ?",
            (step, _env_key(env)),
        )
        return {name: (self._open_sealed(value, bool(secret),
                                         f"output {name} of {step}{f' [{env}]' if env else ''}"),
                       bool(secret))
                for name, value, secret in rows}

    def clear_outputs(self, step: str, env: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outputs WHERE step = ? AND env = ?", (step, _env_key(env)))

    def delete_output(self, step: str, env: str | None, name: str) -> None:
        """Forget one output of a unit (as if it had never been handed on)."""
        with self._tx() as db:
            db.execute("DELETE FROM outputs WHERE step = ? AND env = ? AND name = ?",
                       (step, _env_key(env), name))

    # -- published artifacts ---------------------------------------------------------------

    def artifacts_folder(self, step: str, env: str | None) -> Path:
        """The folder a unit's hooks write their result files in (`ctx.artifacts`)."""
        return self.path / "artifacts" / (f"{step}-{env}" if env else step)

    def record_artifact(self, step: str, env: str | None, name: str, path: Path) -> None:
        """Remember that a unit published `path` as `name` (a newer one replaces it). A path
        inside the workspace is kept relative to it, so a moved workspace still finds it."""
        try:
            kept = str(Path(path).resolve().relative_to(self.path.resolve()))
        except ValueError:
            kept = str(Path(path).resolve())
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)",
                       (step, _env_key(env), name, kept, time.time()))

    def artifacts(self, step: str, env: str | None) -> dict[str, ArtifactRecord]:
        """name -> what one unit published, in the order it published them."""
        if self.read_only and not self._query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'artifacts'"):
            return {}  # held by an older labtui, which did not remember them
        rows = self._query(
            "SELECT name, path, at FROM artifacts WHERE step = ? AND env = ? ORDER BY at, name",
            (step, _env_key(env)),
        )
        root = self.path.resolve()
        return {name: ArtifactRecord(name, root / path, at) for name, path, at in rows}

    def clear_artifacts(self, step: str, env: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM artifacts WHERE step = ? AND env = ?",
                       (step, _env_key(env)))

    # -- status and checks -----------------------------------------------------------------

    def set_status(self, step: str, env: str | None, status: str, message: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO status VALUES (?, ?, ?, ?, ?)",
                (step, _env_key(env), status, message, time.time()),
            )

    def status(self, step: str, env: str | None) -> StatusRecord | None:
        rows = self._query(
            "SELECT status, message, updated FROM status WHERE step = ? AND env = ?",
            (step, _env_key(env)),
        )
        return StatusRecord(*rows[0]) if rows else None

    def statuses(self) -> dict[tuple[str, str | None], StatusRecord]:
        rows = self._query("SELECT step, env, status, message, updated FROM status")
        return {(step, _env_of(env)): StatusRecord(status, message, updated)
                for step, env, status, message, updated in rows}

    def save_checks(self, step: str, env: str | None,
                    checks: list[tuple[str, bool, str, str]]) -> None:
        """Keep the last verify's checks as (name, ok, message, hint)."""
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM checks WHERE step = ? AND env = ?", (step, _env_key(env)))
            db.executemany(
                "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(step, _env_key(env), i, name, int(ok), message, hint, now)
                 for i, (name, ok, message, hint) in enumerate(checks)],
            )

    def checks(self, step: str, env: str | None) -> list[tuple[str, bool, str, str]]:
        rows = self._query(
            "SELECT name, ok, message, hint FROM checks WHERE step = ? AND env = ? "
            "ORDER BY position", (step, _env_key(env)),
        )
        return [(name, bool(ok), message, hint) for name, ok, message, hint in rows]

    # -- journal ---------------------------------------------------------------------------

    def journal_record(self, step: str, env: str | None, record: Record) -> JournalEntry:
        """Journal a record; committed (durable) before this returns. Journaling the same
        kind and ref again keeps the entry's original position and replaces its payload."""
        kind, ref = record.kind, record.ref
        payload = json.dumps(record.payload(), sort_keys=True)
        with self._tx() as db:
            db.execute(
                "INSERT INTO journal (step, env, kind, ref, undo, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (step, env, kind, ref) "
                "DO UPDATE SET undo = excluded.undo",
                (step, _env_key(env), kind, ref, payload, time.time()),
            )
            seq = db.execute(
                "SELECT seq FROM journal WHERE step = ? AND env = ? AND kind = ? AND ref = ?",
                (step, _env_key(env), kind, ref),
            ).fetchone()[0]
        return JournalEntry(int(seq), record)

    def journal_entries(self, step: str, env: str | None) -> list[JournalEntry]:
        """One unit's entries, oldest first, each as its typed record.

        Raises:
            WorkspaceError: an entry does not fit its kind (its undo record is not JSON, lacks
                a field, …) or no installed plugin knows its kind; the message names the entry
                and the way out (`labtui journal forget ID`).
        """
        rows = self._query(
            "SELECT seq, kind, ref, undo FROM journal WHERE step = ? AND env = ? ORDER BY seq",
            (step, _env_key(env)),
        )
        return [JournalEntry(seq, journal_record_of(seq, kind, ref, undo))
                for seq, kind, ref, undo in rows]

    def journal_rows(self) -> list[JournalRow]:
        """Every journal entry as stored (undo text unparsed), oldest first: what
        `labtui journal` lists, readable even where an entry is damaged."""
        rows = self._query(
            "SELECT seq, step, env, kind, ref, undo, created FROM journal ORDER BY seq")
        return [JournalRow(seq, step, _env_of(env), kind, ref, undo, created)
                for seq, step, env, kind, ref, undo, created in rows]

    def journal_restore(self, row: JournalRow) -> bool:
        """Put back an entry (from a target's record of it) unless the unit already has it;
        True if it was added. Its original order among the others is kept by `created`."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO journal (step, env, kind, ref, undo, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.step, _env_key(row.env), row.kind, row.ref, row.undo, row.created))
            return cursor.rowcount > 0

    def journal_forget(self, seq: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM journal WHERE seq = ?", (seq,))

    def journal_size(self) -> int:
        return int(self._query("SELECT count(*) FROM journal")[0][0])

    # -- run history -----------------------------------------------------------------------

    def start_run(self, step: str, env: str | None, action: str) -> int:
        self._ran = True
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO runs (step, env, action, started) VALUES (?, ?, ?, ?)",
                (step, _env_key(env), action, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def add_log_lines(self, run_id: int, lines: list[tuple[float, str, str]]) -> None:
        """Append already-masked (at, level, line) rows to a run's log."""
        if not lines:
            return
        with self._tx() as db:
            start = db.execute(
                "SELECT coalesce(max(seq), -1) + 1 FROM run_logs WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            db.executemany(
                "INSERT INTO run_logs VALUES (?, ?, ?, ?, ?)",
                [(run_id, start + i, at, level, line) for i, (at, level, line) in enumerate(lines)],
            )

    def finish_run(self, run_id: int, outcome: str, message: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET finished = ?, outcome = ?, message = ? WHERE id = ?",
                       (time.time(), outcome, message, run_id))

    def last_run(self, step: str, env: str | None,
                 actions: tuple[str, ...] = ("run", "rollback", "verify")) -> RunRecord | None:
        marks = ",".join("?" for _ in actions)
        rows = self._query(
            f"SELECT id, step, env, action, started, finished, outcome, message FROM runs "
            f"WHERE step = ? AND env = ? AND action IN ({marks}) ORDER BY id DESC LIMIT 1",
            (step, _env_key(env), *actions),
        )
        if not rows:
            return None
        run_id, step_id, env_key, action, started, finished, outcome, message = rows[0]
        lines = self._query("SELECT line FROM run_logs WHERE run_id = ? ORDER BY seq", (run_id,))
        return RunRecord(run_id, step_id, _env_of(env_key), action, started, finished,
                         outcome, message, tuple(row[0] for row in lines))

    def run_log(self, run_id: int) -> list[tuple[float, str, str]]:
        """Every (at, level, line) of one run's log, in order; the lines were masked when
        they were written."""
        rows = self._query("SELECT at, level, line FROM run_logs WHERE run_id = ? ORDER BY seq",
                           (run_id,))
        return [(float(at), str(level), str(line)) for at, level, line in rows]

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first, without log lines."""
        rows = self._query(
            "SELECT id, step, env, action, started, finished, outcome, message FROM runs "
            "ORDER BY id"
        )
        return [RunRecord(r[0], r[1], _env_of(r[2]), r[3], r[4], r[5], r[6], r[7], ())
                for r in rows]
