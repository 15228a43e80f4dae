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

The parts live beside it: the cells in `notebook_source`, DBFS and mounts in `dbfs`, the
`dbutils` shim in `dbutils`, the shared Spark session in `local_spark`, `display` and output
capture in `notebook_output`, MLflow's settings in `notebook_mlflow`; this module runs them.

Runs are serialized within a process: a notebook run changes process-wide state (the print
streams of the running thread, MLflow's environment variables, the shared Spark session).
"""

from __future__ import annotations

import linecache
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from labtui.step import Cancelled
from labtui.targets.local.dbfs import Dbfs, DbutilsError, MountResolver, parse_abfss
from labtui.targets.local.dbutils import DBUtils, DictSecrets, NotebookExit, SecretSource
from labtui.targets.local.local_spark import LocalSpark
from labtui.targets.local.notebook_mlflow import (
    MlflowSettings,
    mlflow_environment,
    mlflow_register_model,
)
from labtui.targets.local.notebook_output import LineSink, Log, capture, display
from labtui.targets.local.notebook_source import (
    UNSUPPORTED_MAGICS,
    Cell,
    NotebookError,
    parse_notebook,
)

# What callers have always imported from here, whichever module now holds it.
__all__ = [
    "DbutilsError",
    "DictSecrets",
    "MlflowSettings",
    "MountResolver",
    "NotebookError",
    "NotebookResult",
    "NotebookRunner",
    "parse_abfss",
    "parse_notebook",
]

Progress = Callable[[float, float, str], None]

_RUN_LOCK = threading.Lock()


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
                what = UNSUPPORTED_MAGICS.get(cell.magic, f"{cell.magic} cells")
                raise NotebookError(
                    f"{name}: {cell.label} uses {cell.magic}: the local runner does not run {what}",
                    cell=cell.number,
                    first_line=cell.first_line,
                )
        # Tracebacks show the notebook's lines even when the source did not come from a file.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)

        namespace: dict[str, Any] = {"__name__": "__main__", "__file__": filename}
        dbutils = DBUtils(self.secrets, self.dbfs, parameters or {}, self.on_secret)
        namespace.update(spark=self.spark, dbutils=dbutils, display=display)
        if mlflow is not None:
            namespace["register_model"] = mlflow_register_model(mlflow)
        namespace.update(extra_globals or {})

        result = NotebookResult(name, namespace=namespace)
        started = time.monotonic()
        total = len(cells)
        sink = LineSink(log)
        with _RUN_LOCK, mlflow_environment(mlflow), self._spark_cancelled_with(cancelled, log):
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
                except NotebookExit as stop:
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
    def _execute(cell: Cell, filename: str, namespace: dict[str, Any], sink: LineSink) -> None:
        # Blank lines in front keep the cell's line numbers those of the notebook file.
        code = compile("\n" * (cell.start_line - 1) + cell.source, filename, "exec")
        try:
            with capture(sink):
                exec(code, namespace)
        except NotebookExit:
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
