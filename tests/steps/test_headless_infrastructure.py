"""`labtui --headless` on the Infrastructure section, end to end in subprocesses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from labtui.targets.local import LocalTarget
from labtui.targets.shared.databrickscfg import ProfileFile
from tests.conftest import LAB_DATA, LabtuiRunner, labtui_env, require_lab_data
from tests.sandbox_snapshot import snapshot
from tests.targets.local.conftest import local_host

TOKEN = "dapi5f1d2c3b00112233445566778899aabb"
ANSWERS = f"""\
prefix = "contoso7"
tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
created-by = "ada"
data-file = "{LAB_DATA}"
[env.pipeline]
created-by = "pipeline"
"""
OTHER_PROFILE = "[mine]\nhost = https://adb-5.5.azuredatabricks.net\ntoken = dapi-mine\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def lab(tmp_path: Path, home: Path) -> LabtuiRunner:
    require_lab_data()
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     LABTUI_DATABRICKS_TOKEN=TOKEN, COLUMNS="200")
    return LabtuiRunner(tmp_path / "ws", env)


def write_answers(tmp_path: Path, text: str = ANSWERS) -> Path:
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return path


def test_whole_section_runs_then_skips_then_rolls_back_without_trace(
        lab: LabtuiRunner, tmp_path: Path, home: Path) -> None:
    config = home / ".databrickscfg"
    config.write_text(OTHER_PROFILE)
    answers = write_answers(tmp_path)
    before, config_before = snapshot(lab.workspace), config.read_bytes()

    first = lab("--section", "Infrastructure", "--headless", "--values", str(answers))
    assert first.code == 0, first.output
    assert TOKEN not in first.output
    assert "contoso7-db-prod" in first.output
    assert "[contoso7-dev]" in config.read_text() and config.read_text().startswith(
        OTHER_PROFILE)

    started = time.monotonic()
    second = lab("--section", "Infrastructure", "--headless", "--values", str(answers), "--json")
    elapsed = time.monotonic() - started
    assert second.code == 0, second.output
    finished = [e for e in map(json.loads, second.stdout.splitlines())
                if e.get("event") == "step_finished"]
    assert len(finished) == 21, "10 steps, 2 environments (resource groups also for prod)"
    assert finished and {e["outcome"] for e in finished} == {"skipped"}, second.stdout[-2000:]
    assert elapsed < 10, f"a second run re-verifies only ({elapsed:.1f}s)"

    one = lab("--step", "secrets", "--headless", "--env", "pipeline", "--force")
    assert one.code == 0, one.output
    assert "secrets (pipeline)" in one.output and "secrets (dev)" not in one.output

    rolled = lab("--section", "Infrastructure", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    after = snapshot(lab.workspace)
    assert after == {"tables": {}, "files": []}, after
    assert before == {"tables": {}, "files": []}
    assert config.read_bytes() == config_before


def test_a_step_whose_requirement_is_not_done_is_refused(lab: LabtuiRunner,
                                                         tmp_path: Path) -> None:
    ran = lab("--step", "secrets", "--headless", "--env", "dev", "--values",
              str(write_answers(tmp_path)))
    assert ran.code == 2, ran.output
    assert "secrets (dev)" in ran.stderr and "key-vault (dev)" in ran.stderr
    assert not (lab.workspace / "sandbox").exists() or snapshot(lab.workspace)["tables"] == {}


@pytest.mark.parametrize(("override", "named"), [
    ('tenant-id = "not-a-guid"', "tenant-id"),
    ('storage-account = "Contoso7DL"', "storage-account"),
    (f'storage-account = "{"a" * 25}"', "storage-account"),
    ('key-vault = "7contoso-kv"', "key-vault"),
])
def test_invalid_values_are_named_and_nothing_is_created(
        lab: LabtuiRunner, tmp_path: Path, override: str, named: str) -> None:
    answers = write_answers(tmp_path, override + "\n" + ANSWERS.replace(
        'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n', "" if "tenant" in override
        else 'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'))
    ran = lab("--section", "Infrastructure", "--headless", "--values", str(answers))
    assert ran.code == 2, ran.output
    assert named in ran.stderr
    assert snapshot(lab.workspace)["tables"] == {}


def test_without_a_token_the_section_runs_and_the_profiles_hold_issued_tokens(
        lab: LabtuiRunner, tmp_path: Path, home: Path) -> None:
    env = {k: v for k, v in lab.env.items() if k != "LABTUI_DATABRICKS_TOKEN"}
    runner = LabtuiRunner(lab.workspace, env)
    ran = runner("--section", "Infrastructure", "--headless", "--values",
                 str(write_answers(tmp_path)))
    assert ran.code == 0, ran.output
    profiles = ProfileFile(home / ".databrickscfg")
    target = LocalTarget(lab.workspace)
    try:
        for env_name in ("dev", "pipeline"):
            token = profiles.read(f"contoso7-{env_name}").token
            adb = local_host(target.databricks, f"contoso7-adb-{env_name}")
            assert target.databricks.check_token(adb, token), \
                "the sandbox's workspace issued the profile's token"
            assert token not in ran.output
            for path in lab.workspace.rglob("*"):
                if path.is_file():
                    assert token.encode() not in path.read_bytes(), path
    finally:
        target.close()


@pytest.mark.parametrize("token", ["dapi-not-a-real-token", "dapi" + "0" * 31,
                                   "dapi" + "A" * 32, "ghp_" + "0" * 32])
def test_a_malformed_token_is_one_line_naming_the_rule(lab: LabtuiRunner, tmp_path: Path,
                                                       token: str) -> None:
    ran = lab("--section", "Infrastructure", "--headless", "--values", str(write_answers(tmp_path)),
              extra_env={"LABTUI_DATABRICKS_TOKEN": token})
    assert ran.code == 2, ran.output
    problems = [line for line in ran.stderr.splitlines() if "databricks-token" in line]
    assert len(problems) == 1, ran.stderr
    assert "'dapi' followed by 32 lowercase hexadecimal digits" in problems[0]
    assert token not in ran.output and "Traceback" not in ran.output
    assert snapshot(lab.workspace)["tables"] == {}


def test_the_token_is_asked_for_by_the_steps_that_use_it_only() -> None:
    from labtui.catalog import Catalog

    users = sorted(step.id for step in Catalog.discover()
                   if "databricks-token" in {f.name for f in step.inputs})
    assert users == ["cli-profiles", "secrets"]


def test_an_answers_file_that_is_not_toml_is_refused(lab: LabtuiRunner,
                                                     tmp_path: Path) -> None:
    answers = write_answers(tmp_path, "prefix: contoso7\n[[[\n")
    ran = lab("--section", "Infrastructure", "--headless", "--values", str(answers))
    assert ran.code == 2
    assert "answers.toml" in ran.stderr and "TOML" in ran.stderr


def test_a_databrickscfg_that_is_not_ini_fails_the_step_and_is_kept(
        lab: LabtuiRunner, tmp_path: Path, home: Path) -> None:
    config = home / ".databrickscfg"
    config.write_text("this is: not ini\n")
    ran = lab("--step", "cli-profiles", "--env", "dev", "--with-requires", "--headless",
              "--values", str(write_answers(tmp_path)))
    assert ran.code == 1, ran.output
    assert str(config) in ran.stderr and "cli-profiles (dev)" in ran.stderr
    assert config.read_text() == "this is: not ini\n"
    assert TOKEN not in ran.output
    # What the requirements created is kept: a verify of the databricks step holds.
    verified = lab("--step", "databricks", "--env", "dev", "--headless", "--verify")
    assert verified.code == 0, verified.output


def test_a_workspace_that_is_not_writable_is_named(lab: LabtuiRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    runner = LabtuiRunner(blocker / "ws", lab.env)
    ran = runner("--section", "Infrastructure", "--headless", "--values",
                 str(write_answers(tmp_path)))
    assert ran.code == 2, ran.output
    assert str(blocker) in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1


def test_a_workspace_that_is_a_file_is_refused_by_every_command(
        lab: LabtuiRunner, tmp_path: Path) -> None:
    a_file = tmp_path / "answers.toml"
    a_file.write_text('prefix = "contoso7"\n')
    runner = LabtuiRunner(a_file, lab.env)
    for args in (("list",), ("logs", "secrets", "--env", "dev"),
                 ("--step", "resource-groups", "--env", "dev", "--headless")):
        ran = runner(*args)
        assert ran.code == 2, ran.output
        assert ran.stderr.strip() == f"labtui: workspace {a_file} is a file, not a folder: " \
                                     "give a folder"
    assert a_file.read_text() == 'prefix = "contoso7"\n'


def test_an_environment_a_step_does_not_run_in_is_named_with_the_ones_it_does(
        lab: LabtuiRunner) -> None:
    ran = lab("--step", "secrets", "--env", "prod", "--headless")
    assert ran.code == 2, ran.output
    assert "secrets does not run in prod: only in dev, pipeline" in ran.stderr
    ran = lab("--section", "Dev loop", "--env", "pipeline", "--headless")
    assert ran.code == 2, ran.output
    assert "no step of Dev loop runs in pipeline" in ran.stderr
