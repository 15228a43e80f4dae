"""The log and the screen at 80x24: the pre-check reads as work to do, long lines wrap, the
footer keeps Quit, the log can take the keys and the screen, the help says how to close it."""

from __future__ import annotations

from textual.widgets import Footer, Log, Static

from labtui.app.help import HelpScreen
from labtui.app.log_pane import LogPane
from labtui.app.step_tree import StepTree
from labtui.catalog import Catalog
from tests.app.conftest import AppFactory
from tests.app.test_app import fill, log_text, ready, run_selected, settle


async def test_the_check_a_run_starts_with_is_work_to_do_not_a_failure(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        lines = log_text(app).splitlines()
        started = lines.index("▶ run demo-files")
        before = lines[started + 1]
        assert before.startswith("  ○ to do — files:"), before
        assert not any(line.startswith("  ✗") for line in lines), "nothing failed"
        assert "  ✓ files: all present" in lines, "the verify after the run: ✓"


async def test_at_80x24_the_footer_keeps_quit_and_help(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).focus()
        await pilot.pause()
        footer = app.query_one(Footer)
        shown = {str(key.description): key for key in footer.query("FooterKey")}
        for name in ("Quit", "Help", "Run"):
            assert name in shown, name
            assert shown[name].region.right <= 80 - len("^p palette"), f"{name} is on screen"


async def test_at_80x24_the_log_title_is_whole_and_long_lines_wrap(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        deep = "files/" + "/".join(["a-rather-long-folder-name"] * 4)
        await fill(pilot, "demo-dir", deep)
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        app.query_one(StepTree).focus()
        await pilot.press("l")
        await pilot.pause()
        title = app.query_one("#log-title", Static)
        assert str(title.render()) == "Log · l folds"
        assert title.content_region.width >= len("Log · l folds"), "not cut"
        log = app.log_pane.log_widget
        width = log.scrollable_content_region.width
        assert any(len(line) > width for line in app.log_pane.kept), "long lines were logged"
        assert all(len(line) <= width for line in log.lines), "every line fits: wrapped"
        shown = "".join(line.strip() for line in log.lines)
        assert "file-002.txt" in shown, "nothing is lost in the wrapping"


async def test_capital_l_puts_the_keys_in_the_log_and_m_maximises_it(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).focus()
        await pilot.press("L")
        await pilot.pause()
        assert app.log_pane.is_open
        assert isinstance(app.focused, Log)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen.maximized, LogPane)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.maximized is None


async def test_the_help_says_esc_closes_it(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text", Static).render())
        assert "Esc closes this help" in text.splitlines()[0], "said first, on screen"
        assert "L " in text and "put the keys in the log" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_the_footer_offers_solve_and_edit_on_a_manual_step_only(
        make_app: AppFactory, room_catalog: Catalog) -> None:
    app = make_app(focus="demo-files", catalog=room_catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).focus()

        def footer_keys() -> set[str]:
            return {str(key.description) for key in app.query_one(Footer).query("FooterKey")}

        await pilot.pause()
        assert "Solve" not in footer_keys()
        app.query_one(StepTree).select_step("write-note")
        await pilot.pause()
        await pilot.pause()
        assert {"Solve", "Edit", "Quit"} <= footer_keys()
