"""Done when: the whole lab runs in the app, driven by Pilot, on the local target — Spark
trains the notebook, Docker builds and tests the inference image — with the manual step
solved, every step verified at the end. Slow (minutes): one test, the real fixtures."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from labtui.app.app import build_app
from labtui.app.confirm import ConfirmScreen
from labtui.catalog import Catalog
from labtui.session import SessionOptions
from labtui.targets.local.containers import DockerContainers
from tests.app.test_app import log_text, ready, tree_line
from tests.app.test_palette_and_manual import palette
from tests.conftest import BASE_IMAGE, require_lab_data

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TOKEN = "dapi5b2f8c61d9ff00ee11dd22cc33bb44aa"


@pytest.mark.slow
@pytest.mark.docker
async def test_the_whole_lab_runs_in_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             containers: DockerContainers) -> None:
    data = require_lab_data()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    prefix = f"app{os.getpid() % 10**6}"  # images of concurrent runs never meet
    answers = tmp_path / "answers.toml"
    answers.write_text(
        f'prefix = "{prefix}"\n'
        'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
        'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
        'reviewer = "grace"\n'
        f'data-file = "{data}"\n'
        'data-url = "http://127.0.0.1:9/AdultCensusIncome.csv"\n'
        f'base-image = "{BASE_IMAGE}"\n'
        + (f'ca-bundle = "{CA_BUNDLE}"\n' if CA_BUNDLE.exists() else "")
        # The given token is dev's: the pipeline workspace issues its own, which the build
        # pipeline trains with (the sandbox accepts only the tokens it issued).
        + f'[env.dev]\ndatabricks-token = "{TOKEN}"\n'
    )
    workspace = tmp_path / "ws"
    options = SessionOptions(workspace=workspace, values_file=answers,
                             command="labtui (app e2e)")
    catalog = Catalog.discover()
    app = build_app(options, catalog=catalog, theme="textual-dark")
    units = catalog.units()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            started = time.monotonic()
            await palette(pilot, "run everything, solving")
            dialog = app.screen
            assert isinstance(dialog, ConfirmScreen) and dialog.title_text == \
                "Run the whole lab?"
            await pilot.press("y")
            await pilot.pause()
            assert app.job is not None and app.job.solve_manual
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.pause()
            took = time.monotonic() - started
            print(f"\nthe whole lab in the app: {took:.0f} s for {len(units)} units")

            statuses = {unit.label: app.lab.engine.status(unit).value for unit in units}
            assert all(status == "done" for status in statuses.values()), statuses
            for unit in units:
                node_env = unit.env if unit.step.per_environment else None
                assert "done" in tree_line(app, unit.id, node_env), unit.label
            assert f"{len(units)} of {len(units)} done" in str(
                app.query_one("#progress").render())
            log = log_text(app)
            assert "rows: 32561" in log, "the notebook trained on the whole census file"
            assert "✓ run test-image" in log
            assert TOKEN not in log, "the token never reaches the screen"
            # Every step is verified now, not only recorded as done.
            verified = app.lab.engine.verify(units)
            assert [r.unit.label for r in verified if not r.ok] == []
    finally:
        if not app.lab.read_only:
            app.lab.engine.rollback(units)  # the images and containers it made go too
        app.lab.close()
    label = f"labtui.workspace={workspace.resolve()}"
    assert containers.images(label) == [] and containers.containers(label) == []
