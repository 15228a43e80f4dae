"""The local Databricks notebook runner: parsing, dbutils, and the lab's training notebook."""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from labtui_assets import root as assets_root
from labtui_assets import sample_data

from labtui.step import Cancelled
from labtui.targets.local.notebook_runner import (
    DbutilsError,
    DictSecrets,
    MlflowSettings,
    MountResolver,
    NotebookError,
    NotebookRunner,
    parse_abfss,
    parse_notebook,
)
from tests.conftest import LAB_DATA, require, require_lab_data

NOTEBOOK = assets_root() / "Project_One" / "notebooks" / "train_model.py"
ACCOUNT = "contoso7dev"
FQDN = f"abfss://datalake@{ACCOUNT}.dfs.core.windows.net"

SECRETS = {
    "sp-tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "sp-app-id": "0d4f4a5e-2b7a-4c1e-9a57-1b2c3d4e5f60",
    "sp-password": "Sup3r-Secret-Passw0rd!",
    "sp-token-endpoint": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/token",
    "datalake-fqdn": FQDN,
    "subscription-id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "resource-group": "contoso7-db-dev",
    "ml-workspace-name": "contoso7-ml-dev",
    "alg-state": "dev",
    "created-by": "ada",
}


def lake_resolver(lake: Path) -> MountResolver:
    def resolve(source: str, configs: Mapping[str, str]) -> Path:
        account, filesystem, path = parse_abfss(source)
        if account != ACCOUNT or filesystem != "datalake":
            raise DbutilsError(f"no such data lake: {source}")
        if configs.get("fs.azure.account.oauth2.client.secret") != SECRETS["sp-password"]:
            raise DbutilsError("the service principal's credentials were refused")
        return lake / path if path else lake

    return resolve


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[NotebookRunner]:
    lake = tmp_path / "lake"
    lake.mkdir()
    with NotebookRunner(
        secrets=DictSecrets({"data-lake": SECRETS}),
        resolve_mount=lake_resolver(lake),
        work_dir=tmp_path / "work",
    ) as notebook_runner:
        yield notebook_runner


def nb(*cells: str) -> str:
    return "# Databricks notebook source\n" + "\n\n# COMMAND ----------\n\n".join(cells) + "\n"


def test_parse_the_training_notebook() -> None:
    cells = parse_notebook(NOTEBOOK.read_text(encoding="utf-8"))
    kinds = [cell.kind for cell in cells]
    assert kinds[0] == "markdown"
    assert kinds[1:] == ["python"] * (len(cells) - 1)
    assert cells[2].title == "Settings from the data-lake secret scope"
    # Python cells keep the file's line numbers: the cell's text starts at its start line.
    source_lines = NOTEBOOK.read_text(encoding="utf-8").splitlines()
    for cell in cells[1:]:
        first = next(line for line in cell.source.splitlines() if line.strip())
        assert first in source_lines[cell.start_line - 1 :]


def test_parse_magics_and_rejects_non_notebooks() -> None:
    cells = parse_notebook(
        nb(
            "# MAGIC %md\n# MAGIC # Title",
            "# MAGIC %pip install x",
            "# MAGIC %python\n# MAGIC x = 1",
            "# MAGIC %sh ls",
            "",
        )
    )
    assert [cell.kind for cell in cells] == ["markdown", "pip", "python", "unsupported", "empty"]
    assert cells[2].source.strip() == "x = 1"
    assert cells[3].magic == "%sh"
    with pytest.raises(NotebookError, match="first line must be"):
        parse_notebook("print('hello')\n", "hello.py")


def test_unsupported_cell_stops_before_anything_runs(runner: NotebookRunner) -> None:
    lines: list[str] = []
    with pytest.raises(NotebookError, match=r"cell 2 \(%sh ls\) uses %sh"):
        runner.run(nb("print('first')", "# MAGIC %sh ls"), log=lines.append)
    assert lines == []


def test_markdown_and_pip_cells_are_skipped(runner: NotebookRunner) -> None:
    lines: list[str] = []
    result = runner.run(
        nb("# MAGIC %md\n# MAGIC Hello", "# MAGIC %pip install scikit-learn", "print('ran')"),
        log=lines.append,
    )
    assert result.cells_skipped == [1, 2]
    assert result.cells_run == [3]
    assert lines == [
        "[cell 2 (%pip install scikit-learn): skipped %pip; the local runner uses the packages "
        "installed with labtui]",
        "[cell 3 (print('ran'))]",
        "ran",
    ]


def test_importing_the_runner_loads_neither_spark_nor_mlflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, labtui.targets.local.notebook_runner; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'mlflow')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_failing_cell_is_named_and_stops_the_run(runner: NotebookRunner) -> None:
    lines: list[str] = []
    source = nb(
        "print('one')",
        "# DBTITLE 1,Divide\nresult = 1 / 0",
        "print('never')",
    )
    with pytest.raises(NotebookError) as caught:
        runner.run(source, name="broken.py", log=lines.append)
    error = caught.value
    assert str(error) == "cell 2 (Divide) failed: ZeroDivisionError: division by zero"
    assert error.cell == 2
    assert "\n" not in str(error)
    assert 'File "<notebook broken.py>", line 7' in error.traceback_text
    assert "result = 1 / 0" in error.traceback_text
    assert "labtui/notebook.py" not in error.traceback_text
    assert "one" in lines and "never" not in lines


def test_output_streams_line_by_line_while_the_cell_runs(runner: NotebookRunner) -> None:
    seen_during_cell: list[str] = []
    lines: list[str] = []

    def snapshot() -> None:
        seen_during_cell.extend(lines)

    runner.run(
        nb("import sys\nprint('a')\nprint('b', file=sys.stderr)\nsnapshot()\nprint('c', end='')"),
        extra_globals={"snapshot": snapshot},
        log=lines.append,
    )
    assert seen_during_cell[-2:] == ["a", "b"]
    assert lines[-3:] == ["a", "b", "c"]


def test_prints_of_other_threads_are_not_captured(
    runner: NotebookRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    source = nb(
        "import threading\n"
        "t = threading.Thread(target=lambda: print('from another thread'))\n"
        "t.start(); t.join()\nprint('from the cell')"
    )
    runner.run(source, log=lines.append)
    assert "from the cell" in lines
    assert "from another thread" not in lines
    assert "from another thread" in capsys.readouterr().out


def test_progress_cancel_widgets_exit(runner: NotebookRunner) -> None:
    steps: list[tuple[float, float, str]] = []
    source = nb(
        "dbutils.widgets.text('who', 'nobody')\nwho = dbutils.widgets.get('who')",
        "dbutils.notebook.exit(f'hello {who}')",
        "raise AssertionError('not reached')",
    )
    result = runner.run(
        source,
        parameters={"who": "ada"},
        progress=lambda done, total, message: steps.append((done, total, message)),
    )
    assert result.exit_value == "hello ada"
    assert result.cells_run == [1, 2]
    assert steps[0] == (0, 3, "cell 1 (dbutils.widgets.text('who', 'nobody'))")
    assert steps[-1] == (3, 3, "done")

    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(Cancelled, match="cancelled before cell 1"):
        runner.run(nb("print('x')"), cancelled=cancelled)


def test_dbutils_secrets_and_fs(runner: NotebookRunner, tmp_path: Path) -> None:
    (tmp_path / "lake" / "raw").mkdir()
    (tmp_path / "lake" / "raw" / "a.csv").write_text("x, y\n1, 2\n", encoding="utf-8")
    registered: list[str] = []
    runner.on_secret = registered.append
    lines: list[str] = []
    source = nb(
        "assert [s.name for s in dbutils.secrets.listScopes()] == ['data-lake']\n"
        "assert 'sp-app-id' in [s.key for s in dbutils.secrets.list('data-lake')]\n"
        "password = dbutils.secrets.get(scope='data-lake', key='sp-password')",
        "configs = {'fs.azure.account.oauth2.client.secret': password}\n"
        f"dbutils.fs.mount(source='{FQDN}/', mount_point='/mnt/datalake', extra_configs=configs)\n"
        "display(dbutils.fs.ls('/mnt/datalake/raw'))\n"
        "head = dbutils.fs.head('dbfs:/mnt/datalake/raw/a.csv')\n"
        "dbutils.fs.put('/tmp/note.txt', 'kept in dbfs')\n"
        "mounts = [m.mountPoint for m in dbutils.fs.mounts()]",
        "dbutils.secrets.get('data-lake', 'no-such-key')",
    )
    with pytest.raises(NotebookError) as caught:
        runner.run(source, log=lines.append)
    assert str(caught.value) == (
        "cell 3 (dbutils.secrets.get('data-lake', 'no-such-key')) failed: "
        "DbutilsError: Secret does not exist with scope: data-lake and key: no-such-key"
    )
    assert SECRETS["sp-password"] in registered
    assert any(line.startswith("dbfs:/mnt/datalake/raw/a.csv | a.csv | 10") for line in lines)
    assert (tmp_path / "work" / "dbfs" / "tmp" / "note.txt").read_text() == "kept in dbfs"
    assert [m.mountPoint for m in runner.dbfs.mounts()] == ["/mnt/datalake"]
    # The mount outlives the run, as on a cluster; mounting again is refused.
    with pytest.raises(NotebookError, match="already mounted"):
        runner.run(nb(f"dbutils.fs.mount('{FQDN}', '/mnt/datalake', extra_configs={{}})"))
    with pytest.raises(NotebookError, match="Nothing is mounted under /mnt/"):
        runner.run(nb("dbutils.fs.ls('/mnt/elsewhere')"))


def test_mount_resolver_refuses_bad_credentials(runner: NotebookRunner) -> None:
    with pytest.raises(NotebookError, match="credentials were refused"):
        runner.run(nb(f"dbutils.fs.mount('{FQDN}', '/mnt/datalake', extra_configs={{}})"))


def spark_available() -> tuple[bool, str]:
    if importlib.util.find_spec("pyspark") is None:
        return False, "pyspark is not installed"
    if shutil.which("java") is None:
        return False, "Java is not installed (Spark needs a JDK 17)"
    return True, ""


@pytest.mark.slow
def test_training_notebook_trains_and_registers(tmp_path: Path) -> None:
    ok, reason = spark_available()
    require(ok, reason)
    require_lab_data()
    lake = tmp_path / "lake"
    lake.mkdir()
    shutil.copy(LAB_DATA, lake / "AdultCensusIncome.csv")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = MlflowSettings(
        tracking_uri, experiment="train_model", artifact_location=(tmp_path / "mlruns").as_uri()
    )
    lines: list[str] = []
    masked: list[str] = []
    with NotebookRunner(
        secrets=DictSecrets({"data-lake": SECRETS}),
        resolve_mount=lake_resolver(lake),
        work_dir=tmp_path / "work",
        on_secret=masked.append,
    ) as runner:
        result = runner.run(
            NOTEBOOK,
            parameters={"work_dir": str(tmp_path / "train")},
            mlflow=settings,
            log=lines.append,
        )
    print("\n".join(lines))
    assert result.cells_skipped == [1]
    outputs = tmp_path / "train" / "outputs"
    assert sorted(p.name for p in outputs.iterdir()) == [
        "model.pkl",
        "x_scaler.pkl",
        "y_scaler.pkl",
    ]
    assert "rows: 32561" in lines
    assert result.exit_value is not None, "the notebook hands its results on as its exit value"
    results = json.loads(result.exit_value)
    assert not (tmp_path / "train" / "results.json").exists()
    metrics = results["metrics"]
    assert abs(metrics["r2"]) < 0.01  # the world's worst regression explains nothing
    assert 50_000 < metrics["mae"] < 100_000
    assert results["rows"] == {"train": 21815, "test": 10746}
    assert len(results["test"]["actual"]) == len(results["test"]["predicted"]) == 10746
    assert set(SECRETS.values()) <= set(masked)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = client.search_model_versions(
        "name = 'worst_regression' and tags.state = 'dev' and tags.created_by = 'ada'"
    )
    assert [str(v.version) for v in versions] == ["1"]
    run = client.get_run(versions[0].run_id)
    assert run.data.metrics["mae"] == pytest.approx(metrics["mae"])
    assert run.data.metrics["r2"] == pytest.approx(metrics["r2"])
    assert results["model"] == {"name": "worst_regression", "version": "1"}
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "outputs")}
    assert artifacts == {"outputs/model.pkl", "outputs/x_scaler.pkl", "outputs/y_scaler.pkl"}


@pytest.mark.slow
def test_cancel_stops_a_running_spark_job_and_ctrl_c_stays_labtuis(
    runner: NotebookRunner,
) -> None:
    ok, reason = spark_available()
    require(ok, reason)

    def labtui_handler(signum: int, frame: object) -> None:
        raise AssertionError("only installed to be found again")

    previous = signal.signal(signal.SIGINT, labtui_handler)
    try:
        cancelled = threading.Event()
        source = nb(
            "print(spark.range(10).count())",
            "import time\n"
            "spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(90)).count()",
            "raise AssertionError('not reached')",
        )
        lines: list[str] = []

        def log(line: str) -> None:
            lines.append(line)
            if line.startswith("[cell 2 "):
                threading.Timer(3, cancelled.set).start()

        with pytest.raises(Cancelled, match="cancelled in cell 2"):
            runner.run(source, log=log, cancelled=cancelled)
        # pyspark installs its own SIGINT handler when it starts; labtui's is back in place.
        assert signal.getsignal(signal.SIGINT) is labtui_handler
        assert "[cancelling the running Spark jobs]" in lines
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sample_data_has_the_lab_header(tmp_path: Path) -> None:
    path = sample_data.write(tmp_path / "AdultCensusIncome.csv", count=50)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == require_lab_data().read_text(encoding="utf-8").splitlines()[0]
    assert len(lines) == 51
    assert all(len(line.split(", ")) == 15 for line in lines)
    assert sample_data.text(50) == path.read_text(encoding="utf-8")


def test_a_log_that_prints_does_not_feed_itself(
    runner: NotebookRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    # The headless console's log writes to the terminal: during a cell that is the thread
    # whose prints the runner captures.
    import sys

    def log(line: str) -> None:
        print(f"log: {line}", file=sys.stderr)

    runner.run(nb("print('hello')"), log=log)
    assert "log: hello" in capsys.readouterr().err


JVM_PROBE = '''
import os, sys
from pathlib import Path
from labtui.targets.local.notebook_runner import DictSecrets, NotebookRunner

SOURCE = """# Databricks notebook source
import os
from pyspark import SparkContext
spark.range(1).count()  # starts the session, and so the JVM
jvm = SparkContext._gateway.proc.pid
with open(f"/proc/{jvm}/environ", "rb") as handle:
    items = handle.read().split(b"\\\\0")
jvm_names = sorted(item.split(b"=", 1)[0].decode() for item in items if item)
worker = spark.sparkContext.parallelize([0], 1).map(lambda _: sorted(os.environ))
worker_names = worker.collect()[0]
print("jvm", ",".join(jvm_names))
print("worker", ",".join(worker_names))
"""
lines = []
with NotebookRunner(secrets=DictSecrets({}), resolve_mount=lambda s, c: Path("/"),
                    work_dir=Path(sys.argv[1])) as runner:
    runner.run(SOURCE, log=lines.append)
print("\\n".join(line for line in lines if line.startswith(("jvm ", "worker "))))
print("still here:", os.environ["LABTUI_DATABRICKS_TOKEN"][:4])
'''


@pytest.mark.slow
def test_the_spark_jvm_and_its_workers_get_no_tokens(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    ok, reason = spark_available()
    require(ok, reason)
    secrets = {"LABTUI_DATABRICKS_TOKEN": "dapi0123456789abcdef0123456789abcdef",
               "DATABRICKS_TOKEN": "dapifedcba9876543210fedcba9876543210",
               "AZURE_CLIENT_SECRET": "a-service-principal-password",
               "LABTUI_DEVOPS_TOKEN": "devops-pat-value"}
    env = {**os.environ, **secrets}
    done = subprocess.run([sys.executable, "-c", JVM_PROBE, str(tmp_path / "work")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    jvm, worker = lines["jvm"].split(","), lines["worker"].split(",")
    assert "JAVA_HOME" in jvm or "PATH" in jvm
    for names in (jvm, worker):
        assert not set(secrets) & set(names), names
    assert lines["still"] == "here: dapi", "labtui's own environment is left as it was"


@pytest.mark.slow
def test_two_clusters_notebooks_share_the_process_spark_and_read_their_own_mounts(
        tmp_path: Path) -> None:
    """Two workspaces' clusters in one process (the dev loop's training and the build
    pipeline's at once): the process has one SparkContext, and one runner ending must not stop
    it under the other, whose notebook still reads its own data lake through its mount."""
    ok, reason = spark_available()
    require(ok, reason)
    read = nb(
        'dbutils.fs.mount(source="abfss://datalake@contoso7dev.dfs.core.windows.net/", '
        'mount_point="/mnt/datalake", extra_configs={"fs.azure.account.oauth2.client.secret": '
        f'{SECRETS["sp-password"]!r}}})',
        'print("rows:", spark.read.csv("/mnt/datalake/data.csv", header=True).count())',
    )
    lakes = []
    for name, rows in (("dev", 3), ("pipeline", 5)):
        lake = tmp_path / name / "lake"
        lake.mkdir(parents=True)
        (lake / "data.csv").write_text("a,b\n" + "1,2\n" * rows, encoding="utf-8")
        lakes.append(lake)
    first = NotebookRunner(secrets=DictSecrets({}), resolve_mount=lake_resolver(lakes[0]),
                           work_dir=tmp_path / "dev" / "work")
    second = NotebookRunner(secrets=DictSecrets({}), resolve_mount=lake_resolver(lakes[1]),
                            work_dir=tmp_path / "pipeline" / "work")
    try:
        lines: list[str] = []
        first.run(read, name="dev", log=lines.append)
        second.run(read, name="pipeline", log=lines.append)
        first.close()  # the dev loop's run ends while the pipeline's cluster goes on
        again = nb('print("rows:", spark.read.csv("/mnt/datalake/data.csv", '
                   'header=True).count())')
        second.run(again, name="pipeline-again", log=lines.append)
        assert [line for line in lines if line.startswith("rows:")] == [
            "rows: 3", "rows: 5", "rows: 5"]
    finally:
        first.close()
        second.close()
