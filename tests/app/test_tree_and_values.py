"""The tree's statuses (partial, drift, needs input for a value typed wrong), sections that
run as a whole, and values checked as they are typed (the lab's region and data-file rules)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from labtui.app.confirm import ConfirmScreen
from labtui.app.model import Section
from labtui.app.section_detail import SectionDetail
from labtui.app.step_tree import StepTree
from labtui.catalog import Catalog
from tests.app.conftest import AppFactory
from tests.app.test_app import (
    detail_text,
    dialog_text,
    fill,
    on_screen,
    ready,
    settle,
    tree_line,
)
from tests.app.test_palette_and_manual import palette
from tests.conftest import LAB_DATA


def problems(app: object) -> str:
    """The problems the form shows now (a fixed value's note is hidden, not emptied)."""
    detail = on_screen(app)  # type: ignore[arg-type]
    return "\n".join(str(note.render()) for note in detail.query(".field-problem").results(Static)
                     if note.display)


async def test_a_value_typed_wrong_shows_needs_input_in_the_tree(make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        await pilot.pause(0.4)
        assert "not done" in tree_line(app, "demo-files")
        await fill(pilot, "demo-count", "two", type_it=True)
        await pilot.pause(0.4)
        assert "needs input" in tree_line(app, "demo-files"), "not saved, and not valid"
        assert app.lab.workspace.get_value("demo-count", None) is None
        await fill(pilot, "demo-count", "2", type_it=True)
        await pilot.pause(0.4)
        assert "not done" in tree_line(app, "demo-files")


async def test_a_step_with_one_environment_done_is_partial_and_drift_stays_apart(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-per-env")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        workspace = app.lab.workspace
        workspace.set_value("demo-dir", None, "files", secret=False)
        workspace.set_status("demo-files", None, "done")
        workspace.set_status("demo-per-env", "dev", "done")
        app.refresh_statuses()
        await pilot.pause()
        assert "done" in tree_line(app, "demo-per-env", "dev")
        assert "not done" in tree_line(app, "demo-per-env", "pipeline")
        assert "partial" in tree_line(app, "demo-per-env"), "one of two environments done"

        workspace.set_status("demo-per-env", "dev", "drift", "marker is gone")
        app.refresh_statuses()
        await pilot.pause()
        assert "drift" in tree_line(app, "demo-per-env", "dev"), "was done, no longer verifies"
        assert "drift" in tree_line(app, "demo-per-env")
        assert "not done" in tree_line(app, "demo-per-env", "pipeline"), "never done"


async def test_a_whole_section_runs_from_its_node(make_app: AppFactory,
                                                 lab_catalog: Catalog) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        app.query_one(StepTree).select_step("demo-canary")
        await pilot.pause()
        await fill(pilot, "demo-secret", "s3cret-canary-value")
        await fill(pilot, "demo-crash", "no")
        tree = app.query_one(StepTree)
        assert tree.select_section("Demo")
        tree.focus()
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.target, Section)
        summary = app.query_one(SectionDetail)
        assert summary.display and "0 of 4 done" in str(summary.render())
        await pilot.press("r")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen) and dialog.title_text == \
            "Run every step of Demo?"
        text = dialog_text(dialog)
        for label in ("demo-files", "demo-per-env (dev)", "demo-per-env (pipeline)",
                      "demo-canary"):
            assert label in text
        assert text.index("demo-files") < text.index("demo-per-env (dev)"), "in order"
        await pilot.press("y")
        await settle(pilot)
        assert "done" in tree_line(app, "demo-files")
        assert "done" in tree_line(app, "demo-per-env", "dev")
        assert "done" in tree_line(app, "demo-per-env", "pipeline")
        assert "done" in tree_line(app, "demo-canary")
        assert "4 of 4 done" in str(summary.render())
        assert "Demo 4/4" in str(tree._section_nodes["Demo"].label)


async def test_location_must_be_an_azure_region(make_app: AppFactory,
                                                room_catalog: Catalog) -> None:
    app = make_app(focus="place-data", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "location", "mars", type_it=True)
        assert "location: 'mars' is not an Azure region name" in detail_text(app)
        assert app.lab.workspace.get_value("location", None) is None, "never saved"
        await pilot.pause(0.4)
        assert "needs input" in tree_line(app, "place-data")
        await fill(pilot, "location", "westeurope", type_it=True)
        assert "is not an Azure region" not in problems(app)
        assert app.lab.workspace.get_value("location", None) == "westeurope"


async def test_data_file_must_exist_and_be_the_lab_file(make_app: AppFactory,
                                                       room_catalog: Catalog,
                                                       tmp_path: Path) -> None:
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00SECRETBYTES" * 10)
    other = tmp_path / "other.csv"
    other.write_text("name, value\nada, 1\n")
    app = make_app(focus="place-data", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "data-file", str(tmp_path / "missing.csv"))
        assert f"data-file: no such file: {tmp_path / 'missing.csv'}" in detail_text(app)
        await fill(pilot, "data-file", str(binary))
        text = detail_text(app)
        assert "photo.jpg is a binary file, not the lab's AdultCensusIncome.csv" in text
        assert "JFIF" not in text and "SECRETBYTES" not in text, "no byte of it is shown"
        await fill(pilot, "data-file", str(other))
        text = detail_text(app)
        assert "other.csv is not the lab's AdultCensusIncome.csv, whose first line starts " \
            "'age, workclass, fnlwgt'" in text
        assert "ada" not in text
        assert app.lab.workspace.get_value("data-file", None) is None
        await fill(pilot, "data-file", str(LAB_DATA))
        assert problems(app) == ""
        assert app.lab.workspace.get_value("data-file", None) == str(LAB_DATA)


async def test_ctrl_r_puts_a_value_back_to_its_default(make_app: AppFactory,
                                                      room_catalog: Catalog) -> None:
    app = make_app(focus="place-data", catalog=room_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        location = on_screen(app).query_one("#input-location", Input)
        assert location.value == "eastus"
        assert "ctrl+r: back to the default" in detail_text(app), "the focused field says so"
        await fill(pilot, "location", "westeurope", type_it=True)
        assert app.lab.workspace.get_value("location", None) == "westeurope"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert location.value == "eastus"
        assert app.lab.workspace.get_value("location", None) is None
        assert "default" in str(on_screen(app).query(".field-label").first(Static).render())
        await fill(pilot, "location", "mars", type_it=True)
        await pilot.press("ctrl+r")
        await pilot.pause(0.4)
        assert location.value == "eastus", "an invalid draft goes too"
        assert "not done" in tree_line(app, "place-data")

        await fill(pilot, "location", "northeurope", type_it=True)
        await palette(pilot, "reset value")
        assert location.value == "eastus", "the palette's Reset value to default"
        assert app.lab.workspace.get_value("location", None) is None


async def test_a_section_with_a_value_missing_says_so_before_asking(
        make_app: AppFactory) -> None:
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await fill(pilot, "demo-dir", "files")
        tree = app.query_one(StepTree)
        tree.select_section("Demo")
        tree.focus()
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen), "no question that cannot be run"
        shown = "\n".join(f"{n.title}: {n.message}" for n in app._notifications)
        assert "Values needed first" in shown and "demo-secret" in shown
        assert app.job is None


async def test_a_run_killed_in_an_earlier_session_shows_interrupted(
        make_app: AppFactory, tmp_path: Path) -> None:
    """The tree uses the engine's words: a run whose process died is interrupted, not new."""
    from labtui.state import Workspace

    earlier = Workspace.open(tmp_path / "ws", command="labtui (killed)")
    earlier.set_value("demo-dir", None, "files", secret=False)
    earlier.start_run("demo-files", None, "run")  # never finished: the process was killed
    earlier.close()
    app = make_app(focus="demo-files")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert "interrupted" in tree_line(app, "demo-files")
        assert "rolls back what it made" in detail_text(app)


async def test_tab_from_the_tree_reaches_the_missing_value_without_a_hidden_stop(
        make_app: AppFactory) -> None:
    """Every Tab lands on something the attendee can see and use: no invisible stop on the
    detail's scroll container between the tree and the step's buttons and values."""
    from textual.widgets import Button

    app = make_app(focus="demo-files")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).focus()
        seen = []
        for _ in range(3):
            await pilot.press("tab")
            seen.append(app.focused)
            if isinstance(app.focused, Input):
                break
        assert all(isinstance(widget, Button | Input) for widget in seen), seen
        assert isinstance(app.focused, Input) and app.focused.id == "input-demo-dir"


async def test_a_value_declared_per_environment_is_typed_on_each_environment_node(
        make_app: AppFactory, lab_catalog: Catalog) -> None:
    # No derive to probe: only the Field's declaration says the value differs by environment.
    from labtui_demo_steps import DemoPerEnv

    from labtui.step import Field

    class Sized(DemoPerEnv):
        id = "demo-sized"
        inputs = (*DemoPerEnv.inputs,
                  Field("vm-size", "VM size", default="small", per_environment=True))

    catalog = Catalog([*(type(step) for step in lab_catalog), Sized])
    app = make_app(focus="demo-sized", catalog=catalog)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        app.query_one(StepTree).select_step("demo-sized")
        await pilot.pause()
        assert not on_screen(app).query("#input-vm-size"), "the step's own node: shared only"
        assert "Per environment (vm-size)" in detail_text(app)
        app.query_one(StepTree).select_step("demo-sized", "pipeline")
        await pilot.pause()
        assert "vm-size · pipeline only" in detail_text(app)
        await fill(pilot, "vm-size", "large", type_it=True)
        await pilot.pause(0.4)
        workspace = app.lab.workspace
        assert workspace.get_value("vm-size", "pipeline") == "large"
        assert workspace.get_value("vm-size", None) is None, "not shared with dev"
        assert app.lab.resolver.resolve("dev").values["vm-size"] == "small"
