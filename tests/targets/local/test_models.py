"""The local model registry: MLflow on SQLite per ML workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import NotFound
from labtui.targets.local import LocalTarget
from tests.targets.local.conftest import adb_ref, local_host, ml_ref


def test_register_list_and_download_by_name_and_tags(target: LocalTarget, group: str,
                                                     tmp_path: Path) -> None:
    models = target.models
    models.create_workspace(ml_ref(target, group, "lab-ml-dev"), "eastus")
    source = tmp_path / "outputs"
    source.mkdir()
    (source / "model.pkl").write_bytes(b"first model")
    first = models.register_model("lab-ml-dev", "worst_regression", source,
                                  {"state": "dev", "created_by": "ada"})
    (source / "model.pkl").write_bytes(b"second model")
    second = models.register_model("lab-ml-dev", "worst_regression", source,
                                   {"state": "pipeline", "created_by": "pipeline"})
    assert (first.version, second.version) == (1, 2)
    found = models.list_models("lab-ml-dev", "worst_regression", {"state": "dev"})
    assert [(m.version, m.tags["created_by"]) for m in found] == [(1, "ada")]
    folder = models.download_model("lab-ml-dev", "worst_regression", tmp_path / "dl",
                                   tags={"state": "dev"})
    assert (folder / "model.pkl").read_bytes() == b"first model"
    with pytest.raises(NotFound, match="no version with tags"):
        models.download_model("lab-ml-dev", "worst_regression", tmp_path / "dl2",
                              tags={"state": "prod"})
    assert models.delete_model("lab-ml-dev", "worst_regression") is True
    assert models.list_models("lab-ml-dev") == []
    assert models.delete_workspace(ml_ref(target, group, "lab-ml-dev")) is True
    assert not (target.sandbox_path / "ml" / "lab-ml-dev").exists()


NOTEBOOK = '''# Databricks notebook source
import os

import mlflow

dbutils.widgets.text("work_dir", "/tmp/unused")
outputs = os.path.join(dbutils.widgets.get("work_dir"), "outputs")
os.makedirs(outputs, exist_ok=True)
for name in ("x_scaler.pkl", "y_scaler.pkl", "model.pkl"):
    with open(os.path.join(outputs, name), "wb") as handle:
        handle.write(name.encode())

# COMMAND ----------

with mlflow.start_run(run_name="worst_regression"):
    mlflow.log_params({"features": "age, hours-per-week", "test_size": 0.33})
    mlflow.log_metric("mae", 77981.0)
    mlflow.log_metric("r2", 0.005)
    registered = register_model("worst_regression", outputs, {"state": "dev"},
                                "Linear regression of fnlwgt (the world's worst).")
print(f"registered version {registered['version']}")
'''
NOTEBOOK_PATH = "/Shared/Project_One/train_model"


def _notebook_lab(target: LocalTarget, group: str) -> tuple[str, str]:
    """An ML workspace, a Databricks workspace with a cluster and the data-lake scope that
    names the ML workspace, and the notebook imported: what train-model runs."""
    target.models.create_workspace(ml_ref(target, group, "lab-ml-dev"), "eastus")
    databricks = target.databricks
    databricks.create_workspace(adb_ref(target, group, "lab-adb-dev"), "eastus")
    adb = local_host(databricks, "lab-adb-dev")
    cluster = databricks.create_cluster(adb, "lab-dev", node_type="Standard_DS3_v2",
                                        spark_version="15.4.x-scala2.12", num_workers=1,
                                        autotermination_minutes=120)
    databricks.create_secret_scope(local_host(databricks, "lab-adb-dev"), "data-lake")
    adb = local_host(databricks, "lab-adb-dev")
    databricks.put_scope_secret(adb, "data-lake", "ml-workspace-name", "lab-ml-dev")
    databricks.import_notebook(local_host(databricks, "lab-adb-dev"), NOTEBOOK_PATH, NOTEBOOK)
    return "lab-adb-dev", cluster.cluster_id


def test_the_version_points_at_the_training_run_and_its_files_stay_in_the_workspace(
        target: LocalTarget, group: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "where-labtui-was-started"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    workspace, cluster = _notebook_lab(target, group)
    lines: list[str] = []
    adb = local_host(target.databricks, workspace)
    run = target.databricks.run_notebook(adb, cluster, NOTEBOOK_PATH,
                                         params={"work_dir": str(tmp_path / "run")},
                                         log=lines.append)
    assert "registered version 1" in lines
    assert run.state == "SUCCESS" and run.cells > 0
    assert run.exit_value is None, "this notebook does not call dbutils.notebook.exit"

    from mlflow import MlflowClient

    uri = target.models.tracking_uri("lab-ml-dev")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (version,) = client.search_model_versions("name = 'worst_regression'")
    assert version.description == "Linear regression of fnlwgt (the world's worst)."
    run = client.get_run(version.run_id)
    assert run.data.metrics == {"mae": 77981.0, "r2": 0.005}
    assert run.data.params == {"features": "age, hours-per-week", "test_size": "0.33"}
    assert client.get_experiment(run.info.experiment_id).name == NOTEBOOK_PATH
    folder = target.models.download_model("lab-ml-dev", "worst_regression", tmp_path / "dl")
    assert sorted(p.name for p in folder.iterdir()) == ["model.pkl", "x_scaler.pkl",
                                                        "y_scaler.pkl"]

    store = target.sandbox_path.resolve()
    experiments = client.search_experiments(view_type=3)
    assert {e.name for e in experiments} >= {"Default", NOTEBOOK_PATH}
    for experiment in experiments:
        location = Path(experiment.artifact_location.removeprefix("file://"))
        assert location.resolve().is_relative_to(store), (experiment.name, location)
    assert list(elsewhere.iterdir()) == [], "nothing lands where labtui was started"

    # train-model's rollback: the experiment's runs and their files go, the name is free.
    assert target.models.delete_model("lab-ml-dev", "worst_regression") is True
    assert target.models.delete_experiment("lab-ml-dev", NOTEBOOK_PATH) is True
    assert client.get_experiment_by_name(NOTEBOOK_PATH) is None
    assert client.search_runs([run.info.experiment_id]) == []
    assert not Path(run.info.artifact_uri.removeprefix("file://")).exists()
    assert target.models.delete_experiment("lab-ml-dev", NOTEBOOK_PATH) is False
    target.databricks.run_notebook(local_host(target.databricks, workspace), cluster, NOTEBOOK_PATH,
                                   params={"work_dir": str(tmp_path / "again")},
                                   log=lines.append)
    assert [v.version for v in target.models.list_models("lab-ml-dev")] == [1]


def test_listing_and_fetching_versions_does_not_load_mlflow(target: LocalTarget, group: str,
                                                            tmp_path: Path) -> None:
    """A proctor's status pass verifies train-model for every attendee: its reads must not pay
    MLflow's import and store opening (about two seconds a process)."""
    import subprocess
    import sys

    target.models.create_workspace(ml_ref(target, group, "lab-ml-dev"), "eastus")
    source = tmp_path / "outputs"
    source.mkdir()
    (source / "model.pkl").write_bytes(b"the model")
    target.models.register_model("lab-ml-dev", "worst_regression", source, {"state": "dev"})
    target.models.delete_model("lab-ml-dev", "worst_regression")
    target.models.register_model("lab-ml-dev", "worst_regression", source,
                                 {"state": "dev", "created_by": "ada"})
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from labtui.targets.local import LocalTarget\n"
        "target = LocalTarget(Path(sys.argv[1]))\n"
        "found = target.models.list_models('lab-ml-dev', 'worst_regression', {'state': 'dev'})\n"
        "print([(v.version, v.tags['created_by']) for v in found])\n"
        "folder = target.models.download_model('lab-ml-dev', 'worst_regression',\n"
        "                                      Path(sys.argv[2]), version=found[-1].version)\n"
        "print((folder / 'model.pkl').read_bytes())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'sqlalchemy'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(target.workspace),
                           str(tmp_path / "dl")], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[(1, 'ada')]", "b'the model'", "[]"]
