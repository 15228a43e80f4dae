"""Targets are plugins: found through entry points, with declared options checked before use.

The demo target (tests/plugins/labtui-demo-target) is a third-party distribution installed
from its folder; it is the local sandbox in a folder its `demo-box` option names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labtui.masking import Masker
from labtui.session import Session, SessionOptions
from labtui.targets import installed, open_target, target_class
from labtui.targets.base import TargetError
from labtui.targets.local import LocalTarget
from labtui.values import ValuesError
from tests.conftest import LabtuiRunner

TOKEN = "demo_0123456789abcdef"


def test_local_registers_itself_through_the_entry_point_group() -> None:
    assert "local" in installed()
    assert target_class("local") is LocalTarget


def test_help_lists_installed_targets_without_importing_one(demo_target_path: Path) -> None:
    probe = ("import sys\n"
             "from labtui.cli import build_parser\n"
             "text = build_parser().format_help()\n"
             "print(text)\n"
             "loaded = sorted(m for m in sys.modules if m.startswith(('labtui.targets.local',"
             " 'labtui.targets.azure', 'labtui_demo_target')))\n"
             "print('LOADED', loaded)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={"PYTHONPATH": str(demo_target_path), "PATH": "/usr/bin:/bin"},
                          check=True)
    help_text = " ".join(done.stdout.split())
    assert "an installed target (azure, demo, local; default: local)" in help_text
    assert "LOADED []" in done.stdout


def test_an_unknown_target_is_one_line_listing_what_is_installed(
        with_demo_target: LabtuiRunner) -> None:
    ran = with_demo_target("--target", "dmeo", "--step", "resource-groups", "--headless")
    assert ran.code == 2
    assert ran.stderr.strip().splitlines() == [
        "labtui: argument --target: target 'dmeo' is not installed; did you mean 'demo'? "
        "(installed: azure, demo, local) (see labtui --help)"]
    assert not with_demo_target.workspace.exists()


@pytest.mark.parametrize(("how", "env", "args", "origin"), [
    ("--set", {}, ["--set", "demo-box=Box_1"], "--set"),
    ("environment", {"LABTUI_DEMO_BOX": "Box_1"}, [], "LABTUI_DEMO_BOX"),
])
def test_a_bad_option_value_is_refused_naming_the_option_and_its_rule(
        with_demo_target: LabtuiRunner, how: str, env: dict[str, str], args: list[str],
        origin: str) -> None:
    ran = with_demo_target("--target", "demo", "--step", "resource-groups", "--headless",
                           "--set", "prefix=demo7", *args, extra_env=env)
    assert ran.code == 2, ran.output
    assert ran.stderr.strip().splitlines() == [
        "labtui: demo-box: 3-20 lowercase letters, digits and hyphens, starting with a letter "
        f"(from {origin})"]
    assert not with_demo_target.workspace.exists(), "nothing is made with a bad option"


def test_a_bad_option_in_the_answers_file_is_refused(with_demo_target: LabtuiRunner,
                                                     tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('prefix = "demo7"\ndemo-token = "not-a-token"\n')
    ran = with_demo_target("--target", "demo", "--step", "resource-groups", "--headless",
                           "--values", str(answers))
    assert ran.code == 2
    assert ran.stderr.strip().splitlines() == [
        "labtui: demo-token: 'demo_' followed by 16 lowercase hex digits (from answers.toml)"]
    assert "not-a-token" not in ran.output


def test_a_secret_option_is_refused_on_the_command_line(with_demo_target: LabtuiRunner) -> None:
    ran = with_demo_target("--target", "demo", "--step", "resource-groups", "--headless",
                           "--set", f"demo-token={TOKEN}")
    assert ran.code == 2
    assert "--set demo-token: secret values are not accepted on the command line" in ran.stderr
    assert TOKEN not in ran.output


def test_options_of_another_target_are_unknown(with_demo_target: LabtuiRunner) -> None:
    ran = with_demo_target("--step", "resource-groups", "--headless", "--set", "demo-box=box1")
    assert ran.code == 2
    assert "--set demo-box: unknown input" in ran.stderr


def test_the_lab_runs_on_the_third_party_target_with_its_options(
        with_demo_target: LabtuiRunner) -> None:
    workspace = with_demo_target.workspace
    ran = with_demo_target("--target", "demo", "--step", "resource-groups", "--headless",
                           "--set", "prefix=demo7", extra_env={"LABTUI_DEMO_BOX": "box-one"})
    assert ran.code == 0, ran.output
    assert (workspace / "box-one" / "sandbox.db").is_file()
    assert not (workspace / "sandbox").exists(), "the demo target's box, not local's sandbox"
    # The option is remembered like an input: the next command finds the same box.
    again = with_demo_target("--target", "demo", "--step", "resource-groups", "--headless",
                             "--verify")
    assert again.code == 0, again.output
    # The local target has its own sandbox, where nothing was made.
    local = with_demo_target("--target", "local", "--step", "resource-groups", "--headless",
                             "--verify")
    assert local.code == 3, local.output


def test_a_secret_option_is_masked_and_configures_the_target(
        demo_target: Path, tmp_path: Path) -> None:
    masker = Masker()
    options = SessionOptions(workspace=tmp_path / "ws", target="demo",
                             environ={"LABTUI_DEMO_TOKEN": TOKEN, "LABTUI_PREFIX": "demo7"})
    with Session(options, masker=masker) as session:
        identity = session.engine.target.identity()
        assert identity["signed in"] == "yes"
        assert masker.redact(f"token {TOKEN} used") == "token *** used"


def test_a_missing_required_option_names_it_and_how_to_give_it(
        demo_target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from labtui.step import Field
    demo = target_class("demo")
    required = Field("demo-region", "Demo region", kind="azure-name", resource="location")
    monkeypatch.setattr(demo, "options", (*demo.options, required))
    options = SessionOptions(workspace=tmp_path / "ws", target="demo", environ={})
    with pytest.raises(ValuesError) as missing:
        Session(options)
    assert missing.value.problems == [
        "missing value 'demo-region' (Demo region): give it with --set demo-region=…, env "
        "LABTUI_DEMO_REGION, 'demo-region' in the answers file (--values) "
        "(an option of the demo target)"]


def test_configure_checks_options_when_a_target_is_opened_directly(
        demo_target: Path, tmp_path: Path) -> None:
    with pytest.raises(TargetError) as bad:
        open_target("demo", tmp_path / "ws", {"demo-box": "x"})
    assert str(bad.value) == ("the demo target: demo-box: 3-20 lowercase letters, digits and "
                              "hyphens, starting with a letter")
    target = open_target("demo", tmp_path / "ws", {"demo-box": "box-two"})
    try:
        target.resource_groups.create("lab-db-dev", "eastus")
        assert (tmp_path / "ws" / "box-two" / "sandbox.db").is_file()
    finally:
        target.close()


def test_an_answers_file_gives_options_to_the_run_and_the_guide(
        with_demo_target: LabtuiRunner, tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('prefix = "demo7"\ndemo-box = "from-file"\n')
    ran = with_demo_target("--target", "demo", "--step", "resource-groups", "--headless",
                           "--values", str(answers))
    assert ran.code == 0, ran.output
    assert (with_demo_target.workspace / "from-file" / "sandbox.db").is_file()
    guide = with_demo_target("guide", "resource-groups", "--target", "demo",
                             "--values", str(answers))
    assert guide.code == 0, guide.output
    assert "demo7-db-dev" in guide.stdout


def test_a_proctor_roster_names_the_target_and_its_options_per_attendee(
        with_demo_target: LabtuiRunner, tmp_path: Path) -> None:
    roster = tmp_path / "room.csv"
    roster.write_text("attendee,prefix,workspace,target,demo-box\n"
                      f"ada,ada01,{tmp_path / 'ada'},demo,ada-box\n"
                      f"bob,bob01,{tmp_path / 'bob'},local,\n"
                      f"eve,eve01,{tmp_path / 'eve'},demo,Eve_Box\n")
    done = subprocess.run(
        [sys.executable, "-m", "labtui", "proctor", "provision", "--roster", str(roster),
         "--through", "resource-groups"],
        capture_output=True, text=True, env=with_demo_target.env, timeout=300,
        stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stdout + done.stderr  # eve's row is left out
    assert "room.csv line 4: demo-box: 3-20 lowercase letters, digits and hyphens, " \
           "starting with a letter" in done.stderr
    assert (tmp_path / "ada" / "ada-box" / "sandbox.db").is_file()
    assert (tmp_path / "bob" / "sandbox" / "sandbox.db").is_file()
    assert not (tmp_path / "eve").exists()
