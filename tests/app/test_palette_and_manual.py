"""The command palette holds every action; a manual step can be solved, or its file edited in
the attendee's $EDITOR from the app."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from textual.pilot import Pilot

from labtui.app.app import LabApp
from labtui.app.confirm import ConfirmScreen
from labtui.app.step_tree import StepTree
from labtui.catalog import Catalog
from tests.app.conftest import AppFactory
from tests.app.test_app import dialog_text, ready, settle, tree_line


def notes(app: LabApp) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


async def palette(pilot: Pilot[int], query: str) -> None:
    """Open the palette, type `query`, take the first hit."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)
    await pilot.pause(0.5)
    await pilot.press("enter")
    await pilot.pause()
    await pilot.pause()


async def palette_hits(pilot: Pilot[int], query: str) -> list[str]:
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)
    await pilot.pause(0.5)
    screen = pilot.app.screen
    assert isinstance(screen, CommandPalette)
    commands = screen.query_one(CommandList)
    hits = [str(commands.get_option_at_index(i).prompt).split("\n")[0]
            for i in range(commands.option_count)]
    await pilot.press("escape")
    await pilot.pause()
    return hits


async def test_the_palette_offers_every_action(make_app: AppFactory,
                                              room_catalog: Catalog) -> None:
    app = make_app(focus="demo-files", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        hits = " | ".join(await palette_hits(pilot, "run"))
        for name in ("Run", "Run again", "Run this section", "Run everything",
                     "Run everything, solving manual steps"):
            assert name in hits
        for query, name in (("verify", "Verify"), ("plan", "Plan"), ("rollback", "Rollback"),
                            ("artifacts", "Open artifacts folder"),
                            ("lab text", "Show lab text")):
            assert name in " | ".join(await palette_hits(pilot, query)), name
        assert "Solve" not in " | ".join(await palette_hits(pilot, "solve")), \
            "solve is for manual steps only"
        app.query_one(StepTree).select_step("write-note")
        await pilot.pause()
        assert "Solve" in " | ".join(await palette_hits(pilot, "solve"))
        assert "Edit in $EDITOR" in " | ".join(await palette_hits(pilot, "edit"))


async def test_run_everything_from_the_palette_asks_listing_the_lab(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    workspace = app.lab.workspace
    workspace.set_value("demo-dir", None, "files", secret=False)
    workspace.set_value("demo-secret", None, "s3cret-canary-value", secret=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await palette(pilot, "run everything")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.title_text == "Run the whole lab?"
        text = dialog_text(dialog)
        assert "7 of 7 to run" in text
        assert all(step in text for step in ("demo-files", "test-image", "waiter"))
        await pilot.press("n")
        await pilot.pause()
        assert app.job is None


async def test_show_lab_text_calls_the_guide_hook(make_app: AppFactory,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(focus="demo-files")
    shown: list[bool] = []
    monkeypatch.setattr(app, "action_show_guide", lambda: shown.append(True))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await palette(pilot, "show lab text")
        assert shown == [True], "the palette entry is the lab-guide panel's hook"


async def test_open_artifacts_folder_says_where_it_is(make_app: AppFactory,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no xdg-open / open here
    app = make_app(focus="train-model")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await palette(pilot, "open artifacts")
        lab_folder = Path("ws/artifacts").resolve()
        assert f"train-model has made none yet; the lab's folder: {lab_folder}" in notes(app)
        app.query_one(StepTree).focus()
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        await palette(pilot, "open artifacts")
        folder = Path("ws/artifacts/train-model").resolve()
        assert f"{folder} (copied: no file manager was found to open it)" in notes(app)


async def test_a_manual_step_is_solved_from_the_app(make_app: AppFactory,
                                                   room_catalog: Catalog) -> None:
    app = make_app(focus="write-note", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert "manual" in tree_line(app, "write-note")
        app.query_one(StepTree).focus()
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.title_text == "Solve write-note?"
        await pilot.press("y")
        await settle(pilot)
        needs = app.screen
        assert isinstance(needs, ConfirmScreen) and needs.title_text == "Other steps come first"
        assert "train-model" in dialog_text(needs)
        await pilot.press("y")
        await settle(pilot)
        plan = app.screen
        assert isinstance(plan, ConfirmScreen) and plan.title_text.startswith("Run write-note")
        await pilot.press("y")
        await settle(pilot)
        assert "done" in tree_line(app, "train-model")
        assert "done" in tree_line(app, "write-note"), "solved, not just run, after its needs"
        assert "def test_reference" in Path("ws/artifacts/write-note/test_note.py").read_text()


def editor_script(folder: Path) -> Path:
    """An editor as $EDITOR runs it: the file as its argument; this one adds a test."""
    script = folder / "add-a-test"
    script.write_text("#!/bin/sh\nprintf 'def test_mine():\\n    assert True\\n' >> \"$1\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_edit_opens_the_published_file_in_the_editor_then_verifies(
        make_app: AppFactory, room_catalog: Catalog, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", str(editor_script(tmp_path)))
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app(focus="write-note", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).focus()
        await pilot.press("e")
        await pilot.pause()
        assert "run verify first" in notes(app), "no path guessed before the step says it"

        await pilot.press("v")
        await settle(pilot)
        path = app.lab.workspace.get_output("write-note", None, "test-file")
        assert path is not None and not Path(path).exists()

        # The test terminal cannot really suspend; let it, as a real terminal does.
        monkeypatch.setattr(type(app._driver), "can_suspend", property(lambda self: True))
        await pilot.press("e")
        await settle(pilot)
        assert "def test_mine" in Path(path).read_text(), "the editor ran on that file"
        assert "done" in tree_line(app, "write-note"), "verified when the editor closed"


async def test_edit_without_an_editor_names_the_file(
        make_app: AppFactory, room_catalog: Catalog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app(focus="write-note", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).focus()
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        path = app.lab.workspace.get_output("write-note", None, "test-file")
        assert f"Set $EDITOR (for example EDITOR=nano) to edit it from here. The file: " \
            f"{path}" in notes(app)
        assert os.environ.get("EDITOR") is None
