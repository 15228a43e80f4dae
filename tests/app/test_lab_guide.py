"""The lab's text beside the run: g opens the selected step's guide, filled in with the
attendee's values; it follows the tree and g closes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Markdown, Static

from labtui.app.app import LabApp, build_app
from labtui.app.help import help_text
from labtui.app.lab_guide import LabGuide
from labtui.catalog import Catalog
from labtui.session import SessionOptions

TOKEN = "dapi0c1a2e3f4a5b6c7d8e9f0a1b2c3d4e5f"  # a well-formed token: values are checked at start


@pytest.fixture
def lab_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabApp:
    """The app over the lab's own steps, on a fresh workspace with a prefix and a token."""
    monkeypatch.chdir(tmp_path)
    options = SessionOptions(workspace=Path("ws"), set_values=["prefix=contoso7"],
                             environ={"LABTUI_DATABRICKS_TOKEN": TOKEN},
                             command="labtui (test)")
    return build_app(options, catalog=Catalog.discover(), theme="textual-dark")


def shown(app: LabApp) -> str:
    return app.query_one("#guide-text", Markdown).source


async def test_g_shows_the_selected_steps_guide_and_follows_the_tree(lab_app: LabApp) -> None:
    app = lab_app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert not app.query(LabGuide), "closed until asked for"
            await pilot.press("g")
            await pilot.pause()
            text = shown(app)
            assert text.startswith("# Resource groups")
            assert "az group create --name contoso7-db-dev --location eastus" in text
            heading = str(app.query_one("#guide-heading", Static).render())
            assert "resource-groups (dev)" in heading and "g hides" in heading
            assert app.query_one("#right").display, "beside the run in a wide terminal"

            app.go_to_step("cli-profiles", "pipeline")
            await pilot.pause()
            await pilot.pause()
            text = shown(app)
            assert text.startswith("# Databricks CLI profiles")
            assert "[contoso7-pipeline]" in text
            assert "token = <databricks-token>" in text and TOKEN not in text

            await pilot.press("g")
            await pilot.pause()
            assert not app.query(LabGuide)
    finally:
        app.lab.close()


async def test_in_a_small_terminal_the_guide_takes_the_details_place(lab_app: LabApp) -> None:
    app = lab_app
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("g")
            await pilot.pause()
            await pilot.pause()
            guide = app.query_one(LabGuide)
            assert not app.query_one("#right").display
            assert guide.size.width >= 40, "room to read the commands"
            await pilot.press("g")
            await pilot.pause()
            assert app.query_one("#right").display, "the detail is back"
    finally:
        app.lab.close()


def test_the_help_names_the_key() -> None:
    assert "the lab's text for the step, with the commands to type by hand" in help_text().plain
