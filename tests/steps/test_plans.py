"""Plans say what a run (or a forced run) would really do, and name real resources."""

from __future__ import annotations

import json
from pathlib import Path

from labtui_steps import infrastructure as infra
from labtui_steps.devloop import TestImage, TrainModel, WriteTest

from labtui.step import Change
from labtui.targets.local import LocalTarget
from tests.conftest import LAB_DATA, LabtuiRunner, labtui_env, require_lab_data
from tests.steps.conftest import Lab
from tests.steps.test_unit_tests import _model_files

ANSWERS = f"""\
prefix = "contoso7"
tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
data-file = "{LAB_DATA}"
"""


def _shown(changes: list[Change]) -> list[tuple[str, str]]:
    return [(change.action, change.kind) for change in changes]


def test_a_forced_plan_of_a_trained_model_says_it_trains_again(tmp_path: Path) -> None:
    require_lab_data()
    home = tmp_path / "home"
    home.mkdir()
    lab = LabtuiRunner(tmp_path / "ws", labtui_env(
        HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), COLUMNS="200"))
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS)
    ready = lab("--step", "ml-workspace", "--env", "dev", "--with-requires", "--headless",
                "--values", str(answers))
    assert ready.code == 0, ready.output
    # What train-model leaves behind: a registered version with its tags, and the metrics.
    target = LocalTarget(lab.workspace)
    try:
        target.models.register_model("contoso7-ml-dev", "worst_regression",
                                     _model_files(tmp_path / "model"),
                                     {"state": "dev", "created_by": "dev"})
    finally:
        target.close()
    metrics = lab.workspace / "artifacts" / "train-model-dev" / "metrics.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps({"mae": 1.0, "r2": 0.0, "actual": [1.0], "predicted": [2.0]}))

    plan = lab("--step", "train-model", "--headless", "--plan")
    assert plan.code == 0, plan.output
    assert "= keep model version worst_regression 1" in plan.output
    assert "nothing to do" in plan.output

    forced = lab("--step", "train-model", "--headless", "--plan", "--force")
    assert forced.code == 0, forced.output
    assert "+ create model version worst_regression (trained again, after version 1: the " \
           "notebook trains on cluster contoso7-dev" in forced.output
    assert "create git folder /Repos/contoso7/contoso7-mlops (git-integration clones the " \
           "repository into contoso7-adb-dev first)" in forced.output
    assert "tagged state=dev, created_by=dev" in forced.output
    assert "nothing to do" not in forced.output


def test_plans_name_resources_never_checks(lab: Lab) -> None:
    upload = infra.UploadData().plan(lab.ctx(infra.UploadData, "dev"))
    assert upload == [Change("create", "data lake file",
                             "contoso7dldev/datalake/AdultCensusIncome.csv",
                             f"uploaded from {LAB_DATA}")]
    principal = infra.ServicePrincipal().plan(lab.ctx(infra.ServicePrincipal, "dev"))
    assert _shown(principal) == [("create", "service principal"), ("create", "data lake ACL"),
                                 ("create", "role assignment")]
    tests = WriteTest().plan(lab.ctx(WriteTest, "dev"))
    assert _shown(tests) == [("change", "test file")]
    assert tests[0].ref == str((lab.path / "repos" / "contoso7-mlops" /
                                "Project_One-Tests" / "test_model.py").resolve())
    assert _shown(TestImage().plan(lab.ctx(TestImage, "dev"))) == [("create", "test image")]
    trained = TrainModel().plan(lab.ctx(TrainModel, "dev"))
    assert _shown(trained) == [("create", "git folder"), ("create", "model version")]

    lab.run_section(("dev",))
    for step in (infra.UploadData, infra.ServicePrincipal):
        kept = step().plan(lab.ctx(step, "dev"))
        assert {change.action for change in kept} == {"keep"}, kept
    forced = infra.UploadData().forced_plan(lab.ctx(infra.UploadData, "dev"))
    assert _shown(forced) == [("change", "data lake file")], "a forced run uploads again"
    assert infra.KeyVault().forced_plan(lab.ctx(infra.KeyVault, "dev")) == \
        infra.KeyVault().plan(lab.ctx(infra.KeyVault, "dev")), "its run changes nothing"
