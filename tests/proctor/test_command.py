"""`labtui proctor …` as a proctor types it: exit codes, messages, JSON lines."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from labtui.masking import Masker
from labtui.proctor.command import FleetConsole
from labtui.state import Workspace
from tests.conftest import ROOT, Ran
from tests.proctor.conftest import Room, write_roster

Proctor = Callable[..., Ran]
SECRETS = {"A1_SECRET": "cli-canary-one-4242", "A2_SECRET": "cli-canary-two-4343"}


def roster(tmp_path: Path) -> Path:
    return write_roster(tmp_path / "roster.csv",
                        ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"],
                        [["a1", "contoso1", "ws/a1", str(tmp_path / "f1"), "A1_SECRET"],
                         ["a2", "contoso2", "ws/a2", str(tmp_path / "f2"), "A2_SECRET"]])


def test_a_roster_that_cannot_be_used_at_all_exits_2(proctor: Proctor, tmp_path: Path) -> None:
    path = write_roster(tmp_path / "roster.csv", ["attendee", "workspace"], [["a1", "ws/a1"]])
    ran = proctor("reset", "--roster", str(path))
    assert ran.code == 2, ran.output
    assert ran.stderr.strip() == ("labtui: roster.csv line 1: missing column 'prefix' (a roster "
                                  "needs attendee, prefix, workspace)")
    only_bad = write_roster(tmp_path / "bad.csv", ["attendee", "prefix", "workspace"],
                            [["a3", "X", "ws/a3"]])
    ran = proctor("provision", "--roster", str(only_bad), "--through", "demo-files")
    assert ran.code == 2, "nobody left to work on: " + ran.output
    assert not (tmp_path / "ws").exists()


def test_one_bad_roster_row_is_named_and_the_others_are_provisioned(proctor: Proctor,
                                                                   tmp_path: Path) -> None:
    path = write_roster(tmp_path / "roster.csv",
                        ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"],
                        [["a1", "contoso1", "ws/a1", str(tmp_path / "f1"), "A1_SECRET"],
                         ["a2", "contoso1", "ws/a2", str(tmp_path / "f2"), "A2_SECRET"],
                         ["a3", "X", "ws/a3", str(tmp_path / "f3"), "A1_SECRET"],
                         ["a4", "contoso4", "ws/a4", str(tmp_path / "f4"), "A2_SECRET"]])
    ran = proctor("provision", "--roster", str(path), "--through", "demo-files", env=SECRETS)
    assert ran.code == 1, "a left-out attendee was not provisioned: " + ran.output
    lines = ran.stderr.splitlines()
    assert lines[0] == ("labtui: roster.csv line 3: duplicate prefix 'contoso1' (also on line "
                        "2) (left out; the other attendees go on)")
    assert lines[1].startswith("labtui: roster.csv line 4: prefix 'X': 3-11 lowercase letters")
    assert "✗ 2 roster rows left out (fix and run again for them):" in ran.stderr
    assert "provision: 2 attendees" in ran.stderr and "2 done" in ran.stderr
    for provisioned in ("f1", "f4"):
        assert (tmp_path / provisioned / "file-000.txt").exists(), provisioned
    for left_out in ("f2", "f3"):
        assert not (tmp_path / left_out).exists(), left_out
    assert "Traceback" not in ran.stderr


def test_usage_errors_exit_2(proctor: Proctor, tmp_path: Path) -> None:
    path = roster(tmp_path)
    no_action = proctor()
    assert no_action.code == 2
    assert "{reset,provision,status,export,approve,app}" in no_action.stderr
    assert "(see labtui proctor --help)" in no_action.stderr
    no_roster = proctor("reset")
    assert no_roster.code == 2 and "--roster (see labtui proctor reset --help)" in no_roster.stderr
    no_step = proctor("provision", "--roster", str(path), "--through", "nope", env=SECRETS)
    assert no_step.code == 2 and "unknown step 'nope'" in no_step.stderr
    unknown = proctor("status", "--roster", str(path), "--only", "zed", env=SECRETS)
    assert unknown.code == 2 and "no attendee 'zed'" in unknown.stderr
    assert proctor("reset", "--roster", str(path), "--parallel", "0").code == 2


def test_provision_status_reset_end_to_end(proctor: Proctor, tmp_path: Path) -> None:
    path = str(roster(tmp_path))
    provisioned = proctor("provision", "--roster", path, "--through", "demo-per-env",
                          env=SECRETS)
    assert provisioned.code == 0, provisioned.output
    assert "provision: 2 attendees" in provisioned.stderr
    assert (tmp_path / "f2" / "marker-pipeline.txt").exists()

    (tmp_path / "f1" / "file-000.txt").unlink()
    status = proctor("status", "--roster", path, "--step", "demo-files", "--step",
                     "demo-per-env", env=SECRETS)
    assert status.code == 3, status.output
    grid = status.stdout
    assert "a1: demo-files: drift — files: missing file-000.txt" in grid
    row = next(line for line in grid.splitlines() if line.lstrip().startswith("a2"))
    assert "3/3" in row and "finished" in row

    reset = proctor("reset", "--roster", path, env=SECRETS)
    assert reset.code == 0, reset.output
    assert "reset: 2 attendees" in reset.stderr and "2 done" in reset.stderr
    assert sorted(p.name for p in (tmp_path / "f2").iterdir()) == []
    again = proctor("reset", "--roster", path, env=SECRETS)
    assert again.code == 0 and again.stderr.count("already clean: nothing to remove") >= 2


def test_json_lines_are_tagged_and_masked(proctor: Proctor, tmp_path: Path) -> None:
    path = str(roster(tmp_path))
    ran = proctor("provision", "--roster", path, "--through", "demo-canary", "--json",
                  env=SECRETS)
    assert ran.code == 0, ran.output
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    assert all("attendee" in e for e in events if e["event"] != "summary")
    logs = [e for e in events if e["event"] == "log_line"]
    assert {e["attendee"] for e in logs} == {"a1", "a2"}
    assert events[-1] == {**events[-1], "event": "summary", "action": "provision",
                          "outcomes": {"done": 2}, "exit_code": 0}
    for secret in SECRETS.values():
        assert secret not in ran.output
    assert any(e["line"] == "raw: ***" for e in logs)


def test_a_locked_attendee_is_reported_with_its_holder_and_exits_1(proctor: Proctor,
                                                                    tmp_path: Path) -> None:
    path = str(roster(tmp_path))
    assert proctor("provision", "--roster", path, "--through", "demo-files",
                   env=SECRETS).code == 0
    with Workspace.open(tmp_path / "ws" / "a2", command="labtui (attendee a2's app)"):
        ran = proctor("reset", "--roster", path, env=SECRETS)
        status = proctor("status", "--roster", path, "--step", "demo-files", env=SECRETS)
    assert ran.code == 1, ran.output
    assert "not reset: workspace in use by pid" in ran.stderr
    assert "labtui (attendee a2's app)" in ran.stderr
    assert sorted(p.name for p in (tmp_path / "f2").iterdir()) == [
        "file-000.txt", "file-001.txt", "file-002.txt"]
    assert status.code == 3, "a1 was reset, so its step is not done: " + status.output
    row = next(line for line in status.stdout.splitlines() if line.lstrip().startswith("a2"))
    assert "1/1" in row and "pid" in row, "the busy attendee's recorded row, with its holder"


def test_export_writes_a_bundle_per_attendee(proctor: Proctor, tmp_path: Path) -> None:
    path = str(roster(tmp_path))
    proctor("provision", "--roster", path, "--through", "demo-canary", env=SECRETS)
    ran = proctor("export", "--roster", path, "--out", "bundles", env=SECRETS)
    assert ran.code == 0, ran.output
    assert sorted(p.name for p in (tmp_path / "bundles").iterdir()) == ["a1.tar.gz",
                                                                        "a2.tar.gz"]


def test_the_proctor_module_loads_nothing_heavy_when_the_parser_is_built() -> None:
    code = ("import sys, labtui.cli; labtui.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich' "
            "or m.startswith('labtui.proctor.') and m != 'labtui.proctor.command' "
            "or m in ('concurrent.futures', 'tarfile')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_a_shared_set_cannot_override_what_the_roster_gives_each_attendee(
        proctor: Proctor, tmp_path: Path) -> None:
    ran = proctor("provision", "--roster", str(roster(tmp_path)), "--through", "demo-files",
                  "--set", f"demo-dir={tmp_path / 'everyone'}", env=SECRETS)
    assert ran.code == 2
    assert "--set demo-dir: the roster gives each attendee their own demo-dir" in ran.stderr
    assert not (tmp_path / "everyone").exists()


def test_in_a_terminal_each_attendee_has_a_progress_row(make_room: Callable[..., Room]) -> None:
    room = make_room(2)
    screen = io.StringIO()
    console = FleetConsole(Masker(), live=True, stream=screen)
    room.fleet().provision("demo-per-env", console)
    console.close()
    shown = screen.getvalue()
    for attendee in ("a1", "a2"):
        assert f"✓ {attendee}" in shown, shown[-400:]
    assert shown.count("3/3") >= 2 and "provisioned through demo-per-env" in shown


def test_an_export_folder_that_cannot_be_made_is_a_usage_error(proctor: Proctor,
                                                               tmp_path: Path) -> None:
    path = str(roster(tmp_path))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    ran = proctor("export", "--roster", path, "--out", str(blocker / "bundles"), env=SECRETS)
    assert ran.code == 2, ran.output
    assert f"--out {blocker / 'bundles'}" in ran.stderr
    assert "unexpected error" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr


def test_status_says_who_failed_and_where_they_are_stuck(proctor: Proctor,
                                                         tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where ada's demo folder should be")
    path = write_roster(tmp_path / "roster.csv",
                        ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"],
                        [["ada", "contoso1", "ws/ada", str(tmp_path / "taken"), "A1_SECRET"],
                         ["bob", "contoso2", "ws/bob", str(tmp_path / "f2"), "A2_SECRET"]])
    provisioned = proctor("provision", "--roster", str(path), "--through", "demo-canary",
                          env=SECRETS)
    assert provisioned.code == 1, provisioned.output
    steps = ("--step", "demo-files", "--step", "demo-per-env", "--step", "demo-canary")
    ran = proctor("status", "--roster", str(path), *steps, env=SECRETS)
    assert ran.code == 3, ran.output
    ada = next(line for line in ran.stderr.splitlines() if " ada:" in line)
    # demo-canary needs nothing, so ada's provision did it although demo-files failed.
    assert ada.startswith("✗ ada: failed — 1 of 4 done; stuck at demo-files: failed — "), ada
    bob = next(line for line in ran.stderr.splitlines() if " bob:" in line)
    assert bob.startswith("✓ bob: done — 4 of 4 done"), bob
    row = next(line for line in ran.stdout.splitlines() if line.lstrip().startswith("ada"))
    assert "✗ demo-files failed" in row and "1/4" in row, row
    row = next(line for line in ran.stdout.splitlines() if line.lstrip().startswith("bob"))
    assert "finished" in row and "4/4" in row, row
    assert SECRETS["A1_SECRET"] not in ran.output


def test_a_workspace_path_that_is_a_file_is_flagged_not_counted(proctor: Proctor,
                                                                tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a workspace")
    path = write_roster(tmp_path / "roster.csv",
                        ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"],
                        [["a1", "contoso1", "ws/a1", str(tmp_path / "f1"), "A1_SECRET"],
                         ["a2", "contoso2", "notes.txt", str(tmp_path / "f2"), "A2_SECRET"]])
    status = proctor("status", "--roster", str(path), env=SECRETS)
    assert status.code == 1, status.output
    problem = f"workspace {tmp_path / 'notes.txt'} is a file, not a folder (roster line 3)"
    assert f"✗ a2: failed — not checked: {problem}" in status.stderr
    row = next(line for line in status.stdout.splitlines() if line.lstrip().startswith("a2"))
    assert "0/4" not in row and "?" in row and "not checked" in row, row
    reset = proctor("reset", "--roster", str(path), env=SECRETS)
    assert reset.code == 1, reset.output
    assert problem in reset.stderr and "no workspace yet" not in reset.stderr.split("a2")[-1]
    provision = proctor("provision", "--roster", str(path), "--through", "demo-files",
                        env=SECRETS)
    assert provision.code == 1 and f"✗ a2: failed — {problem}" in provision.stderr
    assert (tmp_path / "f1" / "file-000.txt").exists(), "a1 is provisioned all the same"
    assert (tmp_path / "notes.txt").read_text() == "not a workspace"


def test_a_narrow_status_grid_is_split_never_cut(make_room: Callable[..., Room]) -> None:
    room = make_room(2)
    room.fleet().provision("demo-per-env")
    grid = room.fleet().status()
    for width in (50, 40):  # narrower than the grid: it must be split, never clipped
        out = io.StringIO()
        console = FleetConsole(Masker(), live=False, stream=io.StringIO(), out=out)
        console.out.width = width
        console.grid(grid)
        shown = out.getvalue()
        tables = shown.split("marks (one per")[0]
        rows = [line for line in tables.splitlines() if line.lstrip()[:2] in ("a1", "a2")]
        assert all("3/4" in line and "ago" in line for line in rows[:2]), shown
        assert "…" not in "".join(rows[2:]) and "done" in tables, "only 'at' may be shortened"
        assert max(len(line.rstrip()) for line in shown.splitlines()) <= width, shown
        for step in ("demo-files", "demo-per-env", "demo-canary"):
            assert step in tables, f"{step} is named at {width} columns: {shown}"
