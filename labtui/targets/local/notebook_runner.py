"""The local Databricks notebook runner: runs a notebook's source cell by cell on this machine.

The source is the same file that is imported into a Databricks workspace (Databricks "source"
format: first line `# Databricks notebook source`, cells separated by `# COMMAND ----------`,
magic cells as `# MAGIC` lines). The cells run in one namespace that holds what a Databricks
notebook finds there:

- `spark`: a local SparkSession (master `local[2]`), started on first use, whose readers map
  `/mnt/...` and `dbfs:/...` paths onto the local folders behind them;
- `dbutils`: `secrets` (get / getBytes / list / listScopes, from a `SecretSource`), `fs`
  (mount / unmount / mounts / ls / head / put / mkdirs / rm over local folders; a mount's
  source, such as `abfss://datalake@ACCOUNT.dfs.core.windows.net/`, is turned into a local
  folder by a resolver callback), `widgets` (notebook parameters) and `notebook.exit`;
- `display`: prints a small table of a DataFrame or a list of rows.

Each cell's stdout and stderr go line by line to a `log` callback while the cell runs. A cell
that raises stops the run with a `NotebookError` naming the cell. Spark (and MLflow) are
imported only when a notebook needs them; importing this module is cheap.

Runs are serialized within a process: a notebook run changes process-wide state (the print
streams of the running thread, MLflow's environment variables, the shared Spark session).
"""

from __future__ import annotations

import builtins
import io
import linecache
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol, TextIO

from labtui.step import Cancelled
from labtui.targets.errors import TargetError

HEADER = "# Databricks notebook source"
_SEPARATOR = re.compile(r"^# COMMAND -{5,}\s*$")
_TITLE = re.compile(r"^# DBTITLE \d+,(.*)$")
_MAGIC = re.compile(r"^# MAGIC ?(.*)$")
_ABFSS = re.compile(
    r"^abfss://(?P<filesystem>[^@/]+)@(?P<account>[^./]+)\.dfs\.core\.windows\.net(?P<path>/.*)?$"
)
_UNSUPPORTED_MAGICS = {
    "%sh": "shell cells",
    "%sql": "SQL cells",
    "%scala": "Scala cells",
    "%r": "R cells",
    "%run": "%run of another notebook",
    "%fs": "%fs cells (call dbutils.fs in a Python cell instead)",
}
_READ_METHODS = frozenset({"csv", "json", "parquet", "text", "orc", "load"})
_CHAINED_READER_METHODS = frozenset({"format", "option", "options", "schema"})
_DISPLAY_ROWS = 20

Log = Callable[[str], None]
Progress = Callable[[float, float, str], None]
MountResolver = Callable[[str, Mapping[str, str]], Path]
"""(mount source, extra_configs) -> the local folder behind it; raises to refuse the mount."""

_RUN_LOCK = threading.Lock()


class NotebookError(TargetError):
    """A notebook could not be parsed or one of its cells failed.

    The message is one line: which cell, its first line, and the exception. `traceback_text`
    holds the traceback from the cell's code down (empty for a parse error).
    """

    def __init__(
        self,
        message: str,
        *,
        cell: int | None = None,
        first_line: str = "",
        traceback_text: str = "",
    ) -> None:
        super().__init__(message)
        self.cell = cell
        self.first_line = first_line
        self.traceback_text = traceback_text


class DbutilsError(Exception):
    """What dbutils raises for a request Databricks would refuse (missing secret, bad path)."""


# --------------------------------------------------------------------------------------------
# Parsing


CellKind = Literal["python", "markdown", "pip", "empty", "unsupported"]


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook. `number` counts every cell from 1, as Databricks' "Cmd N"."""

    number: int
    kind: CellKind
    source: str
    start_line: int
    title: str = ""
    magic: str = ""

    @property
    def first_line(self) -> str:
        """The cell's title, or its first line that says something, cut to 60 characters."""
        text = self.title
        if not text:
            lines = (line.strip() for line in self.source.splitlines())
            text = next((line for line in lines if line), "")
        return text if len(text) <= 60 else text[:57] + "..."

    @property
    def label(self) -> str:
        return (
            f"cell {self.number} ({self.first_line})" if self.first_line else f"cell {self.number}"
        )


def parse_notebook(source: str, name: str = "notebook") -> list[Cell]:
    """Split Databricks source-format text into cells.

    Python cells keep their line numbers in the file (earlier lines are blank), so tracebacks
    point at the notebook's own lines. `%md` cells become "markdown", `%pip` cells "pip", and
    shell, SQL, Scala, R and `%run` cells "unsupported".

    Raises:
        NotebookError: the text is not a Databricks source notebook.
    """
    lines = source.splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise NotebookError(
            f"{name} is not a Databricks source notebook: its first line must be {HEADER!r}"
        )
    chunks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 2
    for number, line in enumerate(lines[1:], start=2):
        if _SEPARATOR.match(line):
            chunks.append((start, current))
            current, start = [], number + 1
        else:
            current.append(line)
    chunks.append((start, current))
    return [_cell(index, start, chunk) for index, (start, chunk) in enumerate(chunks, start=1)]


def _cell(number: int, start: int, chunk: list[str]) -> Cell:
    title = ""
    body: list[str] = []
    for line in chunk:
        match = _TITLE.match(line)
        if match and not title and not any(text.strip() for text in body):
            title = match.group(1).strip()
            body.append("")
        else:
            body.append(line)
    meaningful = [line for line in body if line.strip()]
    if not meaningful:
        return Cell(number, "empty", "", start, title)
    if all(_MAGIC.match(line) for line in meaningful):
        stripped = [(m.group(1) if (m := _MAGIC.match(line)) else line) for line in body]
        first_index = next(i for i, line in enumerate(stripped) if line.strip())
        first = stripped[first_index].strip()
        magic = first.split(maxsplit=1)[0] if first.startswith("%") else ""
        if magic in ("%md", "%md-sandbox"):
            return Cell(number, "markdown", "\n".join(stripped), start, title, magic)
        if magic == "%pip":
            return Cell(number, "pip", "\n".join(stripped), start, title, magic)
        if magic == "%python":
            python = [*stripped[:first_index], "", *stripped[first_index + 1 :]]
            return Cell(number, "python", "\n".join(python), start, title, magic)
        if magic:
            return Cell(number, "unsupported", "\n".join(stripped), start, title, magic)
    return Cell(number, "python", "\n".join(body), start, title)


# --------------------------------------------------------------------------------------------
# Secrets


class SecretSource(Protocol):
    """Where `dbutils.secrets` reads from: the secret scopes of the (local) workspace."""

    def get(self, scope: str, key: str) -> str | None:
        """The secret's value, or None when the scope has no such key (or no such scope)."""

    def keys(self, scope: str) -> Sequence[str] | None:
        """The keys in `scope`, or None when there is no such scope."""

    def scopes(self) -> Sequence[str]:
        """The names of the scopes."""


class DictSecrets:
    """A `SecretSource` over a mapping of scope -> {key: value} (tests, simple callers)."""

    def __init__(self, scopes: Mapping[str, Mapping[str, str]]) -> None:
        self._scopes = {scope: dict(values) for scope, values in scopes.items()}

    def get(self, scope: str, key: str) -> str | None:
        return self._scopes.get(scope, {}).get(key)

    def keys(self, scope: str) -> Sequence[str] | None:
        values = self._scopes.get(scope)
        return None if values is None else sorted(values)

    def scopes(self) -> Sequence[str]:
        return sorted(self._scopes)


class SecretMetadata(NamedTuple):
    key: str


class SecretScope(NamedTuple):
    name: str


class _Secrets:
    def __init__(self, source: SecretSource, on_secret: Callable[[str], None]) -> None:
        self._source = source
        self._on_secret = on_secret

    def get(self, scope: str, key: str) -> str:
        value = self._source.get(scope, key)
        if value is None:
            raise DbutilsError(f"Secret does not exist with scope: {scope} and key: {key}")
        self._on_secret(value)
        return value

    def getBytes(self, scope: str, key: str) -> bytes:
        return self.get(scope, key).encode("utf-8")

    def list(self, scope: str) -> list[SecretMetadata]:
        keys = self._source.keys(scope)
        if keys is None:
            raise DbutilsError(f"Scope {scope} does not exist")
        return [SecretMetadata(key) for key in keys]

    def listScopes(self) -> builtins.list[SecretScope]:
        return [SecretScope(name) for name in self._source.scopes()]


# --------------------------------------------------------------------------------------------
# DBFS and mounts


class FileInfo(NamedTuple):
    """An entry of `dbutils.fs.ls`, as Databricks returns it (folders end in "/")."""

    path: str
    name: str
    size: int
    modificationTime: int


class MountInfo(NamedTuple):
    """An entry of `dbutils.fs.mounts()`."""

    mountPoint: str
    source: str
    encryptionType: str = ""


def parse_abfss(uri: str) -> tuple[str, str, str]:
    """Split `abfss://FILESYSTEM@ACCOUNT.dfs.core.windows.net/PATH` into (account, filesystem,
    path without the leading slash).

    Raises:
        DbutilsError: `uri` is not an abfss address of a storage account.
    """
    match = _ABFSS.match(uri.strip())
    if not match:
        raise DbutilsError(
            f"{uri!r} is not an abfss:// address (abfss://FILESYSTEM@ACCOUNT.dfs.core.windows.net)"
        )
    path = (match.group("path") or "/").strip("/")
    return match.group("account"), match.group("filesystem"), path


@dataclass
class _Mount:
    info: MountInfo
    folder: Path


class Dbfs:
    """DBFS paths on this machine: mounts under `/mnt/...` and everything else under `root`."""

    def __init__(self, root: Path, resolve: MountResolver) -> None:
        self.root = root
        self._resolve = resolve
        self._mounts: dict[str, _Mount] = {}

    def mount(self, source: str, mount_point: str, extra_configs: Mapping[str, str]) -> Path:
        point = self._normalize(mount_point)
        if not point.startswith("/mnt/") or point == "/mnt/":
            raise DbutilsError(f"Mount points must be under /mnt/, not {mount_point!r}")
        if point in self._mounts:
            raise DbutilsError(f"Directory already mounted: {point}")
        folder = self._resolve(source, dict(extra_configs))
        if not folder.is_dir():
            raise DbutilsError(f"The source of the mount {source!r} is not a folder: {folder}")
        self._mounts[point] = _Mount(MountInfo(point, source), folder)
        return folder

    def unmount(self, mount_point: str) -> None:
        point = self._normalize(mount_point)
        if self._mounts.pop(point, None) is None:
            raise DbutilsError(f"Directory not mounted: {point}")

    def mounts(self) -> list[MountInfo]:
        return [mount.info for _, mount in sorted(self._mounts.items())]

    def local(self, path: str) -> Path:
        """The local file or folder behind a DBFS path (`dbfs:/x`, `/x`, `/dbfs/x`, `file:/x`)."""
        if path.startswith("file:"):
            return Path(re.sub(r"^file:(//)?", "", path) or "/")
        point = self._normalize(path)
        for mount_point, mount in sorted(self._mounts.items(), key=lambda m: -len(m[0])):
            if point == mount_point or point.startswith(mount_point + "/"):
                return mount.folder.joinpath(*point[len(mount_point) :].split("/")[1:])
        if point.startswith("/mnt/"):
            raise DbutilsError(f"Nothing is mounted under /mnt/ for {path}")
        return self.root.joinpath(*point.split("/")[1:])

    def dbfs_path(self, path: str) -> str:
        """`dbfs:/…` spelling of a DBFS path."""
        return "dbfs:" + self._normalize(path)

    @staticmethod
    def _normalize(path: str) -> str:
        text = path.strip()
        if text.startswith("dbfs:"):
            text = text[len("dbfs:") :]
        if text.startswith("/dbfs/"):
            text = text[len("/dbfs") :]
        if not text.startswith("/"):
            raise DbutilsError(f"DBFS paths are absolute (dbfs:/… or /…), not {path!r}")
        normal = posixpath.normpath(text)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        return normal


class _Fs:
    def __init__(self, dbfs: Dbfs) -> None:
        self._dbfs = dbfs

    def mount(
        self,
        source: str,
        mount_point: str,
        encryption_type: str = "",
        extra_configs: Mapping[str, str] | None = None,
    ) -> bool:
        self._dbfs.mount(source, mount_point, extra_configs or {})
        return True

    def unmount(self, mount_point: str) -> bool:
        self._dbfs.unmount(mount_point)
        return True

    def mounts(self) -> list[MountInfo]:
        return self._dbfs.mounts()

    def refreshMounts(self) -> bool:
        return True

    def ls(self, path: str) -> list[FileInfo]:
        local = self._dbfs.local(path)
        base = path.rstrip("/") if path.startswith("file:") else self._dbfs.dbfs_path(path)
        if local.is_file():
            return [self._info(local, base)]
        if not local.is_dir():
            raise DbutilsError(f"java.io.FileNotFoundException: File {path} does not exist.")
        return [
            self._info(child, f"{base.rstrip('/')}/{child.name}")
            for child in sorted(local.iterdir())
        ]

    def head(self, file: str, maxBytes: int = 65536) -> str:
        with self._dbfs.local(file).open("rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        local = self._dbfs.local(file)
        if local.exists() and not overwrite:
            raise DbutilsError(f"File {file} already exists (pass overwrite=True)")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(contents, encoding="utf-8")
        return True

    def mkdirs(self, dir: str) -> bool:
        self._dbfs.local(dir).mkdir(parents=True, exist_ok=True)
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:
        local = self._dbfs.local(dir)
        if local.is_dir():
            if not recurse and any(local.iterdir()):
                raise DbutilsError(f"{dir} is a non-empty folder (pass recurse=True)")
            shutil.rmtree(local)
            return True
        if local.exists():
            local.unlink()
            return True
        return False

    @staticmethod
    def _info(local: Path, path: str) -> FileInfo:
        stat = local.stat()
        folder = local.is_dir()
        return FileInfo(
            path + ("/" if folder else ""),
            local.name + ("/" if folder else ""),
            0 if folder else stat.st_size,
            int(stat.st_mtime * 1000),
        )


# --------------------------------------------------------------------------------------------
# Widgets, notebook, dbutils


class _NotebookExit(Exception):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class _Widgets:
    def __init__(self, parameters: Mapping[str, str]) -> None:
        self._parameters = dict(parameters)
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def dropdown(
        self, name: str, defaultValue: str, choices: Sequence[str], label: str | None = None
    ) -> None:
        if defaultValue not in choices:
            raise DbutilsError(f"Default value {defaultValue!r} is not one of the choices")
        self._defaults[name] = defaultValue

    combobox = dropdown

    def get(self, name: str) -> str:
        if name in self._parameters:
            return self._parameters[name]
        if name in self._defaults:
            return self._defaults[name]
        raise DbutilsError(f"InputWidgetNotDefined: no input widget named {name}")

    def getArgument(self, name: str, optional: str | None = None) -> str | None:
        try:
            return self.get(name)
        except DbutilsError:
            return optional

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()


class _NotebookUtils:
    def exit(self, value: object = "") -> None:
        raise _NotebookExit(str(value))


class DBUtils:
    """The `dbutils` object a notebook sees: secrets, fs, widgets and notebook."""

    def __init__(
        self,
        secrets: SecretSource,
        dbfs: Dbfs,
        parameters: Mapping[str, str],
        on_secret: Callable[[str], None],
    ) -> None:
        self.secrets = _Secrets(secrets, on_secret)
        self.fs = _Fs(dbfs)
        self.widgets = _Widgets(parameters)
        self.notebook = _NotebookUtils()


# --------------------------------------------------------------------------------------------
# Spark


class _PathMappingReader:
    """A DataFrameReader whose load methods read DBFS paths from the local folders behind them."""

    def __init__(self, reader: Any, dbfs: Dbfs) -> None:
        self._reader = reader
        self._dbfs = dbfs

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._reader, name)
        if name in _READ_METHODS:
            return self._loader(attribute)
        if name in _CHAINED_READER_METHODS:
            return lambda *args, **kwargs: _PathMappingReader(
                attribute(*args, **kwargs), self._dbfs
            )
        return attribute

    def _loader(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def load(*args: Any, **kwargs: Any) -> Any:
            if args:
                args = (self._map(args[0]), *args[1:])
            if "path" in kwargs:
                kwargs["path"] = self._map(kwargs["path"])
            return method(*args, **kwargs)

        return load

    def _map(self, path: Any) -> Any:
        if isinstance(path, str):
            if path.startswith(("/", "dbfs:")) and not path.startswith("file:"):
                return self._dbfs.local(path).as_uri()
            return path
        if isinstance(path, list | tuple):
            return [self._map(item) for item in path]
        return path


@dataclass
class _SharedSession:
    """The process's one Spark session and how many LocalSparks use it now."""

    session: Any = None
    users: int = 0


_SHARED = _SharedSession()
_SHARED_LOCK = threading.Lock()


class LocalSpark:
    """The notebook's `spark`: a local SparkSession started on first use.

    Attribute access goes to the real session; `read` maps DBFS paths to local files. Writes
    (`df.write`) are not mapped: write with dbutils-resolved local paths or to plain folders.
    """

    DEFAULT_CONF: Mapping[str, str] = {
        "spark.driver.memory": "1g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.session.timeZone": "UTC",
    }

    def __init__(self, dbfs: Dbfs, work_dir: Path, conf: Mapping[str, str] | None = None) -> None:
        self._dbfs = dbfs
        self._work_dir = work_dir
        self._conf = {**self.DEFAULT_CONF, **(conf or {})}
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> Any:
        """The pyspark SparkSession, started now if it was not yet.

        A process has one SparkContext: every LocalSpark of the process (two workspaces'
        clusters running notebooks at once) shares one session, counted, and the last one to
        stop stops it; one runner's stop never ends the session another runner reads with.
        """
        with self._lock:
            if self._session is None:
                with _SHARED_LOCK:
                    if _SHARED.session is None:
                        _SHARED.session = self._start()
                    _SHARED.users += 1
                    self._session = _SHARED.session
            return self._session

    @property
    def read(self) -> _PathMappingReader:
        return _PathMappingReader(self.session.read, self._dbfs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.session, name)

    def stop(self) -> None:
        with self._lock:
            if self._session is not None:
                with _SHARED_LOCK:
                    _SHARED.users -= 1
                    if _SHARED.users <= 0 and _SHARED.session is self._session:
                        self._session.stop()
                        _SHARED.session, _SHARED.users = None, 0
                self._session = None

    def cancel_jobs(self) -> None:
        """Cancel the Spark jobs that are running now (the cell waiting on them then fails)."""
        with self._lock:
            session = self._session
        if session is not None:
            session.sparkContext.cancelAllJobs()

    def _start(self) -> Any:
        # pyspark replaces the SIGINT handler when it starts on the main thread; labtui's own
        # handler (cancel at the next safe point) must stay in charge of Ctrl-C.
        on_main_thread = threading.current_thread() is threading.main_thread()
        sigint_handler = signal.getsignal(signal.SIGINT) if on_main_thread else None
        try:
            return self._start_session()
        finally:
            if sigint_handler is not None:
                signal.signal(signal.SIGINT, sigint_handler)

    def _start_session(self) -> Any:
        # The JVM inherits the environment when it starts: loopback only (no DNS lookup of the
        # host name), and Python workers run with the interpreter that runs labtui.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        try:
            from pyspark import SparkConf, SparkContext
            from pyspark.java_gateway import launch_gateway
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise NotebookError(
                "this notebook needs Spark: install pyspark (and Java 17) into labtui's environment"
            ) from exc
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise NotebookError("Spark needs Java: install a JDK 17 (or set JAVA_HOME)")
        spark_dir = self._work_dir / "spark"
        spark_dir.mkdir(parents=True, exist_ok=True)
        # The JVM writes to the terminal's file descriptors, past Python's streams: send its
        # log to a file so it neither garbles a TUI nor leaks into headless output.
        log_config = spark_dir / "log4j2.properties"
        log_config.write_text(
            "rootLogger.level = warn\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "appender.file.type = File\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {spark_dir / 'spark.log'}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n",
            encoding="utf-8",
        )
        settings = {
            "spark.local.dir": str(spark_dir / "tmp"),
            "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log_config.as_uri()}",
            **self._conf,
        }
        conf = SparkConf().setMaster("local[2]").setAppName("labtui-notebook")
        conf.setAll(list(settings.items()))
        if SparkContext._gateway is None:
            # Start the JVM ourselves to give it an output file: the JVM prints a few lines
            # (incubator module warnings) before log4j is configured.
            with (spark_dir / "jvm.log").open("ab") as jvm_output:
                gateway = launch_gateway(  # type: ignore[no-untyped-call]
                    conf, popen_kwargs=_JvmStart(stdout=jvm_output, stderr=subprocess.STDOUT)
                )
            SparkContext(conf=conf, gateway=gateway)
        return SparkSession.builder.config(conf=conf).getOrCreate()


_JVM_VARIABLES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
    "JAVA_HOME", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "PYTHONPATH", "PYTHONHASHSEED",
    "VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
})
_JVM_PREFIXES = ("LC_", "SPARK_", "PYSPARK_", "_PYSPARK_", "HADOOP_")


def spark_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What the Spark JVM (and the Python workers it starts) get of labtui's environment:
    what Java, Spark and Python need to run, nothing else — no tokens, passwords or the
    settings of other tools (labtui's own LABTUI_* values among them)."""
    return {name: value for name, value in environ.items()
            if name in _JVM_VARIABLES or name.startswith(_JVM_PREFIXES)}


class _JvmStart(dict[str, Any]):
    """`popen_kwargs` for pyspark's launch_gateway, which sets "env" to all of os.environ
    (plus its own SPARK_/PYSPARK_ variables) just before it starts the JVM: what it sets is
    narrowed to `spark_environment`, without touching the process's own environment."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "env":
            value = spark_environment(value)
        super().__setitem__(key, value)


# --------------------------------------------------------------------------------------------
# display


def _display_lines(value: Any) -> list[str]:
    if hasattr(value, "limit") and hasattr(value, "columns") and hasattr(value, "collect"):
        columns = [str(name) for name in value.columns]
        rows = [tuple(row) for row in value.limit(_DISPLAY_ROWS + 1).collect()]
        return _table(columns, rows)
    if hasattr(value, "to_string") and hasattr(value, "head"):
        return str(value.head(_DISPLAY_ROWS).to_string()).splitlines()
    if isinstance(value, list | tuple) and value and all(hasattr(v, "_fields") for v in value):
        return _table(list(value[0]._fields), [tuple(v) for v in value])
    if isinstance(value, list | tuple) and not value:
        return ["(no rows)"]
    return repr(value).splitlines()


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    shown = [["" if cell is None else str(cell) for cell in row] for row in rows[:_DISPLAY_ROWS]]
    widths = [len(name) for name in columns]
    for row in shown:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    lines = [
        " | ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)),
        "-+-".join("-" * width for width in widths),
    ]
    lines.extend(
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        for row in shown
    )
    if len(rows) > _DISPLAY_ROWS:
        lines.append(f"(showing the first {_DISPLAY_ROWS} rows)")
    return [line.rstrip() for line in lines]


def _display(value: Any = None, *args: Any, **kwargs: Any) -> None:
    for line in _display_lines(value):
        print(line)


# --------------------------------------------------------------------------------------------
# Output capture


class _LineSink(io.TextIOBase):
    """A text stream that hands each complete line to `log` as soon as it is written."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._buffer = ""
        self.emitting = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            line, self._buffer = self._buffer, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        # While `log` runs, this thread's prints go to the real streams: a log that writes to
        # the terminal (the headless console) must not feed its own output back in.
        self.emitting = True
        try:
            self._log(line)
        finally:
            self.emitting = False


class _ThreadRoutedStream(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr: what the notebook's thread writes goes to its
    sink, what any other thread writes goes where it went before."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.routes: dict[int, _LineSink] = {}

    def writable(self) -> bool:
        return True

    def _target(self) -> TextIO | _LineSink:
        sink = self.routes.get(threading.get_ident())
        return self.original if sink is None or sink.emitting else sink

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


@contextmanager
def _capture(sink: _LineSink) -> Iterator[None]:
    """Route this thread's writes to sys.stdout and sys.stderr into `sink`."""
    ident = threading.get_ident()
    routers: list[tuple[str, _ThreadRoutedStream]] = []
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        router = (
            current if isinstance(current, _ThreadRoutedStream) else _ThreadRoutedStream(current)
        )
        router.routes[ident] = sink
        setattr(sys, name, router)
        routers.append((name, router))
    try:
        yield
    finally:
        sink.flush()
        for name, router in routers:
            router.routes.pop(ident, None)
            if not router.routes and getattr(sys, name) is router:
                setattr(sys, name, router.original)


# --------------------------------------------------------------------------------------------
# MLflow


@dataclass(frozen=True)
class MlflowSettings:
    """Where a notebook's MLflow calls go during a local run.

    `tracking_uri` serves as tracking and registry store (for example `sqlite:///…/mlflow.db`);
    runs land in `experiment`, created with `artifact_location` if it does not exist yet.
    """

    tracking_uri: str
    experiment: str = "notebooks"
    artifact_location: str | None = None


@contextmanager
def _mlflow_environment(settings: MlflowSettings | None) -> Iterator[None]:
    """Point MLflow's fluent API (mlflow.start_run, log_metric …) at `settings` for one run.

    MLflow reads these variables whenever no URI was set in code, which labtui never does.
    """
    if settings is None:
        yield
        return
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(settings.experiment, settings.artifact_location)
    )
    variables = {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "MLFLOW_REGISTRY_URI": settings.tracking_uri,
        "MLFLOW_EXPERIMENT_ID": str(experiment_id),
    }
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    import mlflow

    try:
        yield
    except BaseException:
        # A run the notebook opened without `with` and left open by a failing cell.
        if mlflow.active_run() is not None:
            mlflow.end_run(status="FAILED")
        raise
    else:
        if mlflow.active_run() is not None:
            mlflow.end_run(status="FINISHED")
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


RegisterModel = Callable[[str, str, Mapping[str, str], str], dict[str, str]]
"""register_model(name, folder, tags, description) -> {"name": …, "version": …}"""


def mlflow_register_model(settings: MlflowSettings) -> RegisterModel:
    """A `register_model` for the notebook's namespace that registers a folder of model files
    in the MLflow registry of `settings`.

    The files are logged as artifacts of the active MLflow run (or of a new run) and a model
    version is created from them with the tags: a plain folder is not an MLflow model, so
    `mlflow.register_model("runs:/…")` would refuse it.
    """

    def register_model(
        name: str, folder: str, tags: Mapping[str, str], description: str = ""
    ) -> dict[str, str]:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        uri = settings.tracking_uri
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        active = mlflow.active_run()
        if active is not None:
            run_id = active.info.run_id
        else:
            experiment = client.get_experiment_by_name(settings.experiment)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else client.create_experiment(settings.experiment, settings.artifact_location)
            )
            run_id = client.create_run(experiment_id, run_name=f"register {name}").info.run_id
        artifact_path = Path(folder).name
        client.log_artifacts(run_id, folder, artifact_path)
        try:
            client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            client.create_registered_model(name)
        source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
        version = client.create_model_version(
            name, source, run_id=run_id, tags=dict(tags), description=description
        )
        if active is None:
            client.set_terminated(run_id)
        return {"name": name, "version": str(version.version)}

    return register_model


# --------------------------------------------------------------------------------------------
# The runner


@dataclass
class NotebookResult:
    """What a run did: cells run and skipped, the `dbutils.notebook.exit` value, the time
    taken and the namespace the cells left behind."""

    name: str
    cells_run: list[int] = field(default_factory=list)
    cells_skipped: list[int] = field(default_factory=list)
    exit_value: str | None = None
    seconds: float = 0.0
    namespace: dict[str, Any] = field(default_factory=dict)


def _ignore(*_: Any) -> None:
    return None


class NotebookRunner:
    """Runs Databricks source notebooks locally with `spark`, `dbutils` and `display`.

    Mounts and the Spark session live as long as the runner (as on a cluster); `close()`
    stops Spark.

    Args:
        secrets: the secret scopes `dbutils.secrets` reads.
        resolve_mount: turns a mount source (and its extra_configs) into a local folder.
        work_dir: DBFS root (`dbfs/`) and Spark's scratch and log folder (`spark/`).
        on_secret: called with every secret value the notebook reads (to mask it).
        spark_conf: Spark settings over `LocalSpark.DEFAULT_CONF`.
    """

    def __init__(
        self,
        *,
        secrets: SecretSource,
        resolve_mount: MountResolver,
        work_dir: Path,
        on_secret: Callable[[str], None] = _ignore,
        spark_conf: Mapping[str, str] | None = None,
    ) -> None:
        self.secrets = secrets
        self.work_dir = work_dir
        self.on_secret = on_secret
        self.dbfs = Dbfs(work_dir / "dbfs", resolve_mount)
        self.spark = LocalSpark(self.dbfs, work_dir, spark_conf)

    def close(self) -> None:
        """Stop the Spark session if one was started."""
        self.spark.stop()

    def __enter__(self) -> NotebookRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run(
        self,
        notebook: str | Path,
        *,
        name: str | None = None,
        parameters: Mapping[str, str] | None = None,
        extra_globals: Mapping[str, Any] | None = None,
        mlflow: MlflowSettings | None = None,
        log: Log = _ignore,
        progress: Progress = _ignore,
        cancelled: threading.Event | None = None,
    ) -> NotebookResult:
        """Run a notebook (a path to its source, or the source text) cell by cell.

        `parameters` are the notebook's widget values; `extra_globals` go into its namespace
        before the first cell (for example `register_model`). With `mlflow`, the notebook's
        MLflow calls go there, and `register_model` defaults to `mlflow_register_model`.

        Raises:
            NotebookError: the source is not a notebook, a cell uses an unsupported language,
                or a cell raised (the message names the cell).
            Cancelled: `cancelled` was set; checked before each cell.
        """
        if isinstance(notebook, Path):
            source = notebook.read_text(encoding="utf-8")
            name = name or notebook.name
            filename = str(notebook.resolve())
        else:
            source = notebook
            name = name or "notebook"
            filename = f"<notebook {name}>"
        cells = parse_notebook(source, name)
        for cell in cells:
            if cell.kind == "unsupported":
                what = _UNSUPPORTED_MAGICS.get(cell.magic, f"{cell.magic} cells")
                raise NotebookError(
                    f"{name}: {cell.label} uses {cell.magic}: the local runner does not run {what}",
                    cell=cell.number,
                    first_line=cell.first_line,
                )
        # Tracebacks show the notebook's lines even when the source did not come from a file.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)

        namespace: dict[str, Any] = {"__name__": "__main__", "__file__": filename}
        dbutils = DBUtils(self.secrets, self.dbfs, parameters or {}, self.on_secret)
        namespace.update(spark=self.spark, dbutils=dbutils, display=_display)
        if mlflow is not None:
            namespace["register_model"] = mlflow_register_model(mlflow)
        namespace.update(extra_globals or {})

        result = NotebookResult(name, namespace=namespace)
        started = time.monotonic()
        total = len(cells)
        sink = _LineSink(log)
        with _RUN_LOCK, _mlflow_environment(mlflow), self._spark_cancelled_with(cancelled, log):
            for cell in cells:
                if cancelled is not None and cancelled.is_set():
                    raise Cancelled(f"{name} was cancelled before {cell.label}")
                progress(cell.number - 1, total, cell.label)
                if cell.kind != "python":
                    if cell.kind == "pip":
                        log(
                            f"[{cell.label}: skipped %pip; the local runner uses the packages "
                            "installed with labtui]"
                        )
                    result.cells_skipped.append(cell.number)
                    continue
                log(f"[{cell.label}]")
                try:
                    self._execute(cell, filename, namespace, sink)
                except NotebookError:
                    if cancelled is not None and cancelled.is_set():
                        raise Cancelled(f"{name} was cancelled in {cell.label}") from None
                    raise
                except _NotebookExit as stop:
                    result.cells_run.append(cell.number)
                    result.exit_value = stop.value
                    log(f"[{name} exited in {cell.label}: {stop.value}]")
                    break
                result.cells_run.append(cell.number)
            progress(total, total, "done")
        result.seconds = time.monotonic() - started
        return result

    @contextmanager
    def _spark_cancelled_with(self, cancelled: threading.Event | None, log: Log) -> Iterator[None]:
        """While the notebook runs, a cancel also stops the Spark job a cell is waiting on."""
        if cancelled is None:
            yield
            return
        finished = threading.Event()

        def watch() -> None:
            # Until the cell ends: a job the cell starts after the cancel is cancelled too.
            told = False
            while not finished.wait(0.2):
                if cancelled.is_set() and self.spark.started:
                    if not told:
                        log("[cancelling the running Spark jobs]")
                        told = True
                    try:
                        self.spark.cancel_jobs()
                    except Exception as exc:  # py4j's errors: the cell then ends on its own
                        log(f"[the Spark jobs could not be cancelled: {exc}]")
                        return

        watcher = threading.Thread(target=watch, name="notebook-cancel", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            finished.set()
            watcher.join()

    @staticmethod
    def _execute(cell: Cell, filename: str, namespace: dict[str, Any], sink: _LineSink) -> None:
        # Blank lines in front keep the cell's line numbers those of the notebook file.
        code = compile("\n" * (cell.start_line - 1) + cell.source, filename, "exec")
        try:
            with _capture(sink):
                exec(code, namespace)
        except _NotebookExit:
            raise
        except Exception as exc:
            text = _cell_traceback(exc, filename)
            summary = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            detail = f"{type(exc).__name__}: {summary}" if summary else type(exc).__name__
            raise NotebookError(
                f"{cell.label} failed: {detail}",
                cell=cell.number,
                first_line=cell.first_line,
                traceback_text=text,
            ) from exc


def _cell_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the notebook's own frame down (the runner's frames left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
