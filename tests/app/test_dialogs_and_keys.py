"""Dialogs, keys and focus in a room of 40: nothing fires from a letter typed into an input,
a dialog about a run goes when the run ends, long dialogs scroll, focus comes back."""

from __future__ import annotations

from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Button, Input

from labtui.app.confirm import ConfirmScreen
from labtui.app.step_tree import StepTree
from tests.app.conftest import WAITING, AppFactory
from tests.app.test_app import (
    dialog_text,
    fill,
    on_screen,
    ready,
    run_selected,
    settle,
    tree_line,
)


async def test_a_quit_dialog_goes_when_its_run_ends_and_never_quits_later(
        make_app: AppFactory) -> None:
    app = make_app(focus="waiter")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await run_selected(pilot, key="R")
        await pilot.press("y")
        assert WAITING.wait(10)
        await pilot.pause(0.1)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text == "run waiter is still working"

        app.lab.engine.cancel()  # the run ends while the question is still open
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen), "the dialog about the run is gone"
        assert any("ended before you answered" in str(n.message)
                   for n in app._notifications)

        await pilot.press("y")  # what the attendee meant as "yes" to the old question
        await pilot.pause()
        app.query_one(StepTree).select_step("demo-files")
        await pilot.pause()
        await fill(pilot, "demo-dir", "files")
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert tree_line(app, "demo-files").startswith("✓ ")
        assert app.is_running and app.return_code is None, "the app is still open"


async def test_a_cancel_dialog_goes_when_its_run_ends(make_app: AppFactory) -> None:
    app = make_app(focus="waiter")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await run_selected(pilot, key="R")
        await pilot.press("y")
        assert WAITING.wait(10)
        await pilot.pause(0.1)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        app.lab.engine.cancel()
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.focused is app.query_one(StepTree), "the keys are back in the tree"
        await pilot.press("y")
        await pilot.pause()
        assert app.job is None and app.is_running


async def test_a_long_plan_scrolls_with_the_keys_at_80x24(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        await fill(pilot, "demo-count", "40")
        plan = await run_selected(pilot)
        assert "file-039.txt" in dialog_text(plan)
        body = plan.query_one("#dialog-body", VerticalScroll)
        assert body.max_scroll_y > 0, "the plan is longer than the dialog"
        await pilot.press("down", "down")
        await pilot.pause()
        assert body.scroll_y == 2
        await pilot.press("pagedown")
        await pilot.pause()
        assert body.scroll_y > 2
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y, "the last change can be read"
        await pilot.press("home")
        await pilot.pause()
        assert body.scroll_y == 0
        assert isinstance(app.screen, ConfirmScreen), "scrolling answers nothing"
        await pilot.press("n")
        await pilot.pause()
        assert not Path("files").exists()


async def test_letters_typed_into_a_value_are_text_not_commands(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "")
        await pilot.press(*"~/rvpucqlLms?")
        await pilot.pause()
        assert on_screen(app).query_one("#input-demo-dir", Input).value == "~/rvpucqlLms?"
        assert app.job is None and not isinstance(app.screen, ConfirmScreen)
        assert not app.log_pane.is_open


async def test_a_dialog_that_opens_while_typing_ignores_typed_letters(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        field = on_screen(app).query_one("#input-demo-delay", Input)
        field.focus()
        await pilot.pause()
        app.palette_action("run")  # Run from the palette: the keys stay in the value
        await settle(pilot)
        plan = app.screen
        assert isinstance(plan, ConfirmScreen)
        await pilot.press("n", "y")  # still typing: neither answers
        await pilot.pause()
        assert app.screen is plan, "a typed letter did not answer the plan"
        assert "You were typing" in str(plan.query_one("#dialog-note").render())
        await pilot.press("tab", "enter")  # the buttons do: Run has the focus, Tab → Back
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.focused is field, "the keys are back where the attendee was"
        assert not Path("files").exists()


async def test_the_reveal_button_never_takes_the_keys(make_app: AppFactory) -> None:
    app = make_app(focus="demo-canary")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        secret = on_screen(app).query_one("#input-demo-secret", Input)
        await fill(pilot, "demo-secret", "abc")
        await pilot.click(on_screen(app).query_one("#reveal-demo-secret"))
        await pilot.pause()
        assert not secret.password
        assert app.focused is secret, "after show, typing goes on in the token field"
        secret.cursor_position = len(secret.value)
        await pilot.press(*"defg")
        await pilot.pause()
        assert secret.value == "abcdefg"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert secret.password, "ctrl+t hides it again without leaving the field"


async def test_focus_comes_back_to_the_tree_after_a_run_started_from_its_button(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        run = on_screen(app).query_one("#do-run", Button)
        run.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert tree_line(app, "demo-files").startswith("✓ ")
        assert app.focused is not None and app.focused.focusable
        assert app.focused in (run, app.query_one(StepTree))
        await pilot.press("u")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is not None and app.focused.focusable, "focus is always somewhere"


async def test_rollback_lists_the_done_steps_that_need_it(make_app: AppFactory) -> None:
    app = make_app(focus="demo-per-env")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        app.query_one(StepTree).select_step("demo-per-env", "dev")
        await pilot.pause()
        await run_selected(pilot)
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert tree_line(app, "demo-per-env", "dev").startswith("✓ ")

        app.query_one(StepTree).select_step("demo-files")
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        text = dialog_text(dialog)
        assert "These done steps need it" in text
        assert "demo-per-env (dev)" in text
        assert "demo-per-env (pipeline)" not in text, "only the done ones"
        await pilot.press("y")
        await settle(pilot)
        assert tree_line(app, "demo-per-env", "dev").startswith("! "), "drift, as it said"
