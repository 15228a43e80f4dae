"""The app driven with Pilot: what an attendee sees after each key press."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Static

from labtui.app.app import LabApp
from labtui.app.confirm import ConfirmScreen
from labtui.app.help import HelpScreen
from labtui.app.metrics import MetricsView
from labtui.app.step_detail import StepDetail
from labtui.app.step_tree import StepTree
from labtui.state import Workspace
from labtui.step import Change, Step, StepContext, StepError
from tests.app.conftest import FIXTURES, WAITING, AppFactory, TestImage
from tests.conftest import ROOT


def tree_line(app: LabApp, step_id: str, env: str | None = None) -> str:
    node = app.query_one(StepTree)._step_nodes[(step_id, env)]
    return str(node.label)


def detail_text(app: LabApp) -> str:
    detail = app.detail
    assert detail is not None
    return "\n".join(str(static.render()) for static in detail.query(Static))


def on_screen(app: LabApp) -> StepDetail:
    """The step detail on screen (details of steps visited before are kept, hidden)."""
    detail = app.detail
    assert detail is not None
    return detail


def log_text(app: LabApp) -> str:
    return "\n".join(app.log_pane.kept)


async def ready(pilot: Pilot[int]) -> None:
    """Wait for the first frame, the tree (filled after it) and the first step's detail."""
    app = pilot.app
    assert isinstance(app, LabApp)
    for _ in range(50):
        await pilot.pause()
        if app.detail is not None:
            return
    raise AssertionError("the step detail never appeared")


async def settle(pilot: Pilot[int]) -> None:
    """Wait until the engine's worker is done and its events are on screen."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def fill(pilot: Pilot[int], name: str, value: str, *, type_it: bool = False) -> None:
    """Put `value` in a form field: typed key by key, or pasted in one go (faster)."""
    field = on_screen(pilot.app).query_one(f"#input-{name}", Input)
    field.focus()
    if type_it:
        field.value = ""
        await pilot.press(*value)
    else:
        field.value = value
    await pilot.pause()


async def run_selected(pilot: Pilot[int], *, key: str = "r") -> ConfirmScreen:
    """Press Run, wait for the plan, and return the plan dialog (not yet answered)."""
    pilot.app.query_one(StepTree).focus()
    await pilot.press(key)
    await settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmScreen), "Run shows the plan first"
    return pilot.app.screen


def dialog_text(screen: ConfirmScreen) -> str:
    return "\n".join(str(line) for line in screen.lines)


async def test_tree_lists_sections_steps_environments_with_status(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert "needs input" in tree_line(app, "demo-files")
        assert "needs input" in tree_line(app, "demo-per-env", "dev")
        assert "not done" in tree_line(app, "train-model")
        progress = str(app.query_one("#progress", Static).render())
        assert "0 of 7 done" in progress
        assert "Test the inference image" in detail_text(app), "the first step is selected"
        await pilot.press("down")
        await pilot.pause()
        assert "Train the model" in detail_text(app)
        app.query_one(StepTree).select_step("demo-files")
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        assert "Create a marker per environment" in detail_text(app)
        assert "every environment" in detail_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert "demo-per-env · Demo · dev" in detail_text(app)
        await pilot.press("down", "down")
        await pilot.pause()
        assert "Leak a canary" in detail_text(app)
        await pilot.click(StepTree, offset=(6, 1))
        await pilot.pause()
        assert "Test the inference image" in detail_text(app), "the mouse selects too"


async def test_form_validates_as_you_type_and_saves_valid_values(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("enter")
        await pilot.pause()
        demo_dir = on_screen(app).query_one("#input-demo-dir", Input)
        assert app.focused is demo_dir, "Enter goes to the values"
        run_button = on_screen(app).query_one("#do-run", Button)
        assert run_button.disabled, "nothing runs until every required value is valid"
        assert "demo-dir: required" in detail_text(app)

        await fill(pilot, "demo-dir", "files", type_it=True)
        await fill(pilot, "demo-count", "two", type_it=True)
        assert "demo-count: a whole number" in detail_text(app)
        assert run_button.disabled
        assert app.lab.workspace.get_value("demo-count", None) is None, "invalid is not saved"
        app.query_one(StepTree).focus()
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        demo_count = on_screen(app).query_one("#input-demo-count", Input)
        assert app.focused is demo_count, "Run points at the invalid value"

        await fill(pilot, "demo-count", "2", type_it=True)
        assert "demo-count: a whole number" not in detail_text(app)
        assert not run_button.disabled
        assert app.lab.workspace.get_value("demo-count", None) == "2"
        assert app.lab.workspace.get_value("demo-dir", None) == "files"
        await pilot.pause(0.4)
        assert "not done" in tree_line(app, "demo-files"), "no longer needs input"


async def test_secret_field_is_masked_with_a_reveal_toggle(make_app: AppFactory) -> None:
    app = make_app(focus="demo-canary")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        secret = on_screen(app).query_one("#input-demo-secret", Input)
        assert secret.password
        await fill(pilot, "demo-secret", "hunter2-canary")
        await pilot.click(on_screen(app).query_one("#reveal-demo-secret"))
        await pilot.pause()
        assert not secret.password
        assert str(on_screen(app).query_one("#reveal-demo-secret", Button).label) == "hide"
        await pilot.pause(0.25)  # a button ignores clicks during its 0.2 s press effect
        await pilot.click(on_screen(app).query_one("#reveal-demo-secret"))
        await pilot.pause()
        assert secret.password
        assert app.lab.workspace.get_value("demo-secret", None) == "hunter2-canary"


async def test_run_streams_the_log_and_shows_the_final_status(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        plan = await run_selected(pilot)
        assert "+ create file" in dialog_text(plan) and "file-002.txt" in dialog_text(plan)
        assert not Path("files").exists(), "the plan touches nothing"
        await pilot.press("y")
        await settle(pilot)
        log = log_text(app)
        assert "▶ run demo-files" in log
        assert "created file-000.txt" in log and "created file-002.txt" in log
        assert "✓ run demo-files: done and verified" in log
        assert "done" in tree_line(app, "demo-files")
        assert "1 of 7 done" in str(app.query_one("#progress", Static).render())
        assert "✓ files: all present" in detail_text(app)
        assert sorted(p.name for p in Path("files").iterdir()) == [
            "file-000.txt", "file-001.txt", "file-002.txt"]


async def test_failure_is_explained_masked_and_fixed_by_a_rerun(make_app: AppFactory) -> None:
    app = make_app(focus="demo-canary")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-secret", "s3cret-canary-value")
        await fill(pilot, "demo-crash", "expected")
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "failed" in tree_line(app, "demo-canary")
        assert "the service refused token ***" in detail_text(app)
        log = log_text(app)
        assert "raw: ***" in log
        assert "s3cret-canary-value" not in log
        assert "the service refused token ***" in log

        await fill(pilot, "demo-crash", "no")
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "done" in tree_line(app, "demo-canary")


async def test_rollback_asks_listing_what_is_deleted(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        app.query_one(StepTree).focus()

        await pilot.press("u")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        text = dialog_text(dialog)
        assert text.index("file-002.txt") < text.index("file-000.txt"), "newest first"
        assert "- delete file" in text
        await pilot.press("n")
        await pilot.pause()
        assert len(list(Path("files").iterdir())) == 3, "No keeps everything"

        await pilot.press("u")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert list(Path("files").iterdir()) == []
        assert "not done" in tree_line(app, "demo-files")
        assert "rolled back" in log_text(app) or "removed 3 resources" in log_text(app)


async def test_missing_requirements_are_offered_first(make_app: AppFactory) -> None:
    app = make_app(focus="demo-per-env")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        app.query_one(StepTree).select_step("demo-per-env", "dev")
        await pilot.pause()
        # The requirements are offered before any plan …
        dialog = await run_selected(pilot)
        assert dialog.title_text == "Other steps come first"
        assert "demo-files" in dialog_text(dialog)
        await pilot.press("y")
        await settle(pilot)
        # … then the plan covers them and the step, and the run does what it showed.
        plan = app.screen
        assert isinstance(plan, ConfirmScreen) and plan.title_text.startswith("Run ")
        assert "demo-files" in dialog_text(plan) and "demo-per-env (dev)" in dialog_text(plan)
        await pilot.press("y")
        await settle(pilot)
        assert "done" in tree_line(app, "demo-files")
        assert "done" in tree_line(app, "demo-per-env", "dev")
        assert "not done" in tree_line(app, "demo-per-env", "pipeline")


def sample_results(folder: Path) -> Path:
    """A pytest results folder with a failing test (fixtures/README.md says how it was made)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("junit.xml", "coverage.xml"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


async def test_results_tables_after_a_test_run(make_app: AppFactory, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TestImage, "results", sample_results(tmp_path / "sample"))
    app = make_app(focus="test-image")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        tests = on_screen(app).query_one(".tests-table", DataTable)
        rows = [[str(cell) for cell in tests.get_row_at(i)] for i in range(tests.row_count)]
        assert len(rows) == 6
        assert any("✗ failed" in row[0] and "worlds_worst_regression" in row[2] for row in rows)
        assert sum("✓ passed" in row[0] for row in rows) == 4
        assert "6 tests: 4 passed, 1 failed, 1 skipped" in detail_text(app)
        # The failure is selected first; its message shows below the table.
        assert "prediction is far from the income" in detail_text(app)
        tests.focus()
        await pilot.press("up", "up")
        await pilot.pause()
        assert "passed in" in detail_text(app)

        coverage = on_screen(app).query_one(".coverage-table", DataTable)
        cells = [[str(cell) for cell in coverage.get_row_at(i)]
                 for i in range(coverage.row_count)]
        assert [row[0] for row in cells] == ["__init__.py", "features.py", "score.py", "total"]
        assert cells[-1][1:4] == ["17", "13", "76%"]
        assert "█" in cells[1][4]


async def test_metrics_after_training(make_app: AppFactory) -> None:
    app = make_app(focus="train-model")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        view = on_screen(app).query_one(MetricsView)
        assert round(view.metrics.mae, 3) == 77980.971
        assert "MAE 77,980.971" in detail_text(app) and "R² 0.005" in detail_text(app)
        assert "barely better than guessing the average" in detail_text(app)


async def test_quit_while_running_asks_then_cancels_cleanly(make_app: AppFactory) -> None:
    app = make_app(focus="waiter")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await run_selected(pilot, key="R")
        await pilot.press("y")
        assert WAITING.wait(10)
        await pilot.pause(0.1)
        assert "running" in tree_line(app, "waiter")
        assert "waiting for the operation" in log_text(app)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.job is not None, "No keeps it running"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert app.return_code == 0
    status = app.lab.workspace.status("waiter", None)
    assert status is not None and status.status == "cancelled"
    assert [e.ref for e in app.lab.workspace.journal_entries("waiter", None)] == [
        "waiter-started"], "the journal stays exact"


async def test_heartbeat_when_a_step_is_quiet(make_app: AppFactory) -> None:
    app = make_app(focus="waiter", heartbeat=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await run_selected(pilot, key="R")
        await pilot.press("y")
        assert WAITING.wait(10)
        for _ in range(100):
            if "still working" in log_text(app):
                break
            await pilot.pause(0.05)
        assert "waiter still working" in log_text(app)
        app.cancel_job()
        await settle(pilot)


async def test_log_filter_and_save(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        await fill(pilot, "demo-count", "12")
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        app.query_one(StepTree).focus()
        await pilot.press("slash")
        await pilot.press(*"file-01")
        await pilot.pause(0.3)
        shown = app.log_pane.log_widget.lines
        matching = [line for line in app.log_pane.kept if "file-01" in line]
        assert len(matching) >= 2 and shown == app.log_pane.wrap(matching), \
            "the matching lines, each wrapped to the pane"
        assert "match" in str(app.query_one("#log-count", Static).render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = list(Path("ws/logs").glob("app-log-*.log"))
        assert len(saved) == 1
        text = saved[0].read_text()
        assert "created file-000.txt" in text and "created file-011.txt" in text


async def test_command_palette_finds_steps_by_title(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"inference image")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert "Test the inference image" in detail_text(app)


async def test_help_screen(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_held_workspace_opens_read_only_naming_the_holder(make_app: AppFactory,
                                                               tmp_path: Path) -> None:
    holder = Workspace.open(tmp_path / "ws", command="labtui --step demo-files --headless")
    try:
        app = make_app()
        assert app.lab.read_only
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            banner = str(app.query_one("#banner", Static).render())
            assert "READ-ONLY" in banner
            assert "labtui --step demo-files --headless" in banner
            assert on_screen(app).query_one("#do-run", Button).disabled
            await pilot.press("r")
            await pilot.pause()
            assert app.job is None and not isinstance(app.screen, ConfirmScreen)
    finally:
        holder.close()


def test_labtui_imports_no_textual_until_the_app_starts() -> None:
    code = ("import sys, labtui.cli, labtui.app; "
            "print(sorted(m for m in sys.modules if m.startswith('textual')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


async def test_a_shared_value_typed_once_applies_to_every_step_and_environment(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-per-env")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).select_step("demo-per-env", "dev")
        await pilot.pause()
        assert "demo-dir · shared" in detail_text(app)
        await fill(pilot, "demo-dir", "files", type_it=True)
        await pilot.pause(0.4)
        workspace = app.lab.workspace
        assert workspace.get_value("demo-dir", None) == "files", "saved for every environment"
        assert workspace.get_value("demo-dir", "dev") is None
        for step_id, env in (("demo-files", None), ("demo-per-env", "dev"),
                             ("demo-per-env", "pipeline")):
            # 80 columns: the tree shows the glyph (○ not done) without the word.
            assert tree_line(app, step_id, env).startswith("○ "), (step_id, env)
        app.query_one(StepTree).select_step("demo-files")
        await pilot.pause()
        assert on_screen(app).query_one("#input-demo-dir", Input).value == "files"


async def test_log_is_folded_while_idle_and_open_while_a_step_runs(
        make_app: AppFactory) -> None:
    app = make_app(focus="waiter")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert not app.log_pane.is_open, "idle: the values and checks get the screen"
        await pilot.press("l")
        await pilot.pause()
        assert app.log_pane.is_open
        await pilot.press("l")
        await pilot.pause()
        await run_selected(pilot, key="R")
        await pilot.press("y")
        assert WAITING.wait(10)
        await pilot.pause(0.2)
        assert app.log_pane.is_open, "a running step's log takes the screen"
        app.cancel_job()
        await settle(pilot)
        assert not app.log_pane.is_open, "folded again: the status says how it ended"
        assert "waiting for the operation" in str(app.query_one("#log-title", Static).render()) \
            or "cancelled" in str(app.query_one("#log-title", Static).render())


async def test_a_failed_plan_stays_explained_in_the_detail(
        make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(focus="demo-canary")
    step = app.lab.catalog.get("demo-canary")

    def broken_plan(self: Step, ctx: StepContext) -> list[Change]:
        raise StepError(f"{ctx.value('demo-secret')} in ~/.databrickscfg: not an INI file")

    monkeypatch.setattr(type(step), "plan", broken_plan)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-secret", "s3cret-canary-value")
        await run_selected_expecting_no_plan(pilot)
        text = detail_text(app)
        assert "plan failed" in text and "not an INI file" in text
        assert "s3cret-canary-value" not in text
        assert "then r runs it again" in text

        monkeypatch.undo()
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "plan failed" not in detail_text(app), "a good run clears the note"


async def run_selected_expecting_no_plan(pilot: Pilot[int]) -> None:
    pilot.app.query_one(StepTree).focus()
    await pilot.press("r")
    await settle(pilot)
    assert not isinstance(pilot.app.screen, ConfirmScreen)


def test_proctor_app_subcommand_is_offered() -> None:
    done = subprocess.run([sys.executable, "-m", "labtui", "proctor", "app", "--help"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    text = " ".join(done.stdout.split())
    assert "--roster FILE" in text and "Open the proctor screen" in text
