"""The notebook's `spark`: a local SparkSession (master `local[2]`) started on first use and
shared by the runs of a process, whose readers map DBFS paths onto local folders, started in
an environment of its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtui.targets.local.dbfs import Dbfs
from labtui.targets.local.notebook_source import NotebookError

_READ_METHODS = frozenset({"csv", "json", "parquet", "text", "orc", "load"})
_CHAINED_READER_METHODS = frozenset({"format", "option", "options", "schema"})


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
