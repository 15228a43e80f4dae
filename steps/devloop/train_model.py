"""`train-model`: the training notebook run on the dev cluster from the attendee's Git folder,
its model registered in the dev ML workspace and its results kept.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from labtui_steps.databricks_host import databricks_host
from labtui_steps.devloop import records
from labtui_steps.devloop.common import model_tags, newest_model
from labtui_steps.devops.common import git_folder_path, notebook_path
from labtui_steps.fields import (
    BRANCH,
    CLUSTER_NAME,
    CREATED_BY,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    GIT_USERNAME,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
)

from labtui.step import Change, Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import NotFound

MODEL_FILES = ("model.pkl", "x_scaler.pkl", "y_scaler.pkl")


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
    place = 1
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
