"""The headless runner end to end, in a subprocess, on the demo plugin's real files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import time
from pathlib import Path

from tests.conftest import LabtuiRunner


def answers(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "answers.toml"
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()))
    return path


def test_run_verify_plan_rollback_end_to_end(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    values = ["--set", f"demo-dir={files}", "--set", "demo-count=3"]

    planned = labtui("--step", "demo-files", "--headless", "--plan", *values)
    assert planned.code == 0, planned.output
    assert planned.output.count("+ create file") == 3
    assert not files.exists(), "plan must not touch anything"

    ran = labtui("--step", "demo-files", "--headless", *values)
    assert ran.code == 0, ran.output
    assert sorted(p.name for p in files.iterdir()) == [
        "file-000.txt", "file-001.txt", "file-002.txt"]
    assert "done and verified" in ran.stderr

    again = labtui("--step", "demo-files", "--headless")
    assert again.code == 0 and "already done" in again.stderr, "values come from the workspace"

    (files / "file-001.txt").unlink()
    drift = labtui("--step", "demo-files", "--headless", "--verify")
    assert drift.code == 3
    assert "missing file-001.txt" in drift.stderr

    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    assert list(files.iterdir()) == []
    clean = labtui("--step", "demo-files", "--headless", "--rollback")
    assert clean.code == 0 and "nothing to remove" in clean.stderr


def test_listing_shows_plugin_steps_with_status(labtui: LabtuiRunner, tmp_path: Path) -> None:
    before = labtui("list", "--json")
    assert before.code == 0, before.output
    rows = {(r["step"], r["env"]): r["status"]
            for r in map(json.loads, before.stdout.splitlines())}
    assert rows[("demo-files", None)] == "needs input"
    assert rows[("demo-per-env", "dev")] == "needs input"
    labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={tmp_path / 'f'}")
    after = labtui("list")
    assert after.code == 0
    line = next(line for line in after.stdout.splitlines() if "demo-files" in line)
    assert "done" in line


def test_requires_are_named_and_with_requires_runs_them(labtui: LabtuiRunner,
                                                        tmp_path: Path) -> None:
    values = ["--set", f"demo-dir={tmp_path / 'f'}"]
    blocked = labtui("--step", "demo-per-env", "--env", "dev", "--headless", *values)
    assert blocked.code == 2
    assert "needs 'demo-files' done first" in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1
    ran = labtui("--step", "demo-per-env", "--env", "dev", "--headless", "--with-requires",
                 *values)
    assert ran.code == 0, ran.output
    assert (tmp_path / "f" / "marker-dev.txt").exists()
    assert not (tmp_path / "f" / "marker-pipeline.txt").exists()


def test_solve_names_its_rule_and_goes_with_with_requires(labtui: LabtuiRunner,
                                                          tmp_path: Path) -> None:
    values = ["--set", f"demo-dir={tmp_path / 'f'}"]
    refused = labtui("--step", "demo-files", "--headless", "--solve", *values)
    assert refused.code == 2
    assert "demo-files is not a manual step: --solve is for manual steps" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "f").exists()
    # With --with-requires, --solve applies to whatever manual step comes first (none here).
    ran = labtui("--step", "demo-per-env", "--env", "dev", "--headless", "--with-requires",
                 "--solve", *values)
    assert ran.code == 0, ran.output
    assert (tmp_path / "f" / "marker-dev.txt").exists()


def test_missing_values_are_all_named_with_how_to_supply(labtui: LabtuiRunner) -> None:
    ran = labtui("--all", "--headless")
    assert ran.code == 2
    assert "missing value 'demo-dir'" in ran.stderr
    assert "--set demo-dir=" in ran.stderr
    assert "missing value 'demo-secret'" in ran.stderr
    assert "env LABTUI_DEMO_SECRET" in ran.stderr
    assert "--set demo-secret" not in ran.stderr, "secrets are never suggested on argv"
    assert "Traceback" not in ran.output


def test_bad_usage_gets_one_line_and_exit_2(labtui: LabtuiRunner, tmp_path: Path) -> None:
    cases = [
        (["--step", "nope", "--headless"], "unknown step 'nope'"),
        (["--headless"], "--headless needs one of --step ID, --section NAME or --all"),
        (["--section", "Nope", "--headless"], "--section Nope: no such section"),
        (["--step", "demo-files", "--headless", "--set", "demo-count=lots",
          "--set", f"demo-dir={tmp_path}"],
         "demo-count: a whole number"),
        (["--step", "demo-canary", "--headless", "--set", "demo-secret=hunter22"],
         "secret values are not accepted on the command line"),
        (["--step", "demo-files", "--headless", "--set", "nonsense"], "expected key=value"),
        (["--step", "demo-files", "--headless", "--env", "qa"],
         "--env qa: the environments are dev, pipeline"),
        (["--step", "demo-files", "--headless", "--values", str(tmp_path / "none.toml")],
         "does not exist"),
    ]
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("prefix = [unclosed\n")
    cases.append((["--step", "demo-files", "--headless", "--values", str(bad_toml)],
                  "is not valid TOML"))
    for args, message in cases:
        ran = labtui(*args)
        assert ran.code == 2, (args, ran.output)
        assert message in ran.stderr, (args, ran.stderr)
        assert len(ran.stderr.strip().splitlines()) == 1, (args, ran.stderr)
        assert "hunter22" not in ran.output


def test_answers_file_with_environment_overrides(labtui: LabtuiRunner, tmp_path: Path) -> None:
    folder = tmp_path / "from-answers"
    path = tmp_path / "answers.toml"
    path.write_text(f'demo-dir = "{tmp_path / "top"}"\ndemo-count = 2\n'
                    f'[env.pipeline]\ndemo-dir = "{folder}"\n')
    ran = labtui("--step", "demo-per-env", "--headless", "--with-requires", "--values", str(path))
    assert ran.code == 0, ran.output
    assert (tmp_path / "top" / "marker-dev.txt").exists()
    assert (folder / "marker-pipeline.txt").exists()
    assert sorted(p.name for p in (tmp_path / "top").glob("file-*")) == [
        "file-000.txt", "file-001.txt"]


def test_workspace_is_private(labtui: LabtuiRunner, tmp_path: Path) -> None:
    labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={tmp_path / 'f'}")
    assert stat.S_IMODE(labtui.workspace.stat().st_mode) == 0o700
    for path in labtui.workspace.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    db = sqlite3.connect(labtui.workspace / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_process_is_refused_with_the_holder_named(labtui: LabtuiRunner,
                                                           tmp_path: Path) -> None:
    files = tmp_path / "slow"
    slow = labtui.popen("--step", "demo-files", "--headless", "--set", f"demo-dir={files}",
                        "--set", "demo-count=400", "--set", "demo-delay=0.05")
    try:
        _wait_for(lambda: files.exists() and any(files.iterdir()))
        second = labtui("list")
        assert second.code == 0, "reading the list does not need the lock"
        refused = labtui("--step", "demo-files", "--headless", "--verify")
        assert refused.code == 4
        assert f"in use by pid {slow.pid}" in refused.stderr
        assert "labtui --step demo-files --headless" in refused.stderr
        assert "demo-dir=" not in refused.stderr, "--set values are not shown in the holder"
        forced = labtui("--step", "demo-files", "--headless", "--verify", "--force-unlock")
        assert forced.code == 4, "a live holder is never trampled"
    finally:
        slow.send_signal(signal.SIGINT)
        _, err = slow.communicate(timeout=60)
    assert slow.returncode == 130, err
    assert "cancelled" in err
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    assert list(files.iterdir()) == []


def test_sigkill_mid_run_then_rollback_leaves_nothing(labtui: LabtuiRunner,
                                                      tmp_path: Path) -> None:
    files = tmp_path / "killed"
    victim = labtui.popen("--step", "demo-files", "--headless", "--set", f"demo-dir={files}",
                          "--set", "demo-count=500", "--set", "demo-delay=0.01")
    _wait_for(lambda: files.exists() and len(list(files.iterdir())) >= 5)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    created = len(list(files.iterdir()))
    assert 5 <= created < 500
    listed = labtui("list", "--json")
    assert listed.code == 0
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    assert list(files.iterdir()) == []
    assert f"removed {created}" in rolled.stderr or "removed" in rolled.stderr


def test_json_events_on_stdout_and_log_file_and_logs_command(labtui: LabtuiRunner,
                                                             tmp_path: Path) -> None:
    log_file = tmp_path / "run.log"
    ran = labtui("--step", "demo-files", "--headless", "--json", "--log-file", str(log_file),
                 "--set", f"demo-dir={tmp_path / 'f'}", "--set", "demo-count=2")
    assert ran.code == 0, ran.output
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "step_started" and kinds[-1] == "step_finished"
    assert {"log_line", "check_result", "progress"} <= set(kinds)
    assert events[-1]["outcome"] == "done"
    assert "created file-001.txt" in log_file.read_text()
    logs = labtui("logs", "demo-files")
    assert logs.code == 0
    assert "created file-000.txt" in logs.stdout


def test_heartbeat_when_a_step_is_quiet(labtui: LabtuiRunner, tmp_path: Path) -> None:
    ran = labtui("--step", "demo-files", "--headless", "--json", "--heartbeat", "0.2",
                 "--set", f"demo-dir={tmp_path / 'f'}", "--set", "demo-count=2",
                 "--set", "demo-delay=0.7")
    assert ran.code == 0, ran.output
    beats = [json.loads(line) for line in ran.stdout.splitlines()
             if '"heartbeat"' in line]
    assert beats and beats[0]["quiet_seconds"] >= 0.2


def test_help_and_list_do_not_import_heavy_libraries(labtui: LabtuiRunner) -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from labtui.cli import main\n"
        "sys.argv = ['labtui', 'list', '--workspace', sys.argv[1]]\n"
        "code = main()\n"
        "heavy = [m for m in ('textual', 'docker', 'mlflow', 'databricks', 'azure', 'pyspark',"
        " 'git', 'sklearn', 'pandas', 'cryptography') if m in sys.modules]\n"
        "print('HEAVY', heavy, code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(labtui.workspace)],
                          capture_output=True, text=True, env=labtui.env, timeout=60)
    assert "HEAVY [] 0" in done.stdout, done.stdout + done.stderr


def _wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_corrupt_workspace_is_one_line_not_a_crash(labtui: LabtuiRunner,
                                                     tmp_path: Path) -> None:
    labtui.workspace.mkdir()
    (labtui.workspace / "state.db").write_bytes(b"this is not a database\n" * 300)
    for args in (["list"], ["logs", "demo-files"]):
        ran = labtui(*args)
        assert ran.code == 2, (args, ran.output)
        assert "state.db is not usable" in ran.stderr, (args, ran.stderr)
        assert "unexpected error" not in ran.stderr
        assert len(ran.stderr.strip().splitlines()) == 1, (args, ran.stderr)


def test_a_replaced_secret_key_is_one_line_not_a_crash(labtui: LabtuiRunner,
                                                       tmp_path: Path) -> None:
    ran = labtui("--step", "demo-canary", "--headless",
                 extra_env={"LABTUI_DEMO_SECRET": "canary-of-the-key-test"})
    assert ran.code in (0, 1), ran.output
    (labtui.workspace / "secret.key").write_text("not a key\n")
    again = labtui("--step", "demo-canary", "--headless")
    assert again.code == 2, again.output
    assert "secret.key" in again.stderr and "unexpected error" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr


def test_a_log_file_that_cannot_be_written_is_a_usage_error(labtui: LabtuiRunner,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    ran = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={tmp_path / 'f'}",
                 "--log-file", str(folder))
    assert ran.code == 2, ran.output
    assert f"--log-file {folder}" in ran.stderr and "unexpected error" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert not (tmp_path / "f").exists(), "nothing runs without its log"


def test_an_answers_table_for_an_unknown_environment_is_refused(labtui: LabtuiRunner,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text(f'demo-dir = "{tmp_path / "top"}"\n[env.pipline]\ndemo-count = 1\n')
    ran = labtui("--step", "demo-per-env", "--headless", "--with-requires", "--values", str(path))
    assert ran.code == 2, ran.output
    assert "[env.pipline]" in ran.stderr and "dev, pipeline" in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    assert not (tmp_path / "top").exists()


def test_rolling_back_a_requirement_marks_what_needs_it_as_drift(labtui: LabtuiRunner,
                                                                  tmp_path: Path) -> None:
    values = ["--set", f"demo-dir={tmp_path / 'f'}"]
    ran = labtui("--step", "demo-per-env", "--env", "dev", "--headless", "--with-requires",
                 *values)
    assert ran.code == 0, ran.output
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    rows = {(r["step"], r["env"]): r["status"]
            for r in map(json.loads, labtui("list", "--json").stdout.splitlines())}
    assert rows[("demo-files", None)] == "not done"
    assert rows[("demo-per-env", "dev")] == "drift"
