"""The proctor screen driven with Pilot over a roster of two attendees and the demo steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from labtui.app.confirm import ConfirmScreen
from labtui.app.proctor_screen import ProctorApp, ProctorScreen
from labtui.catalog import Catalog
from labtui.fleet import FleetOptions, load_roster
from labtui.masking import Masker
from labtui.state import Workspace
from tests.proctor.conftest import write_roster

SECRETS = {"A1_SECRET": "canary-secret-of-a1-7919", "A2_SECRET": "canary-secret-of-a2-15838"}


@pytest.fixture
def proctor_app(tmp_path: Path, demo_plugin: Path) -> ProctorApp:
    import labtui_demo_steps as demo  # type: ignore[import-not-found]

    catalog = Catalog([demo.DemoFiles, demo.DemoPerEnv, demo.DemoCanary])
    rows = [[f"a{i}", f"contoso{i}", f"ws/a{i}", str(tmp_path / "files" / f"a{i}"),
             f"A{i}_SECRET"] for i in (1, 2)]
    path = write_roster(tmp_path / "roster.csv",
                        ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"], rows)
    roster = load_roster(path, catalog.fields(), SECRETS)
    options = FleetOptions(environ=SECRETS, backoff=0.0)
    return ProctorApp(roster, catalog, options, Masker())


def screen_of(app: ProctorApp) -> ProctorScreen:
    assert isinstance(app.screen, ProctorScreen)
    return app.screen


def row_text(app: ProctorApp, attendee: str) -> list[str]:
    table = screen_of(app).query_one("#grid", DataTable)
    return [str(cell) for cell in table.get_row(attendee)]


async def finish(app: ProctorApp) -> None:
    """Wait for the fleet's worker; its end (and the last events) reach the grid after."""
    await app.workers.wait_for_complete()


async def test_grid_provision_status_and_reset(proctor_app: ProctorApp, tmp_path: Path) -> None:
    app = proctor_app
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        table = screen.query_one("#grid", DataTable)
        assert table.row_count == 2
        assert len(table.columns) == 3 + 4, "attendee, now, done and a column per unit"
        assert row_text(app, "a1")[2] == "0/4"

        # Provision through the column the cursor is on: demo-files (the first unit).
        table.move_cursor(row=0, column=3)
        await pilot.press("p")
        await finish(app)
        await pilot.pause()
        for attendee in ("a1", "a2"):
            cells = row_text(app, attendee)
            assert cells[1] == "done", cells
            assert cells[3] == "✓"
            assert sorted(p.name for p in (tmp_path / "files" / attendee).iterdir()) == [
                "file-000.txt", "file-001.txt", "file-002.txt"]
        assert "provision through demo-files: 2 done" in str(
            screen.query_one("#proctor-status", Static).render())

        await pilot.press("s")
        await finish(app)
        await pilot.pause()
        cells = row_text(app, "a1")
        assert cells[2] == "1/4" and cells[3] == "✓" and cells[4] == "·"

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen), "reset asks first"
        await pilot.press("n")
        await pilot.pause()
        assert (tmp_path / "files" / "a1" / "file-000.txt").exists(), "No keeps everything"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await finish(app)
        await pilot.pause()
        assert list((tmp_path / "files" / "a1").iterdir()) == []
        assert row_text(app, "a2")[3] == "·"
        with Workspace(tmp_path / "ws" / "a1", read_only=True) as workspace:
            assert workspace.journal_size() == 0


async def test_status_shows_what_an_attendee_needs(proctor_app: ProctorApp,
                                                   tmp_path: Path) -> None:
    app = proctor_app
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await finish(app)
        await pilot.pause()
        screen = screen_of(app)
        table = screen.query_one("#grid", DataTable)
        table.move_cursor(row=1, column=3)
        await pilot.pause()
        detail = str(screen.query_one("#cell-detail", Static).render())
        assert "a2" in detail and "demo-files: todo" in detail
        assert "canary-secret" not in detail


async def test_cancel_and_quit_keys(proctor_app: ProctorApp) -> None:
    app = proctor_app
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        assert screen.check_action("cancel", ()) is False, "nothing to cancel"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)
