"""The lab's "Dev loop": train the model from the notebook, write a test, build the inference
image, and run the tests with coverage inside it.

Everything happens in the dev environment. The code comes from the attendee's working copy (their
branch, with whatever they changed), the model from the dev ML workspace's registry.
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from labtui_steps import records
from labtui_steps.databricks_host import databricks_host
from labtui_steps.devops.common import git_folder_path, notebook_path
from labtui_steps.devops.common import working_copy_path as repo_path
from labtui_steps.fields import (
    BASE_IMAGE,
    BRANCH,
    CA_BUNDLE,
    CLUSTER_NAME,
    CREATED_BY,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    GIT_USERNAME,
    IMAGE_NAME,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
)
from labtui_steps.images import (
    PURPOSE_LABEL,
    remove_dangling,
    remove_verify_servers,
)

from labtui.step import Change, Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import (
    BuildFailed,
    ModelVersion,
    NotFound,
    TargetError,
)

MODEL_FILES = ("model.pkl", "x_scaler.pkl", "y_scaler.pkl")
SAMPLE_INPUT = {"age": 37, "hours-per-week": 40.0, "sex": "Female",
                "occupation": "Exec-managerial"}
TESTS_FOLDER = "Project_One-Tests"
SERVER_PORT = 5001
RESULTS_IN_IMAGE = "/var/azureml-app/test_results"
TESTS_TIMEOUT = 600.0
ANSWER_KEY = "estimated_wages"
"""The key of the scoring answer, as the lab documents it: {"estimated_wages": float}."""
REFERENCE_TEST = '''

def test_run_returns_a_numeric_estimate():
    """Reference answer (labtui --solve): scoring the lab's sample gives a number."""
    from inference_code.model_class import MyModel

    model = MyModel()
    model.init()
    answer = model.score('{"age": 37, "hours-per-week": 40.0, "sex": "Female", '
                         '"occupation": "Exec-managerial"}')
    assert isinstance(answer["estimated_wages"], float)
'''


def model_tags(ctx: StepContext) -> dict[str, str]:
    """The tags the notebook registers with: the environment as state, and created_by."""
    return {"state": ctx.env or "dev", "created_by": ctx.value("created-by")}


def newest_model(ctx: StepContext, *, advice: str = "; run train-model first") -> ModelVersion:
    """The newest registered version of the lab's model with this environment's tags.

    Raises:
        StepError: there is none (train-model has not run); `advice` ends the message.
    """
    try:
        versions = ctx.target.models.list_models(ctx.value("ml-workspace-name"),
                                                 ctx.value("model-name"), model_tags(ctx))
    except NotFound as exc:
        raise StepError(f"{exc}{advice}") from None
    if not versions:
        raise StepError(
            f"no version of {ctx.value('model-name')} with tags {model_tags(ctx)}{advice}")
    return versions[-1]


def working_copy(ctx: StepContext) -> Path:
    """The attendee's clone, which must exist (seed-repo made it)."""
    path = repo_path(ctx)
    if not (path / ".git").is_dir():
        raise StepError(f"no working copy at {path}; run seed-repo first")
    return path


def image_tag(ctx: StepContext, repository: str, version: ModelVersion) -> str:
    """`repository:<model version>-<workspace id>`: unique per workspace on a shared engine,
    where two attendees may well pick the same prefix."""
    return f"{repository}:{version.version}-{ctx.target.containers.owner}"


# -- train-model ---------------------------------------------------------------------------------


def metrics_check(metrics: Path) -> Check:
    """train-model's check that it kept its results, with the model's MAE and R² in the line."""
    hint = "run this step again"
    if not metrics.exists():
        return Check("metrics", False, "no metrics.json", hint)
    try:
        data = json.loads(metrics.read_text(encoding="utf-8"))
        mae, r2, rows = float(data["mae"]), float(data["r2"]), len(data["actual"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Check("metrics", False, f"metrics.json cannot be read ({type(exc).__name__}: "
                     f"{exc})", hint)
    return Check("metrics", True, f"MAE {mae:,.1f}, R² {r2:.4f} on {rows:,} test rows", hint)


class TrainModel(Step):
    """Import the training notebook into Databricks, run it on the dev cluster, keep results."""

    id = "train-model"
    title = "Train the world's worst regression"
    section = "Dev loop"
    summary = ("Run Project_One/notebooks/train_model.py from your branch on the dev cluster: it "
               "mounts the data lake with the secret scope's service principal, trains fnlwgt "
               "on age and hours-per-week, and registers worst_regression with its tags.")
    requires = ("git-integration", "secrets", "upload-data", "ml-workspace")
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, BRANCH, GIT_USERNAME,
              DATABRICKS_WORKSPACE, CLUSTER_NAME, ML_WORKSPACE, MODEL_NAME, CREATED_BY)

    def run(self, ctx: StepContext) -> None:
        branch = ctx.value("branch")
        databricks = ctx.target.databricks
        # As "Pull" in the Git folder does: the newest commit of the branch, then run it.
        try:
            host = databricks_host(ctx)
            folder = databricks.update_git_folder(host, git_folder_path(ctx), branch)
        except NotFound as exc:
            raise StepError(f"{exc}: run git-integration first") from None
        notebook = notebook_path(ctx)
        ctx.log(f"pulled {branch} into {folder.path} at {folder.head_commit[:10]}")
        cluster = ctx.outputs.get("cluster-id", step="databricks")
        if cluster is None:
            raise StepError("the databricks step has no cluster; run databricks first")
        ml_workspace, name = ctx.value("ml-workspace-name"), ctx.value("model-name")
        # The notebook's runs (metrics, parameters, the model files) go to the experiment
        # named after its path; rollback removes them with the model.
        ctx.journal.record(records.Experiment(notebook, workspace=ml_workspace))
        ctx.journal.record(records.Model(ml_workspace, name))
        work_dir = ctx.artifacts / "run"
        if work_dir.exists():
            shutil.rmtree(work_dir)
        results = databricks.run_notebook(
            host, cluster, notebook, params={"work_dir": str(work_dir)},
            log=ctx.log, progress=lambda done, total, text: ctx.progress(done, total, text),
            cancelled=ctx.cancelled,
        )
        if results.exit_value is None:
            raise StepError("the notebook finished without its results: its last cell must "
                            "end with dbutils.notebook.exit(json.dumps(results))")
        try:
            data = json.loads(results.exit_value)
        except ValueError:
            raise StepError("the notebook's exit value is not JSON: its last cell must end "
                            "with dbutils.notebook.exit(json.dumps(results))") from None
        metrics = {"mae": data["metrics"]["mae"], "r2": data["metrics"]["r2"],
                   "actual": data["test"]["actual"], "predicted": data["test"]["predicted"],
                   "model": data["model"], "tags": data["tags"]}
        metrics_file = ctx.artifacts / "metrics.json"
        metrics_file.write_text(json.dumps(metrics))
        ctx.outputs.set("model-version", str(data["model"]["version"]))
        ctx.log(f"notebook run {results.run_id}: registered {name} version "
                f"{data['model']['version']} (MAE {metrics['mae']:,.1f}, R² {metrics['r2']:.4f})")
        ctx.publish("metrics", metrics_file)

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            version = newest_model(ctx, advice="")
        except StepError as exc:
            return Verdict.of(Check("registered model", False, str(exc), "run this step"))
        checks = [Check("registered model", True,
                        f"{version.name} version {version.version} tagged {model_tags(ctx)}")]
        with tempfile.TemporaryDirectory() as scratch:
            folder = ctx.target.models.download_model(
                ctx.value("ml-workspace-name"), version.name, Path(scratch),
                version=version.version)
            files = {path.name for path in folder.iterdir()}
        missing = [name for name in MODEL_FILES if name not in files]
        checks.append(Check("model files", not missing,
                            "missing " + ", ".join(missing) if missing else ", ".join(MODEL_FILES),
                            "the notebook's 'Write the model files' cell must write all three"))
        checks.append(metrics_check(ctx.artifacts / "metrics.json"))
        return Verdict(tuple(checks))

    def _notebook_change(self, ctx: StepContext) -> Change:
        workspace, path = ctx.value("databricks-workspace"), git_folder_path(ctx)
        try:
            ctx.target.databricks.git_folder(databricks_host(ctx), path)
        except NotFound:
            return Change("create", "git folder", path,
                          f"git-integration clones the repository into {workspace} first")
        return Change("change", "git folder", path,
                      f"pull branch {ctx.value('branch')}, then run {notebook_path(ctx)}")

    def _training(self, ctx: StepContext, why: str) -> Change:
        return Change("create", "model version", ctx.value("model-name"),
                      f"{why}: the notebook trains on cluster {ctx.value('cluster-name')} and "
                      "registers a new version tagged "
                      + ", ".join(f"{k}={v}" for k, v in model_tags(ctx).items()))

    def plan(self, ctx: StepContext) -> list[Change]:
        if self.verify(ctx).ok:
            version = newest_model(ctx)
            return [Change("keep", "model version", f"{version.name} {version.version}",
                           f"tagged {model_tags(ctx)}")]
        return [self._notebook_change(ctx), self._training(ctx, "not trained yet")]

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        try:
            why = f"trained again, after version {newest_model(ctx, advice='').version}"
        except StepError:
            why = "not trained yet"
        return [self._notebook_change(ctx), self._training(ctx, why)]


# -- write-test ----------------------------------------------------------------------------------


def count_tests(folder: Path) -> int:
    """Test functions pytest would collect from test_*.py files (top level and in Test classes)."""
    count = 0
    for path in sorted(folder.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as exc:
            raise StepError(f"{path.name} line {exc.lineno}: {exc.msg}") from None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.startswith("test"):
                count += 1
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                count += sum(1 for item in node.body
                             if isinstance(item, ast.FunctionDef) and item.name.startswith("test"))
    return count


def test_file(ctx: StepContext) -> Path:
    """Where the attendee writes their test: absolute, known before the working copy exists."""
    return (repo_path(ctx) / TESTS_FOLDER / "test_model.py").resolve()


class WriteTest(Step):
    """Manual: the attendee adds a unit test to Project_One-Tests; verify runs them."""

    id = "write-test"
    title = "Write a unit test"
    section = "Dev loop"
    summary = ("Add one more test to Project_One-Tests/test_model.py (the example checks that "
               "x_scaler is populated by init). Verify counts and runs the tests.")
    manual = True
    requires = ("train-model",)
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, ML_WORKSPACE, MODEL_NAME, CREATED_BY)

    def _publish(self, ctx: StepContext, tests: Path) -> None:
        ctx.outputs.set("test-file", str(tests))
        ctx.publish("test-file", tests)

    def run(self, ctx: StepContext) -> None:
        tests = test_file(ctx)
        working_copy(ctx)
        self._publish(ctx, tests)
        ctx.log(f"This step is yours: open {tests}, add a test (pytest style, e.g. that "
                "run() returns a number for the lab's sample input), save, then verify.")

    def verify(self, ctx: StepContext) -> Verdict:
        import labtui_assets

        tests = test_file(ctx)
        ctx.publish("test-file", tests)  # front ends show it (and open it) from the start
        try:
            folder = working_copy(ctx) / TESTS_FOLDER
        except StepError as exc:
            return Verdict.of(Check("test file", False, f"{tests} (not there yet: {exc})",
                                    "run seed-repo first"))
        if not tests.is_file():
            return Verdict.of(Check("test file", False, f"{tests} does not exist",
                                    "restore it from your branch (git checkout -- .)"))
        given = count_tests(labtui_assets.root() / TESTS_FOLDER)
        found = count_tests(folder)
        checks = [Check("test file", True, str(tests)),
                  Check("tests written", found > given,
                        f"{found} test{'s' if found != 1 else ''} ({given} given)",
                        f"add a test function named test_… to {tests}")]
        if found > given:
            try:
                checks.append(self._run_tests(ctx, folder))
            except StepError as exc:
                checks.append(Check("tests pass", False, str(exc), "run train-model first"))
        return Verdict(tuple(checks))

    def _run_tests(self, ctx: StepContext, folder: Path) -> Check:
        from labtui_steps.unit_tests import run_unit_tests

        model_dir = ctx.artifacts / "model"
        if model_dir.exists():
            shutil.rmtree(model_dir)
        version = newest_model(ctx)
        files = ctx.target.models.download_model(
            ctx.value("ml-workspace-name"), version.name, model_dir, version=version.version)
        junit = ctx.artifacts / "test_results" / "junit.xml"
        try:
            ran = run_unit_tests(folder, folder.parent / "Project_One", files, junit)
        except StepError as exc:
            return Check("tests pass", False, str(exc), "the output of pytest is in the log")
        for line in ran.output:
            ctx.log(line)
        return Check("tests pass", ran.ok, ran.explanation(),
                     f"fix the failing test in {folder} (pytest's output is in the step log)")

    def plan(self, ctx: StepContext) -> list[Change]:
        import labtui_assets

        tests = test_file(ctx)
        try:
            found = count_tests(working_copy(ctx) / TESTS_FOLDER)
        except StepError as exc:
            return [Change("change", "test file", str(tests), f"yours to write, once {exc}")]
        if found > count_tests(labtui_assets.root() / TESTS_FOLDER):
            return [Change("keep", "test file", str(tests),
                           f"{found} tests: verify runs them with pytest")]
        return [Change("change", "test file", str(tests),
                       "yours to write: add a test function (--solve adds the reference "
                       "test)")]

    def solve(self, ctx: StepContext) -> None:
        working_copy(ctx)
        tests = test_file(ctx)
        self._publish(ctx, tests)
        original = tests.read_text(encoding="utf-8")
        if "def test_run_returns_a_numeric_estimate" in original:
            ctx.log("the reference test is already there")
            return
        ctx.journal.record(records.ReferenceTest(str(tests), original=original))
        tests.write_text(original.rstrip("\n") + "\n" + REFERENCE_TEST, encoding="utf-8")
        ctx.log(f"added test_run_returns_a_numeric_estimate to {tests}")


# -- build-image ---------------------------------------------------------------------------------


def _copy_ca_bundle(ctx: StepContext, context: Path) -> None:
    bundle = ctx.values.get("ca-bundle")
    if not bundle:
        return
    source = Path(bundle).expanduser()
    if not source.is_file():
        raise StepError(f"ca-bundle: {source} is not a file")
    shutil.copyfile(source, context / "ca-bundle.crt")


def _remove_quietly(ctx: StepContext, container: str) -> None:
    """Remove a container on the way out of a failure too; when the engine is gone, the
    journal keeps it for the rollback."""
    try:
        ctx.target.containers.remove_container(container)
    except TargetError as exc:
        ctx.log.warn(f"container {container} could not be removed now ({exc}); "
                     "--rollback removes it")


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _image_labels(ctx: StepContext, version: ModelVersion) -> dict[str, str]:
    labels = {"labtui.model.name": version.name, "labtui.model.version": str(version.version)}
    labels.update({f"labtui.model.tag.{key}": value for key, value in version.tags.items()})
    return labels


def _wait_healthy(url: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(0.25)
    raise StepError(f"the inference server did not become healthy in {timeout:.0f} s ({last})")


def score(url: str, payload: dict[str, object]) -> object:
    """POST a JSON body to the server's /score and return the decoded answer."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read().decode())
    except urllib.error.HTTPError as exc:
        raise StepError(f"POST /score answered HTTP {exc.code}: "
                        f"{exc.read().decode(errors='replace')[:200]}") from None
    except (urllib.error.URLError, ValueError) as exc:
        raise StepError(f"POST /score failed: {exc}") from None


class BuildImage(Step):
    """Build the inference image: score.py + inference_code + the registered model files."""

    id = "build-image"
    title = "Build the inference container"
    section = "Dev loop"
    summary = ("Download worst_regression from the dev registry, build an image that serves "
               "score.py the way Azure ML does (azureml-inference-server-http), and check that "
               "it answers a scoring request.")
    requires = ("train-model",)
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, ML_WORKSPACE, MODEL_NAME,
              CREATED_BY, IMAGE_NAME, BASE_IMAGE, CA_BUNDLE)

    def tag(self, ctx: StepContext, version: ModelVersion) -> str:
        return image_tag(ctx, ctx.value("image-name"), version)

    def run(self, ctx: StepContext) -> None:
        containers = ctx.target.containers
        ctx.log(f"Docker engine {containers.ping()}")
        version = newest_model(ctx)
        code = working_copy(ctx) / "Project_One"
        context = _fresh(ctx.artifacts / "context")
        for name in ("Dockerfile", "requirements.txt", "score.py", "inference_code"):
            source = code / name
            if source.is_dir():
                shutil.copytree(source, context / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.exists():
                shutil.copy2(source, context / name)
            else:
                raise StepError(f"Project_One/{name} is missing from your working copy")
        ctx.target.models.download_model(ctx.value("ml-workspace-name"), version.name,
                                         context / "model", version=version.version)
        _copy_ca_bundle(ctx, context)
        tag = self.tag(ctx, version)
        ctx.journal.record(records.Image(tag))
        ctx.log(f"building {tag} from {ctx.value('base-image')} with model version "
                f"{version.version}")
        image = containers.build(
            context, tag, build_args={"BASE_IMAGE": ctx.value("base-image"),
                                      "MODEL_NAME": version.name,
                                      "MODEL_VERSION": str(version.version)},
            labels=_image_labels(ctx, version), log=ctx.log,
            progress=lambda done, total: ctx.progress(done, total, f"layer {done + 1} of {total}"),
            cancelled=ctx.cancelled,
        )
        remove_dangling(ctx)
        ctx.outputs.set("image", tag)
        ctx.outputs.set("image-id", image.id)
        ctx.log(f"built {tag} ({image.id[:19]})")

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            version = newest_model(ctx, advice="")
        except StepError as exc:
            return Verdict.of(Check("model", False, str(exc), "run train-model first"))
        tag = self.tag(ctx, version)
        containers = ctx.target.containers
        try:
            image = containers.image(tag)
        except NotFound:
            return Verdict.of(Check("image", False, f"{tag} does not exist", "run this step"))
        except TargetError as exc:
            return Verdict.of(Check("Docker engine", False, str(exc),
                                    "start a Docker engine, then verify again"))
        expected = _image_labels(ctx, version)
        wrong = [key for key, value in expected.items() if image.labels.get(key) != value]
        checks = [Check("image", True, tag),
                  Check("labels", not wrong, "model name, version and tags" if not wrong else
                        "wrong " + ", ".join(wrong), "rebuild with --force")]
        checks.append(self._serve(ctx, tag))
        return Verdict(tuple(checks))

    def _serve(self, ctx: StepContext, tag: str) -> Check:
        containers = ctx.target.containers
        # A verify that crashed (or was killed) left its server running: not past this one.
        remove_verify_servers(ctx)
        name = f"labtui-verify-{uuid.uuid4().hex[:10]}"
        container = containers.run(tag, name=name, ports={SERVER_PORT: None},
                                   labels={PURPOSE_LABEL: "verify"})
        try:
            port = containers.container(container.id).ports.get(SERVER_PORT)
            if port is None:
                return Check("scoring", False, "the server's port is not published")
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base + "/", 60)
            answer = score(base + "/score", SAMPLE_INPUT)
            estimate = answer.get(ANSWER_KEY) if isinstance(answer, dict) else None
            ok = isinstance(estimate, int | float) and not isinstance(estimate, bool)
            return Check("scoring", ok, f"POST /score with the lab's sample → {answer}",
                         f"run() must return {{\"{ANSWER_KEY}\": <number>}}")
        except StepError as exc:
            logs = list(containers.logs(container.id))[-10:]
            for line in logs:
                ctx.log(f"  server: {line}")
            return Check("scoring", False, str(exc), "the server's last lines are in the log")
        finally:
            containers.remove_container(container.id)

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            version = newest_model(ctx)
        except StepError as exc:
            return [Change("create", "image", f"{ctx.value('image-name')}:?", str(exc))]
        tag = self.tag(ctx, version)
        try:
            ctx.target.containers.image(tag)
            return [Change("keep", "image", tag)]
        except NotFound:
            return [Change("create", "image", tag, f"model version {version.version}")]

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        changes = self.plan(ctx)
        return [Change("change", c.kind, c.ref, "rebuilt from the working copy and the "
                       "registered model files") if c.action == "keep" else c
                for c in changes]


# -- test-image ----------------------------------------------------------------------------------


class TestImage(Step):
    """Extend the inference image with the tests; run pytest with coverage inside it."""

    __test__ = False  # not a pytest test class, whatever its name
    id = "test-image"
    title = "Test the inference container"
    section = "Dev loop"
    summary = ("Build the test image on top of the inference image, run Project_One-Tests with "
               "pytest and coverage inside it, and show the JUnit and coverage results.")
    requires = ("build-image", "write-test")
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, ML_WORKSPACE, MODEL_NAME,
              CREATED_BY, IMAGE_NAME, CA_BUNDLE)

    def run(self, ctx: StepContext) -> None:
        containers = ctx.target.containers
        inference = ctx.outputs.get("image", step="build-image")
        if inference is None:
            raise StepError("build-image has not built an image; run it first")
        version = newest_model(ctx)
        context = _fresh(ctx.artifacts / "context")
        shutil.copytree(working_copy(ctx) / TESTS_FOLDER, context, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
        _copy_ca_bundle(ctx, context)
        tag = image_tag(ctx, f"{ctx.value('image-name')}-tests", version)
        ctx.journal.record(records.TestImage(tag))
        try:
            containers.build(
                context, tag, build_args={"INFERENCE_IMAGE": inference},
                labels=_image_labels(ctx, version), log=ctx.log,
                progress=lambda done, total: ctx.progress(done, total,
                                                          f"layer {done + 1} of {total}"),
                cancelled=ctx.cancelled,
            )
        except BuildFailed as exc:
            if exc.cause == "base-image":  # here the base is the inference image, not base-image
                raise StepError(f"the inference image {inference} is gone; run build-image "
                                "again") from None
            raise
        remove_dangling(ctx)
        name = f"labtui-tests-{uuid.uuid4().hex[:10]}"
        ctx.journal.record(records.Container(name))
        container = containers.run(tag, name=name, labels={PURPOSE_LABEL: "tests"})
        try:
            for line in containers.logs(container.id, follow=True):
                ctx.log(line)
                ctx.check_cancelled()
            exit_code = containers.wait(container.id, timeout=TESTS_TIMEOUT)
            results = _fresh(ctx.artifacts / "test_results")
            containers.copy_from(container.id, RESULTS_IN_IMAGE, results.parent)
        finally:
            _remove_quietly(ctx, container.id)
        self._mask(ctx, results)
        ctx.outputs.set("tests-image", tag)
        ctx.outputs.set("tested-image-id", ctx.outputs.get("image-id", step="build-image") or "")
        self._report(ctx, results, exit_code)

    @staticmethod
    def _mask(ctx: StepContext, folder: Path) -> None:
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".xml", ".html", ".txt", ".json", ".js"):
                text = path.read_text(encoding="utf-8", errors="replace")
                masked = ctx.redact(text)
                if masked != text:
                    path.write_text(masked, encoding="utf-8")

    @staticmethod
    def _report(ctx: StepContext, results: Path, exit_code: int) -> None:
        from labtui.reports import CoverageReport, ReportError, TestReport

        junit, coverage = results / "junit.xml", results / "coverage.xml"
        try:
            report = TestReport.load(junit)
        except ReportError as exc:
            raise StepError(f"no test results (pytest exited {exit_code}): {exc}") from None
        ctx.publish("junit", junit)
        if coverage.exists():
            ctx.publish("coverage", coverage)
            ctx.log(f"coverage {CoverageReport.load(coverage).percent:.0f}%")
        ctx.log(report.summary)
        if not report.ok:
            first = report.problems[0]
            raise StepError(f"{len(report.problems)} of {report.total} tests failed; "
                            f"{first.name}: {first.message}")

    def verify(self, ctx: StepContext) -> Verdict:
        from labtui.reports import ReportError, TestReport

        junit = ctx.artifacts / "test_results" / "junit.xml"
        coverage = ctx.artifacts / "test_results" / "coverage.xml"
        if not junit.exists():
            return Verdict.of(Check("test results", False, "the tests have not run yet",
                                    "run this step"))
        try:
            report = TestReport.load(junit)
        except ReportError as exc:
            return Verdict.of(Check("test results", False, str(exc), "run this step again"))
        tag = ctx.outputs.get("tests-image")
        checks = [Check("tests pass", report.ok, report.summary,
                        "fix the failing tests, then run this step again"),
                  Check("coverage", coverage.exists(), "coverage.xml collected"
                        if coverage.exists() else "no coverage.xml", "run this step again")]
        tested = ctx.outputs.get("tested-image-id")
        current = ctx.outputs.get("image-id", step="build-image")
        checks.append(Check("tested image", tested is not None and tested == current,
                            "results are for the current inference image" if tested == current
                            else "the inference image was rebuilt since the tests ran",
                            "run this step again"))
        if tag is not None:
            try:
                ctx.target.containers.image(tag)
                checks.append(Check("test image", True, tag))
            except NotFound:
                checks.append(Check("test image", False, f"{tag} is gone", "run this step"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=False)

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=True)

    def _plan(self, ctx: StepContext, *, forced: bool) -> list[Change]:
        results = ctx.artifacts / "test_results"
        try:
            version = newest_model(ctx)
        except StepError as exc:
            return [Change("create", "test image", f"{ctx.value('image-name')}-tests:?",
                           str(exc))]
        tag = image_tag(ctx, f"{ctx.value('image-name')}-tests", version)
        if not forced and self.verify(ctx).ok:
            return [Change("keep", "test image", tag),
                    Change("keep", "test results", str(results), "JUnit and coverage")]
        try:
            ctx.target.containers.image(tag)
            image: Change = Change("change", "test image", tag, "rebuilt with the tests of "
                                   "your working copy")
        except NotFound:
            base = ctx.outputs.get("image", step="build-image") or "the inference image"
            image = Change("create", "test image", tag, f"{base} + pytest + your tests")
        return [image, Change("create", "test container", f"{tag} run",
                              "pytest with coverage inside, removed afterwards"),
                Change("change" if results.exists() else "create", "test results",
                       str(results), "JUnit, Cobertura and the HTML report")]
