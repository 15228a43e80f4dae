"""Pieces of the Dev loop steps that need no engine: counting tests, masking result files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import labtui_assets
import pytest
from labtui_steps.devloop import TestImage
from labtui_steps.devloop.train_model import metrics_check
from labtui_steps.devloop.write_test import count_tests

from labtui.masking import Masker
from labtui.step import StepError
from labtui.targets.resources import ML_WORKSPACES
from tests.steps.conftest import Lab


def test_count_tests_counts_what_pytest_would_collect(tmp_path: Path) -> None:
    (tmp_path / "test_model.py").write_text(
        "def test_a():\n    pass\n\n"
        "def helper():\n    pass\n\n"
        "class TestGroup:\n    def test_b(self):\n        pass\n    def other(self):\n"
        "        pass\n\n"
        "async def test_c():\n    pass\n"
    )
    (tmp_path / "conftest.py").write_text("def test_not_collected():\n    pass\n")
    assert count_tests(tmp_path) == 3


def test_count_tests_names_a_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "test_model.py").write_text("def test_a(:\n")
    with pytest.raises(StepError, match=r"test_model.py line 1"):
        count_tests(tmp_path)


def test_secrets_are_masked_in_the_result_files(tmp_path: Path) -> None:
    masker = Masker()
    masker.register("sp-password-value-42")
    (tmp_path / "junit.xml").write_text(
        '<testcase name="t"><failure message="token sp-password-value-42"/></testcase>')
    (tmp_path / "cov_html").mkdir()
    (tmp_path / "cov_html" / "index.html").write_text("<p>sp-password-value-42</p>")
    TestImage._mask(SimpleNamespace(redact=masker.redact), tmp_path)  # type: ignore[arg-type]
    for path in (tmp_path / "junit.xml", tmp_path / "cov_html" / "index.html"):
        text = path.read_text()
        assert "sp-password-value-42" not in text and "***" in text


def test_lab_inputs_name_their_rule() -> None:
    from labtui_steps.fields import DATABRICKS_TOKEN, LOCATION

    assert LOCATION.check("westeurope") is None
    assert "an Azure region name" in (LOCATION.check("1.5e400") or "")
    assert DATABRICKS_TOKEN.check("dapi0123456789abcdef0123456789abcdef") is None
    assert DATABRICKS_TOKEN.check("dapi0123456789abcdef0123456789abcdef-3") is None
    assert "no spaces or line breaks" in (DATABRICKS_TOKEN.check("dapi012 3456") or "")
    for wrong in ("dapi0123456789", "dapi0123456789ABCDEF0123456789ABCDEF", "x" * 36):
        assert "'dapi' followed by 32 lowercase hexadecimal digits" in (
            DATABRICKS_TOKEN.check(wrong) or "")
    assert not DATABRICKS_TOKEN.required, "the workspace issues one when none is given"


def test_the_metrics_check_carries_mae_and_r2(tmp_path: Path) -> None:
    captured = Path(__file__).parents[1] / "app" / "fixtures" / "devloop" / "train-model-dev"
    check = metrics_check(captured / "metrics.json")  # what a real training run wrote
    assert check.ok
    assert check.message == "MAE 77,981.0, R² 0.0050 on 10,746 test rows"

    missing = metrics_check(tmp_path / "metrics.json")
    assert (missing.ok, missing.message, missing.hint) == (
        False, "no metrics.json", "run this step again")
    broken = tmp_path / "broken.json"
    broken.write_text('{"mae": 1.5}')
    assert not metrics_check(broken).ok
    assert metrics_check(broken).message == "metrics.json cannot be read (KeyError: 'r2')"


def test_write_test_names_the_absolute_test_file_from_the_start(lab: Lab) -> None:
    from labtui_steps.devloop import WriteTest

    published: list[tuple[str, Path]] = []
    ctx = lab.ctx(WriteTest, "dev")
    ctx.publish_artifact = lambda name, path: published.append((name, path))
    expected = (lab.path / "repos" / "contoso7-mlops" / "Project_One-Tests"
                / "test_model.py").resolve()
    verdict = WriteTest().verify(ctx)
    first = verdict.checks[0]
    assert first.name == "test file" and not first.ok
    assert first.message.startswith(f"{expected} (not there yet")
    assert published == [("test-file", expected)]

    # Once the working copy exists, the first check holds and still names the file.
    (expected.parent).mkdir(parents=True)
    expected.write_text((labtui_assets.root() / "Project_One-Tests" / "test_model.py")
                        .read_text())
    (lab.path / "repos" / "contoso7-mlops" / ".git").mkdir()
    checks = WriteTest().verify(ctx).checks
    assert (checks[0].name, checks[0].ok, checks[0].message) == ("test file", True,
                                                                 str(expected))
    assert (checks[1].name, checks[1].ok) == ("tests written", False)
    assert str(expected) in checks[1].hint
    WriteTest().run(ctx)
    assert lab.output("write-test", "dev", "test-file") == str(expected)
    assert any(str(expected) in line for line in lab.lines)


def test_train_model_rollback_removes_the_notebooks_runs(lab: Lab) -> None:
    from labtui_steps.devloop import TrainModel
    from labtui_steps.devloop.records import Experiment
    from labtui_steps.devops.common import NOTEBOOK_WORKSPACE_PATH
    from mlflow import MlflowClient

    models = lab.target.models
    lab.target.resource_groups.create("contoso7-db-dev", "eastus")
    models.create_workspace(lab.target.ref("contoso7-db-dev", ML_WORKSPACES, "contoso7-ml-dev"),
                            "eastus")
    experiment = models.prepare_experiment("contoso7-ml-dev", NOTEBOOK_WORKSPACE_PATH)
    uri = models.tracking_uri("contoso7-ml-dev")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "mae", 77981.0)
    client.set_terminated(run.info.run_id)

    ctx = lab.ctx(TrainModel, "dev")
    ctx.journal.record(Experiment(NOTEBOOK_WORKSPACE_PATH, workspace="contoso7-ml-dev"))
    TrainModel().rollback(ctx)
    assert client.get_experiment_by_name(NOTEBOOK_WORKSPACE_PATH) is None
    assert client.search_runs([experiment]) == []
    assert f"removed the runs of experiment {NOTEBOOK_WORKSPACE_PATH}" in lab.lines
