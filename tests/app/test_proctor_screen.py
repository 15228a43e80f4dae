"""The proctor screen driven with Pilot over a roster of two attendees and the demo steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from labtui.app.confirm import ConfirmScreen
from labtui.app.proctor_screen import GridLegend, ProctorApp, ProctorScreen
from labtui.catalog import Catalog
from labtui.masking import Masker
from labtui.proctor.fleet import FleetOptions
from labtui.proctor.roster import load_roster
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


async def test_the_grid_shows_what_was_recorded_before_any_check(proctor_app: ProctorApp,
                                                                tmp_path: Path) -> None:
    fleet = proctor_app.make_fleet()
    fleet.provision("demo-per-env")
    with Workspace(tmp_path / "ws" / "a1", read_only=True) as workspace:
        runs_before = len(workspace.runs())
    async with proctor_app.run_test(size=(80, 24)) as pilot:
        await finish(proctor_app)
        await pilot.pause()
        for attendee in ("a1", "a2"):
            cells = row_text(proctor_app, attendee)
            assert cells[2] == "3/4", "not 0/4 until s is pressed"
            assert cells[1] == "next: demo-canary"
            assert cells[3:] == ["✓", "✓", "✓", "·"]
        status = str(screen_of(proctor_app).query_one("#proctor-status", Static).render())
        assert "as last recorded (not checked yet)" in status and "s checks everyone" in status
    with Workspace(tmp_path / "ws" / "a1", read_only=True) as workspace:
        assert len(workspace.runs()) == runs_before, "reading the record runs nothing"


@pytest.fixture
def lab_room(tmp_path: Path) -> ProctorApp:
    """One attendee over the lab's own 32 units, provisioned through `databricks` (11 done)
    on the local target, and a second one whose roster row is bad."""
    catalog = Catalog.discover()
    path = write_roster(tmp_path / "room.csv", ["attendee", "prefix", "workspace"],
                        [["ada", "contoso1", "ws/ada"], ["bob", "Not-A-Prefix", "ws/bob"]])
    roster = load_roster(path, catalog.fields(), {})
    options = FleetOptions(environ={}, backoff=0.0)
    app = ProctorApp(roster, catalog, options, Masker())
    summary = app.make_fleet().provision("databricks")
    assert summary.exit_code == 0, summary.attendees[0].message
    return app


async def test_counts_and_step_names_are_readable_at_80_columns(lab_room: ProctorApp) -> None:
    app = lab_room
    async with app.run_test(size=(80, 24)) as pilot:
        await finish(app)
        await pilot.pause()
        screen = screen_of(app)
        assert row_text(app, "ada")[2] == "11/32"  # 32 units with the Pipelines section
        picture = app.export_screenshot()
        assert "11/32" in picture, "the count is not clipped to 11/3"
        legend = screen.query_one("#grid-legend", GridLegend)
        width = legend.content_size.width
        lines = [line.plain for line in legend.lines(width)]
        assert all(len(line) <= width for line in lines)
        shown = " ".join(lines)
        assert "1-3 resource-groups" in lines[0]
        for number, step in (("16-17", "service-principal"), ("25", "train-model"),
                             ("28", "test-image"), ("29", "pull-request"),
                             ("30", "variable-group"), ("31", "build-pipeline"),
                             ("32", "release-pipeline")):
            assert any(f"{number} {step}" in line for line in lines), (step, lines)
        assert "✗ failed" in shown and "? needs input" in shown
        messages = [str(n.message) for n in app._notifications]
        assert any("room.csv line 3: prefix 'Not-A-Prefix'" in m for m in messages), messages
