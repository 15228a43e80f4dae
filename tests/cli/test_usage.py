"""Usage errors that help: a misspelt step, section or environment gets a guess, and the app is
not started where there is no terminal for it."""

from __future__ import annotations

from tests.conftest import LabtuiRunner


def one_line_usage_error(labtui: LabtuiRunner, *args: str) -> str:
    ran = labtui(*args)
    assert ran.code == 2, (args, ran.output)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, (args, ran.stderr)
    assert "Traceback" not in ran.output
    return lines[0]


def test_a_misspelt_name_gets_a_guess(labtui: LabtuiRunner) -> None:
    cases = [
        (["--step", "secret", "--headless"],
         "labtui: unknown step 'secret': did you mean 'secrets'? (labtui list shows every step)"),
        (["--step", "demo-file", "--headless", "--verify"],
         "labtui: unknown step 'demo-file': did you mean 'demo-files'?"),
        (["--section", "Dmo", "--headless"],
         "labtui: --section Dmo: no such section; did you mean 'Demo'?"),
        (["--section", "infra", "--headless"],
         "labtui: --section infra: no such section; did you mean 'Infrastructure'?"),
        (["--step", "demo-per-env", "--env", "dve", "--headless"],
         "labtui: --env dve: no such environment; did you mean 'dev'?"),
        (["logs", "demo-file"], "labtui: unknown step 'demo-file': did you mean 'demo-files'?"),
        (["logs", "demo-per-env", "--env", "pipline"],
         "labtui: step 'demo-per-env' does not run in environment 'pipline': did you mean "
         "'pipeline'?"),
    ]
    for args, expected in cases:
        assert one_line_usage_error(labtui, *args).startswith(expected), args


def test_a_name_nothing_like_any_lists_them_instead(labtui: LabtuiRunner) -> None:
    line = one_line_usage_error(labtui, "--step", "zzzz", "--headless")
    assert line.startswith("labtui: unknown step 'zzzz' (known: resource-groups, ")
    assert "did you mean" not in line
    line = one_line_usage_error(labtui, "--step", "demo-files", "--env", "qa", "--headless")
    assert "--env qa: the environments are dev, pipeline" in line


def test_the_app_is_not_started_without_a_terminal(labtui: LabtuiRunner) -> None:
    assert one_line_usage_error(labtui, "--step", "demo-files") == (
        "labtui: --step demo-files without --headless opens the app, which needs a terminal: "
        "add --headless to run it here (see labtui --help)")
    assert one_line_usage_error(labtui).startswith(
        "labtui: labtui opens the app, which needs a terminal")
    assert one_line_usage_error(labtui, "--step", "secret").startswith(
        "labtui: unknown step 'secret': did you mean 'secrets'?")
    assert not (labtui.workspace / "state.db").exists(), "no session was opened"
