"""The proctor's status lists who waits for a person, and the proctor acts for the room: a
step's action (approve) done for every attendee at once through each one's engine, one line
each, with the fleet's exit codes; `labtui proctor approve --stage production` is that for
the release's Production approval.

Over the lab's real pull-request step on the local target (its approval is a person's act
like the release's): two attendees at the end of the dev loop, each with a pull request
waiting for their reviewer."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.masking import Masker
from labtui.proctor.command import FleetConsole
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.results import AttendeeOutcome
from labtui.proctor.roster import load_roster
from labtui.state import Workspace
from tests.conftest import LAB_DATA, LabtuiRunner, labtui_env, require_lab_data
from tests.proctor.conftest import write_roster

DEV_LOOP = ("train-model", "write-test", "build-image", "test-image")
IDS = ("a1", "a2")


@pytest.mark.slow
def test_the_proctor_approves_every_attendees_pending_review(tmp_path: Path) -> None:
    require_lab_data()
    home = tmp_path / "home"
    home.mkdir()
    tokens = {f"{a.upper()}_DATABRICKS_TOKEN": f"dapi{i:04x}0123456789abcdef0123456789ab"
              for i, a in enumerate(IDS, start=1)}
    roster_path = write_roster(
        tmp_path / "roster.csv", ["attendee", "prefix", "workspace", "databricks-token"],
        [[a, f"contoso{i}", f"ws/{a}", f"{a.upper()}_DATABRICKS_TOKEN"]
         for i, a in enumerate(IDS, start=1)])
    answers = tmp_path / "answers.toml"
    answers.write_text('tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                       'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
                       f'data-file = "{LAB_DATA}"\nreviewer = "grace"\n')
    environ = {**tokens, "HOME": str(home),
               "DATABRICKS_CONFIG_FILE": str(home / ".databrickscfg")}
    catalog = Catalog.discover()
    roster = load_roster(roster_path, catalog.fields(), environ)

    def fleet() -> Fleet:
        return Fleet(roster, FleetOptions(values_file=answers, environ=environ, backoff=0.0),
                     catalog=catalog, masker=Masker())

    ready = fleet().provision("git-integration")
    assert all(r.outcome.ok for r in ready.attendees), [r.message for r in ready.attendees]
    for number, attendee in enumerate(IDS, start=1):
        workspace = tmp_path / "ws" / attendee
        with Workspace.open(workspace, command="test") as state:
            for step in DEV_LOOP:
                state.set_status(step, "dev", "done")
        tests = workspace / "repos" / f"contoso{number}-mlops" / "Project_One-Tests" / \
            "test_model.py"
        tests.write_text(tests.read_text() + "\n\ndef test_mine():\n    assert True\n")
        lab = LabtuiRunner(workspace, labtui_env(**environ, COLUMNS="200",
                                                 LABTUI_DATABRICKS_TOKEN=tokens[
                                                     f"{attendee.upper()}_DATABRICKS_TOKEN"]))
        opened = lab("--step", "pull-request", "--headless", "--values", str(answers))
        assert opened.code == 1 and "waiting for grace" in opened.output, opened.output

    grid = fleet().status(step_ids=["pull-request"])
    for row in grid.rows:
        ((unit, message),) = row.waiting(grid.units)
        assert unit.id == "pull-request" and "waiting for grace" in message, message
    shown = io.StringIO()
    FleetConsole(Masker(), live=False, stream=io.StringIO(), out=shown).grid(grid)
    text = shown.getvalue()
    assert "waiting for a person (a review, an approval):" in text, text
    assert all(f"  {a}: pull-request (dev) — " in text for a in IDS), text

    approved = fleet().act("pull-request", "approve", {"comment": "the room is green"},
                           person_from="reviewer")
    assert [(r.attendee.id, r.outcome) for r in approved.attendees] == [
        (a, AttendeeOutcome.DONE) for a in IDS], [r.message for r in approved.attendees]
    assert all(r.message == "approved as grace: approve: done and verified"
               for r in approved.attendees)
    assert approved.exit_code == 0

    again = fleet().act("pull-request", "approve", {"as": "grace"})
    assert [r.outcome for r in again.attendees] == [AttendeeOutcome.FAILED] * 2
    assert all(r.message.startswith("nothing to approve: pull request 1 is completed")
               for r in again.attendees), [r.message for r in again.attendees]
    assert again.exit_code == 1, "an attendee with nothing waiting counts as failed"
    after = fleet().status(step_ids=["pull-request"])
    assert all(not row.waiting(after.units) for row in after.rows), "nobody waits any more"


def test_proctor_approve_takes_only_a_stage_that_waits_for_approval(tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "roster.csv", ["attendee", "prefix", "workspace"],
                          [["a1", "contoso1", "ws/a1"]])
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"))
    done = subprocess.run([sys.executable, "-m", "labtui", "proctor", "approve", "--roster",
                           str(roster), "--stage", "qa"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "argument --stage: invalid choice: 'qa' (choose from 'production')" in done.stderr

    nobody = subprocess.run([sys.executable, "-m", "labtui", "proctor", "approve", "--roster",
                             str(roster), "--stage", "Production"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert nobody.returncode == 1, nobody.stdout + nobody.stderr
    assert "a1" in nobody.stdout + nobody.stderr
    assert "no workspace yet: nothing to approve" in nobody.stdout + nobody.stderr
