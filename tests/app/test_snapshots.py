"""Pictures of the app, at 120x40 and at 80x24 (where nothing may be cut off or overlap).

Review `snapshot_report.html` before accepting changes with `--snapshot-update`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from labtui.app.app import LabApp
from tests.app.conftest import FIXTURES, AppFactory, TestImage
from tests.app.test_app import ready

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]
SnapCompare = Callable[..., bool]


async def steady(pilot: Pilot[int]) -> None:
    """No blinking cursor, no pending worker (the banner's identity), nothing animating."""
    await ready(pilot)
    await pilot.app.workers.wait_for_complete()
    for field in pilot.app.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def with_history(app: LabApp) -> LabApp:
    """A workspace where some steps ran: one done, one failed with a hint."""
    workspace = app.lab.workspace
    workspace.set_value("demo-dir", None, "files", secret=False)
    workspace.set_status("demo-files", None, "done")
    workspace.save_checks("demo-files", None, [("files", True, "all present", "")])
    workspace.set_status("demo-canary", None, "failed", "the service refused token ***")
    workspace.save_checks("demo-canary", None, [
        ("echo", False, "echo is None", "run the step again after fixing the token")])
    return app


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(make_app: AppFactory, snap_compare: SnapCompare,
                     size: tuple[int, int]) -> None:
    app = with_history(make_app(focus="demo-canary"))

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_form_with_errors(make_app: AppFactory, snap_compare: SnapCompare,
                          size: tuple[int, int]) -> None:
    app = make_app(focus="demo-files")

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)
        await pilot.press("enter")
        detail = pilot.app.detail  # type: ignore[attr-defined]
        detail.query_one("#input-demo-count", Input).value = "two"
        detail.query_one("#input-demo-dir", Input).focus()
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


def ran(app: LabApp, step_id: str) -> LabApp:
    """The step run through the engine before the app starts, as in an earlier session: what
    it published is read back from the workspace."""
    app.lab.engine.run(app.lab.catalog.units([step_id]))
    return app


@pytest.mark.parametrize("size", SIZES)
def test_results_view(make_app: AppFactory, snap_compare: SnapCompare, size: tuple[int, int],
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = tmp_path / "sample"
    sample.mkdir()
    for name in ("junit.xml", "coverage.xml"):
        shutil.copy(FIXTURES / name, sample / name)
    monkeypatch.setattr(TestImage, "results", sample)
    app = ran(make_app(focus="test-image"), "test-image")

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)
        detail: Any = pilot.app.detail  # type: ignore[attr-defined]
        detail.query_one(".tests-table", DataTable).focus()
        await pilot.press("m")
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


RESULT_SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 50), id="200x50")]


@pytest.mark.parametrize("size", RESULT_SIZES)
def test_test_image_results_first(make_app: AppFactory, snap_compare: SnapCompare,
                                  size: tuple[int, int]) -> None:
    """The tests and coverage a real test-image run collected, right under the actions."""
    app = ran(make_app(focus="test-image"), "test-image")

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", RESULT_SIZES)
def test_train_model_results_first(make_app: AppFactory, snap_compare: SnapCompare,
                                   size: tuple[int, int]) -> None:
    """MAE, R² and the plot of a real training run, right under the actions."""
    app = ran(make_app(focus="train-model"), "train-model")

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


AZURE_IDENTITY = {"tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                  "subscription": "Contoso Lab Subscription (0b1f6471-1bf0-4dda-aec3-cb9272f09590)",
                  "signed in as": "grace@contoso.com"}


def test_device_code_dialog(make_app: AppFactory, snap_compare: SnapCompare) -> None:
    """The azure target's sign-in at 80x24: the page and the code whole, the Close button on
    screen, the dialog in the middle."""
    from datetime import UTC, datetime

    from labtui.app.device_code import DeviceCodeScreen

    app = make_app(focus="demo-files")

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)
        expires = datetime(2026, 12, 1, 16, 20, tzinfo=UTC)
        await pilot.app.push_screen(DeviceCodeScreen("https://microsoft.com/devicelogin",
                                                     "GX4K7PQ2M", expires))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_azure_banner(make_app: AppFactory, snap_compare: SnapCompare) -> None:
    """Who and where on Azure at 80x24, on two lines: the signed-in user beside the workspace,
    the tenant and the subscription's name whole, their ids cut to eight characters."""
    from labtui.app.banner import Banner

    app = make_app(focus="demo-files")

    async def before(pilot: Pilot[int]) -> None:
        await steady(pilot)
        pilot.app.query_one(Banner).show_identity(AZURE_IDENTITY)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
